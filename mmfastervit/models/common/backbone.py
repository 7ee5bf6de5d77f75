"""What every backbone of this package shares: the pyramid contract with
mmdet / mmseg, training modes, input checks and pretrained loading, and the
family contract the shared machinery reads.

A family is one subclass of :class:`PyramidBackbone` that declares its
``arch_zoo`` (which registers it in :meth:`PyramidBackbone.families`). It
builds ``self.stem`` and ``self.stages`` (each stage a module with ``blocks``
and a ``downsample`` attribute, None for the last) and calls
:meth:`PyramidBackbone._finish`. The feature of stage ``i`` is its output
before its downsampler, through a fresh channel LayerNorm ``norm{i}`` (or
raw, for stages left out of ``out_norm_indices``).
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, ClassVar, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Type

import torch
from mmcv.cnn import build_norm_layer
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from timm.layers import LayerNorm2d, trunc_normal_
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...cpu.bf16 import BF16Weights, native_bf16_wanted, run_in_bf16
from ...utils.compat import is_tracing
from .eval_cache import EvalCache
from .inputs import check_finite, check_input
from .pretrained import check_not_model_zoo, pretrained_init_cfg
from .unused_parameters import keep_in_graph

NUM_STAGES = 4


class _DropParameterRecords(logging.Filter):
    """Drops mmengine's per-parameter initialisation records of one module
    (messages ``'\\n{name} - {shape}: ...'``) and counts them."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.prefixes = tuple(f'\n{name} - ' for name, _ in module.named_parameters())
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(self.prefixes):
            self.dropped += 1
            return False
        return True


@contextlib.contextmanager
def _one_line_init_report(module: nn.Module) -> Iterator[None]:
    """mmengine reports how each parameter of a top-level module was
    initialised: into the log file of a run, else as one log entry per
    parameter (hundreds of lines when a backbone is initialised from user
    code). Without a log file this keeps one line instead; log level DEBUG
    keeps the full report."""
    logger = MMLogger.get_current_instance()
    debug = logger.isEnabledFor(logging.DEBUG) and any(  # MMLogger sets handler levels
        h.level <= logging.DEBUG for h in logger.handlers)
    if debug or any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        yield
        return
    records = _DropParameterRecords(module)
    logger.addFilter(records)
    try:
        yield
    finally:
        logger.removeFilter(records)
    if records.dropped:
        params = list(module.parameters())
        name = type(module).__name__
        logger.info(f'{name}: initialised {len(params)} parameter tensors '
                    f'({sum(p.numel() for p in params) / 1e6:.2f}M values) with '
                    f'{name}.init_module (per-tensor report: log level DEBUG)')


