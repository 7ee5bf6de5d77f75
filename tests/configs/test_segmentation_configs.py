"""ADE20K semantic segmentation configs (configs/upernet_fastervit_*.py) build
real mmseg models that train; the demo UPerNet's whole and slide inference."""
import os

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

from mmfastervit.datasets.synthetic_ade20k import CLASSES
from support.mm_batches import seg_loss_step
from support.tool_runs import DEMO_ADE, ROOT

SEG_CONFIGS = ['upernet_fastervit_t', 'upernet_fastervit_s', 'upernet_fastervit_b']


def build(cfg):
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


@pytest.mark.slow  # a whole UPerNet step: 25-50 s each on 2 cores
@pytest.mark.parametrize('name', SEG_CONFIGS)
def test_segmentation_config_builds_and_trains_a_step(name):
    """Each shipped config's own UPerNet (+ auxiliary FCN head, its backbone
    variant and windows) does forward/backward on a 512x512 batch."""
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', f'{name}.py'))
    assert cfg.crop_size == (512, 512) and cfg.train_cfg.max_iters == 160000
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.model.auxiliary_head.type == 'FCNHead'
    assert cfg.train_dataloader.dataset.data_root == 'data/ade/ADEChallengeData2016'
    assert cfg.train_dataloader.dataset.data_prefix.img_path == 'images/training'
    cfg.model.backbone.init_cfg = None  # the ImageNet file is not downloaded here
    model = build(cfg).train()
    _, log_vars = seg_loss_step(model, size=512, num_classes=150)
    assert 'aux.loss_ce' in log_vars
    assert model.backbone.stem.conv1.weight.grad.abs().sum() > 0


def test_window_sizes_are_stated_for_512_crops():
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/upernet_fastervit_t.py'))
    assert tuple(cfg.model.backbone.window_size) == (7, 7, 8, 16)
    assert '512x512' in open(os.path.join(ROOT, 'configs/upernet_fastervit_t.py')).read()


@pytest.fixture(scope='module')
def small_segmentor():
    cfg = Config.fromfile(DEMO_ADE)
    torch.manual_seed(0)
    return cfg, build(cfg).eval()


def _predict(model, h, w):
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)],
             data_samples=[sample]), training=False)
    with torch.no_grad():
        return model(**data, mode='predict')[0].pred_sem_seg.data


def test_sliding_window_inference_on_a_large_image(small_segmentor):
    _, model = small_segmentor
    model.test_cfg = ConfigDict(mode='slide', crop_size=(256, 256), stride=(171, 171))
    pred = _predict(model, 1024, 2048)
    assert pred.shape == (1, 1024, 2048)
    assert pred.min() >= 0 and pred.max() < len(CLASSES)


def test_whole_inference_on_odd_non_square_image(small_segmentor):
    _, model = small_segmentor
    model.test_cfg = ConfigDict(mode='whole')
    assert _predict(model, 333, 517).shape == (1, 333, 517)
