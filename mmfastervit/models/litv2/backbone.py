"""The LITv2 backbone for MMDetection / MMSegmentation."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.compat import is_tracing
from ..common.backbone import NUM_STAGES, PyramidBackbone
from ..common.inputs import InputError
from .arch_zoo import ATTENTION_STAGES, LITv2Arch, arch_zoo, resolve_arch
from .checkpoint_format import LITV2_FORMAT
from .dtm import DeformConv2x2
from .ffn import ConvFFN
from .stages import LITv2Stage
from .stem import PatchStem

#: Smallest input side: the stem's ceil(H/4) and three floor halvings leave
#: stage 3 at least one pixel (28 would give 7, 3, 1, 0).
MIN_INPUT_SIZE = 29
#: Smallest side that leaves stage 3 two pixels (ceil(61 / 4) = 16 -> 2), so
#: that the last DTM's batch norm sees more than one value per channel
MIN_SIZE_FOR_BATCH_OF_ONE = 61


@MODELS.register_module()
class LITv2(PyramidBackbone):
    """LITv2 (Pan, Cai, Zhuang, NeurIPS 2022) as a dense-prediction backbone.

    Returns one ``(B, embed_dims * 2**i, H_i, W_i)`` map per stage in
    ``out_indices`` at strides 4, 8, 16, 32 (``H_0 = ceil(H / 4)``, then
    ``H_{i+1} = floor(H_i / 2)`` as the deformable downsampling floors), each
    through its own channel LayerNorm (those in ``out_norm_indices``).
    Stages 0-1 are FFN-only; stages 2-3 use HiLo attention, which pads to its
    window with zeros unmasked, as the official model does.

    Args:
        arch: ``'s'``, ``'m'``, ``'b'`` (or ``'LITv2-S'``, ``'litv2_s'``...)
            or a dict of :class:`LITv2Arch` fields.
        local_ws, alpha, drop_path_rate: override the variant's values (None
            keeps them); ``local_ws`` takes one window per stage, e.g.
            ``(0, 0, 4, 1)`` for the released "ws 4" detectors.
        dtm_sampler: how the deformable downsampling samples:
            ``'grid_sample'`` (default, fast on CPUs, exports to ONNX) or
            ``'deform_conv2d'`` (torchvision's kernel); equal to float rounding.
        norm_cfg: batch-norm type of the DTMs (e.g. ``SyncBN``).
        with_cp: activation checkpointing of every block while training.
        in_channels, out_indices, out_norm_indices, frozen_stages, norm_eval
            (the DTMs' batch norms), check_finite, init_cfg, pretrained: as in
            :class:`PyramidBackbone`.
    """

    arch_zoo = arch_zoo
    min_input_size = MIN_INPUT_SIZE
    checkpoint_format = LITV2_FORMAT
    default_arch = 's'
    arch_overrides = ('local_ws', 'alpha', 'drop_path_rate')
    downsample_ceil = False  # 2x2 stride-2 deformable merging drops an odd row
    tiny_arch = dict(embed_dims=8, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 4), mlp_ratio=2.0)
    #: ``litv2-s-dcn`` in the benchmark: deformable merging by torchvision's kernel
    name_options = dict(dcn=dict(dtm_sampler='deform_conv2d'))

    def __init__(self,
                 arch: Union[str, Mapping[str, Any]] = default_arch,
                 in_channels: int = 3,
                 local_ws: Optional[Sequence[int]] = None,
                 alpha: Optional[float] = None,
                 drop_path_rate: Optional[float] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 dtm_sampler: str = 'grid_sample',
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 check_finite: bool = False,
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 out_norm_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__(in_channels, out_indices, frozen_stages, norm_eval,
                         check_finite, init_cfg, pretrained, out_norm_indices)
        self.arch: LITv2Arch = self.resolve_arch(
            arch, local_ws=local_ws, alpha=alpha, drop_path_rate=drop_path_rate)
        a = self.arch

        self.stem = PatchStem(in_channels, a.embed_dims)
        dpr = torch.linspace(0, a.drop_path_rate, sum(a.depths), device='cpu').tolist()
        self.stages = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(a.widths, a.depths)):
            attention = i in ATTENTION_STAGES
            self.stages.append(LITv2Stage(
                dim, depth, dpr[sum(a.depths[:i]):sum(a.depths[:i + 1])],
                num_heads=a.num_heads[i] if attention else None,
                window=a.local_ws[i], alpha=a.alpha, mlp_ratio=a.mlp_ratio,
                downsample=i < NUM_STAGES - 1, dtm_sampler=dtm_sampler, norm_cfg=norm_cfg,
                with_cp=with_cp))
        self._finish(a.widths, norm_eps=1e-5)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        if self.training and isinstance(x, Tensor) and x.dim() == 4 and not is_tracing():
            self._check_batch_statistics(x)
        return super().forward(x)

    def _check_batch_statistics(self, x: Tensor) -> None:
        """A training batch norm needs more than one value per channel: raise
        :class:`InputError` before a DTM's batch norm would get a ``(1, C, 1, 1)``
        map (one image whose deepest maps are 1x1), naming the fixes."""
        b, _, h, w = x.shape
        h, w = -(-h // 4), -(-w // 4)  # the stem's output
        for i, stage in enumerate(self.stages[:self.out_indices[-1]]):  # those run
            h, w = h // 2, w // 2
            norm = stage.downsample.norm
            if b * h * w == 1 and isinstance(norm, _BatchNorm) and norm.training:
                raise InputError(
                    f'{type(self).__name__} in training got one image of '
                    f'{tuple(x.shape[-2:])}: the downsampling (DTM) after stage {i} gives '
                    f'a 1x1 map, and its batch norm cannot take batch statistics of one '
                    f'value per channel. Set norm_eval=True (batch norms in eval mode, '
                    f'usual for fine-tuning), train with a batch of 2 or more, or use '
                    f'inputs of at least {MIN_SIZE_FOR_BATCH_OF_ONE} pixels on one side')

    @classmethod
    def resolve_arch(cls, arch, **overrides) -> LITv2Arch:
        return resolve_arch(arch, **overrides)

    @staticmethod
    def init_module(m: nn.Module) -> None:
        PyramidBackbone.init_module(m)
        if isinstance(m, _BatchNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (ConvFFN, DeformConv2x2)):
            m.reset_parameters()
