"""The released LITv2 detectors / segmentor scaled down, for the tests: our
configs with the tiny golden arch and widths of
``tests/data/litv2_golden/<kind>_tiny/model_cfg.json`` (the official model
dict the golden outputs and ``weights.pth`` were made with)."""
import json
import os

from mmengine.config import Config
from mmengine.registry import init_default_scope

from .tool_runs import ROOT

GOLDEN = os.path.join(ROOT, 'tests', 'data', 'litv2_golden')
#: golden kind -> our config of the released structure
CONFIGS = {'retinanet': 'retinanet_litv2_s', 'mask_rcnn': 'mask_rcnn_litv2_s',
           'fpn': 'fpn_litv2_s'}


def golden(kind: str, name: str) -> str:
    path = os.path.join(GOLDEN, f'{kind}_tiny', name)
    assert os.path.isfile(path), f'{path} is missing: the golden data is part of the checkout'
    return path


def official_model_dict(kind: str) -> dict:
    with open(golden(kind, 'model_cfg.json')) as f:
        return json.load(f)['model']


def tiny_overrides(kind: str) -> dict:
    """What to merge into ``model`` of our config: the tiny arch and widths
    only; FPN levels, output norms, heads' structure, test_cfg and the data
    preprocessor stay the config's."""
    ref = official_model_dict(kind)
    b, neck = ref['backbone'], ref['neck']
    width = neck['out_channels']
    arch = dict(embed_dims=b['embed_dim'], depths=b['depths'], num_heads=b['num_heads'],
                mlp_ratio=b['mlp_ratio'], alpha=b['alpha'], local_ws=b['local_ws'])
    # RetinaNet: the FPN starts at stride 8 (our config leaves stage 0 out of out_indices)
    in_channels = neck['in_channels'][1:] if kind == 'retinanet' else neck['in_channels']
    model = dict(backbone=dict(arch=dict(arch, _delete_=True), init_cfg=None),
                 neck=dict(in_channels=in_channels, out_channels=width))
    if kind == 'retinanet':
        model['bbox_head'] = dict(in_channels=width,
                                  feat_channels=ref['bbox_head']['feat_channels'])
    elif kind == 'mask_rcnn':
        r = ref['roi_head']
        model['rpn_head'] = dict(in_channels=width, feat_channels=ref['rpn_head']['feat_channels'])
        model['roi_head'] = dict(
            bbox_roi_extractor=dict(out_channels=r['bbox_roi_extractor']['out_channels']),
            mask_roi_extractor=dict(out_channels=r['mask_roi_extractor']['out_channels']),
            bbox_head=dict(in_channels=width, fc_out_channels=r['bbox_head']['fc_out_channels']),
            mask_head=dict(in_channels=width,
                           conv_out_channels=r['mask_head']['conv_out_channels']))
    else:
        model['decode_head'] = dict(in_channels=[width] * 4,
                                    channels=ref['decode_head']['channels'])
    return model


def tiny_config(kind: str) -> Config:
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', f'{CONFIGS[kind]}.py'))
    cfg.merge_from_dict(dict(model=tiny_overrides(kind)))
    return cfg


def build_model(cfg: Config):
    """The config's detector (mmdet) or segmentor (mmseg), not initialised."""
    scope = 'mmseg' if cfg.model.type == 'EncoderDecoder' else 'mmdet'
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    return MODELS.build(cfg.model)
