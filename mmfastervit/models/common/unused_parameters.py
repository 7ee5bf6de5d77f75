"""Keeping parameters that a forward pass skips in the autograd graph.

Some parameters take no part in some training forwards: FasterViT's carrier
tokens where a stage's map fits in one window, the stages after the last
``out_indices`` entry. DDP with ``find_unused_parameters=False`` (mmengine's
default) then waits for their gradients forever, or fails on the next step.
:func:`keep_in_graph` ties such parameters to an output at no cost to its
value: the output is the same tensor (a view), and in the backward pass each
tied parameter gets an exact zero gradient, as DDP expects.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from ...utils.compat import is_tracing


class _ZeroGradTie(torch.autograd.Function):
    """Identity on ``x``; zero gradients for ``params``."""

    @staticmethod
    def forward(ctx, x: Tensor, *params: Tensor) -> Tensor:
        ctx.param_specs = [(p.shape, p.dtype, p.device) for p in params]
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        zeros = (torch.zeros(shape, dtype=dtype, device=device)
                 for shape, dtype, device in ctx.param_specs)
        return (grad, *zeros)


def keep_in_graph(x: Tensor, params: Iterable[Tensor]) -> Tensor:
    """``x`` unchanged, with every trainable tensor of ``params`` in its
    autograd graph (zero gradient). A no-op without autograd and while
    tracing (export, ``torch.compile``), where no gradient is taken."""
    if not torch.is_grad_enabled() or is_tracing():
        return x
    trainable = [p for p in params if p.requires_grad]
    return _ZeroGradTie.apply(x, *trainable) if trainable else x
