"""HiLo attention (Pan et al., NeurIPS 2022): the heads are split between a
high-frequency path (attention inside small windows: local detail) and a
low-frequency path (every position attends to an average-pooled copy of the
map: global context at a fraction of the cost).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...cpu.onednn import linear
from ...utils.compat import is_tracing, pad_to_multiple


class HiLo(nn.Module):
    """HiLo attention on ``(B, H, W, C)`` maps of any size.

    Args:
        dim: channels ``C``; ``num_heads`` divides it (head dim ``d = C // n``).
        num_heads: heads ``n``; ``lofi = int(n * alpha)`` of them are Lo-Fi
            and the rest Hi-Fi, except that ``window == 1`` makes all ``n``
            Lo-Fi (plain global attention, through the Lo-Fi weights).
        window: side ``s`` of the Hi-Fi windows and of the Lo-Fi pooling.
        alpha: share of Lo-Fi heads.

    The map is zero-padded bottom/right to multiples of ``s`` and nothing is
    masked, as in the official model (whose released weights were trained so):
    padded positions join their window's keys and values, and the pooled
    averages of the Lo-Fi path. Output channels are the Hi-Fi heads' then the
    Lo-Fi heads', with no projection across the two.
    """

    def __init__(self, dim: int, num_heads: int, window: int, alpha: float) -> None:
        super().__init__()
        head_dim = dim // num_heads
        self.window = window
        self.head_dim = head_dim
        self.lofi_heads = num_heads if window == 1 else int(num_heads * alpha)
        self.hifi_heads = num_heads - self.lofi_heads
        self.scale = head_dim**-0.5
        lo, hi = self.lofi_heads * head_dim, self.hifi_heads * head_dim
        if lo:
            self.l_q = nn.Linear(dim, lo)
            self.l_kv = nn.Linear(dim, 2 * lo)
            self.l_proj = nn.Linear(lo, lo)
        if hi:
            self.h_qkv = nn.Linear(dim, 3 * hi)
            self.h_proj = nn.Linear(hi, hi)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        b, h, w, _ = x.shape
        s = self.window
        padded = (F.pad(x, (0, 0, 0, pad_to_multiple(w, s), 0, pad_to_multiple(h, s)))
                  if is_tracing() or h % s or w % s else x)
        outs = []
        if self.hifi_heads:
            outs.append(self._hifi(padded)[:, :h, :w])
        if self.lofi_heads:
            outs.append(self._lofi(x, padded))
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)

    def _hifi(self, x: Tensor) -> Tensor:
        """Attention inside each ``s x s`` window of the padded ``(B, Hp, Wp, C)``."""
        b, hp, wp, _ = x.shape
        s, heads, d = self.window, self.hifi_heads, self.head_dim
        gh, gw = hp // s, wp // s
        qkv = linear(x, self.h_qkv).view(b, gh, s, gw, s, 3, heads, d)
        # -> (3, windows, heads, s*s, d): every window of every image in one batch
        qkv = qkv.permute(5, 0, 1, 3, 6, 2, 4, 7).reshape(3, b * gh * gw, heads, s * s, d)
        q, k, v = qkv.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        out = out.view(b, gh, gw, heads, s, s, d).permute(0, 1, 4, 2, 5, 3, 6)
        return linear(out.reshape(b, hp, wp, heads * d), self.h_proj)

    def _lofi(self, x: Tensor, padded: Tensor) -> Tensor:
        """Queries of the real positions attend to keys / values of the
        ``s x s`` average-pooled padded map."""
        b, h, w, c = x.shape
        s, heads, d = self.window, self.lofi_heads, self.head_dim
        q = linear(x, self.l_q).view(b, h * w, heads, d).transpose(1, 2)
        if s > 1:  # s x s average pooling: row sums, then column sums
            hp, wp = padded.shape[1:3]
            padded = padded.view(b, hp // s, s, wp // s, s, c).sum(2).sum(3) / (s * s)
        kv = linear(padded, self.l_kv).view(b, -1, 2, heads, d).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, kv[0], kv[1], scale=self.scale)
        return linear(out.transpose(1, 2).reshape(b, h, w, heads * d), self.l_proj)
