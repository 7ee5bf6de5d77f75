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

from ..utils.compat import TORCH_VERSION

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
    """The non-tensor classes and functions our checkpoints legitimately hold;
    ``(object, 'module.name')`` entries name an object under the name a file
    stores it by (numpy 2 moved ``numpy.core`` to ``numpy._core``)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from numpy.core.multiarray import _reconstruct, scalar

    dtypes = {type(np.dtype(t)) for t in (np.float16, np.float32, np.float64,
                                           np.int32, np.int64, np.uint8, np.uint32, np.bool_)}
    plain = [argparse.Namespace, HistoryBuffer, _reconstruct, scalar, np.ndarray,
             np.dtype, *sorted(dtypes, key=lambda t: t.__name__)]
    renamed = [(history_buffer_getattr, 'builtins.getattr')]
    for core in ('numpy.core', 'numpy._core'):
        renamed += [(_reconstruct, f'{core}.multiarray._reconstruct'),
                    (scalar, f'{core}.multiarray.scalar')]
    return plain + renamed


def allow_checkpoint_globals() -> None:
    """Add :func:`checkpoint_globals` to torch's weights-only allowlist.

    torch < 2.4 has no allowlist, and before 2.6 ``torch.load`` does not load
    weights-only by default (nor takes renamed entries), so there is nothing
    to do or only the plain classes to add."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return
    entries = checkpoint_globals()
    if TORCH_VERSION < (2, 6):
        entries = [e for e in entries if not isinstance(e, tuple)]
    add(entries)
