"""Carrier tokens (CTs): a few pooled tokens per window that carry global context.

A stage's CTs are made once from its input map: a depthwise 3x3 convolution
(position encoding), then average pooling to ``ct_size x ct_size`` tokens per
window. The pooling follows the official geometry, which overlaps: along an
axis of padded length ``n`` it makes ``out = ct_size * n / window`` tokens with
stride ``n // out`` and kernel ``n - (out - 1) * stride``. Padding pixels are
left out of every average; a CT that would see only padding is marked invalid.

In eager mode the pooling is an ``avg_pool2d`` whose kernel is computed from
the concrete size (cached per size). While tracing (ONNX export,
``torch.compile``) the size is symbolic, so the same averages are taken as two
matrix products with per-axis pooling matrices built from ``arange``
comparisons: exporters then follow the size instead of baking a kernel in.
"""
from __future__ import annotations

import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .windows import WindowGrid, pad_to_grid, valid_map


def pool_geometry(n: int, window: int, ct_size: int) -> Tuple[int, int]:
    """``(kernel, stride)`` of CT pooling along an axis of padded length ``n``
    (a multiple of ``window``), which gives ``ct_size * n / window`` tokens."""
    out = ct_size * n // window
    stride = n // out
    return n - (out - 1) * stride, stride


def carrier_grid_hw(grid: WindowGrid, ct_size: int) -> Tuple[int, int]:
    """Size of the CT grid of a window grid: ``ct_size`` per window per axis."""
    return grid.rows * ct_size, grid.cols * ct_size


def axis_pooling(n, window: int, ct_size: int, device: torch.device
                 ) -> Tuple[Tensor, Tensor]:
    """CT pooling along an axis of ``n`` real positions (``n`` may be
    symbolic), padded to whole windows: ``(out, n)`` weights whose row ``o``
    averages the real positions under token ``o``'s kernel (all zero when
    there are none), and ``(out,)`` bool, whether there are any."""
    padded = (n + window - 1) // window * window
    kernel, stride = pool_geometry(padded, window, ct_size)
    out = ct_size * (padded // window)
    start = torch.arange(out, device=device)[:, None] * stride
    pos = torch.arange(n, device=device)[None]
    inside = ((pos >= start) & (pos < start + kernel)).float()
    count = inside.sum(1)
    return inside / count.clamp_min(1)[:, None], count > 0


def _pooling(grid: WindowGrid, ct_size: int):
    (kh, sh), (kw, sw) = (pool_geometry(n, grid.window, ct_size) for n in grid.padded_hw)
    return (kh, kw), (sh, sw)


@functools.lru_cache(maxsize=64)
def _real_pixel_share(grid: WindowGrid, ct_size: int, device: torch.device
                      ) -> Optional[Tuple[Tensor, Tensor]]:
    """For a padded grid: the ``(1, 1, Hp, Wp)`` map of real pixels and the
    ``(1, 1, Hc, Wc)`` share of real pixels under each CT's pooling window."""
    valid = valid_map(grid, device)
    if valid is None:
        return None
    kernel, stride = _pooling(grid, ct_size)
    return valid, F.avg_pool2d(valid, kernel, stride)


def carrier_validity(grid: WindowGrid, ct_size: int) -> Optional[Tensor]:
    """``(Hc * Wc,)`` bool (CPU): which CTs pool at least one real pixel; None
    when all do."""
    share = _real_pixel_share(grid, ct_size, torch.device('cpu'))
    if share is None:
        return None
    valid = share[1].flatten() > 0
    return None if bool(valid.all()) else valid


class CarrierTokenizer(nn.Module):
    """Makes a stage's carrier tokens from its ``(B, C, H, W)`` input."""

    def __init__(self, dim: int, ct_size: int) -> None:
        super().__init__()
        self.ct_size = ct_size
        self.pos_conv = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: Tensor, grid: WindowGrid, symbolic: bool = False) -> Tensor:
        """CTs ``(B, Hc * Wc, C)`` in row-major grid order; each averages the
        real pixels under its pooling window (zero if there are none).
        ``symbolic``: pool with matrices built from the grid's (symbolic)
        size, for tracing."""
        x = self.pos_conv(x)
        if symbolic:
            rows, cols = (axis_pooling(n, grid.window, self.ct_size, x.device)[0].to(x.dtype)
                          for n in (grid.height, grid.width))
            ct = torch.matmul(torch.matmul(rows, x), cols.t())  # (B, C, Hc, Wc)
            return ct.flatten(2).transpose(1, 2)
        kernel, stride = _pooling(grid, self.ct_size)
        share = _real_pixel_share(grid, self.ct_size, x.device)
        if share is None:
            ct = F.avg_pool2d(x, kernel, stride)
        else:
            valid, weight = share
            x = pad_to_grid(x, grid) * valid.to(x.dtype)
            divisor = weight.clamp_min(1 / (kernel[0] * kernel[1])).to(x.dtype)
            ct = F.avg_pool2d(x, kernel, stride) / divisor
        return ct.flatten(2).transpose(1, 2)
