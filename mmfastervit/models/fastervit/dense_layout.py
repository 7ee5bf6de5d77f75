"""The dense token layout used while tracing (ONNX export, ``torch.compile``).

Sizes are symbolic there: the compact layout's size (how many real tokens)
cannot be known without ``nonzero``, and a cache keyed on the size would bake
one size into the graph. :func:`dense_layout` keeps every slot instead
(padding slots read a zero row and are masked out of every key set, like the
compact layout's empty slots), with index maps computed in the graph from
``arange`` and the symbolic sizes. Real tokens come out the same either way.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from .carrier_tokens import axis_pooling, carrier_grid_hw
from .token_layout import Slots, TokenLayout, cell_position, key_mask, nearest_ct
from .windows import WindowGrid

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
    row, col = cell_position(slots.window_row, slots.window_col, cell, grid.window)
    real = is_pixel & (row < height) & (col < width)
    return real, torch.where(real, 1 + slots.image * (height * width) + row * width + col, 0)


def _dense_ct_source(grid: WindowGrid, ct_size: int, sizes: _DenseSizes, slots: _DenseSlots,
                     valid_rows: Tensor, valid_cols: Tensor) -> Tuple[Tensor, Tensor]:
    """Carrier tokens: source row of every slot read as a CT slot (after the
    zero row and the pixel rows), and whether that CT pools any real pixel."""
    ct_height, ct_width = carrier_grid_hw(grid, ct_size)
    cell = slots.slot.clamp(max=sizes.prefix - 1)
    row, col = cell_position(slots.window_row, slots.window_col, cell, ct_size)
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
    return ct_tokens, Slots(sizes.batch, ct_height * ct_width, None, image, key_mask(valid))


def _dense_pixel_tokens(grid: WindowGrid, ct_size: int, sizes: _DenseSizes, with_ct: bool,
                        device: torch.device) -> Tuple[Tensor, Optional[Tensor]]:
    """``(B*nW*window**2,)`` pixel slots in token order, and propagation
    (CT-to-pixel broadcast): the slot of each one's nearest CT."""
    cells = grid.window * grid.window
    group, cell = _split(torch.arange(sizes.groups * cells, device=device), cells)
    pixel_tokens = group * sizes.group_size + sizes.prefix + cell
    if not with_ct:
        return pixel_tokens, None
    return pixel_tokens, group * sizes.group_size + nearest_ct(cell, grid.window, ct_size)


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
                         key_mask(valid.view(sizes.groups, sizes.group_size)), prefix)
    return TokenLayout(ct_hw, window_slots, ct_slots, source, pixel_of_map, ct_tokens,
                       position, pixel_tokens, pixel_ct, zero_row=True, carrier_gate=gate)
