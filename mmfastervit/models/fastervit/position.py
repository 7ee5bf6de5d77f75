"""Position terms computed by small MLPs of continuous coordinates.

Because the learned weights are MLPs of normalised coordinates, they do not
depend on the input resolution or window size; only the coordinate tables do,
and those are built from the actual grid at run time: cached per shape in
eager mode, and computed inside the graph from the (symbolic) grid size while
tracing, so that an exported or compiled model builds them for every size.
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from ...utils.compat import at_least, is_tracing
from ..common.eval_cache import EvalCache


def _absolute_coords(h, w, device: torch.device, over_cells: bool = False) -> Tensor:
    """``(h * w, 2)`` (row, col) of each cell, each axis mapped by
    ``(i - n // 2) / (n // 2)`` (so -1 at the first cell). ``over_cells``:
    ``n`` is the number of cells ``h * w`` on both axes, the rule of NVIDIA's
    DINO detection code (its coordinates then span about [-1, -1 + 2/w])."""
    def axis(n):
        half = (h * w if over_cells else n) // 2
        return (torch.arange(n, device=device) - half) / at_least(half, 1)

    return torch.stack(torch.meshgrid(axis(h), axis(w), indexing='ij'), -1).view(-1, 2)


def _log_relative_coords(h, w, device: torch.device) -> Tensor:
    """``((2h-1) * (2w-1), 2)`` log-spaced relative offsets (SwinV2): each
    axis normalised by ``n - 1`` to [-8, 8], then ``sign * log2(1+|d|) / 3``."""
    def axis(n):
        return torch.arange(1 - n, n, device=device, dtype=torch.float32) * (
            8 / at_least(n - 1, 1))

    table = torch.stack(torch.meshgrid(axis(h), axis(w), indexing='ij'), -1)
    table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
    return table.view(-1, 2)


def _relative_index(h, w, device: torch.device) -> Tensor:
    """``(h*w, h*w)`` index into :func:`log_relative_coords` for each
    (query, key) pair of an ``h x w`` grid."""
    coords = torch.stack(torch.meshgrid(torch.arange(h, device=device),
                                        torch.arange(w, device=device),
                                        indexing='ij')).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    return (rel[0] + h - 1) * (2 * w - 1) + rel[1] + w - 1


# Eager mode: one table per concrete shape.
absolute_coords = functools.lru_cache(maxsize=64)(_absolute_coords)
log_relative_coords = functools.lru_cache(maxsize=64)(_log_relative_coords)
relative_index = functools.lru_cache(maxsize=16)(_relative_index)


def _table(cached, uncached, h, w, device: torch.device, *args) -> Tensor:
    """A coordinate table: from its per-shape cache in eager mode, built in
    the graph from symbolic sizes while tracing (never a cache keyed on them)."""
    return (uncached if is_tracing() else cached)(h, w, device, *args)


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
    """Learned absolute position term of every cell of an ``h x w`` grid
    (``over_cells``: coordinates as :func:`_absolute_coords` says)."""

    def __init__(self, dim: int, hidden: int = 512, over_cells: bool = False) -> None:
        super().__init__(dim, hidden)
        self.over_cells = over_cells

    def forward(self, h: int, w: int) -> Tensor:
        """``(h * w, dim)``, to be added to the grid's tokens."""
        device = self.mlp[0].weight.device
        return self.cached((h, w), lambda: self.run_mlp(
            _table(absolute_coords, _absolute_coords, h, w, device, self.over_cells)))


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
        table = self.cached((h, w), lambda: 16 * torch.sigmoid(self.run_mlp(
            _table(log_relative_coords, _log_relative_coords, h, w, device))))
        return table.t()[:, _table(relative_index, _relative_index, h, w, device)]
