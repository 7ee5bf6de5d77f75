"""COCO instance segmentation configs (configs/cascade_fastervit_*.py) build
real mmdet models that train."""
import os

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from support.mm_batches import det_loss_step
from support.tool_runs import ROOT

DET_CONFIGS = ['cascade_fastervit_n', 'cascade_fastervit_t', 'cascade_fastervit_s',
               'cascade_fastervit_b']


# ---------------------------------------------------------------- configs
@pytest.mark.slow  # a whole Cascade Mask R-CNN step: 30-100 s each on 2 cores
@pytest.mark.parametrize('name', DET_CONFIGS)
def test_detection_config_builds_and_trains_a_step(name):
    """Each shipped config's own model (its backbone variant, windows, heads,
    SyncBN included) does forward/backward on two differently sized images."""
    from mmdet.registry import MODELS

    cfg = Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))
    assert cfg.model.backbone.type == 'FasterViT'
    assert cfg.train_cfg.max_epochs == 36 and cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train2017.json'
    assert cfg.model.backbone.init_cfg.checkpoint.startswith('checkpoints/fastervit_')
    cfg.model.backbone.init_cfg = None  # the ImageNet file is not downloaded here
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    _, _, log_vars = det_loss_step(model)
    assert 's2.loss_mask' in log_vars
    stem = model.backbone.stem.conv1.weight.grad
    assert stem is not None and stem.abs().sum() > 0


def test_window_sizes_are_stated_for_coco_inputs():
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/cascade_fastervit_t.py'))
    assert tuple(cfg.model.backbone.window_size) == (7, 7, 7, 14)
    text = open(os.path.join(ROOT, 'configs/cascade_fastervit_t.py')).read()
    assert '800x1333' in text and 'window' in text
