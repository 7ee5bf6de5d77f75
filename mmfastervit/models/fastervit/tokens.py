"""Where a HAT stage's tokens live: real tokens only, laid out by window.

A stage keeps its tokens compact, as one ``(T, C)`` tensor holding only real
tokens: window by window, the window's ``ct_size**2`` carrier tokens (CTs)
followed by its real pixels (row-major), windows in row-major order, images
one after another. Token-wise layers (norms, projections, MLPs) therefore never
compute padding. Attention needs whole windows: it scatters the tokens into
``G = B * nW`` groups of ``N = P + window**2`` slots, where slots of padding are
empty and masked out of every attention's keys. Without padding the compact
order is exactly the slot order, and no scattering is needed.

Every index map here depends only on the shapes, so a layout is built once per
(grid, batch) and cached.

While tracing (ONNX export, ``torch.compile``) sizes are symbolic: the compact
layout's size (how many real tokens) cannot be known without ``nonzero``, and
a cache keyed on the size would bake one size into the graph. There
:func:`dense_layout` keeps every slot instead (padding slots read a zero row
and are masked out of every key set, like the compact layout's empty slots),
with index maps computed in the graph from ``arange`` and the symbolic sizes.
Real tokens come out the same either way.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

from .carrier_tokens import axis_pooling, carrier_grid_hw, carrier_validity
from .windows import WindowGrid


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


def _additive(valid: Tensor) -> Optional[Tensor]:
    if bool(valid.all()):
        return None
    return _key_mask(valid)


def _key_mask(valid: Tensor) -> Tensor:
    """0 where ``valid``, -inf elsewhere."""
    return torch.zeros(valid.shape, device=valid.device).masked_fill(~valid, float('-inf'))


def _nearest_ct(cell, window: int, ct_size: int):
    """Propagation: index of the window's CT nearest to pixel ``cell``
    (row-major in the window), i.e. CT ``(i * ct // window, j * ct // window)``."""
    return (cell // window * ct_size // window) * ct_size + cell % window * ct_size // window


def _slots(groups: int, size: int, index: Optional[Tensor], tokens: int,
           valid: Tensor, prefix: int = 0) -> Slots:
    slot = torch.arange(tokens) if index is None else index
    return Slots(groups, size, index, slot // size, _additive(valid), prefix)


def _build(grid: WindowGrid, ct_size: int, with_ct: bool, batch: int) -> TokenLayout:
    h, w, ws = grid.height, grid.width, grid.window
    cols, nw = grid.cols, grid.num_windows
    p = ct_size**2 if with_ct else 0
    n = p + ws * ws

    # Per image: what each of the nW * N slots holds.
    win_r, win_c = (torch.arange(nw) // cols)[:, None], (torch.arange(nw) % cols)[:, None]
    local = torch.arange(ws * ws)
    pix_r, pix_c = win_r * ws + local // ws, win_c * ws + local % ws          # (nW, ws^2)
    pix_real = (pix_r < h) & (pix_c < w)
    real = torch.cat([torch.ones(nw, p, dtype=torch.bool), pix_real], 1)       # (nW, N)
    slot_of_token = real.flatten().nonzero().squeeze(1)                        # (T1,)
    token_of_slot = torch.cumsum(real.flatten(), 0) - 1                       # (nW*N,)
    t1 = slot_of_token.numel()
    hw = h * w

    # Sources: pixels of the (H, W) map, then CTs of the CT grid.
    pix_src = (pix_r * w + pix_c).masked_fill(~pix_real, -1)
    if with_ct:
        hc, wc = carrier_grid_hw(grid, ct_size)
        ct_local = torch.arange(p)
        ct_r = win_r * ct_size + ct_local // ct_size
        ct_c = win_c * ct_size + ct_local % ct_size
        ct_src = ct_r * wc + ct_c                                              # (nW, P)
        slot_src = torch.cat([hw + ct_src, pix_src], 1).flatten()
    else:
        hc = wc = 0
        slot_src = pix_src.flatten()
    src1 = slot_src[slot_of_token]                                            # (T1,)
    is_pix1 = src1 < hw
    position1 = torch.cat([torch.full((p,), ws * ws), local]).repeat(nw)[slot_of_token]

    # Batch: image b's tokens follow image b-1's.
    b = torch.arange(batch)[:, None]
    src_rows = hw * batch + hc * wc * b  # CT rows start after all pixels

    def per_batch(t):
        return t[None].expand(batch, -1)

    source = torch.where(per_batch(is_pix1), per_batch(src1) + hw * b,
                         per_batch(src1) - hw + src_rows).flatten()
    token_ids = (torch.arange(t1)[None] + t1 * b)                             # (B, T1)
    pixel_tokens = token_ids[:, is_pix1].flatten()
    pixel_of_map = torch.empty(batch * hw, dtype=torch.long)
    pixel_of_map[source[pixel_tokens]] = pixel_tokens
    window_index = None if t1 == nw * n else (per_batch(slot_of_token) + nw * n * b).flatten()

    ct_tokens = pixel_ct = ct_slots = None
    window_valid = real
    if with_ct:
        ct_tokens = torch.empty(batch * hc * wc, dtype=torch.long)
        ct_token_ids = token_ids[:, ~is_pix1].flatten()
        ct_tokens[source[ct_token_ids] - hw * batch] = ct_token_ids
        # propagation: pixel (i, j) of a window takes CT (i*ct//ws, j*ct//ws)
        near = _nearest_ct(local, ws, ct_size)
        near_slot = torch.arange(nw)[:, None] * n + near[None]                # (nW, ws^2)
        pixel_ct1 = token_of_slot[near_slot[pix_real]]
        pixel_ct = (pixel_ct1[None] + t1 * b).flatten()
        ct_valid = carrier_validity(grid, ct_size)
        if ct_valid is not None:  # CTs that pool only padding take no part as keys
            window_valid = real.clone()
            window_valid[:, :p] = ct_valid[ct_src]
        ct_slots = _slots(batch, hc * wc, None, batch * hc * wc,
                          torch.ones(1, hc * wc, dtype=torch.bool) if ct_valid is None
                          else ct_valid[None])
    window_slots = _slots(batch * nw, n, window_index, source.numel(), window_valid, p)
    return TokenLayout((hc, wc) if with_ct else None, window_slots, ct_slots, source,
                       pixel_of_map, ct_tokens, position1.repeat(batch), pixel_tokens,
                       pixel_ct)


def _to(layout: TokenLayout, device: torch.device) -> TokenLayout:
    def move(v):
        if isinstance(v, Tensor):
            return v.to(device)
        if isinstance(v, Slots):
            return Slots(v.groups, v.size, move(v.index), move(v.token_group),
                         move(v.key_mask), v.prefix)
        return v
    return TokenLayout(**{k: move(getattr(layout, k)) for k in layout.__dataclass_fields__})


@functools.lru_cache(maxsize=32)
def token_layout(grid: WindowGrid, ct_size: int, with_ct: bool, batch: int,
                 device: torch.device) -> TokenLayout:
    """The (cached) layout of ``batch`` maps of ``grid``."""
    return _to(_build(grid, ct_size, with_ct, batch), device)


def dense_layout(grid: WindowGrid, ct_size: int, with_ct: bool, batch,
                 device: torch.device) -> TokenLayout:
    """The layout of ``batch`` maps of ``grid`` with every window slot kept,
    for tracing: the sizes may be symbolic.

    Tokens are the slots themselves (``index`` None); padding slots read the
    zero row and are masked out of the keys, as are CTs that pool only
    padding. With a single window no CTs are used (attention is already
    global): the CT slots stay but are masked and ``carrier_gate`` turns
    propagation off, so that one graph serves every size. Key masks are per
    group and never None (tracing cannot tell whether anything is masked).

    Every map is computed on a flat ``arange`` whose length has a constant
    factor, split into coordinates by floor division: ``torch.compile``
    guards on a tensor dimension of a symbolic size being 1 (and so would
    recompile when a stage has a single window row), but not on these.
    """
    h, w, ws = grid.height, grid.width, grid.window
    rows, cols = grid.rows, grid.cols
    nw = rows * cols
    p = ct_size**2 if with_ct else 0
    n = p + ws * ws
    groups = batch * nw

    def split(index, size):  # (index // size, index % size), `size` may be symbolic
        quotient = index // size
        return quotient, index - quotient * size

    def window_origin(image, row, col):  # first token of window (row, col) of an image
        return ((image * rows + row) * cols + col) * n

    # Slots: window g = (image, row, col), slot s: P CTs, then ws*ws pixel cells.
    group, slot = split(torch.arange(groups * n, device=device), n)
    image, win = split(group, nw)
    win_r, win_c = split(win, cols)
    is_pixel = slot >= p
    cell = (slot - p).clamp(min=0)
    pix_r, pix_c = win_r * ws + cell // ws, win_c * ws + cell % ws
    real = is_pixel & (pix_r < h) & (pix_c < w)
    # source rows: [zero row; B*H*W pixels; B*Hc*Wc CTs]
    source = torch.where(real, 1 + image * (h * w) + pix_r * w + pix_c, 0)
    valid = real
    ct_tokens = pixel_ct = ct_slots = gate = None
    hc = wc = 0
    if with_ct:
        hc, wc = carrier_grid_hw(grid, ct_size)
        ct_cell = slot.clamp(max=p - 1)
        ct_r, ct_c = win_r * ct_size + ct_cell // ct_size, win_c * ct_size + ct_cell % ct_size
        source = torch.where(is_pixel, source,
                             1 + batch * (h * w) + image * (hc * wc) + ct_r * wc + ct_c)
        row_valid, col_valid = (axis_pooling(size, ws, ct_size, device)[1]
                                for size in (h, w))
        gate = (win > 0).any()  # more than one window
        valid = real | (~is_pixel & row_valid[ct_r] & col_valid[ct_c] & gate)
        # CT (i, j) of the CT grid: window (i // ct, j // ct), cell (i % ct, j % ct)
        ct_image, ct_index = split(torch.arange(batch * hc * wc, device=device), hc * wc)
        i, j = split(ct_index, wc)
        ct_tokens = (window_origin(ct_image, i // ct_size, j // ct_size)
                     + (i % ct_size) * ct_size + j % ct_size)
        ct_slots = Slots(batch, hc * wc, None, ct_image,
                         _key_mask((row_valid[i] & col_valid[j]).view(batch, -1)))
    # pixel slots, in token order
    pix_group, pix_cell = split(torch.arange(groups * ws * ws, device=device), ws * ws)
    pixel_tokens = pix_group * n + p + pix_cell
    if with_ct:
        pixel_ct = pix_group * n + _nearest_ct(pix_cell, ws, ct_size)
    # pixel (y, x) of image b: window (y // ws, x // ws), cell (y % ws, x % ws)
    map_image, yx = split(torch.arange(batch * h * w, device=device), h * w)
    y, x = split(yx, w)
    pixel_of_map = window_origin(map_image, y // ws, x // ws) + p + (y % ws) * ws + x % ws
    position = torch.where(is_pixel, cell, ws * ws)
    window_slots = Slots(groups, n, None, group, _key_mask(valid.view(groups, n)), p)
    return TokenLayout((hc, wc) if with_ct else None, window_slots, ct_slots, source,
                       pixel_of_map, ct_tokens, position, pixel_tokens, pixel_ct,
                       zero_row=True, carrier_gate=gate)


def to_tokens(layout: TokenLayout, pixels: Tensor, cts: Optional[Tensor]) -> Tensor:
    """``(B*H*W, C)`` pixels (NHWC order) and ``(B*Hc*Wc, C)`` CTs -> ``(T, C)``."""
    rows = [pixels] if cts is None else [pixels, cts]
    if layout.zero_row:
        rows.insert(0, pixels.new_zeros(1, pixels.shape[-1]))
    return (torch.cat(rows) if len(rows) > 1 else pixels)[layout.source]


def to_map(layout: TokenLayout, tokens: Tensor) -> Tensor:
    """``(T, C)`` tokens -> ``(B*H*W, C)`` pixels in NHWC order."""
    return tokens[layout.pixel_of_map]


def scatter_to_slots(tokens: Tensor, slots: Slots) -> Tensor:
    """``(T, D)`` -> ``(groups * size, D)``; empty slots are zeros (and masked)."""
    if slots.index is None:
        return tokens
    buffer = tokens.new_zeros(slots.groups * slots.size, tokens.shape[-1])
    return buffer.index_copy(0, slots.index, tokens)


def gather_from_slots(values: Tensor, slots: Slots) -> Tensor:
    """``(groups * size, D)`` -> ``(T, D)``."""
    return values if slots.index is None else values[slots.index]
