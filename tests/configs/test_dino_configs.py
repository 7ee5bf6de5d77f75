"""The DINO configs (configs/dino_4scale_fastervit_*.py): mmdet 3.3's DINO with
NVIDIA's DINO recipe; each builds a real mmdet model (at test size) that
trains a step."""
import os

import pytest
from mmengine.config import Config

from mmfastervit import FasterViT
from support.dino import build_detector, golden_arch, shrink_dino
from support.mm_batches import det_loss_step
from support.tool_runs import ROOT

RELEASED = 'dino_4scale_fastervit_4_21k_224'
#: config -> (variant, the detection code's backbone rules)
CONFIGS = {RELEASED: ('4-21k-224', True),
           **{f'dino_4scale_fastervit_{v}': (v, False) for v in '01234'}}


def load(name):
    return Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))


@pytest.mark.parametrize('name', list(CONFIGS))
def test_dino_config_is_the_official_recipe(name):
    variant, fork_rules = CONFIGS[name]
    cfg = load(name)
    assert 'mmfastervit.models.dense_heads.dino_head' in cfg.custom_imports.imports
    model, backbone = cfg.model, cfg.model.backbone
    # NVIDIA's DINO-4scale settings on mmdet's DINO
    assert model.type == 'DINO' and model.num_queries == 900
    assert model.test_cfg.max_per_img == 300 and model.bbox_head.num_classes == 80
    assert model.bbox_head.type == 'ForkDINOHead' and model.dn_cfg.box_noise_scale == 0.4
    assert model.encoder.num_layers == model.decoder.num_layers == 6
    assert model.encoder.layer_cfg.ffn_cfg.feedforward_channels == 2048
    assert model.neck.type == 'ChannelMapper' and model.neck.bias is True
    assert model.neck.num_outs == 4
    # its training recipe
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.lr == 1e-4
    assert optim.optimizer.weight_decay == 1e-4 and optim.clip_grad.max_norm == 0.1
    assert optim.paramwise_cfg.custom_keys == {'backbone': {'lr_mult': 0.1}}
    assert cfg.train_cfg.max_epochs == 12 and cfg.param_scheduler[0].milestones == [11]
    assert cfg.train_dataloader.batch_size == 2
    # the backbone
    assert backbone.type == 'FasterViT' and backbone.arch == variant
    assert tuple(backbone.out_indices) == (1, 2, 3) and backbone.norm_eval is False
    assert backbone.drop_path_rate == 0.1 and backbone.with_cp is True
    assert (backbone.window_padding, backbone.window_position) == (
        ('every_stage', 'cells') if fork_rules else ('masked', 'axis'))
    assert (backbone.out_norm_cfg is not None) == fork_rules
    arch = FasterViT.resolve_arch(variant)
    assert list(model.neck.in_channels) == list(arch.widths[1:])
    assert backbone.init_cfg.checkpoint.startswith('checkpoints/fastervit_')


@pytest.mark.parametrize('name', list(CONFIGS))
def test_dino_config_trains_a_step(name):
    """Each config's model, its options kept and the golden's tiny
    architecture (carrier tokens in stage 3 for the ImageNet-1K variants, as
    theirs), does forward/backward with denoising queries on two images."""
    cfg = load(name)
    arch = golden_arch('tiny_local')
    if not CONFIGS[name][1]:
        arch['fastervit'].update(window_size=[7, 7, 7, 7], hat=[False, False, True, False])
    model_cfg = shrink_dino(cfg.model, arch)
    for part in ('encoder', 'decoder'):  # one layer each, fewer queries: a smoke step
        model_cfg[part].num_layers = 1
    model_cfg.num_queries = model_cfg.test_cfg.max_per_img = 30
    model_cfg.dn_cfg.group_cfg.num_dn_queries = 12
    model = build_detector(model_cfg)
    model.init_weights()
    model.train()
    # small images (not multiples of the windows): the deformable attention's
    # backward on CPU dominates the step and grows with the pixels
    _, _, log_vars = det_loss_step(model, sizes=((160, 200), (136, 176)))
    assert {'loss_cls', 'loss_bbox', 'dn_loss_cls', 'enc_loss_cls'} <= set(log_vars)
    stem = model.backbone.stem.conv1.weight.grad
    assert stem is not None and stem.abs().sum() > 0
    assert model.backbone.norm1.weight.grad is not None  # the output norms train too
