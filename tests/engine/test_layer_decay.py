"""Layer-wise LR decay (mmfastervit.engine.optimizers): layer ids follow
stages and blocks; the optimizer groups of a real detector."""
import os

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfastervit.engine.optimizers import layer_id
from support.tool_runs import DEMO_COCO, ROOT


# ------------------------------------------------------------ layer decay
def test_layer_ids_follow_stages_and_blocks():
    depths = (2, 3, 6, 5)
    assert layer_id('backbone.stem.conv1.weight', depths) == 0
    assert layer_id('backbone.stages.0.blocks.0.conv1.weight', depths) == 1
    assert layer_id('backbone.stages.1.blocks.2.conv1.weight', depths) == 1 + 2 + 2
    assert layer_id('backbone.stages.0.downsample.conv.weight', depths) == 1 + 2
    assert layer_id('backbone.stages.2.tokenizer.pos_conv.weight', depths) == 1 + 5
    assert layer_id('backbone.stages.3.blocks.4.local.mlp.fc2.weight', depths) == 16
    assert layer_id('backbone.norm3.weight', depths) == 17
    assert layer_id('neck.fpn_convs.0.conv.weight', depths) == 17
    assert layer_id('backbone.stages.2.blocks.0.local.attn.qkv.weight', depths, 'stage_wise') == 3


def test_layer_decay_optimizer_groups():
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper

    cfg = Config.fromfile(os.path.join(ROOT, 'configs/cascade_fastervit_n.py'))
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    cfg.optim_wrapper.type = 'OptimWrapper'
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = wrapper.optimizer.param_groups
    base_lr, rate = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.paramwise_cfg.decay_rate
    num_layers = sum(model.backbone.arch.depths) + 2
    seen = [id(p) for g in groups for p in g['params']]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(seen) == sorted(trainable)  # every parameter exactly once
    by_id = {id(p): g for g in groups for p in g['params']}
    stem = by_id[id(model.backbone.stem.conv1.weight)]
    assert stem['lr'] == pytest.approx(base_lr * rate ** (num_layers - 1))
    assert by_id[id(model.neck.fpn_convs[0].conv.weight)]['lr'] == pytest.approx(base_lr)
    assert by_id[id(model.backbone.stem.norm1.weight)]['weight_decay'] == 0
    assert by_id[id(model.backbone.stem.conv1.weight)]['weight_decay'] == 0.05
    lrs = [by_id[id(model.backbone.stages[i].blocks[0].conv1.weight if i < 2 else
                    model.backbone.stages[i].blocks[0].local.attn.qkv.weight)]['lr']
           for i in range(4)]
    assert lrs == sorted(lrs) and len(set(lrs)) == 4  # deeper stages learn faster


def test_layer_decay_rejects_unknown_keys_and_takes_default_weight_decay():
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper

    cfg = Config.fromfile(DEMO_COCO)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    bad = dict(type='OptimWrapper', constructor='PyramidLayerDecayOptimizerConstructor',
               paramwise_cfg=dict(decay_rate=0.9, norm_decay_mult=0.0),
               optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
    with pytest.raises(ValueError, match=r"not \['norm_decay_mult'\]"):
        build_optim_wrapper(model, bad)
    no_wd = dict(bad, paramwise_cfg=dict(decay_rate=0.9),
                 optimizer=dict(type='AdamW', lr=1e-4))  # AdamW's default weight decay
    groups = build_optim_wrapper(model, no_wd).optimizer.param_groups
    assert {g['weight_decay'] for g in groups} == {0.0, 0.01}


def test_the_old_constructor_name_is_a_deprecated_alias():
    """``FasterViTLayerDecayOptimizerConstructor`` (early FasterViT configs)
    builds the same groups as ``PyramidLayerDecayOptimizerConstructor`` and
    says that it is deprecated."""
    from mmengine.optim import build_optim_wrapper
    from torch import nn

    from mmfastervit import FasterViT
    model = nn.Module()
    model.backbone = FasterViT(dict(dim=16, depths=(1, 1, 2, 1), num_heads=(1, 1, 2, 2)))
    model.head = nn.Linear(4, 2)
    wrapper = dict(type='OptimWrapper', paramwise_cfg=dict(decay_rate=0.9),
                   optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
    new = build_optim_wrapper(
        model, dict(wrapper, constructor='PyramidLayerDecayOptimizerConstructor'))
    with pytest.warns(DeprecationWarning, match='PyramidLayerDecayOptimizerConstructor'):
        old = build_optim_wrapper(
            model, dict(wrapper, constructor='FasterViTLayerDecayOptimizerConstructor'))
    summary = [[(g['lr'], g['weight_decay'], len(g['params'])) for g in w.optimizer.param_groups]
               for w in (new, old)]
    assert summary[0] == summary[1] and len(summary[0]) > 2
