"""The compact token layout of eager runs: only real tokens, built once per
(grid, batch, device) from concrete sizes and cached (:func:`token_layout`).
Without padding the compact order is exactly the slot order, and no
scattering is needed."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

from .carrier_tokens import carrier_grid_hw, carrier_validity
from .token_layout import Slots, TokenLayout, cell_position, key_mask, nearest_ct
from .windows import WindowGrid


def _additive(valid: Tensor) -> Optional[Tensor]:
    if bool(valid.all()):
        return None
    return key_mask(valid)


def _slots(groups: int, size: int, index: Optional[Tensor], tokens: int,
           valid: Tensor, prefix: int = 0) -> Slots:
    slot = torch.arange(tokens) if index is None else index
    return Slots(groups, size, index, slot // size, _additive(valid), prefix)


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
    row, col = cell_position(window_row, window_col, cell, grid.window)
    real = (row < grid.height) & (col < grid.width)
    return real, (row * grid.width + col).masked_fill(~real, -1)


def _window_cts(grid: WindowGrid, ct_size: int) -> Tensor:
    """``(nW, ct_size**2)``: index in the ``(Hc, Wc)`` CT grid of each
    window's CTs."""
    window_row, window_col = _window_coords(grid)
    cell = torch.arange(ct_size**2)
    row, col = cell_position(window_row, window_col, cell, ct_size)
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
    nearest = nearest_ct(torch.arange(grid.window * grid.window), grid.window, ct_size)
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
