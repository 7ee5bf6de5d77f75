"""LITv2's two transformer blocks, on ``(B, H, W, C)`` maps (pre-norm
residuals, stochastic depth per sample on both branches)."""
from __future__ import annotations

from timm.layers import DropPath
from torch import Tensor, nn

from .ffn import ConvFFN
from .hilo import HiLo


def _drop_path(p: float) -> nn.Module:
    return DropPath(p) if p > 0 else nn.Identity()


class FFNBlock(nn.Module):
    """``x + FFN(LN(x))``: the attention-free block of stages 0-1 (the
    high-resolution maps, where attention would cost the most and local
    mixing by the FFN's depthwise conv suffices). Its norm is ``norm2``, the
    FFN norm's name in the attention block."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = ConvFFN(dim, int(dim * mlp_ratio))
        self.drop_path = _drop_path(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and not isinstance(self.drop_path, nn.Identity):
            return x + self.drop_path(self.mlp(self.norm2(x)))
        return self.mlp(self.norm2(x), residual=x)  # the add fused where possible


class HiLoBlock(FFNBlock):
    """``x + HiLo(LN(x))``, then ``x + FFN(LN(x))``: the block of stages 2-3."""

    def __init__(self, dim: int, num_heads: int, window: int, alpha: float,
                 mlp_ratio: float = 4.0, drop_path: float = 0.0) -> None:
        super().__init__(dim, mlp_ratio, drop_path)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = HiLo(dim, num_heads, window, alpha)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return super().forward(x)
