"""The Mask2Former configs (configs/mask2former_*_{ade20k,coco}.py): mmseg's and
mmdet's Swin-T recipes with only the backbone and what depends on it changed;
the recipes' parameter-wise settings mean for our parameters what they mean for
Swin's; each config trains a step at test size, its pixel decoder and
transformer decoder on mmcv's CPU paths."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from torch import nn

from mmfastervit import FasterViT
from mmfastervit.models.fastervit.carrier_tokens import CarrierTokenizer
from mmfastervit.models.fastervit.position import AbsolutePosition, RelativePositionBias
from mmfastervit.models.litv2.backbone import LITv2
from support.mm_batches import det_loss_step, seg_loss_step
from support.tool_runs import ROOT

UPSTREAM = {'ade20k': 'mmseg::mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py',
            'coco': 'mmdet::mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py'}
#: family -> {size: (arch, drop path rate, ImageNet file)}
VARIANTS = {
    'fastervit': {'t': ('2', 0.3, 'fastervit_2_224_1k.pth.tar'),
                  's': ('3', 0.4, 'fastervit_3_224_1k.pth.tar'),
                  'b': ('4', 0.5, 'fastervit_4_224_1k.pth.tar')},
    'litv2': {'s': ('s', 0.2, 'litv2_s.pth'), 'm': ('m', 0.2, 'litv2_m.pth'),
              'b': ('b', 0.3, 'litv2_b.pth')},
}
BACKBONES = {'fastervit': FasterViT, 'litv2': LITv2}
CONFIGS = [(family, size, dataset) for family in VARIANTS for size in VARIANTS[family]
           for dataset in UPSTREAM]
IDS = [f'mask2former_{f}_{s}_{d}' for f, s, d in CONFIGS]
#: a small architecture of each family with its stages' kinds of blocks
TINY = {'fastervit': dict(dim=16, in_dim=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8)),
        'litv2': dict(embed_dims=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8))}
NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
POSITION_TERMS = (AbsolutePosition, RelativePositionBias, CarrierTokenizer)
HEAD_EMBEDDINGS = ('query_embed', 'query_feat', 'level_embed')


def load(family, size, dataset):
    return Config.fromfile(os.path.join(ROOT, 'configs',
                                        f'mask2former_{family}_{size}_{dataset}.py'))


def head_of(model_cfg):
    return model_cfg.get('decode_head') or model_cfg.panoptic_head


def build(cfg, meta=False):
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    cfg.model.backbone.init_cfg = None  # the ImageNet file is not downloaded here
    if meta:  # names and shapes only: the multiplier test needs no values
        with torch.device('meta'):
            return MODELS.build(cfg.model)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def plain(obj):
    """``obj`` without the registry scopes (``_scope_``) that mmengine's
    loader writes into inherited dicts."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def without(d, *keys):
    return {k: v for k, v in plain(d).items() if k not in keys}


@pytest.mark.parametrize('family, size, dataset', CONFIGS, ids=IDS)
def test_config_is_the_upstream_recipe_with_our_backbone(family, size, dataset):
    """Everything but the backbone, the head's in_channels, the parameter-wise
    keys and the imports is the Swin-T recipe's; the backbone is the variant
    that our other recipes pair with Swin's tier, with its ImageNet file."""
    cfg, upstream = load(family, size, dataset), get_config(UPSTREAM[dataset])
    arch, drop_path, weights = VARIANTS[family][size]
    backbone = cfg.model.backbone
    assert backbone.type == BACKBONES[family].__name__ and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=f'checkpoints/{weights}')
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    widths = list(BACKBONES[family].resolve_arch(arch).widths)
    assert head_of(cfg.model).in_channels == widths
    assert 'mmfastervit' in cfg.custom_imports.imports
    if dataset == 'ade20k':
        assert backbone.norm_cfg.type == 'SyncBN' and 'mmdet.models' in cfg.custom_imports.imports
    else:
        assert backbone.norm_eval is True
    if family == 'fastervit':
        assert tuple(backbone.window_size) == (7, 7, 8, 16)

    assert without(head_of(cfg.model), 'in_channels') == without(head_of(upstream.model),
                                                                 'in_channels')
    assert without(cfg.model, 'backbone', 'decode_head', 'panoptic_head') == without(
        upstream.model, 'backbone', 'decode_head', 'panoptic_head')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'train_cfg', 'param_scheduler', 'default_hooks', 'auto_scale_lr'):
        assert plain(cfg[key]) == plain(upstream[key]), key
    assert without(cfg.optim_wrapper, 'paramwise_cfg') == without(upstream.optim_wrapper,
                                                                  'paramwise_cfg')
    paramwise = cfg.optim_wrapper.paramwise_cfg
    assert paramwise.norm_decay_mult == 0.0
    assert paramwise.custom_keys == cfg[f'{family}_custom_keys']
    assert not any('relative_position_bias_table' in k or 'absolute_pos_embed' in k
                   or 'patch_embed' in k for k in paramwise.custom_keys)


