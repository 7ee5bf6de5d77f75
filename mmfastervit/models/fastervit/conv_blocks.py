"""The convolutional parts: stem, residual conv blocks (stages 1-2), downsampler.

Early high-resolution stages are memory-bound, so they use dense 3x3
convolutions with batch norm rather than attention or depthwise convolutions.
In CPU inference each conv + batch norm (+ layer scale) runs as one oneDNN
convolution with folded weights and the ReLU / GELU / residual add fused in,
so the large early maps are not re-read for every elementwise step. The
folded weights are remade on every forward (FasterViT-2 at 800x1216, one
thread: 1.5 ms against a 3.6 s forward), so they always follow the weights,
however these were changed.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from mmcv.cnn import build_norm_layer
from timm.layers import DropPath, LayerNorm2d, LayerScale2d
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...cpu import onednn


def batch_norm(norm_cfg: dict, dim: int, eps: float) -> nn.Module:
    """A norm layer of the user's type (BN, SyncBN, ...) with the eps that the
    official weights were trained with."""
    return build_norm_layer({**norm_cfg, 'eps': eps}, dim)[1]


def folded(conv: nn.Conv2d, norm: _BatchNorm, gamma: Optional[Tensor] = None
           ) -> Tuple[Tensor, Tensor]:
    """Weight and bias of one conv equal to ``gamma * norm(conv(x))`` with the
    norm's running statistics."""
    # folded in at least fp32 and rounded once to the weights' dtype (bf16 inference)
    work = torch.promote_types(conv.weight.dtype, torch.float32)
    scale = norm.weight.to(work) / torch.sqrt(norm.running_var.to(work) + norm.eps)
    shift = norm.bias.to(work) - norm.running_mean.to(work) * scale
    if conv.bias is not None:
        shift = shift + conv.bias.to(work) * scale
    if gamma is not None:
        scale, shift = scale * gamma.to(work), shift * gamma.to(work)
    weight = conv.weight.to(work) * scale.view(-1, 1, 1, 1)
    dtype = conv.weight.dtype
    return weight.to(dtype).contiguous(memory_format=torch.channels_last), shift.to(dtype)


def _fusable(block: nn.Module, x: Tensor, *norms: nn.Module) -> bool:
    """Inference (no stochastic depth, no autograd) with batch norms that use
    running statistics, on a tensor the oneDNN kernels take."""
    return not block.training and onednn.usable(x) and all(
        isinstance(n, _BatchNorm) and n.affine and n.running_var is not None
        and not n.training for n in norms)


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
        # channels-last from here on: faster convolutions (oneDNN, cuDNN)
        x = x.contiguous(memory_format=torch.channels_last)
        if _fusable(self, x, self.norm1, self.norm2):
            w1, b1 = folded(self.conv1, self.norm1)
            w2, b2 = folded(self.conv2, self.norm2)
            # ReLU as its own in-place pass: oneDNN's fused ReLU turns NaN into 0,
            # PyTorch's keeps it (a corrupt image must not become numbers)
            x = onednn.conv3x3(x, w1, b1, stride=2).relu_()
            return onednn.conv3x3(x, w2, b2, stride=2).relu_()
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
        if _fusable(self, x, self.norm1, self.norm2):  # drop path is off in inference
            w1, b1 = folded(self.conv1, self.norm1)
            w2, b2 = folded(self.conv2, self.norm2, getattr(self.ls, 'gamma', None))
            y = onednn.conv3x3(x, w1, b1, activation='gelu')
            return onednn.conv3x3(y, w2, b2, residual=x)
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
