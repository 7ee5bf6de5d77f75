"""The FasterViT backbone for MMDetection / MMSegmentation."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from timm.layers import LayerNorm2d, trunc_normal_
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from .arch_zoo import NUM_STAGES, FasterViTArch, resolve_arch
from .conv_blocks import Stem
from .eval_cache import EvalCache
from .stages import ConvStage, HATStage

#: Smallest input side: each of the five stride-2 steps keeps at least a pixel.
MIN_INPUT_SIZE = 32


@MODELS.register_module()
class FasterViT(BaseModule):
    """FasterViT (Hatamizadeh et al., ICLR 2024) as a dense-prediction backbone.

    Returns one ``(B, dim * 2**i, H_i, W_i)`` map per stage in ``out_indices``
    at strides 4, 8, 16, 32 (``H_i = ceil(H / 2**(i+2))``), each through its
    own channel LayerNorm. Any input size works, decided per forward pass;
    window padding is masked so real pixels never see it.

    Args:
        arch: variant name from :data:`arch_zoo` (``'0'``-``'6'``,
            ``'4-21k-224'``...) or a dict of :class:`FasterViTArch` fields.
        in_channels: input channels.
        window_size, ct_size, hat, drop_path_rate, layer_scale: override the
            variant's values (None keeps them). ``window_size`` and ``hat``
            take one value per stage or one for all.
        out_indices: stages whose features are returned.
        qkv_bias, attn_drop_rate, drop_rate: attention / MLP options.
        norm_cfg: batch-norm type of the conv stages (e.g. ``SyncBN``).
        frozen_stages: freeze the stem (0) and stages ``< frozen_stages``
            (with their downsamplers and output norms); -1 freezes nothing.
        norm_eval: keep batch norms in eval mode while training.
        with_cp: activation checkpointing of every block while training.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)`` loads an
            official ImageNet file or one of ours (see :mod:`..checkpoint`).
    """

    def __init__(self,
                 arch: Union[str, int, Mapping[str, Any]] = '0',
                 in_channels: int = 3,
                 window_size: Optional[Union[int, Sequence[int]]] = None,
                 ct_size: Optional[int] = None,
                 hat: Optional[Union[bool, Sequence[bool]]] = None,
                 drop_path_rate: Optional[float] = None,
                 layer_scale: Optional[float] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 qkv_bias: bool = True,
                 attn_drop_rate: float = 0.0,
                 drop_rate: float = 0.0,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch: FasterViTArch = resolve_arch(
            arch, window_size=window_size, ct_size=ct_size, hat=hat,
            drop_path_rate=drop_path_rate, layer_scale=layer_scale)
        a = self.arch
        self.in_channels = in_channels
        out_indices = tuple(out_indices)
        self.out_indices = tuple(sorted({i % NUM_STAGES for i in out_indices}))
        if not out_indices or len(self.out_indices) != len(out_indices) or any(
                not -NUM_STAGES <= i < NUM_STAGES for i in out_indices):
            raise ValueError(f'out_indices must be distinct stage indices in '
                             f'0..{NUM_STAGES - 1}, got {out_indices}')
        if not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'frozen_stages must be in -1..{NUM_STAGES}, got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.num_features = a.widths

        self.stem = Stem(in_channels, a.in_dim, a.dim, norm_cfg)
        dpr = torch.linspace(0, a.drop_path_rate, sum(a.depths)).tolist()
        self.stages = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(a.widths, a.depths)):
            stage_dpr = dpr[sum(a.depths[:i]):sum(a.depths[:i + 1])]
            last = i == NUM_STAGES - 1
            if i < 2:
                stage = ConvStage(dim, depth, stage_dpr, a.layer_scale_conv, norm_cfg,
                                  downsample=not last, with_cp=with_cp)
            else:
                stage = HATStage(dim, depth, a.num_heads[i], a.window_size[i],
                                 a.ct_size, stage_dpr, use_hat=a.hat[i],
                                 do_propagation=a.do_propagation,
                                 mlp_ratio=a.mlp_ratio, qkv_bias=qkv_bias,
                                 layer_scale=a.layer_scale,
                                 attn_drop=attn_drop_rate, drop=drop_rate,
                                 downsample=not last, with_cp=with_cp)
            self.stages.append(stage)
        for i in self.out_indices:
            self.add_module(f'norm{i}', LayerNorm2d(a.widths[i], eps=1e-6))
        # Channels-last convolutions are faster (oneDNN, cuDNN) and make the
        # HAT stages' move to (B, H, W, C) tokens a free view.
        self.to(memory_format=torch.channels_last)
        self._freeze_stages()

    # ------------------------------------------------------------------ run
    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f'FasterViT expects a (B, C, H, W) tensor, got shape '
                             f'{tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'FasterViT was built for {self.in_channels} input '
                             f'channels but got {x.shape[1]} (shape {tuple(x.shape)}); '
                             'set in_channels in the backbone config')
        if min(x.shape[-2:]) < MIN_INPUT_SIZE:
            raise ValueError(f'input {tuple(x.shape[-2:])} is too small: FasterViT '
                             f'needs H and W of at least {MIN_INPUT_SIZE} pixels '
                             '(its deepest stage has stride 32)')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``(B, C, H, W)`` -> tuple of ``(B, C_i, H_i, W_i)`` for ``out_indices``."""
        self._check_input(x)
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(x).contiguous())
            if stage.downsample is not None:
                x = stage.downsample(x)
        return tuple(outs)

    # --------------------------------------------------------- train modes
    def _freeze_stages(self) -> None:
        frozen = [self.stem] if self.frozen_stages >= 0 else []
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if i in self.out_indices:
                frozen.append(getattr(self, f'norm{i}'))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> FasterViT:
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def clear_caches(self) -> None:
        """Drop every inference cache (position biases, folded batch norms).
        Needed only after writing weights through ``.data``, which PyTorch's
        version counters (and so the caches) do not see."""
        for m in self.modules():
            if isinstance(m, EvalCache):
                m.clear_cache()

    # ------------------------------------------------------------- weights
    def init_weights(self) -> None:
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            from ..checkpoint import load_pretrained
            load_pretrained(self, self.init_cfg['checkpoint'],
                            prefix=self.init_cfg.get('prefix'),
                            map_location=self.init_cfg.get('map_location', 'cpu'),
                            logger=MMLogger.get_current_instance())
            self._is_init = True
            return
        self.apply(_init_module)
        super().init_weights()


def _init_module(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
