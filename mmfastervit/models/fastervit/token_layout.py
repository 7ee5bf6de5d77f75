"""Where a HAT stage's tokens live: real tokens only, laid out by window.

A stage keeps its tokens compact, as one ``(T, C)`` tensor holding only real
tokens: window by window, the window's ``ct_size**2`` carrier tokens (CTs)
followed by its real pixels (row-major), windows in row-major order, images
one after another. Token-wise layers (norms, projections, MLPs) therefore never
compute padding. Attention needs whole windows: it scatters the tokens into
``G = B * nW`` groups of ``N = P + window**2`` slots, where slots of padding are
empty and masked out of every attention's keys. Without padding the compact
order is exactly the slot order, and no scattering is needed.

Two builders fill a :class:`TokenLayout`: :mod:`.compact_layout` (eager: real
tokens only, index maps cached per shape) and :mod:`.dense_layout` (tracing:
every slot, index maps computed in the graph). This module holds what both
share: the layout types, index helpers and the moves between a map and tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor


@dataclass(frozen=True)
class Slots:
    """``groups`` attention groups of ``size`` slots each, the first
    ``prefix`` of them carrier tokens; ``index`` (T,) is the slot of every
    compact token (None: token ``t`` is slot ``t``); ``token_group`` (T,) the
    group of every token; ``key_mask`` (groups per image, size), shared by the
    images, or (groups, size), is 0 / -inf; None if nothing is masked."""

    groups: int
    size: int
    index: Optional[Tensor]
    token_group: Tensor
    key_mask: Optional[Tensor]
    prefix: int = 0


@dataclass(frozen=True)
class TokenLayout:
    """Index maps between a stage's ``(B, H, W, C)`` map, its ``(B, Hc*Wc, C)``
    CT grid, and its tokens (compact, or every slot: :func:`dense_layout`).
    All indices are rows of ``(rows, C)`` tensors."""

    ct_hw: Optional[Tuple[int, int]]   # CT grid, None without carrier tokens
    window_slots: Slots                # window attention
    ct_slots: Optional[Slots]          # global attention among each image's CTs
    source: Tensor                     # (T,) row of [pixels; CTs] each token comes from
    pixel_of_map: Tensor               # (B*H*W,) token of each map pixel
    ct_tokens: Optional[Tensor]        # (B*Hc*Wc,) token of each CT, CT-grid order
    position: Tensor                   # (T,) position in window, window**2 for CTs
    pixel_tokens: Tensor               # (T_pix,) tokens that are pixels
    pixel_ct: Optional[Tensor]         # (T_pix,) token of the CT each pixel takes in
    #                                    propagation (nearest CT of its window)
    zero_row: bool = False             # source row 0 is a zero row (padding slots)
    carrier_gate: Optional[Tensor] = None  # () 1 / 0: whether the CTs take part


def key_mask(valid: Tensor) -> Tensor:
    """0 where ``valid``, -inf elsewhere."""
    return torch.zeros(valid.shape, device=valid.device).masked_fill(~valid, float('-inf'))


def nearest_ct(cell: Tensor, window: int, ct_size: int) -> Tensor:
    """Propagation: index of the window's CT nearest to pixel ``cell``
    (row-major in the window), i.e. CT ``(i * ct // window, j * ct // window)``."""
    return (cell // window * ct_size // window) * ct_size + cell % window * ct_size // window


def cell_position(window_row: Tensor, window_col: Tensor, cell: Tensor,
                   size: int) -> Tuple[Tensor, Tensor]:
    """Row and column of cell ``cell`` (row-major in its ``size x size``
    window) of window ``(window_row, window_col)``, on a grid of ``size``
    cells per window. Broadcasts."""
    return window_row * size + cell // size, window_col * size + cell % size


def take_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[index]`` for a 1-D ``index`` into the rows of ``(N, C)``:
    ``index_select``, 2-4x faster than advanced indexing on CPUs."""
    return torch.index_select(x, 0, index)


def to_tokens(layout: TokenLayout, pixels: Tensor, cts: Optional[Tensor]) -> Tensor:
    """``(B*H*W, C)`` pixels (NHWC order) and ``(B*Hc*Wc, C)`` CTs -> ``(T, C)``."""
    rows = [pixels] if cts is None else [pixels, cts]
    if layout.zero_row:
        rows.insert(0, pixels.new_zeros(1, pixels.shape[-1]))
    return take_rows(torch.cat(rows) if len(rows) > 1 else pixels, layout.source)


def to_map(layout: TokenLayout, tokens: Tensor) -> Tensor:
    """``(T, C)`` tokens -> ``(B*H*W, C)`` pixels in NHWC order."""
    return take_rows(tokens, layout.pixel_of_map)


def scatter_to_slots(tokens: Tensor, slots: Slots) -> Tensor:
    """``(T, D)`` -> ``(groups * size, D)``; empty slots are zeros (and masked)."""
    if slots.index is None:
        return tokens
    buffer = tokens.new_zeros(slots.groups * slots.size, tokens.shape[-1])
    return buffer.index_copy_(0, slots.index, tokens)  # in place: the buffer is ours


def gather_from_slots(values: Tensor, slots: Slots) -> Tensor:
    """``(groups * size, D)`` -> ``(T, D)``."""
    return values if slots.index is None else take_rows(values, slots.index)
