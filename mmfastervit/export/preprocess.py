"""The model's data preprocessor, inside the graph: channel order, mean/std
normalisation and bottom/right padding, as mmdet's ``DetDataPreprocessor``
and mmseg's ``SegDataPreProcessor`` do them at test time.

An exported file therefore takes the image exactly as the config's test
pipeline hands it to the model (after ``Resize``): ``(B, 3, H, W)`` float32
pixel values 0..255 in the channel order images are loaded in (mmcv loads
BGR), and every size-dependent amount (the padding) is computed in the graph.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .onnx_ops import spatial_size


class ImageInput(nn.Module):
    """Raw test-pipeline image ``(B, 3, H, W)`` -> normalised, padded model
    input ``(B, 3, H', W')``, ``H' >= H``, ``W' >= W``.

    Args:
        mean, std: per-channel statistics (after the channel swap), or None.
        swap_rb: reverse the channel order first (``bgr_to_rgb``).
        size_divisor: pad height and width up to a multiple of this (1: none).
        min_size: pad up to at least ``(h, w)`` (mmseg's ``test_cfg.size``).
        pad_value: value of the padding, in normalised units (as mmdet/mmseg
            pad after normalising).
    """

    def __init__(self, mean: Optional[Tensor], std: Optional[Tensor], swap_rb: bool,
                 size_divisor: int = 1, min_size: Optional[Tuple[int, int]] = None,
                 pad_value: float = 0.0):
        super().__init__()
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer('mean', mean.detach().float().view(1, -1, 1, 1).clone())
            self.register_buffer('std', std.detach().float().view(1, -1, 1, 1).clone())
        self.swap_rb = swap_rb
        self.size_divisor = int(size_divisor or 1)
        self.min_size = tuple(min_size) if min_size else None
        self.pad_value = float(pad_value)

    @classmethod
    def from_preprocessor(cls, pre: nn.Module) -> ImageInput:
        """From an mmdet ``DetDataPreprocessor`` or mmseg ``SegDataPreProcessor``."""
        normalize = getattr(pre, '_enable_normalize', False)
        mean, std = (pre.mean, pre.std) if normalize else (None, None)
        if hasattr(pre, 'pad_size_divisor'):  # mmdet / mmengine ImgDataPreprocessor
            return cls(mean, std, pre._channel_conversion, pre.pad_size_divisor,
                       pad_value=pre.pad_value)
        test_cfg = getattr(pre, 'test_cfg', None) or {}  # mmseg pads at test time only here
        return cls(mean, std, pre.channel_conversion, test_cfg.get('size_divisor') or 1,
                   min_size=test_cfg.get('size'), pad_value=pre.pad_val)

    def padding(self, image: Tensor) -> Tensor:
        """``(pad_h, pad_w)`` the image gets, as an int64 graph value."""
        hw = spatial_size(image)
        target = hw
        if self.min_size is not None:
            target = torch.maximum(target, torch.tensor(self.min_size, dtype=torch.long))
        d = self.size_divisor
        target = torch.div(target + (d - 1), d, rounding_mode='floor') * d
        return target - hw

    def forward(self, image: Tensor) -> Tensor:
        x = image.float()
        if self.swap_rb:
            x = x.flip(1)
        if self.normalize:
            x = (x - self.mean) / self.std
        if self.size_divisor > 1 or self.min_size is not None:
            pad = self.padding(image)
            x = F.pad(x, [0, pad[1], 0, pad[0]], value=self.pad_value)
        return x