def expected_multipliers(model, name, family):
    """(lr_mult, decay_mult) that Swin's recipe means for parameter ``name``,
    decided by module types, not by the config's keys: the backbone at 0.1x,
    without weight decay on its norms and (FasterViT) position terms; the
    head's query / level embeddings and norms without weight decay."""
    path = name.rsplit('.', 1)[0].split('.')
    owner = model.get_submodule('.'.join(path))
    if path[0] == 'backbone':
        ancestors = [model.get_submodule('.'.join(path[:i])) for i in range(2, len(path) + 1)]
        position = any(isinstance(m, POSITION_TERMS) for m in ancestors)
        assert family == 'fastervit' or not position
        return 0.1, 0.0 if isinstance(owner, NORMS) or position else 1.0
    if any(k in name for k in HEAD_EMBEDDINGS):
        return 1.0, 0.0
    return 1.0, 0.0 if isinstance(owner, NORMS) else 1.0


@pytest.mark.parametrize('family, size, dataset', CONFIGS, ids=IDS)
def test_parameter_multipliers_mean_what_they_mean_for_swin(family, size, dataset):
    """On the built model (every variant: FasterViT-3/4 add layer scales), each
    parameter gets the learning rate and weight decay that Swin's recipe gives
    its counterpart; each key takes at least one parameter, the backbone keys
    only backbone parameters and the head keys only head parameters."""
    from mmengine.optim import build_optim_wrapper

    cfg = load(family, size, dataset)
    model = build(cfg, meta=True)
    optim = cfg.optim_wrapper
    groups = build_optim_wrapper(model, optim).optimizer.param_groups
    base_lr, base_wd = optim.optimizer.lr, optim.optimizer.weight_decay
    by_id = {id(p): g for g in groups for p in g['params']}
    named = dict(model.named_parameters())
    assert len(by_id) == len(named)
    counts = {}
    for name, param in named.items():
        group = by_id[id(param)]
        got = (group.get('lr', base_lr) / base_lr, group.get('weight_decay', base_wd) / base_wd)
        assert got == pytest.approx(expected_multipliers(model, name, family)), name

    keys = optim.paramwise_cfg.custom_keys
    order = sorted(sorted(keys), key=len, reverse=True)  # mmengine's: longest first
    for name in named:
        key = next((k for k in order if k in name), None)
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
            assert (keys[key]['lr_mult'] == 0.1) == name.startswith('backbone.'), (key, name)
    assert set(counts) == set(keys), f'keys matching no parameter: {set(keys) - set(counts)}'


