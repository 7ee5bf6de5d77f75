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
from typing import NamedTuple, Optional, Tuple

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


def _nearest_ct(cell: Tensor, window: int, ct_size: int) -> Tensor:
    """Propagation: index of the window's CT nearest to pixel ``cell``
    (row-major in the window), i.e. CT ``(i * ct // window, j * ct // window)``."""
    return (cell // window * ct_size // window) * ct_size + cell % window * ct_size // window


def _cell_position(window_row: Tensor, window_col: Tensor, cell: Tensor,
                   size: int) -> Tuple[Tensor, Tensor]:
    """Row and column of cell ``cell`` (row-major in its ``size x size``
    window) of window ``(window_row, window_col)``, on a grid of ``size``
    cells per window. Broadcasts."""
    return window_row * size + cell // size, window_col * size + cell % size


def _slots(groups: int, size: int, index: Optional[Tensor], tokens: int,
           valid: Tensor, prefix: int = 0) -> Slots:
    slot = torch.arange(tokens) if index is None else index
    return Slots(groups, size, index, slot // size, _additive(valid), prefix)


# ------------------------------------------------------------ compact layout
# Built for one image (T1 tokens filling nW * N slots), then repeated for
# every image of the batch.

@dataclass(frozen=True)
class _ImageTokens:
    """One image's compact tokens and the window slots they fill."""

    real: Tensor                  # (nW, N) bool: the slot holds a token
    pixel_real: Tensor            # (nW, window**2) bool: the pixel cell is in the map
    slot_of_token: Tensor         # (T1,)
    token_of_slot: Tensor         # (nW * N,), read at real slots only
    source: Tensor                # (T1,) row of the image's [H*W pixels; Hc*Wc CTs]
    is_pixel: Tensor              # (T1,) bool
    position: Tensor              # (T1,) position in window, window**2 for CTs
    ct_of_slot: Optional[Tensor]  # (nW, P) CT-grid index of each window's CTs


def _window_coords(grid: WindowGrid) -> Tuple[Tensor, Tensor]:
    """Row and column of every window (row-major): ``(nW, 1)`` each."""
    window = torch.arange(grid.num_windows)
    return (window // grid.cols)[:, None], (window % grid.cols)[:, None]


def _window_pixels(grid: WindowGrid) -> Tuple[Tensor, Tensor]:
    """Whether each window's pixel cells lie in the map, and their index in
    the ``(H, W)`` map (-1 on padding): ``(nW, window**2)`` each."""
    window_row, window_col = _window_coords(grid)
    cell = torch.arange(grid.window * grid.window)
    row, col = _cell_position(window_row, window_col, cell, grid.window)
    real = (row < grid.height) & (col < grid.width)
    return real, (row * grid.width + col).masked_fill(~real, -1)


def _window_cts(grid: WindowGrid, ct_size: int) -> Tensor:
    """``(nW, ct_size**2)``: index in the ``(Hc, Wc)`` CT grid of each
    window's CTs."""
    window_row, window_col = _window_coords(grid)
    cell = torch.arange(ct_size**2)
    row, col = _cell_position(window_row, window_col, cell, ct_size)
    return row * carrier_grid_hw(grid, ct_size)[1] + col


def _image_tokens(grid: WindowGrid, ct_size: int, with_ct: bool) -> _ImageTokens:
    """Window slots: what each of one image's ``nW * N`` slots holds (its
    ``P`` CTs, then its pixel cells), and the tokens of the real ones."""
    pixel_real, pixel_source = _window_pixels(grid)
    windows, cells = pixel_real.shape
    prefix = ct_size**2 if with_ct else 0
    real = torch.cat([torch.ones(windows, prefix, dtype=torch.bool), pixel_real], 1)
    slot_source, ct_of_slot = pixel_source, None
    if with_ct:  # CT rows follow the image's pixel rows
        ct_of_slot = _window_cts(grid, ct_size)
        slot_source = torch.cat([grid.height * grid.width + ct_of_slot, pixel_source], 1)
    slot_of_token = real.flatten().nonzero().squeeze(1)
    source = slot_source.flatten()[slot_of_token]
    position = torch.cat([torch.full((prefix,), cells), torch.arange(cells)]).repeat(windows)
    return _ImageTokens(real, pixel_real, slot_of_token, torch.cumsum(real.flatten(), 0) - 1,
                        source, source < grid.height * grid.width,
                        position[slot_of_token], ct_of_slot)


def _per_image(index: Tensor, stride: int, batch: int) -> Tensor:
    """``(K,)`` indices into one image's ``stride`` rows -> ``(B*K,)``, the
    images one after another."""
    return (index[None] + stride * torch.arange(batch)[:, None]).flatten()


def _batch_source(image: _ImageTokens, pixels: int, cts: int, batch: int) -> Tensor:
    """``(B*T1,)`` row of ``[B*H*W pixels; B*Hc*Wc CTs]`` of every token;
    ``pixels`` and ``cts`` are counts per image."""
    index = torch.arange(batch)[:, None]
    shift = torch.where(image.is_pixel, pixels * index, pixels * (batch - 1) + cts * index)
    return (image.source + shift).flatten()


def _token_of_row(tokens: Tensor, rows: Tensor, size: int) -> Tensor:
    """``(size,)`` inverse map: ``out[rows[k]] = tokens[k]``."""
    token = torch.empty(size, dtype=torch.long)
    token[rows] = tokens
    return token


def _window_validity(image: _ImageTokens, ct_valid: Optional[Tensor]) -> Tensor:
    """``(nW, N)`` bool: the slots that are keys. CTs that pool only padding
    (``ct_valid``, ``(Hc*Wc,)``) take no part."""
    if ct_valid is None:
        return image.real
    valid = image.real.clone()
    valid[:, :image.ct_of_slot.shape[1]] = ct_valid[image.ct_of_slot]  # the P CT slots
    return valid


def _propagation(grid: WindowGrid, ct_size: int, image: _ImageTokens) -> Tensor:
    """CT-to-pixel broadcast: ``(T1_pix,)`` token of the CT each of one
    image's pixels takes in, the nearest CT of its window."""
    windows, size = image.real.shape
    nearest = _nearest_ct(torch.arange(grid.window * grid.window), grid.window, ct_size)
    nearest_slot = torch.arange(windows)[:, None] * size + nearest[None]  # (nW, window**2)
    return image.token_of_slot[nearest_slot[image.pixel_real]]


def _build(grid: WindowGrid, ct_size: int, with_ct: bool, batch: int) -> TokenLayout:
    """The compact layout of ``batch`` maps of ``grid`` (on the CPU)."""
    image = _image_tokens(grid, ct_size, with_ct)
    windows, size = image.real.shape  # nW, N
    prefix = ct_size**2 if with_ct else 0
    tokens = image.source.numel()  # T1, per image
    pixels = grid.height * grid.width
    ct_hw = carrier_grid_hw(grid, ct_size) if with_ct else None
    cts = ct_hw[0] * ct_hw[1] if with_ct else 0
    source = _batch_source(image, pixels, cts, batch)
    pixel_tokens = _per_image(torch.arange(tokens)[image.is_pixel], tokens, batch)
    pixel_of_map = _token_of_row(pixel_tokens, source[pixel_tokens], batch * pixels)

    ct_tokens = pixel_ct = ct_slots = ct_valid = None
    if with_ct:
        ct_ids = _per_image(torch.arange(tokens)[~image.is_pixel], tokens, batch)
        ct_tokens = _token_of_row(ct_ids, source[ct_ids] - batch * pixels, batch * cts)
        pixel_ct = _per_image(_propagation(grid, ct_size, image), tokens, batch)
        ct_valid = carrier_validity(grid, ct_size)
        ct_slots = _slots(batch, cts, None, batch * cts,
                          torch.ones(1, cts, dtype=torch.bool) if ct_valid is None
                          else ct_valid[None])
    index = None if tokens == windows * size else _per_image(
        image.slot_of_token, windows * size, batch)
    window_slots = _slots(batch * windows, size, index, source.numel(),
                          _window_validity(image, ct_valid), prefix)
    return TokenLayout(ct_hw, window_slots, ct_slots, source, pixel_of_map, ct_tokens,
                       image.position.repeat(batch), pixel_tokens, pixel_ct)


def _to(layout: TokenLayout, device: torch.device) -> TokenLayout:
    def move(v):
        if isinstance(v, Tensor):
            return v.to(device)
        if isinstance(v, Slots):
            return Slots(v.groups, v.size, move(v.index), move(v.token_group),
                         move(v.key_mask), v.prefix)
        return v
    return TokenLayout(**{k: move(getattr(layout, k)) for k in layout.__dataclass_fields__})


# Layouts kept by `token_layout`: one per attention stage (stages 3 and 4),
# input size, batch size and device, so 32 serve 16 input sizes (all scales
# of multi-scale testing, say) without rebuilding. Training on random sizes
# makes new ones every step; the bound keeps them to a few tens of MB at most
# (a layout is about 0.5 MB for two 1333 x 800 images, 2 MB for eight
# 512 x 2048 crops).
_LAYOUT_CACHE_SIZE = 32


@functools.lru_cache(maxsize=_LAYOUT_CACHE_SIZE)
def token_layout(grid: WindowGrid, ct_size: int, with_ct: bool, batch: int,
                 device: torch.device) -> TokenLayout:
    """The (cached) layout of ``batch`` maps of ``grid``."""
    return _to(_build(grid, ct_size, with_ct, batch), device)


# -------------------------------------------------------------- dense layout
# Every size may be symbolic (an int, a SymInt, or a 0-dim tensor under the
# TorchScript tracer): maps are tensor arithmetic on `arange`, no Python
# control flow on values.

class _DenseSizes(NamedTuple):
    """The sizes of a dense layout."""

    batch: int        # B
    window_rows: int
    window_cols: int
    windows: int      # nW = window_rows * window_cols, per image
    groups: int       # B * nW
    prefix: int       # P: CT slots of a window
    group_size: int   # N = P + window**2


class _DenseSlots(NamedTuple):
    """Coordinates of every slot, ``(B*nW*N,)`` each."""

    group: Tensor       # image * nW + window
    slot: Tensor        # in the group: P CTs, then window**2 pixel cells
    image: Tensor
    window: Tensor      # in the image, row-major
    window_row: Tensor
    window_col: Tensor


def _split(index: Tensor, size) -> Tuple[Tensor, Tensor]:
    """``(index // size, index % size)``; ``size`` may be symbolic."""
    quotient = index // size
    return quotient, index - quotient * size


def _dense_slots(sizes: _DenseSizes, device: torch.device) -> _DenseSlots:
    """Window slots: group ``(image, window_row, window_col)`` and place of
    every slot."""
    group, slot = _split(torch.arange(sizes.groups * sizes.group_size, device=device),
                         sizes.group_size)
    image, window = _split(group, sizes.windows)
    window_row, window_col = _split(window, sizes.window_cols)
    return _DenseSlots(group, slot, image, window, window_row, window_col)


def _slot_of_point(sizes: _DenseSizes, image: Tensor, row: Tensor, col: Tensor,
                   cell_size: int) -> Tensor:
    """Slot of point ``(row, col)`` of an image's grid of ``cell_size x
    cell_size`` cells per window: its window's first slot plus its cell
    (pixels: add ``P``, as a window's CTs come first)."""
    window_row, window_col = row // cell_size, col // cell_size
    window_start = ((image * sizes.window_rows + window_row) * sizes.window_cols
                    + window_col) * sizes.group_size
    return window_start + (row % cell_size) * cell_size + col % cell_size


def _dense_pixel_source(grid: WindowGrid, slots: _DenseSlots, cell: Tensor,
                        is_pixel: Tensor) -> Tuple[Tensor, Tensor]:
    """Window slots: whether each slot is a real pixel, and its source row
    (pixel rows start at 1, after the zero row; 0 for other slots)."""
    height, width = grid.height, grid.width
    row, col = _cell_position(slots.window_row, slots.window_col, cell, grid.window)
    real = is_pixel & (row < height) & (col < width)
    return real, torch.where(real, 1 + slots.image * (height * width) + row * width + col, 0)


def _dense_ct_source(grid: WindowGrid, ct_size: int, sizes: _DenseSizes, slots: _DenseSlots,
                     valid_rows: Tensor, valid_cols: Tensor) -> Tuple[Tensor, Tensor]:
    """Carrier tokens: source row of every slot read as a CT slot (after the
    zero row and the pixel rows), and whether that CT pools any real pixel."""
    ct_height, ct_width = carrier_grid_hw(grid, ct_size)
    cell = slots.slot.clamp(max=sizes.prefix - 1)
    row, col = _cell_position(slots.window_row, slots.window_col, cell, ct_size)
    source = (1 + sizes.batch * (grid.height * grid.width)
              + slots.image * (ct_height * ct_width) + row * ct_width + col)
    return source, valid_rows[row] & valid_cols[col]


def _dense_ct_tokens(grid: WindowGrid, ct_size: int, sizes: _DenseSizes,
                     valid_rows: Tensor, valid_cols: Tensor,
                     device: torch.device) -> Tuple[Tensor, Slots]:
    """Carrier tokens: ``(B*Hc*Wc,)`` token of each CT (CT-grid order), and
    the slots of global attention among each image's CTs."""
    ct_height, ct_width = carrier_grid_hw(grid, ct_size)
    image, index = _split(torch.arange(sizes.batch * ct_height * ct_width, device=device),
                          ct_height * ct_width)
    row, col = _split(index, ct_width)
    ct_tokens = _slot_of_point(sizes, image, row, col, ct_size)
    valid = (valid_rows[row] & valid_cols[col]).view(sizes.batch, -1)
    return ct_tokens, Slots(sizes.batch, ct_height * ct_width, None, image, _key_mask(valid))


def _dense_pixel_tokens(grid: WindowGrid, ct_size: int, sizes: _DenseSizes, with_ct: bool,
                        device: torch.device) -> Tuple[Tensor, Optional[Tensor]]:
    """``(B*nW*window**2,)`` pixel slots in token order, and propagation
    (CT-to-pixel broadcast): the slot of each one's nearest CT."""
    cells = grid.window * grid.window
    group, cell = _split(torch.arange(sizes.groups * cells, device=device), cells)
    pixel_tokens = group * sizes.group_size + sizes.prefix + cell
    if not with_ct:
        return pixel_tokens, None
    return pixel_tokens, group * sizes.group_size + _nearest_ct(cell, grid.window, ct_size)


def _dense_pixel_of_map(grid: WindowGrid, sizes: _DenseSizes,
                        device: torch.device) -> Tensor:
    """``(B*H*W,)`` token of each map pixel."""
    pixels = grid.height * grid.width
    image, index = _split(torch.arange(sizes.batch * pixels, device=device), pixels)
    row, col = _split(index, grid.width)
    return _slot_of_point(sizes, image, row, col, grid.window) + sizes.prefix


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
    window_rows, window_cols = grid.rows, grid.cols
    windows = window_rows * window_cols
    prefix = ct_size**2 if with_ct else 0
    sizes = _DenseSizes(batch, window_rows, window_cols, windows, batch * windows, prefix,
                        prefix + grid.window**2)
    slots = _dense_slots(sizes, device)
    is_pixel = slots.slot >= prefix
    cell = (slots.slot - prefix).clamp(min=0)
    # source rows: [zero row; B*H*W pixels; B*Hc*Wc CTs]
    real, source = _dense_pixel_source(grid, slots, cell, is_pixel)
    valid = real
    ct_hw = ct_tokens = ct_slots = gate = None
    if with_ct:
        ct_hw = carrier_grid_hw(grid, ct_size)
        valid_rows, valid_cols = (axis_pooling(size, grid.window, ct_size, device)[1]
                                  for size in (grid.height, grid.width))
        ct_source, ct_valid = _dense_ct_source(grid, ct_size, sizes, slots,
                                               valid_rows, valid_cols)
        source = torch.where(is_pixel, source, ct_source)
        gate = (slots.window > 0).any()  # more than one window
        valid = real | (~is_pixel & ct_valid & gate)
        ct_tokens, ct_slots = _dense_ct_tokens(grid, ct_size, sizes, valid_rows, valid_cols,
                                               device)
    pixel_tokens, pixel_ct = _dense_pixel_tokens(grid, ct_size, sizes, with_ct, device)
    pixel_of_map = _dense_pixel_of_map(grid, sizes, device)
    position = torch.where(is_pixel, cell, grid.window**2)
    window_slots = Slots(sizes.groups, sizes.group_size, None, slots.group,
                         _key_mask(valid.view(sizes.groups, sizes.group_size)), prefix)
    return TokenLayout(ct_hw, window_slots, ct_slots, source, pixel_of_map, ct_tokens,
                       position, pixel_tokens, pixel_ct, zero_row=True, carrier_gate=gate)


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
