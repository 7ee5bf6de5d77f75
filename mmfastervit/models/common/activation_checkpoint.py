"""Activation checkpointing of backbone blocks (``with_cp``)."""
from __future__ import annotations

from torch import nn
from torch.utils.checkpoint import checkpoint


def run_block(block: nn.Module, *args, with_cp: bool = False):
    """``block(*args)``; with ``with_cp`` in training, recompute its
    activations in the backward pass instead of keeping them (less memory,
    one more forward). Skipped when no input needs gradients (frozen stages
    before it): nothing would be saved for the backward pass then."""
    if with_cp and block.training and any(getattr(a, 'requires_grad', False) for a in args):
        return checkpoint(block, *args, use_reentrant=False)
    return block(*args)
