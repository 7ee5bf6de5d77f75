"""The LITv2 configs: the paper's recipes (RetinaNet, Mask R-CNN, Semantic
FPN) and the FasterViT recipes (Cascade Mask R-CNN, UPerNet) build real
mmdet / mmseg models that train; layer-wise LR decay works on LITv2."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from support.mm_batches import det_loss_step, seg_loss_step
from support.tool_runs import ROOT

WIDTHS = {'s': [96, 192, 384, 768], 'm': [96, 192, 384, 768], 'b': [128, 256, 512, 1024]}
DROP_PATH = {'s': 0.2, 'm': 0.2, 'b': 0.3}  # LITV2.md, detection and segmentation
PAPER = {  # config -> (optimizer lr, scope, log key of a training step)
    'retinanet': (1e-4, 'mmdet', 'loss_cls'),
    'mask_rcnn': (2e-4, 'mmdet', 'loss_mask'),
    'fpn': (1e-4, 'mmseg', 'decode.loss_ce'),
}


def load(name):
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))
    assert cfg.custom_imports.imports == ['mmfastervit']
    assert cfg.model.backbone.type == 'LITv2'
    variant = name.removesuffix('_ws4')[-1]
    assert cfg.model.backbone.init_cfg.checkpoint == f'checkpoints/litv2_{variant}.pth'
    cfg.model.backbone.init_cfg = None  # the ImageNet file is not downloaded here
    return cfg


def build(cfg, scope, init=True):
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    if init:
        model.init_weights()
    return model


#: the released detectors with window 4 (configs/*_ws4.py): the s models'
#: training step is the window-2 one's with other windows, so it runs in the slow tier
WS4 = [pytest.param(task, variant, '_ws4',
                    marks=[pytest.mark.slow] if variant == 's' else [])
       for task in ('retinanet', 'mask_rcnn') for variant in 'smb']


@pytest.mark.parametrize('task, variant, windows', [
    (task, variant, '') for task in PAPER for variant in 'smb'] + WS4)
def test_paper_recipes(task, variant, windows):
    """COCO 1x / ADE20K 80k, AdamW with LITV2.md's learning rates, weight
    decay 1e-4; the s models train a step, m and b are built and run. The
    ``_ws4`` configs differ only in HiLo's window (4 in stage 3)."""
    lr, scope, loss_key = PAPER[task]
    cfg = load(f'{task}_litv2_{variant}{windows}')
    backbone = cfg.model.backbone
    assert backbone.arch == variant and backbone.drop_path_rate == DROP_PATH[variant]
    assert tuple(backbone.local_ws) == ((0, 0, 4, 1) if windows else (0, 0, 2, 1))
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.lr == lr
    assert optim.optimizer.weight_decay == 1e-4
    if scope == 'mmdet':
        assert cfg.train_cfg.max_epochs == 12 and optim.type == 'AmpOptimWrapper'
        assert optim.paramwise_cfg.norm_decay_mult == 0.0
        assert cfg.train_dataloader.batch_size == 2
    else:
        assert cfg.train_cfg.max_iters == 80000 and cfg.crop_size == (512, 512)
        assert cfg.param_scheduler[-1].end == 80000
    widths = WIDTHS[variant]
    if task == 'retinanet':  # FPN levels from stride 8, as the official config
        assert tuple(backbone.out_indices) == (1, 2, 3)
        assert cfg.model.neck.in_channels == widths[1:] and cfg.model.neck.start_level == 0
    else:
        assert cfg.model.neck.in_channels == widths

    model = build(cfg, scope, init=variant == 's')
    assert model.backbone.arch.name == variant
    if variant != 's':  # build-only (and the neck takes the backbone's outputs)
        with torch.no_grad():
            feats = model.neck(model.backbone(torch.randn(1, 3, 64, 64)))
        assert all(torch.isfinite(f).all() for f in feats)
        return
    model.train()
    if scope == 'mmdet':
        _, _, log_vars = det_loss_step(model)
    else:
        _, log_vars = seg_loss_step(model, size=256, num_classes=150)
    assert loss_key in log_vars
    grad = model.backbone.stem.proj.weight.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.slow  # whole Cascade Mask R-CNN / UPerNet steps: 20-30 s each on 2 cores