@pytest.fixture
def deformable_attention_calls(monkeypatch):
    """Counts the calls of mmcv's PyTorch multi-scale deformable attention (the
    path MultiScaleDeformableAttention takes on CPU tensors); fails on a call of
    its compiled CUDA function."""
    from mmcv.ops import multi_scale_deform_attn as msda

    calls = []
    pytorch_path = msda.multi_scale_deformable_attn_pytorch

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return pytorch_path(*args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError('the CUDA kernel was called on the CPU')

    monkeypatch.setattr(msda, 'multi_scale_deformable_attn_pytorch', counted)
    monkeypatch.setattr(msda.MultiScaleDeformableAttnFunction, 'apply', refuse)
    return calls


def shrink(model_cfg, family, scope):
    """The config's model at test size: a small backbone of the family, one
    pixel-decoder layer, 3 decoder layers (one round over the 3 feature
    levels), 10 queries, 1024 sampled points, 256x256 training batches."""
    model_cfg.backbone.arch = TINY[family]
    widths = list(BACKBONES[family].resolve_arch(TINY[family]).widths)
    head = head_of(model_cfg)
    head.in_channels = widths
    head.pixel_decoder.encoder.num_layers = 1
    head.transformer_decoder.num_layers = 3
    head.num_queries = 10
    (head.train_cfg if scope == 'mmseg' else model_cfg.train_cfg).num_points = 1024
    if scope == 'mmdet':
        model_cfg.data_preprocessor.batch_augments[0].size = (256, 256)
    else:
        model_cfg.data_preprocessor.size = (256, 256)
    return model_cfg


@pytest.mark.parametrize('family, size, dataset', CONFIGS, ids=IDS)
def test_config_trains_a_step(family, size, dataset, deformable_attention_calls):
    """Each config's model, its options kept at test size, does forward /
    backward: Hungarian matching, point-sampled mask losses on every decoder
    layer, the deformable pixel decoder through mmcv's PyTorch path."""
    cfg = load(family, size, dataset)
    shrink(cfg.model, family, cfg.default_scope)
    model = build(cfg).train()
    if dataset == 'ade20k':
        assert any(type(m).__name__ == 'SyncBatchNorm' for m in model.backbone.modules())
        # labels from 4 of the 150 classes: as many instances as an ADE20K crop
        _, log_vars = seg_loss_step(model, size=256, num_classes=4)
        prefix = 'decode.'
    else:
        assert model.backbone.norm_eval
        _, _, log_vars = det_loss_step(model, sizes=((224, 256), (192, 224)))
        prefix = ''
    assert {f'{prefix}{k}' for k in ('loss_cls', 'loss_mask', 'loss_dice',
                                     'd1.loss_mask')} <= set(log_vars)
    assert len(deformable_attention_calls) == 1  # one encoder layer, three levels
    # values of the levels at strides 8, 16 and 32 of the 256x256 batch
    assert deformable_attention_calls[0][1] == 32 * 32 + 16 * 16 + 8 * 8
    stem = next(model.backbone.stem.parameters()).grad
    assert stem is not None and stem.abs().sum() > 0
    assert model.backbone.norm3.weight.grad is not None  # the output norms train too


DEMOS = {'ade20k': os.path.join(ROOT, 'configs/demo/mask2former_fastervit_synthetic_ade20k.py'),
         'coco': os.path.join(ROOT, 'configs/demo/mask2former_fastervit_synthetic_coco.py')}


def odd_sized_dataset(dataset, root):
    """Two held-out images of 187x243 (height x width) in the dataset's layout
    under ``root``; returns the data root to pass with --data-root."""
    size = ((187, 243),)
    if dataset == 'ade20k':
        from mmfastervit.datasets.synthetic_ade20k import write_split
        root = root / 'ADEChallengeData2016'
        write_split(str(root), 'validation', 2, seed=7, sizes=size)
    else:
        from mmfastervit.datasets.synthetic_coco import write_split
        write_split(str(root), 'val2017', 2, seed=7, sizes=size)
    return root


@pytest.mark.parametrize('dataset', list(DEMOS))
def test_odd_sized_images_through_tools_test(dataset, tmp_path, run_tool):
    """tools/test.py with the Mask2Former demo config (an untrained model) on
    187x243 images: the predictions come back at the images' own size, which
    mmseg's IoU metric and COCO's mask evaluation require, and are scored."""
    cfg = Config.fromfile(DEMOS[dataset])
    torch.manual_seed(0)
    model = build(cfg)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=0)), tmp_path / 'model.pth')
    root = odd_sized_dataset(dataset, tmp_path / 'data')
    res = run_tool('tools/test.py', DEMOS[dataset], tmp_path / 'model.pth', '--work-dir',
                   tmp_path / 'work', '--data-root', root, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    metric = 'mIoU: ' if dataset == 'ade20k' else 'coco/segm_mAP: '
    assert any('Iter(test)' in line and metric in line for line in log.splitlines()), log[-3000:]
