"""Adaptive average pooling at a dynamic input size, for export.

ONNX has no adaptive pooling: the exporter writes ``AveragePool`` with a
kernel computed from the traced size, and refuses when the size is dynamic
(mmseg's pyramid pooling module in UPerNet/PSPNet pools to 1, 2, 3 and 6
cells). Cell ``i`` of ``out`` along an axis of length ``n`` averages the rows
``floor(i * n / out) .. ceil((i + 1) * n / out) - 1``; the same is an
``(out, n)`` averaging matrix built from ``n`` in the graph, applied to both
axes as two matrix products.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor, nn

from .onnx_ops import spatial_size


def pooling_matrix(n: Tensor, out: int) -> Tensor:
    """``(out, n)`` float matrix whose rows average adaptive pooling's cells;
    ``n``: 0-dim int64 tensor."""
    cells = torch.arange(out, dtype=torch.long)
    start = torch.div(cells * n, out, rounding_mode='floor')
    end = torch.div((cells + 1) * n + out - 1, out, rounding_mode='floor')
    pos = torch.arange(n, dtype=torch.long)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return inside.float() / (end - start)[:, None].float()


class MatrixAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d(output_size)`` as matrix products:
    ``(B, C, H, W) -> (B, C, oh, ow)``, any ``H, W`` in an exported graph."""

    def __init__(self, output_size: Tuple[int, int]):
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        hw = spatial_size(x)
        rows = pooling_matrix(hw[0], self.output_size[0]).to(x.dtype)
        cols = pooling_matrix(hw[1], self.output_size[1]).to(x.dtype)
        return torch.matmul(torch.matmul(rows, x), cols.t())


def _fixed_size(size) -> Optional[Tuple[int, int]]:
    size = (size, size) if isinstance(size, int) else tuple(size)
    return size if all(isinstance(s, int) for s in size) else None


@contextlib.contextmanager
def matrix_adaptive_pools(model: nn.Module) -> Iterator[int]:
    """Within the block, every ``nn.AdaptiveAvgPool2d`` of ``model`` with a
    fixed output size is a :class:`MatrixAdaptiveAvgPool2d`; yields how many."""
    swapped = [(parent, name, child) for parent in model.modules()
               for name, child in parent.named_children()
               if type(child) is nn.AdaptiveAvgPool2d and _fixed_size(child.output_size)]
    for parent, name, child in swapped:
        setattr(parent, name, MatrixAdaptiveAvgPool2d(_fixed_size(child.output_size)))
    try:
        yield len(swapped)
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)
