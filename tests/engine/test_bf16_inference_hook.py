"""BF16InferenceHook in-process, on real (tiny) mmdet / mmseg models: during
testing the network parts (features and heads) run under bf16 autocast and
hand on fp32, RoIAlign and NMS get fp32, the heads can be left out, and after
testing every part is restored."""
import importlib
import types

import pytest
import torch
from torch import nn

from benchmarks.harness import relative_errors
from mmfastervit.engine.hooks import BF16InferenceHook
from mmfastervit.engine.hooks.bf16_inference import FEATURE_PARTS
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


@pytest.mark.parametrize('kind, parts', [('mask_rcnn', ('backbone', 'neck', 'rpn_head')),
                                         ('fpn', ('backbone', 'neck', 'decode_head'))])
@pytest.mark.parametrize('stage', ['test', 'val'])
def test_network_parts_run_in_bf16_during_testing_and_are_restored(kind, parts, stage):
    torch.manual_seed(0)
    model = build_model(tiny_config(kind)).eval()
    runner = types.SimpleNamespace(model=model)
    x = torch.randn(1, 3, 96, 128)

    def outputs():
        with torch.no_grad():
            feats = list(model.extract_feat(x))
            if kind == 'fpn':  # the decode head's logits too
                feats.append(model.decode_head(feats))
            else:  # the RPN head's network: in bf16 too
                feats.append(model.rpn_head(feats)[0][0])
            return feats

    fp32 = outputs()
    seen = {name: bf16_seen(getattr(model, name)) for name in parts}
    hook = BF16InferenceHook()
    getattr(hook, f'before_{stage}')(runner)
    bf16 = outputs()
    assert all(flags and all(flags) for flags in seen.values()), seen  # bf16 in the parts
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


class Recorder:
    """The dtypes of the tensors an op gets, call by call."""

    def __init__(self, monkeypatch, module, name):
        self.dtypes = []
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            self.dtypes += [a.dtype for a in args if isinstance(a, torch.Tensor)]
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)


def test_a_whole_two_stage_prediction_keeps_roialign_and_nms_in_fp32(monkeypatch):
    """Mask R-CNN's predict with the hook: the RPN, the box and the mask
    branches' layers run in bf16, RoIAlign and NMS get fp32 (mmcv's CPU ops
    take nothing else), the branches' outputs stay within bf16's error. With
    ``FEATURE_PARTS`` the heads' layers stay fp32."""
    nms_module = importlib.import_module('mmcv.ops.nms')  # (mmcv.ops.nms is also a function)
    roi_align_module = importlib.import_module('mmcv.ops.roi_align')

    torch.manual_seed(0)
    model = build_model(tiny_config('mask_rcnn')).eval()
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128),
                                         scale_factor=(1.0, 1.0)))
    x = torch.randn(1, 3, 96, 128)
    model.test_cfg.rcnn.score_thr = 0.0  # random weights: keep every box

    def predict():
        with torch.no_grad():
            return model.predict(x, [sample])[0].pred_instances

    heads = [model.rpn_head, model.roi_head.bbox_head, model.roi_head.mask_head]
    seen = [bf16_seen(head) for head in heads]
    roi_align = Recorder(monkeypatch, roi_align_module, 'roi_align')
    nms = Recorder(monkeypatch, nms_module.NMSop, 'apply')
    hook = BF16InferenceHook()
    hook.before_test(types.SimpleNamespace(model=model))
    got = predict()
    hook.after_test(None)
    assert all(flags and all(flags) for flags in seen), [len(f) for f in seen]
    assert roi_align.dtypes and set(roi_align.dtypes) == {torch.float32}
    assert nms.dtypes and set(nms.dtypes) == {torch.float32}
    assert got.bboxes.dtype == torch.float32 and len(got.bboxes) > 0
    # the box and mask branches on the same RoI features: bf16's rounding only
    # (whole predictions of a random detector are no measure: its scores are
    # close together, so rounding swaps which boxes NMS keeps)
    box, mask = model.roi_head.bbox_head, model.roi_head.mask_head
    rois = torch.randn(8, box.in_channels, 7, 7), torch.randn(8, mask.in_channels, 14, 14)
    with torch.no_grad():
        fp32 = [*box(rois[0]), mask(rois[1])]
        hook.before_test(types.SimpleNamespace(model=model))
        bf16 = [*box(rois[0]), mask(rois[1])]
        hook.after_test(None)
    assert all(t.dtype == torch.float32 for t in bf16)
    assert max(relative_errors(bf16, fp32)) < MAX_REL_ERR
    for flags in seen:
        flags.clear()
    hook = BF16InferenceHook(parts=FEATURE_PARTS)
    hook.before_test(types.SimpleNamespace(model=model))
    predict()
    hook.after_test(None)
    assert all(flags and not any(flags) for flags in seen)


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
