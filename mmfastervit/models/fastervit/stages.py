"""FasterViT stages: a stack of blocks at one resolution, then an optional
downsampler (kept separate so the pyramid feature is the pre-downsample map).

``pad_to`` gives the DINO fork's rule (``window_padding='every_stage'``): the
stage zero-pads its input at the bottom/right to a multiple of ``pad_to``,
runs its blocks on the padded map, unmasked, and crops the result back."""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

from torch import Tensor, nn

from ...utils.compat import is_tracing
from ..common.activation_checkpoint import run_block
from ..common.unused_parameters import keep_in_graph
from .carrier_tokens import CarrierTokenizer
from .compact_layout import token_layout
from .conv_blocks import ConvBlock, Downsample
from .dense_layout import dense_layout
from .hat_block import HATBlock
from .token_layout import to_map, to_tokens
from .windows import WindowGrid, pad_to_grid


class _Stage(nn.Module):
    def __init__(self, dim: int, downsample: bool, with_cp: bool,
                 pad_to: Optional[int] = None) -> None:
        super().__init__()
        self.downsample = Downsample(dim) if downsample else None
        self.with_cp = with_cp
        self.pad_to = pad_to

    def _run(self, block: nn.Module, *args):
        return run_block(block, *args, with_cp=self.with_cp)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        if self.pad_to is None:
            return self.run_blocks(x)
        h, w = x.shape[-2:]
        return self.run_blocks(pad_to_grid(x, WindowGrid(h, w, self.pad_to)))[..., :h, :w]

    def run_blocks(self, x: Tensor) -> Tensor:
        raise NotImplementedError


class ConvStage(_Stage):
    """Residual conv blocks on ``(B, C, H, W)``."""

    def __init__(self, dim: int, depth: int, drop_path: Sequence[float],
                 layer_scale: Optional[float] = None, norm_cfg: dict = dict(type='BN'),
                 downsample: bool = True, with_cp: bool = False,
                 pad_to: Optional[int] = None) -> None:
        super().__init__(dim, downsample, with_cp, pad_to)
        self.blocks = nn.ModuleList(
            ConvBlock(dim, layer_scale, drop_path[i], norm_cfg) for i in range(depth))

    def run_blocks(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = self._run(block, x)
        return x


class HATStage(_Stage):
    """HAT blocks on ``(B, C, H, W)`` of any size.

    The map becomes compact tokens once (real pixels and carrier tokens,
    ordered by window, see :mod:`.tokens`; every window slot while tracing);
    all blocks work on those, and the pixels go back to a map at the end.
    Carrier tokens are used when ``use_hat`` is set and the map has more than
    one window (with one window, attention is already global); where they
    are skipped in training, their parameters stay in the graph with zero
    gradients, so DDP sees every parameter used at every input size.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window: int,
                 ct_size: int, drop_path: Sequence[float], use_hat: bool = True,
                 do_propagation: bool = False, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, layer_scale: Optional[float] = None,
                 attn_drop: float = 0.0, drop: float = 0.0,
                 downsample: bool = True, with_cp: bool = False,
                 pad_to: Optional[int] = None, position_over_cells: bool = False) -> None:
        super().__init__(dim, downsample, with_cp, pad_to)
        if use_hat and ct_size > window:
            raise ValueError(f'ct_size {ct_size} is larger than the window size '
                             f'{window}: each window needs room for its '
                             f'{ct_size}x{ct_size} carrier tokens')
        self.window = window
        self.ct_size = ct_size
        self.tokenizer = CarrierTokenizer(dim, ct_size) if use_hat else None
        self.blocks = nn.ModuleList(
            HATBlock(dim, num_heads, window, with_carriers=use_hat,
                     propagate=do_propagation and i == depth - 1,
                     position_over_cells=position_over_cells,
                     mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                     layer_scale=layer_scale, drop_path=drop_path[i],
                     attn_drop=attn_drop, drop=drop)
            for i in range(depth))

    def run_blocks(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        grid = WindowGrid(h, w, self.window)
        # Tracing (export, compile): sizes are symbolic, so the layout keeps
        # every slot, and CTs are always made (gated off for a single window).
        symbolic = is_tracing()
        cts = None
        if self.tokenizer is not None and (symbolic or grid.num_windows > 1):
            cts = self.tokenizer(x, grid, symbolic).reshape(-1, c)
        layout = (dense_layout if symbolic else token_layout)(
            grid, self.ct_size, cts is not None, b, x.device)
        # (B, C, H, W) -> (B*H*W, C) pixels: a view for channels-last input
        tokens = to_tokens(layout, x.permute(0, 2, 3, 1).reshape(-1, c), cts)
        for block in self.blocks:
            tokens = self._run(block, tokens, layout)
        out = to_map(layout, tokens).view(b, h, w, c).permute(0, 3, 1, 2)
        if cts is None and self.tokenizer is not None and self.training:
            out = keep_in_graph(out, self.carrier_parameters())
        return out

    def carrier_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters of the carrier-token path (tokenizer and each
        block's carrier layer)."""
        yield from self.tokenizer.parameters()
        for block in self.blocks:
            if block.carrier is not None:
                yield from block.carrier.parameters()
