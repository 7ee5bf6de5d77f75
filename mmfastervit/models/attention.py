"""Multi-head self-attention over groups of tokens laid out on a grid."""
from __future__ import annotations

from typing import Optional, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from .position import RelativePositionBias


class GridAttention(nn.Module):
    """Self-attention within groups of tokens: ``P`` prefix tokens (carrier
    tokens, no position) followed by the ``h x w`` cells of a grid, which get
    a continuous relative position bias.

    Groups are windows (or whole images for carrier-token attention); the
    optional key mask removes padding tokens from every group's keys.
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

    def forward(self, x: Tensor, grid_hw: Tuple[int, int],
                key_mask: Optional[Tensor] = None) -> Tensor:
        """``x``: ``(B * g, P + h*w, C)`` for ``g`` groups per image.

        ``key_mask``: ``(g, P + h*w)`` additive mask (0 or -inf), the same
        for every image. Returns ``(B * g, P + h*w, C)``.
        """
        groups_total, n, c = x.shape
        heads = self.num_heads
        bias = self.rel_pos(*grid_hw)  # (heads, h*w, h*w)
        prefix = n - bias.shape[-1]
        if prefix:
            bias = F.pad(bias, (prefix, 0, prefix, 0))
        qkv = self.qkv(x).view(groups_total, n, 3, heads, c // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B*g, heads, n, d)
        if key_mask is None:
            mask = bias.to(q.dtype)
        else:
            groups = key_mask.shape[0]
            mask = (bias[None] + key_mask[:, None, None, :]).to(q.dtype)
            q, k, v = (t.view(-1, groups, heads, n, c // heads) for t in (q, k, v))
        x = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask,
            dropout_p=self.attn_drop if self.training else 0.0)
        x = x.reshape(groups_total, heads, n, -1).transpose(1, 2).reshape(groups_total, n, c)
        return self.proj_drop(self.proj(x))
