"""Each of LITv2's 15 released COCO / ADE20K files has a config of ours whose
model it fills exactly once converted: a state dict with the released file's
keys and shapes (``tests/data/litv2_golden/released_models.json``; random
values, the files themselves are not downloaded) converts through the
whole-model formats and loads with ``strict=True``. Models are built on the
meta device (shapes only), so the 15 take seconds."""
import json
import os
import types

import pytest
import torch
from mmengine.config import Config

from mmfastervit.checkpoint import CheckpointMismatchError
from mmfastervit.checkpoint.whole_model import convert_whole_model, whole_model_format
from mmfastervit.engine.hooks import CheckpointFitsModelHook
from mmfastervit.models import LITv2
from support.litv2_released import GOLDEN, build_model, golden, tiny_config
from support.tool_runs import ROOT

RELEASED = json.load(open(os.path.join(GOLDEN, 'released_models.json')))
LITV2_ARCH = {'s': (96, [2, 2, 6, 2]), 'm': (96, [2, 2, 18, 2]), 'b': (128, [2, 2, 18, 2])}


def config_name(released: str) -> str:
    """``mask_rcnn_litv2_s_fpn_1x_coco_ws_4.pth`` -> ``mask_rcnn_litv2_s_ws4``,
    ``litv2_b_fpn_r50_512x512_80k_ade20k.pth`` -> ``fpn_litv2_b``."""
    parts = released.removesuffix('.pth').split('_')
    if released.startswith('litv2_'):
        return f'fpn_litv2_{parts[1]}'
    det = 'retinanet' if parts[0] == 'retinanet' else 'mask_rcnn'
    variant = parts[2 if det == 'retinanet' else 3]
    return f'{det}_litv2_{variant}' + ('_ws4' if released.endswith('_ws_4.pth') else '')


def build_on_meta(cfg):
    with torch.device('meta'):
        return build_model(cfg)


def released_state_dict(name):
    """The released file's keys and shapes as a fork-saved checkpoint:
    ``state_dict`` beside ``meta`` and apex's ``amp`` entry."""
    weights = {k: torch.empty(shape, device='meta') for k, shape in RELEASED[name]['state_dict']}
    return dict(meta=dict(CLASSES=['a']), amp=dict(loss_scaler0=1.0), state_dict=weights)


@pytest.mark.parametrize('released', list(RELEASED))
def test_every_released_file_loads_strictly_into_its_config(released):
    entry = RELEASED[released]
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', f'{config_name(released)}.py'))
    backbone, ref = cfg.model.backbone, entry['backbone']
    arch = LITV2_ARCH[backbone.arch]
    assert (arch[0], arch[1]) == (ref['embed_dim'], ref['depths'])
    assert list(backbone.local_ws) == ref['local_ws']
    assert backbone.drop_path_rate == ref['drop_path_rate']
    for key in ('test_cfg', 'data_preprocessor'):
        assert json.loads(json.dumps(cfg.model[key].to_dict())) == entry[key], key
    model = build_on_meta(cfg)
    norms = sorted(k.split('.')[1] for k in model.state_dict()
                   if k.startswith('backbone.norm') and k.endswith('.weight'))
    assert norms == entry['backbone_output_norms']

    checkpoint = released_state_dict(released)
    fmt = whole_model_format(checkpoint)
    assert fmt is not None, 'a released file is not recognised as a whole official model'
    weights, report = fmt.convert(checkpoint)
    assert len(weights) == entry['num_keys']
    assert 'amp' in report[-1]  # the other entries are named, not loaded
    model.load_state_dict(weights, strict=True)  # raises on any missing / extra key


def test_a_released_detector_is_refused_by_a_config_with_other_output_norms():
    """The issue's trap: a config normalising stage 0 (norm0) given the
    released Mask R-CNN (norm1..3 only) stops, naming the fix."""
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'mask_rcnn_litv2_s.py'))
    cfg.model.backbone.out_norm_indices = None
    model = build_on_meta(cfg)
    checkpoint = released_state_dict('mask_rcnn_litv2_s_fpn_1x_coco.pth')
    weights, _ = whole_model_format(checkpoint).convert(checkpoint)
    with pytest.raises(CheckpointMismatchError,
                       match=r'2 missing \(e\.g\. norm0\.weight\).*out_norm_indices=\(1, 2, 3\)'):
        model.load_state_dict(weights, strict=False)  # refused even when not strict


