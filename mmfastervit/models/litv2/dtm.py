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


def deform_conv2x2_by_gather(x: Tensor, offset: Tensor, weight: Tensor,
                             bias: Tensor) -> Tensor:
    """The same function as :func:`deform_conv2x2_by_grid_sample`, written
    for exported graphs that a runtime may run in bf16 (OpenVINO does by
    default on CPUs with bf16 units): no absolute position is ever a float.

    A sampling position ``2y + i + dy`` becomes the integer ``2y + i +
    floor(dy)`` (index arithmetic in int64) and the fraction ``dy -
    floor(dy)`` in [0, 1), the bilinear weight. bf16 keeps 8 significant
    bits: an absolute coordinate (or grid_sample's normalised one) on a map
    wider than 256 pixels loses whole pixels, a fraction loses 2**-9.
    Corners outside the map read a one-pixel zero border (indices clamped
    onto it), as grid_sample's zero padding does; every corner inside is
    read, even at weight 0, so an inf there gives NaN as in grid_sample.
    Shapes as there; the result is channels-last in memory.
    """
    b, c, h, w = x.shape
    ho, wo = offset.shape[-2:]
    work = torch.promote_types(x.dtype, torch.float32)
    shift = offset.view(b, 4, 2, ho, wo).to(work)
    base = torch.floor(shift)
    frac = shift - base
    # before the integer cast: a huge or infinite shift stays outside any
    # map without overflowing, a NaN one reads 0 (and gives NaN below)
    base = torch.where(base == base, base.clamp(-2.0 ** 24, 2.0 ** 24), torch.zeros_like(base))
    base = base.to(torch.int64)
    tap = torch.arange(4, device=x.device).view(1, 4, 1, 1)
    rows = (2 * torch.arange(ho, device=x.device)).view(1, 1, ho, 1) + tap // 2 + base[:, :, 0]
    cols = (2 * torch.arange(wo, device=x.device)).view(1, 1, 1, wo) + tap % 2 + base[:, :, 1]
    # channels-last rows of the map with a zero border: (B * (H+2) * (W+2), C)
    hp, wp = h + 2, w + 2
    table = F.pad(x.to(work), (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, c)
    image = (torch.arange(b, device=x.device) * (hp * wp)).view(b, 1, 1, 1)
    fr, fc = frac[:, :, 0, ..., None], frac[:, :, 1, ..., None]
    taps = 0
    for dr, wr in ((0, 1 - fr), (1, fr)):
        r = (rows + dr + 1).clamp(min=0).clamp(max=hp - 1)
        for dc, wc in ((0, 1 - fc), (1, fc)):
            cc = (cols + dc + 1).clamp(min=0).clamp(max=wp - 1)
            corner = table.index_select(0, (image + r * wp + cc).reshape(-1))
            taps = taps + corner.view(b, 4, ho, wo, c) * (wr * wc)
    # a non-finite shift gives NaN, as the deformable conv does
    taps = taps + (shift * 0).sum(2)[..., None]
    # (B, Ho, Wo, 4, C) x (4 * C, O): the weight reordered to (O, k, C)
    taps = taps.permute(0, 2, 3, 1, 4).reshape(b, ho * wo, 4 * c).to(x.dtype)
    # reshaped by the weight's own size, not the map's: the exporter folds the
    # reordered weight into one constant (a weight layer to runtimes and quantizers)
    out = F.linear(taps, weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1), bias)
    return out.view(b, ho, wo, -1).permute(0, 3, 1, 2)


SAMPLERS = {
    'grid_sample': deform_conv2x2_by_grid_sample,
    'deform_conv2d': lambda x, offset, weight, bias: deform_conv2d(
        x, offset, weight, bias, stride=2),
}


class DeformConv2x2(nn.Module):
    """2x2 stride-2 deformable conv ``(B, C, H, W)`` -> ``(B, O, H//2, W//2)``
    with one offset group and a bias; the shifts come from ``conv_offset``
    (a plain 2x2 stride-2 conv, zero at initialisation).

    ``sampler``: ``'grid_sample'`` (default; several times faster on CPUs)
    or ``'deform_conv2d'`` (torchvision's kernel); they agree to float
    rounding. An ONNX export (either exporter) always writes
    :func:`deform_conv2x2_by_gather`, the same function in a form that a
    runtime's bf16 mode cannot break.
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
        # an exported file gets the form that bf16 runtimes cannot break
        sample = (deform_conv2x2_by_gather if torch.onnx.is_in_onnx_export()
                  else SAMPLERS[self.sampler])
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
