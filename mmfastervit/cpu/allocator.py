"""Keeping large freed buffers in the process instead of returning them to
the kernel.

glibc's malloc serves buffers above its mmap threshold (128 KiB to 32 MiB,
adapted at run time) with fresh pages and unmaps them on free, so every large
activation of a forward is page-faulted in again, page by page, on the next
one. In fp32 that costs ~15% at 1600x2432; in bf16, where the matrix units
finish the arithmetic several times sooner, a large linear layer's output can
take longer to fault in than to compute (a 60800x96 -> 384 bf16 product:
23 ms with fresh pages, 4-6 ms with reused ones, 2 threads). Raising the thresholds
(``mallopt``, or the ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
environment variables before start) keeps freed memory for reuse; the process
then holds on to its peak memory. jemalloc or tcmalloc do the same by design.

Nothing here runs on import: the tools call :func:`keep_freed_memory` (this
is process-wide), a script of yours may too.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: ``mallopt`` parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: buffers up to 2 GiB come from (and go back to) the heap, which is not trimmed
MMAP_THRESHOLD = TRIM_THRESHOLD = 2**31 - 1


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep and reuse freed buffers; False where the C
    library is not glibc (nothing changed)."""
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
