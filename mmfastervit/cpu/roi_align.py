"""RoIAlign on every CPU thread.

mmcv's and torchvision's CPU RoIAlign kernels loop over the RoIs on one
thread. In a Cascade Mask R-CNN at 800x1216 the RoI extractors then take
about 1.6 s of a 5.4 s bf16 predict on 2 threads (1000 RoIs per cascade
stage; the recipe's adaptive sampling, ``sampling_ratio=0``, samples large
RoIs densely), and they do not get faster in bf16. Each RoI's output depends
on that RoI alone, so :class:`ParallelRoIAlign` splits the RoIs into one run
per thread (torchvision's kernel releases the GIL while it runs) and
concatenates: the same values as one call, on every thread.

Nothing is switched on by importing this: :func:`parallel_roi_align`
replaces the RoIAlign layers of a model's RoI extractors (``tools/test.py``
does so on the CPU).
"""
from __future__ import annotations

import concurrent.futures
import functools
from typing import Optional

import torch
from mmcv.ops import RoIAlign
from torch import Tensor, nn

#: fewer RoIs than this per thread are not worth a thread
MIN_ROIS_PER_THREAD = 16


@functools.cache
def _pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix='roi_align')


class ParallelRoIAlign(RoIAlign):
    """mmcv's ``RoIAlign`` whose CPU inference is split over ``threads``
    threads (default: ``torch.get_num_threads()``).

    ``(N, C, H, W)`` features and ``(K, 5)`` RoIs ``(batch index, x1, y1,
    x2, y2)`` -> ``(K, C, out_h, out_w)``. Average pooling only (mmcv's
    default; torchvision has no max mode); on a GPU, with gradients, or in
    max mode it runs as mmcv's layer.
    """

    def __init__(self, *args, threads: Optional[int] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.threads = threads

    @classmethod
    def from_layer(cls, layer: RoIAlign, threads: Optional[int] = None) -> ParallelRoIAlign:
        return cls(layer.output_size, layer.spatial_scale, layer.sampling_ratio,
                   layer.pool_mode, layer.aligned, layer.use_torchvision, threads=threads)

    def _runs_here(self, x: Tensor) -> bool:
        return (x.device.type == 'cpu' and not (torch.is_grad_enabled() and x.requires_grad)
                and self.pool_mode == 'avg')

    def forward(self, x: Tensor, rois: Tensor) -> Tensor:
        if not self._runs_here(x):
            return super().forward(x, rois)
        from torchvision.ops import roi_align

        threads = self.threads or torch.get_num_threads()
        chunks = max(1, min(threads, rois.shape[0] // MIN_ROIS_PER_THREAD))

        def run(part: Tensor) -> Tensor:
            return roi_align(x, part, self.output_size, self.spatial_scale,
                             self.sampling_ratio, self.aligned)

        if chunks == 1:
            return run(rois)
        return torch.cat(list(_pool(chunks).map(run, rois.tensor_split(chunks))))

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', threads={self.threads or "all"})'


def parallel_roi_align(model: nn.Module, threads: Optional[int] = None) -> int:
    """Replace every ``mmcv.ops.RoIAlign`` of ``model``'s RoI extractors
    (their ``roi_layers``) by a :class:`ParallelRoIAlign` of the same
    settings, in place; returns how many. The state dict is unchanged
    (RoIAlign has no weights)."""
    count = 0
    for module in model.modules():
        layers = getattr(module, 'roi_layers', None)
        if not isinstance(layers, nn.ModuleList):
            continue
        for i, layer in enumerate(layers):
            if type(layer) is RoIAlign:
                layers[i] = ParallelRoIAlign.from_layer(layer, threads)
                count += 1
    return count