def test_test_tool_check_names_the_output_norm_fix():
    """tools/test.py's fit check, given the released Mask R-CNN structure
    into a model that normalises stage 0: one message with the setting."""
    cfg = tiny_config('mask_rcnn')
    cfg.model.backbone.out_norm_indices = None
    model = build_model(cfg)
    checkpoint = convert_whole_model(
        torch.load(golden('mask_rcnn', 'weights.pth'), weights_only=True), 'weights.pth')
    hook = CheckpointFitsModelHook('weights.pth', 'mask_rcnn_tiny.py')
    with pytest.raises(CheckpointMismatchError, match=r'backbone \(2\).*'
                       r'out_norm_indices=\(1, 2, 3\)'):
        hook.after_load_checkpoint(types.SimpleNamespace(model=model), checkpoint)


@pytest.mark.parametrize('norms, says', [
    ((1, 2, 3), None),
    (None, r'missing \(2\): norm0\.weight; norm0\.bias.*out_norm_indices=\(1, 2, 3\)'),
])
def test_backbone_init_cfg_takes_a_whole_official_detector(norms, says):
    """A backbone's init_cfg given a released detector takes its backbone
    part, trained output norms included; a backbone whose output norms the
    file lacks is refused (never initialised in part)."""
    arch = dict(embed_dims=12, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8], alpha=0.9,
                local_ws=[0, 0, 2, 1])
    path = golden('mask_rcnn', 'weights.pth')
    model = LITv2(arch, out_norm_indices=norms,
                  init_cfg=dict(type='Pretrained', checkpoint=path))
    if says:
        with pytest.raises(CheckpointMismatchError, match=says):
            model.init_weights()
        return
    model.init_weights()
    official = torch.load(path, weights_only=True)['state_dict']
    assert torch.equal(model.norm2.weight, official['backbone.norm2.weight'])
    assert not hasattr(model, 'norm0')


def test_a_detectors_init_cfg_takes_an_official_file(tools_environment):
    """``model.init_cfg`` (mmengine's Pretrained init, as ``load_from``)
    converts the official file on the fly: backbone and heads are the file's."""
    cfg = tiny_config('retinanet')
    path = golden('retinanet', 'weights.pth')
    cfg.model.init_cfg = dict(type='Pretrained', checkpoint=path)
    model = build_model(cfg)
    model.init_weights()
    official = torch.load(path, weights_only=True)['state_dict']
    assert torch.equal(model.backbone.stages[2].blocks[0].attn.l_q.weight,
                       official['backbone.layers.2.blocks.0.attn.l_q.weight'])
    assert torch.equal(model.bbox_head.retina_cls.bias, official['bbox_head.retina_cls.bias'])


def test_stock_loading_of_an_official_file_is_refused():
    """Without our loader (mmdet's own tools, a user's script), the official
    backbone keys are refused with the fix, not skipped with a warning."""
    from mmengine.runner import load_checkpoint
    model = build_model(tiny_config('retinanet'))
    with pytest.raises(CheckpointMismatchError, match='official LITv2 layout.*setup_env'):
        load_checkpoint(model, golden('retinanet', 'weights.pth'))


def test_a_new_whole_model_format_takes_one_line(monkeypatch):
    """Formats are tried in order; one inserted first (as DINO-FasterViT's)
    converts its files through the same on-the-fly path and report."""
    from mmfastervit.checkpoint import whole_model
    monkeypatch.setattr(whole_model, 'WHOLE_MODEL_FORMATS', list(whole_model.WHOLE_MODEL_FORMATS))
    whole_model.WHOLE_MODEL_FORMATS.insert(0, whole_model.WholeModelFormat(
        'toy', lambda obj: 'toy' in obj, lambda obj: ({'a.weight': obj['toy']}, ['toy file'])))
    out = convert_whole_model({'toy': torch.ones(1)}, 'toy.pth')
    assert out['meta']['converted_from'] == 'toy' and list(out['state_dict']) == ['a.weight']
    assert convert_whole_model({'b': torch.ones(1)}, 'other.pth') == {'b': torch.ones(1)}
