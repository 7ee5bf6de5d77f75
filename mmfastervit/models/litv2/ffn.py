"""LITv2's feed-forward network: an MLP with a depthwise 3x3 conv inside, which
gives the early, attention-free stages their only spatial mixing."""
from __future__ import annotations

import math
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from ...cpu import onednn
from ...cpu.onednn import linear


class ConvFFN(nn.Module):
    """``fc2(GELU(dwconv3x3(fc1(x))))`` on ``(B, H, W, C)`` maps.

    The hidden ``(B, H, W, hidden)`` tokens are seen by the depthwise conv as
    a channels-last ``(B, hidden, H, W)`` map, without copies. GELU is exact
    (erf). In CPU inference GELU is fused into the conv, and a ``residual``
    into ``fc2``, saving passes over the large early-stage maps.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def reset_parameters(self) -> None:
        # fan-out init of the depthwise conv: 3*3 taps per output channel
        nn.init.normal_(self.dwconv.weight, std=math.sqrt(2.0 / 9))
        nn.init.zeros_(self.dwconv.bias)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``, plus ``residual`` if given."""
        y = linear(x, self.fc1).permute(0, 3, 1, 2)
        if onednn.usable(y):
            y = onednn.conv3x3(y, self.dwconv.weight, self.dwconv.bias, activation='gelu',
                               groups=y.shape[1])
        else:
            y = F.gelu(self.dwconv(y))
        return linear(y.permute(0, 2, 3, 1), self.fc2, residual=residual)
