"""Small shims over PyTorch API differences between the versions we support
(torch >= 2.1; CI runs 2.14)."""
from __future__ import annotations

import re

import torch

TORCH_VERSION = tuple(int(v) for v in re.findall(r'\d+', torch.__version__)[:2])


def is_compiling() -> bool:
    """Whether ``torch.compile`` / ``torch.export`` is tracing
    (``torch.compiler.is_compiling`` from 2.3, ``torch._dynamo.is_compiling`` before)."""
    fn = getattr(getattr(torch, 'compiler', None), 'is_compiling', None)
    if fn is None:
        from torch import _dynamo
        fn = _dynamo.is_compiling
    return fn()


def is_tracing() -> bool:
    """Whether the forward pass is being recorded rather than just run: by
    ``torch.jit.trace`` (the TorchScript ONNX exporter), ``torch.export`` (the
    dynamo ONNX exporter) or ``torch.compile``. Shapes are then symbolic, and
    data-dependent Python control flow would be baked into the graph."""
    return torch.jit.is_tracing() or is_compiling()


def at_least(n, lower: int):
    """``max(n, lower)`` for a size that may be symbolic: a Python int, a
    ``SymInt`` (``torch.compile`` / ``torch.export``, without a guard that
    would specialise the graph) or a 0-dim tensor (what ``x.shape`` holds
    under the TorchScript tracer)."""
    if isinstance(n, int):
        return max(n, lower)
    if isinstance(n, torch.Tensor):
        return n.clamp(min=lower)
    return torch.sym_max(n, lower)


def pad_to_multiple(n, multiple: int):
    """How much to add to size ``n`` to reach a multiple of ``multiple``.
    Written without the modulo of a negative number (``-n % multiple``),
    which the TorchScript ONNX exporter gets wrong for traced sizes."""
    return (n + multiple - 1) // multiple * multiple - n


def autocast_enabled(device_type: str) -> bool:
    """``torch.is_autocast_enabled(device_type)`` (2.4+) or its older spellings."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:
        if device_type == 'cpu':
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def cpu_autocast_enabled() -> bool:
    return autocast_enabled('cpu')


def autocast_dtype(device_type: str) -> torch.dtype:
    """``torch.get_autocast_dtype(device_type)`` (2.4+) or its older spellings."""
    fn = getattr(torch, 'get_autocast_dtype', None)
    if fn is not None:
        return fn(device_type)
    if device_type == 'cpu':
        return torch.get_autocast_cpu_dtype()
    return torch.get_autocast_gpu_dtype()


def cpu_autocast_dtype() -> torch.dtype:
    """The dtype CPU autocast casts to (``torch.get_autocast_dtype`` from 2.4)."""
    fn = getattr(torch, 'get_autocast_dtype', None)
    return fn('cpu') if fn is not None else torch.get_autocast_cpu_dtype()
