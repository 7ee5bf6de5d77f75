"""Position terms computed by small MLPs of continuous coordinates.

Because the learned weights are MLPs of normalised coordinates, they do not
depend on the input resolution or window size; only the coordinate tables do,
and those are built from the actual grid at run time (cached per shape).
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from ..common.eval_cache import EvalCache


@functools.lru_cache(maxsize=64)
def absolute_coords(h: int, w: int, device: torch.device) -> Tensor:
    """``(h * w, 2)`` (row, col) of each cell, each axis mapped by
    ``(i - n // 2) / (n // 2)`` (so -1 at the first cell)."""
    rows = (torch.arange(h, device=device) - h // 2) / max(h // 2, 1)
    cols = (torch.arange(w, device=device) - w // 2) / max(w // 2, 1)
    return torch.stack(torch.meshgrid(rows, cols, indexing='ij'), -1).view(-1, 2)


@functools.lru_cache(maxsize=64)
def log_relative_coords(h: int, w: int, device: torch.device) -> Tensor:
    """``((2h-1) * (2w-1), 2)`` log-spaced relative offsets (SwinV2): each
    axis normalised by ``n - 1`` to [-8, 8], then ``sign * log2(1+|d|) / 3``."""
    def axis(n: int) -> Tensor:
        return torch.arange(1 - n, n, device=device, dtype=torch.float32) * (8 / max(n - 1, 1))

    table = torch.stack(torch.meshgrid(axis(h), axis(w), indexing='ij'), -1)
    table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
    return table.view(-1, 2)


@functools.lru_cache(maxsize=16)
def relative_index(h: int, w: int, device: torch.device) -> Tensor:
    """``(h*w, h*w)`` index into :func:`log_relative_coords` for each
    (query, key) pair of an ``h x w`` grid."""
    coords = torch.stack(torch.meshgrid(torch.arange(h, device=device),
                                        torch.arange(w, device=device),
                                        indexing='ij')).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    return (rel[0] + h - 1) * (2 * w - 1) + rel[1] + w - 1


class CoordinateMLP(EvalCache):
    """``2 -> hidden -> out_features`` MLP of coordinates; its results are
    cached per grid in inference (:class:`EvalCache`)."""

    def __init__(self, out_features: int, hidden: int = 512) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, out_features, bias=False))

    def run_mlp(self, coords: Tensor) -> Tensor:
        """The MLP in the weights' precision, outside autocast (so that cached
        values never carry an autocast pass's reduced precision)."""
        weight = self.mlp[0].weight
        with torch.autocast(weight.device.type, enabled=False):
            return self.mlp(coords.to(weight.dtype))


class AbsolutePosition(CoordinateMLP):
    """Learned absolute position term of every cell of an ``h x w`` grid."""

    def __init__(self, dim: int, hidden: int = 512) -> None:
        super().__init__(dim, hidden)

    def forward(self, h: int, w: int) -> Tensor:
        """``(h * w, dim)``, to be added to the grid's tokens."""
        device = self.mlp[0].weight.device
        return self.cached((h, w), lambda: self.run_mlp(absolute_coords(h, w, device)))


class RelativePositionBias(CoordinateMLP):
    """Continuous relative position bias (SwinV2-style) for attention over
    the cells of an ``h x w`` grid, one bias map per head."""

    def __init__(self, num_heads: int, hidden: int = 512) -> None:
        super().__init__(num_heads, hidden)

    def forward(self, h: int, w: int) -> Tensor:
        """``(num_heads, h * w, h * w)`` additive attention bias. Only the
        per-offset table is cached: the full bias of a large carrier-token grid
        is big and cheap to gather."""
        device = self.mlp[0].weight.device
        table = self.cached((h, w), lambda: 16 * torch.sigmoid(
            self.run_mlp(log_relative_coords(h, w, device))))
        return table.t()[:, relative_index(h, w, device)]
