"""Hierarchical Attention (HAT): window attention plus a carrier-token path.

Each block first lets all carrier tokens (CTs) of an image attend to each
other (the global path), then runs attention in every window over the
window's pixels concatenated with its own CTs, so that global context reaches
every window at linear cost in the number of pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from timm.layers import DropPath, LayerScale, Mlp
from torch import Tensor, nn

from . import carrier_tokens as cts
from .attention import GridAttention
from .position import AbsolutePosition
from .windows import WindowGrid, valid_tokens


def _additive(valid: Optional[Tensor]) -> Optional[Tensor]:
    if valid is None:
        return None
    return torch.zeros(valid.shape, device=valid.device).masked_fill(~valid, float('-inf'))


@dataclass(frozen=True)
class TokenLayout:
    """How a stage's map is laid out as tokens during one forward pass.

    ``window_mask``: ``(nW, P + window**2)`` additive key mask of each
    window's CTs and pixels, None without padding. ``ct_mask``:
    ``(1, Hc * Wc)`` additive key mask of the CT grid, None if every CT
    saw real pixels. ``ct_hw`` is None when the stage runs without CTs.
    """

    grid: WindowGrid
    ct_size: int
    ct_hw: Optional[Tuple[int, int]]
    window_mask: Optional[Tensor]
    ct_mask: Optional[Tensor]

    @classmethod
    def build(cls, grid: WindowGrid, ct_size: int, ct_valid: Optional[Tensor],
              with_carriers: bool, device: torch.device) -> TokenLayout:
        token_valid = valid_tokens(grid, device)
        if not with_carriers:
            return cls(grid, ct_size, None, _additive(token_valid), None)
        ct_hw = cts.carrier_grid_hw(grid, ct_size)
        if token_valid is None and ct_valid is None:
            window_mask = None
        else:
            n_ct = ct_size * ct_size
            ct_w = (torch.ones(grid.num_windows, n_ct, dtype=torch.bool, device=device)
                    if ct_valid is None else
                    cts.to_windows(ct_valid.view(1, -1, 1), grid, ct_size)[..., 0])
            tok_w = (torch.ones(grid.num_windows, grid.window**2, dtype=torch.bool,
                                device=device)
                     if token_valid is None else token_valid)
            window_mask = _additive(torch.cat([ct_w, tok_w], 1))
        ct_mask = None if ct_valid is None else _additive(ct_valid[None])
        return cls(grid, ct_size, ct_hw, window_mask, ct_mask)


def _layer_scale(dim: int, init: Optional[float]) -> nn.Module:
    return LayerScale(dim, init) if init else nn.Identity()


class TransformerLayer(nn.Module):
    """Pre-norm attention + MLP residual pair over ``(G, N, C)`` tokens with
    per-channel layer scale and stochastic depth."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, layer_scale: Optional[float] = None,
                 drop_path: float = 0.0, attn_drop: float = 0.0,
                 drop: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = GridAttention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.ls1 = _layer_scale(dim, layer_scale)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.ls2 = _layer_scale(dim, layer_scale)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor, grid_hw: Tuple[int, int],
                key_mask: Optional[Tensor]) -> Tensor:
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x), grid_hw, key_mask)))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


class CarrierTokenBlock(TransformerLayer):
    """The global path: attention among all CTs of an image, ``(B, Hc*Wc, C)``,
    after adding an absolute position term over the CT grid."""

    def __init__(self, dim: int, num_heads: int, **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        self.pos_embed = AbsolutePosition(dim)

    def forward(self, ct: Tensor, layout: TokenLayout) -> Tensor:
        ct = ct + self.pos_embed(*layout.ct_hw).to(ct.dtype)
        return super().forward(ct, layout.ct_hw, layout.ct_mask)


class HATBlock(nn.Module):
    """One HAT block over window tokens ``(B * nW, window**2, C)`` and, when
    the stage uses them, the image's CTs ``(B, Hc * Wc, C)``.

    ``propagate`` (last block of a stage) adds each window's CTs, upsampled
    to its pixels and scaled by the CT path's first layer scale, to the
    window tokens before the CTs are dropped.
    """

    def __init__(self, dim: int, num_heads: int, window: int,
                 with_carriers: bool = False, propagate: bool = False,
                 **layer_kwargs) -> None:
        super().__init__()
        self.window = window
        self.pos_embed = AbsolutePosition(dim)
        self.carrier = (CarrierTokenBlock(dim, num_heads, **layer_kwargs)
                        if with_carriers else None)
        self.local = TransformerLayer(dim, num_heads, **layer_kwargs)
        self.propagate = propagate and with_carriers

    def forward(self, x: Tensor, ct: Optional[Tensor], layout: TokenLayout
                ) -> Tuple[Tensor, Optional[Tensor]]:
        w = self.window
        x = x + self.pos_embed(w, w).to(x.dtype)
        if ct is None:
            return self.local(x, (w, w), layout.window_mask), None

        ct = self.carrier(ct, layout)
        n_ct = layout.ct_size**2
        x = torch.cat([cts.to_windows(ct, layout.grid, layout.ct_size), x], 1)
        x = self.local(x, (w, w), layout.window_mask)
        ct_w, x = x.split([n_ct, w * w], 1)
        if self.propagate:
            x = x + self.carrier.ls1(cts.upsample_to_window(ct_w, layout.ct_size, w))
        return x, cts.from_windows(ct_w, layout.grid, layout.ct_size)
