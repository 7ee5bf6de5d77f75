"""bf16 inference of a whole detector or segmentor: its feature extractor
(backbone, neck, and a segmentor's heads) under bf16 autocast, the rest fp32.

mmengine's own switch (``test_cfg.fp16=True``) autocasts the whole model,
and mmcv's CPU NMS and RoIAlign take no bf16 boxes, so on a CPU that switch
stops a two-stage detector at its first NMS. Box heads are a small share of
the time; the backbone and neck are most of it, and there our backbones run in
bf16 end to end on CPUs with bf16 units (:mod:`mmfastervit.cpu.bf16`).
"""
from __future__ import annotations

import functools
from typing import Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

#: the parts that run in bf16, where the model has them
FEATURE_PARTS = ('backbone', 'neck', 'decode_head', 'auxiliary_head')


def to_fp32(value):
    """bf16 tensors in ``value`` (nested tuples / lists / dicts) as fp32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype == torch.bfloat16 else value
    if isinstance(value, (tuple, list)):
        return type(value)(to_fp32(v) for v in value)
    if isinstance(value, dict):
        return {k: to_fp32(v) for k, v in value.items()}
    return value


@HOOKS.register_module()
class BF16InferenceHook(Hook):
    """Run ``parts`` of the model under ``torch.autocast(dtype=bfloat16)``
    during validation and testing, their outputs handed on as fp32.

    Used by ``tools/test.py --bf16``; in a config:
    ``custom_hooks = [dict(type='BF16InferenceHook')]``. Training is left as
    it is (use mmengine's AMP optimizer wrapper for that).
    """

    priority = 'NORMAL'

    def __init__(self, parts: Sequence[str] = FEATURE_PARTS) -> None:
        self.parts = tuple(parts)
        self._wrapped = []

    def _install(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model = getattr(model, 'module', model)  # a TTA wrapper's model
        device = next(model.parameters()).device.type
        for name in self.parts:
            part = getattr(model, name, None)
            if isinstance(part, torch.nn.Module) and 'forward' not in vars(part):
                part.forward = self._bf16(part.forward, device)
                self._wrapped.append(part)
        if not self._wrapped:
            raise ValueError(f'BF16InferenceHook: the model ({type(model).__name__}) has none '
                             f'of the parts {self.parts}')

    def _remove(self, runner=None) -> None:
        for part in self._wrapped:
            del part.forward
        self._wrapped = []

    @staticmethod
    def _bf16(forward, device: str):
        @functools.wraps(forward)
        def run(*args, **kwargs):
            with torch.autocast(device, dtype=torch.bfloat16):
                return to_fp32(forward(*args, **kwargs))
        return run

    def before_val(self, runner) -> None:
        self._install(runner)

    def after_val(self, runner) -> None:
        self._remove()

    def before_test(self, runner) -> None:
        self._install(runner)

    def after_test(self, runner) -> None:
        self._remove()
