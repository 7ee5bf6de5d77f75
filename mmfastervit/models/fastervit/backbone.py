"""The FasterViT backbone for MMDetection / MMSegmentation."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import torch
from mmengine.registry import MODELS
from torch import nn

from ..common.backbone import NUM_STAGES, PyramidBackbone
from .arch_zoo import FasterViTArch, arch_zoo, resolve_arch
from .checkpoint_format import FASTERVIT_FORMAT
from .conv_blocks import Stem
from .stages import ConvStage, HATStage

#: Smallest input side: each of the five stride-2 steps keeps at least a pixel.
MIN_INPUT_SIZE = 32
#: how stages treat sizes that are not a multiple of their window
WINDOW_PADDING = ('masked', 'every_stage')
#: how the absolute position terms map a grid cell to coordinates
WINDOW_POSITION = ('axis', 'cells')


@MODELS.register_module()
class FasterViT(PyramidBackbone):
    """FasterViT (Hatamizadeh et al., ICLR 2024) as a dense-prediction backbone.

    Returns one ``(B, dim * 2**i, H_i, W_i)`` map per stage in ``out_indices``
    at strides 4, 8, 16, 32 (``H_i = ceil(H / 2**(i+2))``), each through its
    own channel LayerNorm. Any input size works, decided per forward pass;
    window padding is masked so real pixels never see it (unless
    ``window_padding='every_stage'``). Exporters and the
    compiler follow the size symbolically: one ONNX file (``torch.onnx.export``
    with dynamic height / width, either exporter) or one
    ``torch.compile(dynamic=True)`` graph serves every size.

    Args:
        arch: variant name from :attr:`arch_zoo` (``'0'``-``'6'``,
            ``'4-21k-224'``...) or a dict of :class:`FasterViTArch` fields.
        window_size, ct_size, hat, drop_path_rate, layer_scale: override the
            variant's values (None keeps them). ``window_size`` and ``hat``
            take one value per stage or one for all.
        qkv_bias, attn_drop_rate, drop_rate: attention / MLP options.
        norm_cfg: batch-norm type of the conv stages (e.g. ``SyncBN``).
        window_padding: ``'masked'`` (default): attention stages pad to whole
            windows and mask the padding, conv stages do not pad.
            ``'every_stage'``: the rule of NVIDIA's DINO detection code (its
            released detector was trained with it): each of the 4 stages
            zero-pads its input at the bottom/right to a multiple of its own
            window size, runs on the padded map unmasked and crops back.
        window_position: coordinates of the absolute position terms (window
            and carrier-token grids). ``'axis'`` (default, the ImageNet
            models): ``(i - n // 2) / (n // 2)`` on an axis of ``n`` cells.
            ``'cells'``: ``n`` is the grid's number of cells on both axes,
            the rule of NVIDIA's DINO detection code.
        out_norm_cfg: norm of the returned features; None: channel
            LayerNorm (eps 1e-6); ``dict(type='BN')``: BatchNorm2d, as in the
            DINO detection code.
        with_cp: activation checkpointing of every block while training.
        in_channels, out_indices, out_norm_indices, frozen_stages, norm_eval,
            check_finite, init_cfg, pretrained: as in :class:`PyramidBackbone`.
    """

    arch_zoo = arch_zoo
    min_input_size = MIN_INPUT_SIZE
    checkpoint_format = FASTERVIT_FORMAT
    default_arch = '0'
    arch_overrides = ('window_size', 'ct_size', 'hat', 'drop_path_rate', 'layer_scale')
    tiny_arch = dict(dim=16, in_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2))
    # carrier tokens: few pooled tokens every window reads; position MLPs: coordinates in
    float_scopes = dict(carrier=('tokenizer', 'carrier'), position=('pos_embed', 'rel_pos'))

    def __init__(self,
                 arch: Union[str, int, Mapping[str, Any]] = default_arch,
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
                 window_padding: str = 'masked',
                 window_position: str = 'axis',
                 out_norm_cfg: Optional[dict] = None,
                 out_norm_indices: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 check_finite: bool = False,
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None) -> None:
        super().__init__(in_channels, out_indices, frozen_stages, norm_eval,
                         check_finite, init_cfg, pretrained, out_norm_indices)
        self.arch: FasterViTArch = self.resolve_arch(
            arch, window_size=window_size, ct_size=ct_size, hat=hat,
            drop_path_rate=drop_path_rate, layer_scale=layer_scale)
        a = self.arch
        if window_padding not in WINDOW_PADDING:
            raise ValueError(f'window_padding={window_padding!r}: choose one of '
                             f'{WINDOW_PADDING} (see the FasterViT docstring)')
        if window_position not in WINDOW_POSITION:
            raise ValueError(f'window_position={window_position!r}: choose one of '
                             f'{WINDOW_POSITION} (see the FasterViT docstring)')
        self.window_padding = window_padding
        self.window_position = window_position
        pad = window_padding == 'every_stage'

        self.stem = Stem(in_channels, a.in_dim, a.dim, norm_cfg)
        dpr = torch.linspace(0, a.drop_path_rate, sum(a.depths), device='cpu').tolist()
        self.stages = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(a.widths, a.depths)):
            stage_dpr = dpr[sum(a.depths[:i]):sum(a.depths[:i + 1])]
            last = i == NUM_STAGES - 1
            if i < 2:
                stage = ConvStage(dim, depth, stage_dpr, a.layer_scale_conv, norm_cfg,
                                  downsample=not last, with_cp=with_cp,
                                  pad_to=a.window_size[i] if pad else None)
            else:
                stage = HATStage(dim, depth, a.num_heads[i], a.window_size[i],
                                 a.ct_size, stage_dpr, use_hat=a.hat[i],
                                 do_propagation=a.do_propagation,
                                 mlp_ratio=a.mlp_ratio, qkv_bias=qkv_bias,
                                 layer_scale=a.layer_scale,
                                 attn_drop=attn_drop_rate, drop=drop_rate,
                                 downsample=not last, with_cp=with_cp,
                                 pad_to=a.window_size[i] if pad else None,
                                 position_over_cells=window_position == 'cells')
            self.stages.append(stage)
        self._finish(a.widths, out_norm_cfg=out_norm_cfg)
        # Channels-last convolutions are faster (oneDNN, cuDNN) and make the
        # HAT stages' move to (B, H, W, C) tokens a free view.
        self.to(memory_format=torch.channels_last)

    @classmethod
    def resolve_arch(cls, arch, **overrides) -> FasterViTArch:
        return resolve_arch(arch, **overrides)
