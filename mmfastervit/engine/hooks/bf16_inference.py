"""bf16 inference of a whole detector or segmentor: every part that is a
network (convolutions, linear layers) under bf16 autocast, what needs fp32
kept there.

mmengine's own switch (``test_cfg.fp16=True``) autocasts the whole model,
and mmcv's CPU NMS and RoIAlign take no bf16 boxes, so on a CPU that switch
stops a two-stage detector at its first NMS. Here only the parts' ``forward``
runs in bf16 and hands on fp32: the backbone and neck (our backbones run in
bf16 end to end on CPUs with bf16 units, :mod:`mmfastervit.cpu.bf16`), a
segmentor's heads, and a detector's head networks: the RPN and dense heads'
convolutions, the RoI heads' box and mask branches (4conv1fc box heads do
about twice the backbone's multiply-adds in a Cascade Mask R-CNN). What
stays fp32 is what runs outside those forwards: RoIAlign (the RoI
extractors), box decoding, NMS, mask pasting, and DETR-style heads, whose
outputs are box coordinates.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Iterator, List, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

#: the parts that run in bf16, where the model has them (dotted paths; a
#: list of heads, as a cascade's, counts each): the feature extractor, a
#: segmentor's heads, a detector's head networks
PARTS = ('backbone', 'neck', 'decode_head', 'auxiliary_head', 'rpn_head', 'bbox_head',
         'roi_head.bbox_head', 'roi_head.mask_head')
#: the feature extractor alone, heads in fp32 (e.g. ``custom_hooks =
#: [dict(type='BF16InferenceHook', parts=FEATURE_PARTS)]`` with the tuple written out)
FEATURE_PARTS = ('backbone', 'neck', 'decode_head', 'auxiliary_head')


def _is_network(module: nn.Module) -> bool:
    """Whether ``forward`` computes features or raw scores and deltas only:
    not a DETR-style head, which turns references into box coordinates
    inside its forward."""
    try:
        from mmdet.models.dense_heads import DETRHead
    except ImportError:  # mmseg without mmdet
        return True
    return not isinstance(module, DETRHead)


def resolve_parts(model: nn.Module, parts: Sequence[str]) -> List[nn.Module]:
    """The modules ``parts`` name in ``model`` (missing ones skipped)."""
    found = []
    for path in parts:
        module = model
        for name in path.split('.'):
            module = getattr(module, name, None)
        heads = list(module) if isinstance(module, nn.ModuleList) else [module]
        found += [m for m in heads if isinstance(m, nn.Module) and _is_network(m)]
    return found


def to_fp32(value):
    """bf16 tensors in ``value`` (nested tuples / lists / dicts) as fp32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype == torch.bfloat16 else value
    if isinstance(value, (tuple, list)):
        return type(value)(to_fp32(v) for v in value)
    if isinstance(value, dict):
        return {k: to_fp32(v) for k, v in value.items()}
    return value


@contextlib.contextmanager
def bf16_forwards(modules: Sequence[nn.Module], device: str) -> Iterator[None]:
    """Each module's ``forward`` under bf16 autocast, outputs as fp32, for
    the duration of a ``with`` block (modules that already have their own
    instance-level ``forward`` are left alone)."""
    wrapped = []
    try:
        for module in modules:
            if 'forward' not in vars(module):
                module.forward = _bf16(module.forward, device)
                wrapped.append(module)
        yield
    finally:
        for module in wrapped:
            del module.forward


def _bf16(forward, device: str):
    @functools.wraps(forward)
    def run(*args, **kwargs):
        with torch.autocast(device, dtype=torch.bfloat16):
            return to_fp32(forward(*args, **kwargs))
    return run


@HOOKS.register_module()
class BF16InferenceHook(Hook):
    """Run ``parts`` of the model under ``torch.autocast(dtype=bfloat16)``
    during validation and testing, their outputs handed on as fp32.

    Used by ``tools/test.py --bf16``; in a config:
    ``custom_hooks = [dict(type='BF16InferenceHook')]``
    (``parts=FEATURE_PARTS`` keeps the heads in fp32). Training is left as
    it is (use mmengine's AMP optimizer wrapper for that).
    """

    priority = 'NORMAL'

    def __init__(self, parts: Sequence[str] = PARTS) -> None:
        self.parts = tuple(parts)
        self._active = contextlib.ExitStack()

    def _install(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model = getattr(model, 'module', model)  # a TTA wrapper's model
        modules = resolve_parts(model, self.parts)
        if not modules:
            raise ValueError(f'BF16InferenceHook: the model ({type(model).__name__}) has none '
                             f'of the parts {self.parts}')
        device = next(model.parameters()).device.type
        self._active.enter_context(bf16_forwards(modules, device))

    def _remove(self, runner=None) -> None:
        self._active.close()

    def before_val(self, runner) -> None:
        self._install(runner)

    def after_val(self, runner) -> None:
        self._remove()

    def before_test(self, runner) -> None:
        self._install(runner)

    def after_test(self, runner) -> None:
        self._remove()
