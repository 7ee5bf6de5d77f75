"""A LITv2 stage: blocks at one resolution, then an optional DTM (kept
separate so that the pyramid feature is the map before downsampling)."""
from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn

from ..common.activation_checkpoint import run_block
from .blocks import FFNBlock, HiLoBlock
from .dtm import DeformableTokenMerging


class LITv2Stage(nn.Module):
    """``(B, C, H, W)`` -> ``(B, C, H, W)``; the blocks work on the
    ``(B, H, W, C)`` view of channels-last maps (no copies in between).

    ``num_heads`` None: FFN-only blocks (stages 0-1); else HiLo blocks.
    ``downsample``: the DTM to the next stage, applied by the backbone.
    """

    def __init__(self, dim: int, depth: int, drop_path: Sequence[float],
                 num_heads: Optional[int] = None, window: int = 1, alpha: float = 0.9,
                 mlp_ratio: float = 4.0, downsample: bool = True,
                 dtm_sampler: str = 'grid_sample',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 with_cp: bool = False) -> None:
        super().__init__()
        if num_heads is None:
            blocks = (FFNBlock(dim, mlp_ratio, drop_path[i]) for i in range(depth))
        else:
            blocks = (HiLoBlock(dim, num_heads, window, alpha, mlp_ratio, drop_path[i])
                      for i in range(depth))
        self.blocks = nn.ModuleList(blocks)
        self.downsample = (DeformableTokenMerging(dim, dtm_sampler, norm_cfg)
                           if downsample else None)
        self.with_cp = with_cp

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        if not x.is_contiguous():
            x = x.contiguous()
        for block in self.blocks:
            x = run_block(block, x, with_cp=self.with_cp)
        return x.permute(0, 3, 1, 2)
