"""Non-overlapping windows over maps of any size, padded at the bottom/right.

How many windows a map needs is decided per forward pass from its actual size.
Padding itself only ever exists for carrier-token pooling (where it is masked
out of every average); the tokens of a HAT stage hold real pixels only.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor


class WindowGrid(NamedTuple):
    """A ``height x width`` map cut into ``window x window`` windows.

    ``height`` and ``width`` are ints in eager mode; while tracing they may be
    symbolic (``SymInt``, or 0-dim tensors under the TorchScript tracer), and
    every derived size below stays symbolic with them.
    """

    height: int
    width: int
    window: int

    @property
    def rows(self) -> int:
        return (self.height + self.window - 1) // self.window

    @property
    def cols(self) -> int:
        return (self.width + self.window - 1) // self.window

    @property
    def num_windows(self) -> int:
        return self.rows * self.cols

    @property
    def padded_hw(self):
        return self.rows * self.window, self.cols * self.window

    @property
    def is_padded(self) -> bool:
        return self.padded_hw != (self.height, self.width)


def pad_to_grid(x: Tensor, grid: WindowGrid) -> Tensor:
    """Zero-pad a ``(B, C, H, W)`` map at the bottom/right to whole windows."""
    hp, wp = grid.padded_hw
    if (hp, wp) == (grid.height, grid.width):
        return x
    return F.pad(x, (0, wp - grid.width, 0, hp - grid.height))


@functools.lru_cache(maxsize=64)
def valid_map(grid: WindowGrid, device: torch.device) -> Optional[Tensor]:
    """``(1, 1, Hp, Wp)`` float map, 1 on real pixels and 0 on padding; None
    when the grid needs no padding."""
    if not grid.is_padded:
        return None
    valid = torch.zeros(1, 1, *grid.padded_hw, device=device)
    valid[..., :grid.height, :grid.width] = 1
    return valid
