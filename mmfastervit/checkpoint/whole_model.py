"""Whole official detector / segmentor files: recognised and converted to our
mmdet / mmseg layout, so that ``load_from``, ``tools/test.py`` and a model's
``init_cfg`` take them directly and the converter tool converts all of them.

Each entry of :data:`WHOLE_MODEL_FORMATS` has ``matches(checkpoint) -> bool``
and ``convert(checkpoint) -> (state_dict, report_lines)``, where
``checkpoint`` is the loaded file (a dict). The first that matches converts;
a new kind of released model registers itself from beside the code it
belongs to, before the generic entry, in one line:
``register_whole_model_format(WholeModelFormat(name, matches, convert))``
(NVIDIA's DINO files: ``models/dense_heads/dino_checkpoint.py``).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from torch import Tensor

from .errors import CheckpointMismatchError
from .format import CheckpointFormat, family_of
from .io import state_dict_of

BACKBONE = 'backbone.'
Converted = Tuple[Dict[str, Tensor], List[str]]


@dataclass(frozen=True)
class WholeModelFormat:
    """How to recognise and convert one kind of whole official model file."""

    name: str
    matches: Callable[[Mapping], bool]
    convert: Callable[[Mapping], Converted]


def _official_backbone(checkpoint: Mapping
                       ) -> Tuple[Optional[CheckpointFormat], Dict[str, Tensor]]:
    """The registered family whose *official* layout the ``backbone.`` part
    of the file has (None if none), and that part (prefix stripped)."""
    backbone = {k[len(BACKBONE):]: v for k, v in state_dict_of(checkpoint).items()
                if k.startswith(BACKBONE)}
    fmt = family_of(backbone) if backbone else None
    return (fmt if fmt is not None and fmt.is_official(backbone) else None), backbone


def groups(keys) -> str:
    """``'neck (10), bbox_head (12)'``: keys counted by their first part."""
    counts = Counter(k.split('.')[0] for k in keys)
    return ', '.join(f'{name} ({n})' for name, n in counts.most_common())


def is_official_backbone_model(checkpoint: Mapping) -> bool:
    """A detector / segmentor (mmdet 2/3, mmseg 0.x/1.x layout) whose
    ``backbone.*`` keys are a registered family's official layout, e.g. the
    released LITv2 RetinaNet, Mask R-CNN and Semantic FPN files."""
    return _official_backbone(checkpoint)[0] is not None


def convert_official_backbone_model(checkpoint: Mapping) -> Converted:
    """Rename the backbone's keys to ours (the family's format); the neck's
    and heads' keys are the same in mmdet 2 / 3 and mmseg 0.x / 1.x and are
    kept as they are."""
    fmt, backbone = _official_backbone(checkpoint)
    if fmt is None:
        raise CheckpointMismatchError('not a detector / segmentor with an official '
                                      'backbone layout of a registered family')
    converted, dropped = fmt.convert_official(backbone)
    weights = {BACKBONE + k: v for k, v in converted.items()}
    rest = {k: v for k, v in state_dict_of(checkpoint).items() if not k.startswith(BACKBONE)}
    weights.update(rest)
    lines = [f'official {fmt.family} detector/segmentor file ({fmt.identify(backbone)}): '
             f'{len(converted)} backbone tensors renamed to our layout, {len(rest)} kept as '
             f'they are: {groups(rest) or "none"}']
    lines += [f'dropped {len(keys)} backbone keys: {reason}' for reason, keys in dropped.items()]
    others = sorted(k for k in checkpoint if k not in ('state_dict', 'model', 'meta'))
    if others and len(others) < len(checkpoint):
        lines.append(f'ignored the file\'s other entries: {", ".join(map(str, others))}')
    return weights, lines


#: the whole-model formats, tried in order (the generic official-backbone one last)
WHOLE_MODEL_FORMATS: List[WholeModelFormat] = [
    WholeModelFormat('official backbone in a detector / segmentor',
                     is_official_backbone_model, convert_official_backbone_model),
]


def register_whole_model_format(fmt: WholeModelFormat) -> WholeModelFormat:
    """Make a kind of whole official file known, tried before the generic
    entry (returns it)."""
    WHOLE_MODEL_FORMATS.insert(len(WHOLE_MODEL_FORMATS) - 1, fmt)
    return fmt


def whole_model_format(checkpoint: object) -> Optional[WholeModelFormat]:
    """The first format that recognises a loaded file, or None (one of ours,
    an ImageNet file, anything else)."""
    if not isinstance(checkpoint, Mapping):
        return None
    return next((f for f in WHOLE_MODEL_FORMATS if f.matches(checkpoint)), None)


def convert_whole_model(checkpoint: object, source: str, logger='current') -> object:
    """``checkpoint`` in our layout when it is a whole official model file
    (``{'state_dict': ..., 'meta': ...}``, the report logged), else as it is."""
    fmt = whole_model_format(checkpoint)
    if fmt is None:
        return checkpoint
    weights, lines = fmt.convert(checkpoint)
    from mmengine.logging import print_log
    print_log(f'{source}: converted on the fly: ' + '\n'.join(lines),
              logger=logger, level=logging.INFO)
    meta = checkpoint.get('meta')
    return dict(state_dict=weights, meta=dict(meta if isinstance(meta, Mapping) else {},
                                              converted_from=fmt.name))
