"""BF16InferenceHook in-process, on real (tiny) mmdet / mmseg models: during
testing the feature parts run under bf16 autocast and hand on fp32, the other
parts are left alone, and after testing every part is restored."""
import types

import pytest
import torch
from torch import nn

from benchmarks.harness import relative_errors
from mmfastervit.engine.hooks import BF16InferenceHook
from support.litv2_released import build_model, tiny_config

#: worst relative error of a bf16 output against fp32 (bf16: ~4e-3 per rounding)
MAX_REL_ERR = 3e-2


def bf16_seen(module: nn.Module) -> list:
    """For every call of a layer inside ``module``: whether it ran in bf16
    (under CPU autocast, or on bf16 inputs: our backbones' own bf16 path
    turns autocast off inside)."""
    seen = []

    def record(_, args):
        seen.append(torch.is_autocast_enabled('cpu') or any(
            isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16 for a in args))
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            layer.register_forward_pre_hook(record)
    return seen


@pytest.mark.parametrize('kind, parts', [('mask_rcnn', ('backbone', 'neck')),
                                         ('fpn', ('backbone', 'neck', 'decode_head'))])
@pytest.mark.parametrize('stage', ['test', 'val'])
def test_feature_parts_run_in_bf16_during_testing_and_are_restored(kind, parts, stage):
    torch.manual_seed(0)
    model = build_model(tiny_config(kind)).eval()
    runner = types.SimpleNamespace(model=model)
    x = torch.randn(1, 3, 96, 128)

    def outputs():
        with torch.no_grad():
            feats = list(model.extract_feat(x))
            if kind == 'fpn':  # the decode head's logits too
                feats.append(model.decode_head(feats))
            else:  # the RPN head runs outside the hook's parts: fp32
                feats.append(model.rpn_head(feats)[0][0])
            return feats

    fp32 = outputs()
    seen = {name: bf16_seen(getattr(model, name)) for name in parts}
    other = bf16_seen(model.rpn_head) if kind == 'mask_rcnn' else None
    hook = BF16InferenceHook()
    getattr(hook, f'before_{stage}')(runner)
    bf16 = outputs()
    assert all(flags and all(flags) for flags in seen.values()), seen  # bf16 in the parts
    if other is not None:
        assert other and not any(other)  # and not outside them
    for got, want in zip(bf16, fp32):
        assert got.dtype == torch.float32  # handed on as fp32
        assert not torch.equal(got, want)  # but computed in bf16
    assert max(relative_errors(bf16, fp32)) < MAX_REL_ERR

    getattr(hook, f'after_{stage}')(runner)
    assert all('forward' not in vars(getattr(model, name)) for name in parts)
    for flags in seen.values():
        flags.clear()
    for got, want in zip(outputs(), fp32):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert not any(any(flags) for flags in seen.values())


def test_a_tta_wrapper_s_model_is_reached():
    """mmseg / mmdet TTA wrappers hold the model as ``.module``."""
    model = build_model(tiny_config('fpn')).eval()
    wrapper = nn.Module()
    wrapper.module = model
    hook = BF16InferenceHook(parts=('backbone',))
    hook.before_test(types.SimpleNamespace(model=wrapper))
    assert 'forward' in vars(model.backbone) and 'forward' not in vars(model.neck)
    hook.after_test(None)
    assert 'forward' not in vars(model.backbone)


def test_a_model_without_any_of_the_parts_is_refused():
    with pytest.raises(ValueError, match=r'Linear\) has none of the parts \(.backbone.'):
        BF16InferenceHook(parts=('backbone',)).before_test(
            types.SimpleNamespace(model=nn.Linear(2, 2)))
