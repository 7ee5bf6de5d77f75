"""LITv2's stem: non-overlapping 4x4 patches, embedded and normalised."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ...utils.compat import pad_to_multiple

PATCH = 4


class PatchStem(nn.Module):
    """``(B, in_chans, H, W)`` -> ``(B, dim, ceil(H/4), ceil(W/4))``.

    The image is zero-padded bottom/right to multiples of 4 (so the last
    partial patch is kept, not cropped), embedded by a 4x4 stride-4 conv and
    normalised over channels. The result is channels-last in memory, so the
    FFN stage that follows reads it as ``(B, H, W, C)`` tokens for free.
    """

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, PATCH, stride=PATCH)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, pad_to_multiple(w, PATCH), 0, pad_to_multiple(h, PATCH)))
        x = self.norm(self.proj(x).permute(0, 2, 3, 1))
        return x.permute(0, 3, 1, 2)
