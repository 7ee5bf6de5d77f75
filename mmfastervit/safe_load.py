"""Let torch's weights-only ``torch.load`` read the checkpoints this package
meets, without turning the safety check off.

torch >= 2.6 loads with ``weights_only=True`` by default. Two kinds of files
then fail: official FasterViT ImageNet files (timm's saver stores the training
arguments as an ``argparse.Namespace``) and checkpoints that mmengine's runner
writes (its message hub holds ``HistoryBuffer`` objects of numpy arrays, and
each buffer's statistics methods pickled as ``getattr(HistoryBuffer, 'min')``).
We allow exactly the classes those files need, and let ``getattr`` through
only for those statistics methods: allowing the real ``getattr`` would let a
file reach any attribute of any allowed object, i.e. turn the check off.
This runs when ``mmfastervit`` is imported, which mmdet / mmseg tools do
through ``custom_imports`` before any checkpoint is read.
"""
from __future__ import annotations

import argparse
import pickle
from typing import Any, List

import numpy as np
import torch

_STATISTICS = ('min', 'max', 'mean', 'current')


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` during weights-only loads: returns
    ``HistoryBuffer.<statistic>`` and refuses anything else."""
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = set(_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and name in allowed \
            and not name.startswith('_'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights-only load refused getattr({obj!r}, {name!r}): only '
        f'HistoryBuffer statistics methods {sorted(allowed)} are allowed')


def checkpoint_globals() -> List[object]:
    """The non-tensor classes and functions our checkpoints legitimately hold."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from numpy.core.multiarray import _reconstruct, scalar

    dtypes = {type(np.dtype(t)) for t in (np.float16, np.float32, np.float64,
                                           np.int32, np.int64, np.uint8, np.bool_)}
    return [argparse.Namespace, HistoryBuffer, _reconstruct, scalar, np.ndarray,
            np.dtype, *sorted(dtypes, key=lambda t: t.__name__),
            (history_buffer_getattr, 'builtins.getattr')]


def allow_checkpoint_globals() -> None:
    """Add :func:`checkpoint_globals` to torch's weights-only allowlist."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no allowlist (and no weights-only default)
        add(checkpoint_globals())
