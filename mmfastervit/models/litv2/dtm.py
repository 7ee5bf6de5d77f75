"""Deformable token merging (DTM): LITv2's downsampler between stages.

A 2x2 stride-2 deformable convolution: each of its four taps reads the map at
its regular position plus a learned, per-pixel shift (bilinear interpolation,
zero outside the map), so merged tokens can follow object shapes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn
from torchvision.ops import deform_conv2d


def deform_conv2x2_by_grid_sample(x: Tensor, offset: Tensor, weight: Tensor,
                                  bias: Tensor) -> Tensor:
    """``torchvision.ops.deform_conv2d(x, offset, weight, bias, stride=2)``
    for a 2x2 kernel, as 4 bilinear samplings and one matrix product.

    ``x``: ``(B, C, H, W)``; ``offset``: ``(B, 8, H//2, W//2)``, channels
    ``2k, 2k+1`` the (row, column) shift of tap ``k = 2i + j``; ``weight``:
    ``(O, C, 2, 2)``. Returns ``(B, O, H//2, W//2)``.

    ``grid_sample`` (bilinear, zero padding) gives 0 for corners outside the
    map, which is exactly the deformable conv's sampling rule. The result is
    channels-last in memory.
    """
    b, c, h, w = x.shape
    ho, wo = offset.shape[-2:]
    # positions in float64: grid_sample's coordinate normalisation then costs
    # no precision on large maps, and half-precision offsets stay exact
    kw = dict(device=x.device, dtype=torch.float64)
    shift = offset.view(b, 4, 2, ho, wo).to(torch.float64)
    # tap k = 2i + j reads row 2y + i + dy_k, column 2x + j + dx_k
    tap = torch.arange(4, **kw).view(1, 4, 1, 1)
    rows = (2 * torch.arange(ho, **kw)).view(1, 1, ho, 1) + (tap // 2) + shift[:, :, 0]
    cols = (2 * torch.arange(wo, **kw)).view(1, 1, 1, wo) + (tap % 2) + shift[:, :, 1]
    # grid_sample's coordinates with align_corners=False: pixel p's centre is
    # (2p + 1) / size - 1, defined for maps of any size (one pixel included)
    grid = torch.stack(((2 * cols + 1) / w - 1, (2 * rows + 1) / h - 1), dim=-1)
    # sampled in at least float32: half-precision coordinates would be off by
    # a tenth of a pixel on large maps
    work = torch.promote_types(x.dtype, torch.float32)
    grid = grid.view(b, 4 * ho, wo, 2).to(work)
    taps = F.grid_sample(x.to(work), grid, mode='bilinear', padding_mode='zeros',
                         align_corners=False)  # (B, C, 4Ho, Wo)
    # grid_sample reads 0 at a NaN / inf position; the deformable conv (and
    # ONNX Runtime) give NaN there: keep a non-finite shift non-finite
    taps = (taps + (grid * 0).sum(-1)[:, None]).to(x.dtype)
    # (B, Ho*Wo, C*4) x (C*4, O): the weight's (C, 2, 2) order is (C, k)
    out = F.linear(taps.reshape(b, c * 4, ho * wo).transpose(1, 2),
                   weight.reshape(weight.shape[0], c * 4), bias)
    return out.view(b, ho, wo, -1).permute(0, 3, 1, 2)  # channels-last in memory


SAMPLERS = {
    'grid_sample': deform_conv2x2_by_grid_sample,
    'deform_conv2d': lambda x, offset, weight, bias: deform_conv2d(
        x, offset, weight, bias, stride=2),
}


class DeformConv2x2(nn.Module):
    """2x2 stride-2 deformable conv ``(B, C, H, W)`` -> ``(B, O, H//2, W//2)``
    with one offset group and a bias; the shifts come from ``conv_offset``
    (a plain 2x2 stride-2 conv, zero at initialisation).

    ``sampler``: ``'grid_sample'`` (default; several times faster on CPUs,
    exports to ONNX) or ``'deform_conv2d'`` (torchvision's kernel); they agree
    to float rounding.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 sampler: str = 'grid_sample') -> None:
        super().__init__()
        if sampler not in SAMPLERS:
            raise ValueError(f'unknown DTM sampler {sampler!r}; choose one of {sorted(SAMPLERS)}')
        self.sampler = sampler
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 2, 2))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.conv_offset = nn.Conv2d(in_channels, 8, 2, stride=2)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default conv initialisation; zero offsets: a plain 2x2 conv
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.weight[0].numel())
        nn.init.uniform_(self.bias, -bound, bound)
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def forward(self, x: Tensor) -> Tensor:
        offset = self.conv_offset(x)
        sample = SAMPLERS[self.sampler]
        return sample(x, offset, self.weight, self.bias)

    def extra_repr(self) -> str:
        o, c = self.weight.shape[:2]
        return f'{c}, {o}, kernel_size=2, stride=2, sampler={self.sampler!r}'


class DeformableTokenMerging(nn.Module):
    """``(B, C, H, W)`` -> ``(B, 2C, H//2, W//2)``: deformable 2x2 conv, batch
    norm (``norm_cfg``: BN, SyncBN...), GELU. An odd last row / column is
    never a window origin, but shifted taps may still read it."""

    def __init__(self, dim: int, sampler: str = 'grid_sample',
                 norm_cfg: dict = dict(type='BN', requires_grad=True)) -> None:
        super().__init__()
        self.dconv = DeformConv2x2(dim, 2 * dim, sampler)
        self.norm = build_norm_layer(norm_cfg, 2 * dim)[1]
        self.act = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.norm(self.dconv(x)))