class PyramidBackbone(BaseModule):
    """Base of the registered backbones: ``(B, C, H, W)`` -> a tuple of
    ``(B, C_i, H_i, W_i)`` maps at strides 4, 8, 16, 32 for ``out_indices``.

    Args:
        in_channels: input channels.
        out_indices: stages whose features are returned, a sequence or one int
            (negative indices count from the last stage).
        frozen_stages: freeze the stem (0) and stages ``< frozen_stages`` with
            their downsamplers and output norms; -1 freezes nothing.
        norm_eval: keep every batch norm in eval mode while training.
        check_finite: raise, naming the batch element, when an input holds NaN
            or inf (eager mode only; off by default, as the check synchronises).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH)`` loads an official
            ImageNet file or one of ours, through :mod:`mmfastervit.checkpoint`.
        pretrained: deprecated, as in mmdet / mmseg: a path stands for
            ``init_cfg=dict(type='Pretrained', checkpoint=path)``.
        out_norm_indices: the outputs that go through their own norm
            ``norm{i}`` (None: all of ``out_indices``); the others are returned
            raw, e.g. ``(1, 2, 3)`` for LITv2's released detectors, whose
            stage-0 feature reaches the FPN without a norm.
    """

    #: the family's released variants: name -> architecture fields (the
    #: ``arch`` names a config may use; :meth:`resolve_arch` resolves them)
    arch_zoo: ClassVar[Mapping[str, dict]] = {}
    #: smallest input height / width the family's strides allow
    min_input_size: ClassVar[int] = 32
    #: how the family's official checkpoints map onto the model (a
    #: :class:`mmfastervit.checkpoint.CheckpointFormat`)
    checkpoint_format: ClassVar[Any] = None
    #: the ``arch`` a config gets when it names none
    default_arch: ClassVar[Any] = None
    #: constructor arguments that override the variant's values (passed on
    #: to :meth:`resolve_arch`)
    arch_overrides: ClassVar[Tuple[str, ...]] = ()
    #: whether the stride-2 downsamplers between stages round an odd side up
    #: (a padded conv) or down
    downsample_ceil: ClassVar[bool] = True
    #: a small ``arch`` dict that builds and runs in milliseconds: every
    #: family is checked at it by the shared tests and tools
    tiny_arch: ClassVar[Mapping[str, Any]] = {}
    #: int8 export: per part of ``export.quantize.KEEP_FLOAT``, the module
    #: names whose weight layers stay float (e.g. ``'position': ('rel_pos',)``)
    float_scopes: ClassVar[Mapping[str, Tuple[str, ...]]] = {}
    #: benchmark name suffixes -> constructor options (``litv2-s-dcn``)
    name_options: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    #: the registered families by class name, in the order they were defined
    _families: ClassVar[Dict[str, Type[PyramidBackbone]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that declares its own ``arch_zoo`` is a family: the
        converter, the benchmark, int8 export, layer decay and the shared
        tests find it through :meth:`families` (subclasses of a family, e.g.
        a user's variant of FasterViT, are not new families)."""
        super().__init_subclass__(**kwargs)
        if 'arch_zoo' in cls.__dict__:
            PyramidBackbone._families[cls.__name__] = cls

    @classmethod
    def families(cls) -> Dict[str, Type[PyramidBackbone]]:
        """Every registered family, ``{class name: class}`` (import
        :mod:`mmfastervit` first)."""
        return dict(PyramidBackbone._families)

    @classmethod
    def benchmark_name(cls) -> str:
        """The family's prefix in benchmark model names (``fastervit-2``)."""
        return cls.__name__.lower()

    def __init__(self, in_channels: int = 3, out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False,
                 check_finite: bool = False, init_cfg: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 out_norm_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__(init_cfg=pretrained_init_cfg(pretrained, init_cfg, type(self).__name__))
        out_indices = (out_indices,) if isinstance(out_indices, int) else out_indices
        if not isinstance(out_indices, (list, tuple)) or not all(
                isinstance(i, int) for i in out_indices):
            raise TypeError(f'out_indices must be a stage index or a sequence of them '
                            f'(ints in 0..{NUM_STAGES - 1}), got {out_indices!r}')
        out_indices = tuple(out_indices)
        self.out_indices = tuple(sorted({i % NUM_STAGES for i in out_indices}))
        if not out_indices or len(self.out_indices) != len(out_indices) or any(
                not -NUM_STAGES <= i < NUM_STAGES for i in out_indices):
            raise ValueError(f'out_indices must be distinct stage indices in '
                             f'0..{NUM_STAGES - 1}, got {out_indices}')
        if not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'frozen_stages must be in -1..{NUM_STAGES}, got {frozen_stages}')
        norms = self.out_indices if out_norm_indices is None else tuple(out_norm_indices)
        self.out_norm_indices = tuple(sorted({i % NUM_STAGES for i in norms}))
        if not set(self.out_norm_indices) <= set(self.out_indices) or len(
                self.out_norm_indices) != len(norms):
            raise ValueError(f'out_norm_indices must be distinct stages of out_indices '
                             f'{self.out_indices} (or None for all of them), got {norms}')
        self.in_channels = in_channels
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.check_finite = check_finite
        self._bf16_weights = BF16Weights()  # bf16 copies for CPU bf16 inference

    @classmethod
    def resolve_arch(cls, arch: Any, **overrides: Any) -> Any:
        """The family's architecture object for a config's ``arch`` and
        overrides; raises KeyError / ValueError / TypeError naming the mistake
        (used by the tools' preflight before anything is built)."""
        raise NotImplementedError

    def _finish(self, widths: Sequence[int], norm_eps: float = 1e-6,
                out_norm_cfg: Optional[dict] = None) -> None:
        """Add the output norms (channel LayerNorms, or ``out_norm_cfg``'s
        type, e.g. ``dict(type='BN')``) and apply ``frozen_stages``; call at
        the end of ``__init__`` once ``stem`` and ``stages`` exist."""
        self.num_features = tuple(widths)
        for i in self.out_norm_indices:
            norm = (LayerNorm2d(widths[i], eps=norm_eps) if out_norm_cfg is None
                    else build_norm_layer(out_norm_cfg, widths[i])[1])
            self.add_module(f'norm{i}', norm)
        self._freeze_stages()

    # ------------------------------------------------------------------ run
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``(B, C, H, W)`` -> tuple of ``(B, C_i, H_i, W_i)`` for ``out_indices``."""
        name = type(self).__name__
        tracing = is_tracing()  # export / compile: sizes are symbolic
        check_input(x, name=name, in_channels=self.in_channels,
                    min_size=self.min_input_size, weight_dtype=self._weight_dtype(),
                    check_sizes=not tracing)
        if self.check_finite and not tracing:
            check_finite(x, name)
        if native_bf16_wanted(x):  # bf16 end to end instead of autocast's casts
            return run_in_bf16(self._features, self, self._bf16_weights, x)
        return self._features(x)

    def _features(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        outs = []
        last = self.out_indices[-1]  # the stages after it would feed nothing
        for i, stage in enumerate(self.stages[:last + 1]):
            x = stage(x)
            if i in self.out_norm_indices:
                outs.append(getattr(self, f'norm{i}')(x).contiguous())
            elif i in self.out_indices:
                outs.append(x.contiguous())
            if i < last:
                x = stage.downsample(x)
        if self.training and last < len(self.stages) - 1:
            outs[-1] = keep_in_graph(outs[-1], self._skipped_parameters())
        return tuple(outs)

    def _skipped_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters after the last output stage (its downsampler and the
        later stages): not run, but tied to the outputs in training so that
        DDP sees them used (zero gradients)."""
        last = self.out_indices[-1]
        yield from self.stages[last].downsample.parameters()
        for stage in self.stages[last + 1:]:
            yield from stage.parameters()

    @classmethod
    def feature_sizes(cls, height: int, width: int) -> Tuple[Tuple[int, int], ...]:
        """``(H_i, W_i)`` of the four stage features for an ``H x W`` input:
        the stem's stride 4 rounds up, each downsampler as the family says."""
        sizes = [(-(-height // 4), -(-width // 4))]
        for _ in range(NUM_STAGES - 1):
            h, w = sizes[-1]
            sizes.append((-(-h // 2), -(-w // 2)) if cls.downsample_ceil else (h // 2, w // 2))
        return tuple(sizes)

    @property
    def stage_depths(self) -> Tuple[int, ...]:
        """Blocks of each stage, as built (layer-wise LR decay numbers them)."""
        return tuple(len(stage.blocks) for stage in self.stages)

    def _weight_dtype(self) -> torch.dtype:
        return next(self.stem.parameters()).dtype

    # --------------------------------------------------------- train modes
    def _freeze_stages(self) -> None:
        frozen = [self.stem] if self.frozen_stages >= 0 else []
        for i in range(self.frozen_stages):
            frozen.append(self.stages[i])
            if i in self.out_norm_indices:
                frozen.append(getattr(self, f'norm{i}'))
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> PyramidBackbone:
        super().train(mode)
        self._bf16_weights.clear()
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def clear_caches(self) -> None:
        """Free the inference caches' memory (position terms, bf16 weight
        copies). Never needed for correctness: they are checked against, or
        refilled from, the weights' values on every forward, so writes
        through ``.data`` are seen too."""
        self._bf16_weights.clear()
        for m in self.modules():
            if isinstance(m, EvalCache):
                m.clear_cache()

    # ------------------------------------------------------------- weights
    def init_weights(self) -> None:
        if isinstance(self.init_cfg, Mapping) and self.init_cfg.get('type') == 'Pretrained':
            from ...checkpoint import load_pretrained
            check_not_model_zoo(self.init_cfg['checkpoint'], type(self).__name__)
            load_pretrained(self, self.init_cfg['checkpoint'],
                            prefix=self.init_cfg.get('prefix'),
                            map_location=self.init_cfg.get('map_location', 'cpu'),
                            logger=MMLogger.get_current_instance())
            self._is_init = True
            return
        self.apply(self.init_module)
        with _one_line_init_report(self):
            super().init_weights()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        if prefix:  # part of a whole model's weights: all of the backbone or an error
            from ...checkpoint.loading import check_backbone_part
            check_backbone_part(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def init_module(m: nn.Module) -> None:
        """Initialisation of one module (weights not from a file): linear
        layers truncated normal (std 0.02) with zero bias, layer norms 1 and
        0. Families extend it for their own modules."""
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
