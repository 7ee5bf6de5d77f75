"""Name the image files behind an input error.

A backbone sees a tensor; which files it came from only the data batch knows.
:class:`BatchSourcesHook` remembers the current batch's image paths, and the
tools turn an :class:`~mmfastervit.models.common.inputs.InputError` into a
message that names the files: the images at fault when a non-finite check
names batch elements, else every image of the batch.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from mmengine.hooks import Hook


def _sample_path(sample) -> Optional[str]:
    meta = getattr(sample, 'metainfo', None)
    if meta is None and isinstance(sample, dict):
        meta = sample
    if not isinstance(meta, dict):
        return None
    return meta.get('img_path') or meta.get('filename')


def batch_paths(data_batch) -> List[Optional[str]]:
    """The image path of each sample of an mmengine data batch (None where a
    sample does not say); test-time augmentation batches are flattened."""
    samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
    flat: List = []
    for sample in samples or []:
        flat.extend(sample if isinstance(sample, (list, tuple)) else [sample])
    return [_sample_path(s) for s in flat]


class BatchSourcesHook(Hook):
    """Remember the image paths of the batch being processed."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self.stage: Optional[str] = None
        self.index = -1
        self.paths: List[Optional[str]] = []

    def _record(self, stage: str, batch_idx: int, data_batch) -> None:
        self.stage, self.index, self.paths = stage, batch_idx, batch_paths(data_batch)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._record('train', runner.iter, data_batch)

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._record('val', batch_idx, data_batch)

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._record('test', batch_idx, data_batch)

    def where(self, elements: Optional[Sequence[int]] = None,
              batch_size: Optional[int] = None) -> str:
        """Which images ``elements`` of the current batch are (when the
        batch has one path per element), else the batch's images; '' when
        no batch is known."""
        if self.stage is None:
            return ''
        step = f'{self.stage} iteration {self.index + 1}'
        if elements is not None and batch_size == len(self.paths) and all(
                self.paths[i] for i in elements):
            named = ', '.join(self.paths[i] for i in elements)
            index = ', '.join(map(str, elements))
            return f'{named} ({step}, batch element {index} of {batch_size})'
        if elements is not None:
            step = f'batch element(s) {list(elements)} of {batch_size} in {step}'
        images = ', '.join(p for p in self.paths if p)
        return f'{step} (images: {images})' if images else step
