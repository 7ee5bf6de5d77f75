"""Multi-head self-attention over groups of tokens laid out on a grid."""
from __future__ import annotations

from typing import Optional, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from ...cpu.onednn import linear
from .position import RelativePositionBias
from .token_layout import Slots, gather_from_slots, scatter_to_slots


class GridAttention(nn.Module):
    """Self-attention within groups of slots: each group holds ``P`` prefix
    tokens (carrier tokens, no position) followed by the ``h x w`` cells of a
    grid, which get a continuous relative position bias.

    Groups are windows (or whole images for carrier-token attention). Tokens
    arrive compact and are scattered into their slots (while tracing they
    arrive in their slots already); empty slots are masked out of every
    group's keys.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rel_pos = RelativePositionBias(num_heads)

    def forward(self, x: Tensor, grid_hw: Tuple[int, int], slots: Slots,
                residual: Optional[Tensor] = None) -> Tensor:
        """``x``: ``(T, C)`` tokens of ``slots``; returns ``(T, C)``, plus
        ``residual`` (``(T, C)``) if given (fused into the projection where the
        oneDNN kernels run; only without dropout)."""
        c, heads, n = x.shape[-1], self.num_heads, slots.size
        bias = self.rel_pos(*grid_hw)  # (heads, h*w, h*w)
        if slots.prefix:
            bias = F.pad(bias, (slots.prefix, 0, slots.prefix, 0))
        qkv = scatter_to_slots(linear(x, self.qkv), slots)
        q, k, v = qkv.view(slots.groups, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
        # A mask of the full (groups, heads, n, n) shape lets PyTorch pick its fused
        # CPU kernel (2-3x faster than for a broadcast (heads, n, n) bias).
        if slots.key_mask is None:
            mask = bias.to(q.dtype).expand(slots.groups, -1, -1, -1)
        else:  # one key mask per group of an image, shared by all images
            mask = (bias[None] + slots.key_mask[:, None, None, :]).to(q.dtype)
            mask = mask.repeat(slots.groups // mask.shape[0], 1, 1, 1)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.reshape(slots.groups, heads, n, -1).transpose(1, 2).reshape(-1, c)
        out = gather_from_slots(out, slots)
        if residual is not None:
            return linear(out, self.proj, residual=residual)
        return self.proj_drop(linear(out, self.proj))
