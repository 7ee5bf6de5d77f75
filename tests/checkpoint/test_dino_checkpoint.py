"""NVIDIA's DINO files convert to MMDetection's DINO: the released detector's
layout fills every tensor of our config's model, the conversion places each
official tensor where mmdet computes with it, and other files are refused."""
import argparse
import json
import os
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmfastervit.checkpoint import CheckpointMismatchError, read_checkpoint
from mmfastervit.models.dense_heads.dino_checkpoint import (
    COCO_CATEGORY_IDS,
    convert_official_dino,
    is_official_dino,
)
from mmfastervit.models.fastervit.checkpoint_format import RESOLUTION_BUFFERS
from support.dino import DINO_GOLDEN, build_detector
from support.tool_runs import ROOT

CONFIG = os.path.join(ROOT, 'configs', 'dino_4scale_fastervit_4_21k_224.py')


def released_layout():
    """The released file's layout (``released_keys.json``) with zeros (one
    stored element per tensor), tensors of one shared group being one object,
    as main.py writes them."""
    with open(os.path.join(DINO_GOLDEN, 'released_keys.json')) as f:
        layout = json.load(f)
    dtypes = {'float32': torch.float32, 'int64': torch.int64}
    model = {k['name']: torch.zeros((), dtype=dtypes[k['dtype']]).expand(k['shape'])
             for k in layout['keys']}
    for group in layout['shared_storage_groups']:
        for name in group[1:]:
            model[name] = model[group[0]]
    assert len(model) == layout['num_keys'] == 889
    return dict(model=model, optimizer=dict(state={}, param_groups=[]),
                lr_scheduler=dict(step_size=11), epoch=11,
                args=argparse.Namespace(backbone='faster_vit_4_21k_224', num_queries=900))


def test_released_layout_loads_strictly_into_the_config(tmp_path):
    """The whole released layout, through a file (weights-only loading of its
    argparse.Namespace), converts and loads with strict=True into the model
    of configs/dino_4scale_fastervit_4_21k_224.py at full size (built on the
    meta device: keys and shapes are checked, no 1.2 GB are allocated)."""
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save(released_layout(), src)
    obj = read_checkpoint(str(src))
    assert is_official_dino(obj)
    weights, report = convert_official_dino(obj)
    text = '\n'.join(report)
    assert 'backbone: FasterViT variant 4-21k-224' in text
    buffers = [k for k in obj['model'] if k.rsplit('.', 1)[-1] in RESOLUTION_BUFFERS]
    assert any(k.endswith('relative_bias') for k in buffers)
    assert f'dropped {len(buffers)} keys: resolution-dependent buffers' in text
    assert 'copied into branches 0..5' in text and 'into branch 6' in text
    assert 'dropped 48 keys: second references of the decoder' in text
    torch.save(dict(state_dict=weights), dst)

    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    with torch.device('meta'):
        model = build_detector(cfg.model)
    assert set(weights) == set(model.state_dict())
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*meta parameter.*no-op')
        load_checkpoint(model, str(dst), strict=True, logger='silent')
        weights['bbox_head.cls_branches.0.weight'] = torch.zeros(91, 256)
        torch.save(dict(state_dict=weights), dst)
        with pytest.raises(RuntimeError, match='size mismatch'):  # shapes are checked
            load_checkpoint(model, str(dst), strict=True, logger='silent')


@pytest.fixture(scope='module')
def tiny():
    obj = read_checkpoint(os.path.join(DINO_GOLDEN, 'tiny_local', 'weights.pth'))
    return obj, convert_official_dino(obj)[0]


def test_conversion_places_each_official_tensor(tiny):
    obj, out = tiny
    fork = obj['model']
    ids = list(COCO_CATEGORY_IDS)
    assert len(ids) == 80 and ids[:12] == [*range(1, 12), 13] and ids[-1] == 90
    # class rows: label l is COCO category id ids[l], in every class head
    for i in (0, 1):
        assert torch.equal(out[f'bbox_head.cls_branches.{i}.weight'],
                           fork['class_embed.0.weight'][ids])
    assert torch.equal(out['bbox_head.cls_branches.2.bias'],
                       fork['transformer.enc_out_class_embed.bias'][ids])
    assert torch.equal(out['dn_query_generator.label_embedding.weight'],
                       fork['label_enc.weight'][ids])
    # box MLPs: Linear layers 0, 1, 2 -> Sequential indices 0, 2, 4
    assert torch.equal(out['bbox_head.reg_branches.1.4.weight'],
                       fork['bbox_embed.1.layers.2.weight'])
    assert torch.equal(out['bbox_head.reg_branches.2.0.bias'],
                       fork['transformer.enc_out_bbox_embed.layers.0.bias'])
    # decoder norms: after self-attention, cross-attention, FFN
    for ours, theirs in [(0, 2), (1, 1), (2, 3)]:
        assert torch.equal(out[f'decoder.layers.1.norms.{ours}.weight'],
                           fork[f'transformer.decoder.layers.1.norm{theirs}.weight'])
    assert torch.equal(out['neck.extra_convs.0.conv.bias'], fork['input_proj.3.0.bias'])
    assert torch.equal(out['neck.convs.2.gn.weight'], fork['input_proj.2.1.weight'])
    assert torch.equal(out['backbone.norm3.running_var'], fork['backbone.0.norm3.running_var'])
    assert not any('relative_bias' in k or k.startswith('transformer.') for k in out)


def test_other_files_are_refused(tiny):
    obj, _ = tiny
    assert not is_official_dino({'state_dict': obj['model']})  # no 'model' entry
    assert not is_official_dino({'model': {k: v for k, v in obj['model'].items()
                                           if k.startswith('backbone.0.')}})
    with pytest.raises(CheckpointMismatchError, match="NVIDIA's DINO"):
        convert_official_dino({'model': {'patch_embed.conv_down.0.weight': torch.zeros(1)}})
    extra = dict(obj, model={**obj['model'], 'transformer.extra.weight': torch.zeros(1)})
    with pytest.raises(CheckpointMismatchError, match='transformer.extra.weight'):
        convert_official_dino(extra)
    model = dict(obj['model'])
    model['transformer.decoder.class_embed.1.bias'] = torch.zeros(91)
    with pytest.raises(CheckpointMismatchError, match='same shared head'):
        convert_official_dino(dict(obj, model=model))
