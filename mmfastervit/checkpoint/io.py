"""Reading checkpoint files and finding the backbone weights inside them."""
from __future__ import annotations

import os
from typing import Dict, Mapping, Optional

from torch import Tensor

from .errors import CheckpointFileError, CheckpointMismatchError


def read_checkpoint(path: str, map_location='cpu',
                    download_hint: str = 'Download the official file') -> Mapping:
    """Load a checkpoint (local path or URL) with torch's weights-only loader."""
    from mmengine.runner import CheckpointLoader

    if '://' not in path and not os.path.isfile(path):
        raise FileNotFoundError(
            f'pretrained checkpoint {path!r} does not exist. {download_hint} to that '
            'path, point init_cfg.checkpoint at it, or set init_cfg=None to train from '
            'scratch.')
    checkpoint = CheckpointLoader.load_checkpoint(path, map_location=map_location)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointFileError(f'{path} holds a {type(checkpoint).__name__}, not a '
                                  'checkpoint (a dict of weights)')
    return checkpoint


def extract_state_dict(checkpoint: Mapping, prefix: Optional[str] = None
                       ) -> Dict[str, Tensor]:
    """The backbone weights in a loaded file: under ``state_dict``, ``model``
    or at top level; ``module.`` stripped; only ``prefix`` keys (stripped) if
    given, or the ``backbone.`` part of a whole detector/segmentor file."""
    for name in ('state_dict', 'model'):
        if isinstance(checkpoint.get(name), Mapping):
            checkpoint = checkpoint[name]
            break
    weights = {k.removeprefix('module.'): v for k, v in checkpoint.items()
               if isinstance(v, Tensor)}
    if not weights:
        raise CheckpointMismatchError(
            'found no tensors under state_dict, model or at the top level '
            f'(keys: {sorted(checkpoint)[:8]})')
    if prefix is None and any(k.startswith('backbone.') for k in weights) and not any(
            k.startswith(('stem.', 'patch_embed.')) for k in weights):
        prefix = 'backbone.'
    if prefix:
        weights = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        if not weights:
            raise CheckpointMismatchError(f'no key starts with prefix {prefix!r}')
    return weights
