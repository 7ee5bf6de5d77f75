"""Hierarchical Attention (HAT): window attention plus a carrier-token path.

Each block first lets all carrier tokens (CTs) of an image attend to each
other (the global path), then runs attention in every window over the
window's pixels together with its own CTs, so that global context reaches
every window at linear cost in the number of pixels. Tokens are compact
``(T, C)`` tensors laid out by :mod:`.tokens`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from timm.layers import LayerScale
from torch import Tensor, nn

from ...utils.compat import is_tracing
from .attention import GridAttention
from .mlp import Mlp
from .position import AbsolutePosition
from .token_layout import Slots, TokenLayout, take_rows


def index_op(x: Tensor, op: str, index: Tensor, source: Tensor) -> Tensor:
    """``x.index_copy(0, ...)`` / ``x.index_add(0, ...)``: in place without
    autograd (``x`` is a block's own intermediate, nothing else holds it),
    saving a copy of all tokens."""
    if torch.is_grad_enabled() or is_tracing():
        return getattr(x, op)(0, index, source)
    return getattr(x, op + '_')(0, index, source)


def _layer_scale(dim: int, init: Optional[float]) -> nn.Module:
    return LayerScale(dim, init) if init else nn.Identity()


class GroupDropPath(nn.Module):
    """Stochastic depth on compact ``(T, C)`` tokens: a residual branch is
    dropped for whole attention groups (windows on the window path, images on
    the carrier-token path, as the official model does), each group kept with
    probability ``1 - p`` and rescaled by ``1 / (1 - p)``."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor, slots: Slots) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty(slots.groups).bernoulli_(1 - self.p).div_(1 - self.p)
        return x * keep[slots.token_group, None]

    def extra_repr(self) -> str:
        return f'p={self.p}'


class TransformerLayer(nn.Module):
    """Pre-norm attention + MLP residual pair over ``(T, C)`` tokens with
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
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.ls2 = _layer_scale(dim, layer_scale)
        self.drop_path = GroupDropPath(drop_path)

    def forward(self, x: Tensor, grid_hw: Tuple[int, int], slots: Slots) -> Tensor:
        if not self.training and isinstance(self.ls1, nn.Identity):
            # inference without layer scale: the residual adds fused into the
            # products (attention's projection, the MLP's fc2) where possible
            x = self.attn(self.norm1(x), grid_hw, slots, residual=x)
            return self.mlp(self.norm2(x), residual=x)
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x), grid_hw, slots)), slots)
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))), slots)


class CarrierTokenBlock(TransformerLayer):
    """The global path: attention among all CTs of an image (``(B*Hc*Wc, C)``
    in CT-grid order), after adding an absolute position term over the CT grid."""

    def __init__(self, dim: int, num_heads: int, position_over_cells: bool = False,
                 **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        self.pos_embed = AbsolutePosition(dim, over_cells=position_over_cells)

    def forward(self, ct: Tensor, layout: TokenLayout) -> Tensor:
        hw = layout.ct_hw
        ct = (ct.view(layout.ct_slots.groups, -1, ct.shape[-1])
              + self.pos_embed(*hw).to(ct.dtype)).flatten(0, 1)
        return super().forward(ct, hw, layout.ct_slots)


class HATBlock(nn.Module):
    """One HAT block over a stage's compact tokens ``(T, C)``: pixels of every
    window and, when the stage uses them, the windows' CTs.

    ``propagate`` (last block of a stage) adds to every pixel its window's
    nearest CT, scaled by the CT path's first layer scale, before the stage
    drops the CTs. ``position_over_cells``: the absolute position terms use
    the coordinates of NVIDIA's DINO detection code (:class:`AbsolutePosition`).
    """

    def __init__(self, dim: int, num_heads: int, window: int,
                 with_carriers: bool = False, propagate: bool = False,
                 position_over_cells: bool = False, **layer_kwargs) -> None:
        super().__init__()
        self.window = window
        self.pos_embed = AbsolutePosition(dim, over_cells=position_over_cells)
        self.carrier = (CarrierTokenBlock(dim, num_heads, position_over_cells,
                                          **layer_kwargs)
                        if with_carriers else None)
        self.local = TransformerLayer(dim, num_heads, **layer_kwargs)
        self.propagate = propagate and with_carriers

    def forward(self, x: Tensor, layout: TokenLayout) -> Tensor:
        w = self.window
        # window position term; CTs (position w*w) get the zero row
        table = F.pad(self.pos_embed(w, w), (0, 0, 0, 1)).to(x.dtype)
        x = x + take_rows(table, layout.position)
        # (casts: under CUDA autocast fp32 layer scales make fp32 results, and
        # index_copy / index_add need one dtype)
        if layout.ct_tokens is not None:
            ct = self.carrier(take_rows(x, layout.ct_tokens), layout)
            x = index_op(x, 'index_copy', layout.ct_tokens, ct.to(x.dtype))
        x = self.local(x, (w, w), layout.window_slots)
        if self.propagate and layout.ct_tokens is not None:
            carried = self.carrier.ls1(take_rows(x, layout.pixel_ct)).to(x.dtype)
            if layout.carrier_gate is not None:  # traced: off for a single window
                carried = carried * layout.carrier_gate
            x = index_op(x, 'index_add', layout.pixel_tokens, carried)
        return x
