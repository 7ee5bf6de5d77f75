"""The convolutional parts: stem, residual conv blocks (stages 1-2), downsampler.

Early high-resolution stages are memory-bound, so they use dense 3x3
convolutions with batch norm rather than attention or depthwise convolutions.
"""
from __future__ import annotations

from typing import Optional

from mmcv.cnn import build_norm_layer
from timm.layers import DropPath, LayerNorm2d, LayerScale2d
from torch import Tensor, nn


def batch_norm(norm_cfg: dict, dim: int, eps: float) -> nn.Module:
    """A norm layer of the user's type (BN, SyncBN, ...) with the eps that the
    official weights were trained with."""
    return build_norm_layer({**norm_cfg, 'eps': eps}, dim)[1]


class Stem(nn.Module):
    """Two stride-2 3x3 convs: ``(B, in_chans, H, W)`` -> ``(B, dim, H/4, W/4)``."""

    def __init__(self, in_chans: int, in_dim: int, dim: int,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, in_dim, 3, stride=2, padding=1, bias=False)
        self.norm1 = batch_norm(norm_cfg, in_dim, eps=1e-4)
        self.conv2 = nn.Conv2d(in_dim, dim, 3, stride=2, padding=1, bias=False)
        self.norm2 = batch_norm(norm_cfg, dim, eps=1e-4)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(x)))


class ConvBlock(nn.Module):
    """``x + drop_path(ls(BN(conv3x3(GELU(BN(conv3x3(x)))))))`` on ``(B, C, H, W)``."""

    def __init__(self, dim: int, layer_scale: Optional[float] = None,
                 drop_path: float = 0.0, norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1)
        self.norm1 = batch_norm(norm_cfg, dim, eps=1e-5)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1)
        self.norm2 = batch_norm(norm_cfg, dim, eps=1e-5)
        self.ls = LayerScale2d(dim, layer_scale) if layer_scale else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))
        return x + self.drop_path(self.ls(y))


class Downsample(nn.Module):
    """Channel LayerNorm then a stride-2 3x3 conv doubling the channels:
    ``(B, C, H, W)`` -> ``(B, 2C, ceil(H/2), ceil(W/2))``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.conv = nn.Conv2d(dim, dim * 2, 3, stride=2, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.norm(x))
