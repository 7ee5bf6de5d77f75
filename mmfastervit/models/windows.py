"""Non-overlapping windows over maps of any size, padded at the bottom/right.

Padding is decided per forward pass from the actual map size. Which tokens are
padding is kept as a mask so that attention and carrier-token pooling ignore
them (a real pixel's feature never depends on the padding).
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor


class WindowGrid(NamedTuple):
    """A ``height x width`` map cut into ``window x window`` windows."""

    height: int
    width: int
    window: int

    @property
    def rows(self) -> int:
        return -(-self.height // self.window)

    @property
    def cols(self) -> int:
        return -(-self.width // self.window)

    @property
    def num_windows(self) -> int:
        return self.rows * self.cols

    @property
    def padded_hw(self):
        return self.rows * self.window, self.cols * self.window

    @property
    def is_padded(self) -> bool:
        return self.padded_hw != (self.height, self.width)


def pad_to_grid(x: Tensor, grid: WindowGrid, channels_last: bool = True) -> Tensor:
    """Zero-pad a ``(B, H, W, C)`` map (``(B, C, H, W)`` if not
    ``channels_last``) at the bottom/right to whole windows."""
    hp, wp = grid.padded_hw
    dh, dw = hp - grid.height, wp - grid.width
    if not (dh or dw):
        return x
    return F.pad(x, (0, 0, 0, dw, 0, dh) if channels_last else (0, dw, 0, dh))


def partition(x: Tensor, window: int) -> Tensor:
    """``(B, Hp, Wp, C)`` -> ``(B * nW, window * window, C)``, windows in
    row-major order within each image."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.transpose(2, 3).reshape(-1, window * window, c)


def merge(windows: Tensor, window: int, rows: int, cols: int) -> Tensor:
    """Inverse of :func:`partition`: ``(B * nW, window**2, C)`` ->
    ``(B, rows * window, cols * window, C)``."""
    c = windows.shape[-1]
    x = windows.view(-1, rows, cols, window, window, c).transpose(2, 3)
    return x.reshape(-1, rows * window, cols * window, c)


@functools.lru_cache(maxsize=64)
def valid_map(grid: WindowGrid, device: torch.device) -> Optional[Tensor]:
    """``(1, 1, Hp, Wp)`` float map, 1 on real pixels and 0 on padding; None
    when the grid needs no padding."""
    if not grid.is_padded:
        return None
    valid = torch.zeros(1, 1, *grid.padded_hw, device=device)
    valid[..., :grid.height, :grid.width] = 1
    return valid


@functools.lru_cache(maxsize=64)
def valid_tokens(grid: WindowGrid, device: torch.device) -> Optional[Tensor]:
    """``(nW, window**2)`` bool, True on real pixels; None without padding."""
    valid = valid_map(grid, device)
    if valid is None:
        return None
    return partition(valid.permute(0, 2, 3, 1), grid.window)[..., 0] > 0
