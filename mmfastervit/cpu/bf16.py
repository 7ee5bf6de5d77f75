"""bf16 inference on CPUs with bf16 units: the backbone runs in bf16 end to end.

Under ``torch.autocast('cpu', dtype=torch.bfloat16)`` (also what mmengine's
AMP and ``tools/test.py --bf16`` use) PyTorch casts the inputs of each matrix
product to bf16 and leaves everything else alone: the residual stream stays
fp32, every linear layer converts its input again, the weights are converted
on every call, and oneDNN's fused kernels are off. Where the CPU has bf16
units (AVX512-BF16, AMX) our backbones instead run the whole forward in bf16
with autocast off: bf16 copies of the weights (refilled from the fp32
weights on every forward), bf16 activations, and the fused oneDNN kernels in bf16
(batch norms folded, GELU and residual adds inside the products). The
features come out in bf16, as autocast's do.

Taken only in inference (no autograd, not traced) and decided like the fused
kernels (:mod:`.dispatch`): ``auto`` where the CPU has bf16 units, always with
``fused``, never with ``plain`` (plain autocast, as PyTorch does it).
"""
from __future__ import annotations

import contextlib
from itertools import chain
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.compat import cpu_autocast_dtype, cpu_autocast_enabled, is_tracing
from .dispatch import get_cpu_kernels
from .features import cpu_features


def native_bf16_wanted(x: Tensor) -> bool:
    """Whether a forward on ``x`` should run in bf16 end to end: CPU autocast
    to bf16, no autograd, not traced, and the kernel mode allows it."""
    if (x.device.type != 'cpu' or not cpu_autocast_enabled() or torch.is_grad_enabled()
            or is_tracing() or cpu_autocast_dtype() != torch.bfloat16):
        return False
    mode = get_cpu_kernels()
    return mode == 'fused' or (mode == 'auto' and cpu_features().bf16_units)


#: modules whose weights stay fp32: PyTorch's CPU norms take bf16 inputs with
#: fp32 weights, and are slower (and less exact) with bf16 ones
NORMS = (nn.LayerNorm, nn.GroupNorm, _BatchNorm)


class BF16Weights:
    """bf16 copies of a module's floating-point parameters and buffers (norm
    layers' excepted), for :func:`run_in_bf16`. Refilled from the weights on
    every forward (``copy_`` into buffers kept between forwards), so they hold
    the weights' current values however these were changed: writes through
    ``.data`` too, which version counters miss. Costs half the fp32 weights'
    memory while held, and one pass over the weights per forward
    (FasterViT-2 at 800x1216, one thread: 21 ms against a 2.0 s bf16 forward;
    checking them against the weights instead would cost 49 ms)."""

    def __init__(self) -> None:
        self._layout: Optional[Tuple] = None  # what the copies were made for
        self._copies: Dict[str, Tensor] = {}
        self._inference = False  # the copies are inference tensors

    @staticmethod
    def _named(module: nn.Module):
        return chain(module.named_parameters(), module.named_buffers())

    def get(self, module: nn.Module) -> Dict[str, Tensor]:
        named = list(self._named(module))
        layout = tuple((name, t.shape, t.dtype, t.device) for name, t in named)
        # buffers made under torch.inference_mode() cannot be written outside it
        if layout != self._layout or self._inference and not torch.is_inference_mode_enabled():
            keep = {f'{prefix}.{name}' if prefix else name
                    for prefix, m in module.named_modules() if isinstance(m, NORMS)
                    for name, _ in chain(m.named_parameters(recurse=False),
                                         m.named_buffers(recurse=False))}
            self._copies = {name: torch.empty_like(t, dtype=torch.bfloat16,
                                                   requires_grad=False)
                            for name, t in named if t.is_floating_point() and name not in keep}
            self._layout, self._inference = layout, torch.is_inference_mode_enabled()
        with torch.no_grad():
            return {name: self._copies[name].copy_(t) if name in self._copies else t
                    for name, t in named}

    def clear(self) -> None:
        """Free the copies (they are never stale: see the class)."""
        self._layout, self._copies = None, {}


@contextlib.contextmanager
def swapped(module: nn.Module, state: Dict[str, Tensor]) -> Iterator[None]:
    """``module``'s parameters and buffers replaced by the tensors of
    ``state`` (by name) for the duration of a ``with`` block."""
    saved = []
    for prefix, m in module.named_modules():
        for slots in (m._parameters, m._buffers):
            for name, value in slots.items():
                new = state.get(f'{prefix}.{name}' if prefix else name)
                if value is not None and new is not None and new is not value:
                    saved.append((slots, name, value))
                    slots[name] = new
    try:
        yield
    finally:
        for slots, name, value in saved:
            slots[name] = value


def run_in_bf16(forward: Callable[[Tensor], Any], module: nn.Module, weights: BF16Weights,
                x: Tensor) -> Any:
    """``forward(x)`` (a method of ``module``) in bf16 with autocast off:
    ``x`` cast, and ``module``'s weights swapped for their bf16 copies."""
    with torch.autocast('cpu', enabled=False), swapped(module, weights.get(module)):
        return forward(x.to(torch.bfloat16))
