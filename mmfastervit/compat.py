"""Small shims over PyTorch API differences between the versions we support
(torch >= 2.1; CI runs 2.14)."""
from __future__ import annotations

import re

import torch

TORCH_VERSION = tuple(int(v) for v in re.findall(r'\d+', torch.__version__)[:2])


def is_compiling() -> bool:
    """Whether ``torch.compile`` is tracing (``torch.compiler.is_compiling``
    from 2.3, ``torch._dynamo.is_compiling`` before)."""
    fn = getattr(getattr(torch, 'compiler', None), 'is_compiling', None)
    if fn is None:
        from torch import _dynamo
        fn = _dynamo.is_compiling
    return fn()


def cpu_autocast_enabled() -> bool:
    """``torch.is_autocast_enabled('cpu')`` (2.4+) or its older spelling."""
    try:
        return torch.is_autocast_enabled('cpu')
    except TypeError:
        return torch.is_autocast_cpu_enabled()