@pytest.mark.parametrize('name, scope, loss_key', [('cascade_litv2_s', 'mmdet', 's2.loss_mask'),
                                                   ('upernet_litv2_s', 'mmseg', 'aux.loss_ce')])
def test_fastervit_recipes_with_litv2(name, scope, loss_key):
    """Everything but the backbone is the FasterViT-2 config's."""
    cfg = load(name)
    fastervit = Config.fromfile(os.path.join(
        ROOT, 'configs', name.replace('litv2_s', 'fastervit_t') + '.py'))
    for key in ('train_cfg', 'param_scheduler', 'train_dataloader'):
        assert cfg[key] == fastervit[key], key
    assert cfg.optim_wrapper.constructor == 'PyramidLayerDecayOptimizerConstructor'
    assert {k: v for k, v in cfg.optim_wrapper.items() if k != 'constructor'} == {
        k: v for k, v in fastervit.optim_wrapper.items() if k != 'constructor'}
    for part in ('neck', 'decode_head', 'rpn_head', 'roi_head'):
        if part in cfg.model:
            assert cfg.model[part] == fastervit.model[part], part
    model = build(cfg, scope).train()
    if scope == 'mmdet':
        assert model.backbone.norm_eval
        _, _, log_vars = det_loss_step(model)
    else:
        assert type(model.backbone.stages[0].downsample.norm).__name__ == 'SyncBatchNorm'
        _, log_vars = seg_loss_step(model, size=256, num_classes=150)
    assert loss_key in log_vars


def test_layer_decay_on_litv2():
    """Stem, each block and each DTM get their layer's rate (DTM: the next
    stage's first block's); output norms and the neck the full rate; no
    weight decay on norms and biases."""
    from mmengine.optim import build_optim_wrapper

    from mmfastervit.engine.optimizers import layer_id

    cfg = load('cascade_litv2_s')
    model = build(cfg, 'mmdet')
    cfg.optim_wrapper.type = 'OptimWrapper'
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    base_lr = cfg.optim_wrapper.optimizer.lr
    rate = cfg.optim_wrapper.paramwise_cfg.decay_rate
    depths = model.backbone.arch.depths
    layers = sum(depths) + 2
    assert sorted(id(p) for g in groups for p in g['params']) == sorted(
        id(p) for p in model.parameters() if p.requires_grad)  # each exactly once
    by_id = {id(p): g for g in groups for p in g['params']}
    named = dict(model.named_parameters())

    def lr(name):
        return by_id[id(named[name])]['lr'] / base_lr

    assert lr('backbone.stem.proj.weight') == pytest.approx(rate ** (layers - 1))
    assert lr('backbone.stages.0.blocks.1.mlp.fc1.weight') == pytest.approx(rate ** (layers - 3))
    # DTM after stage 1 = stage 2's first block (1 + 2 + 2 + 0 = layer 5)
    assert layer_id('backbone.stages.1.downsample.dconv.weight', depths) == 5
    assert lr('backbone.stages.1.downsample.dconv.weight') == pytest.approx(
        lr('backbone.stages.2.blocks.0.attn.l_q.weight')) == pytest.approx(rate ** (layers - 6))
    assert lr('backbone.stages.3.blocks.1.attn.l_kv.weight') == pytest.approx(rate)
    assert lr('backbone.norm2.weight') == lr('neck.fpn_convs.0.conv.weight') == 1.0
    assert by_id[id(named['backbone.stages.2.blocks.0.norm1.weight'])]['weight_decay'] == 0
    assert by_id[id(named['backbone.stages.2.downsample.norm.weight'])]['weight_decay'] == 0
    assert by_id[id(named['backbone.stages.2.blocks.0.attn.l_q.weight'])]['weight_decay'] == 0.05


def test_layer_decay_refuses_other_backbones():
    from mmengine.optim import build_optim_wrapper
    from torch import nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(2, 2)

    cfg = dict(type='OptimWrapper', constructor='PyramidLayerDecayOptimizerConstructor',
               paramwise_cfg=dict(decay_rate=0.9), optimizer=dict(type='AdamW', lr=1e-4))
    with pytest.raises(TypeError, match=r'one of this package.s \(FasterViT, LITv2\), got Linear'):
        build_optim_wrapper(Model(), cfg)
