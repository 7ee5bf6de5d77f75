"""oneDNN kernels for CPU inference: linears and convolutions with fused ops.

PyTorch sends fp32 matrix products on the CPU to MKL; oneDNN, its other CPU
library, can apply an activation or a residual add inside the product or the
convolution instead of as separate passes over memory (which matters most on
large maps). Whether that wins depends on the CPU (:mod:`.dispatch`).
These kernels have no autograd support, so they run only for fp32 CPU tensors
(and bf16 ones where the CPU has bf16 units: :mod:`.bf16`) with autograd off,
outside autocast, tracing and ``torch.compile``; training, GPUs, autocast,
export and compilation take the plain PyTorch ops. Both agree to float
rounding (tested).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils.compat import cpu_autocast_enabled, is_tracing
from .dispatch import fused_wanted
from .features import cpu_features

try:
    _linear = torch.ops.mkldnn._linear_pointwise
    _conv = torch.ops.mkldnn._convolution_pointwise
except (AttributeError, RuntimeError):  # a torch build without oneDNN
    _linear = _conv = None


def usable(x: Tensor) -> bool:
    """Whether the oneDNN kernels may and should run on ``x`` (see the
    module docstring)."""
    return (_linear is not None and not is_tracing() and x.device.type == 'cpu'
            and (x.dtype == torch.float32
                 or x.dtype == torch.bfloat16 and cpu_features().bf16_units)
            and not torch.is_grad_enabled() and not cpu_autocast_enabled()
            and fused_wanted())


def linear(x: Tensor, layer: nn.Linear, gelu: bool = False,
           residual: Optional[Tensor] = None) -> Tensor:
    """``layer(x)``, then GELU (exact, erf) if ``gelu``, or ``+ residual``
    (of the output's shape); ``x``: ``(..., in)``."""
    if usable(x):
        flat = x.reshape(-1, x.shape[-1])
        if residual is not None:
            out = _linear.binary(flat, residual.reshape(flat.shape[0], -1), layer.weight,
                                 layer.bias, 'add')
        else:
            out = _linear(flat, layer.weight, layer.bias, 'gelu' if gelu else 'none',
                          [], 'none' if gelu else '')
        return out.view(*x.shape[:-1], out.shape[-1])
    out = F.linear(x, layer.weight, layer.bias)
    if residual is not None:
        return residual + out
    return F.gelu(out) if gelu else out


def conv3x3(x: Tensor, weight: Tensor, bias: Tensor, stride: int = 1,
            activation: str = 'none', residual: Optional[Tensor] = None,
            groups: int = 1) -> Tensor:
    """oneDNN 3x3 convolution (padding 1; ``groups`` as in ``F.conv2d``) of
    ``(B, C, H, W)`` with ``activation`` ('none', 'relu', 'gelu') or
    ``+ residual`` fused in; only where :func:`usable` holds."""
    args = ([1, 1], [stride, stride], [1, 1], groups)
    if residual is not None:
        return _conv.binary(x, residual, weight, bias, *args, 'add', None, None, [], None)
    return _conv(x, weight, bias, *args, activation, [], 'none' if activation == 'gelu' else '')
