"""Which CPU inference path runs: the fused oneDNN kernels or plain PyTorch.

The fused kernels (:mod:`.onednn`) win where oneDNN has AVX-512 and lose on
AVX2-only CPUs (measured side by side, README "CPU kernels"), so by default
(``auto``) the vector ISA in use decides. ``fused`` and ``plain`` force a path:

    MMFV_CPU_KERNELS=plain python tools/test.py ...      # environment
    mmfastervit.set_cpu_kernels('plain')                  # in code
    with mmfastervit.cpu_kernels('fused'): model(x)       # for a block

Both paths compute the same function (to float rounding; tested).
"""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

from .features import cpu_features

MODES = ('auto', 'fused', 'plain')
ENV = 'MMFV_CPU_KERNELS'
#: ``auto``: fused kernels by the ISA in use (cpu_features().isa)
FUSED_BY_ISA = {'avx512': True, 'avx2': False, 'other': False}

_mode = None


def _check(mode: str, source: str) -> str:
    if mode not in MODES:
        raise ValueError(f'{source}={mode!r} is not a CPU kernel mode; use one of {MODES}')
    return mode


def get_cpu_kernels() -> str:
    """The mode in force: set in code, else ``$MMFV_CPU_KERNELS``, else 'auto'."""
    if _mode is not None:
        return _mode
    return _check(os.environ.get(ENV, 'auto').strip().lower() or 'auto', ENV)


def set_cpu_kernels(mode: str) -> None:
    """Force 'fused' or 'plain' kernels for CPU inference, or 'auto'."""
    global _mode
    _mode = _check(mode, 'set_cpu_kernels')


@contextlib.contextmanager
def cpu_kernels(mode: str) -> Iterator[None]:
    """:func:`set_cpu_kernels` for the duration of a ``with`` block."""
    global _mode
    previous, _mode = _mode, _check(mode, 'cpu_kernels')
    try:
        yield
    finally:
        _mode = previous


def fused_wanted() -> bool:
    """Whether the fused kernels should run where they can."""
    mode = get_cpu_kernels()
    if mode == 'auto':
        return FUSED_BY_ISA[cpu_features().isa]
    return mode == 'fused'
