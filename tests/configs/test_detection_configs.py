"""COCO instance segmentation: configs, synthetic data, layer decay, tools."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from mm_batches import det_loss_step
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from mmfastervit.datasets.synthetic_coco import CLASSES, make_synthetic_coco
from mmfastervit.engine.optimizers import layer_id

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, 'configs/demo/cascade_fastervit_synthetic_coco.py')
DET_CONFIGS = ['cascade_fastervit_n', 'cascade_fastervit_t', 'cascade_fastervit_s',
               'cascade_fastervit_b']


def run_tool(*args, cwd=ROOT, timeout=900):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    make_synthetic_coco(str(root), num_train=8, num_val=4, seed=3)
    return str(root)


# ---------------------------------------------------------------- configs
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


# ------------------------------------------------------------ synthetic data
def test_synthetic_coco_is_real_coco(tiny_coco):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    for split, n in (('train2017', 8), ('val2017', 4)):
        path = os.path.join(tiny_coco, 'annotations', f'instances_{split}.json')
        coco = COCO(path)
        raw = json.load(open(path))
        assert set(raw) >= {'images', 'annotations', 'categories', 'info', 'licenses'}
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
        assert len(coco.imgs) == n and len(coco.anns) >= n
        for img in coco.imgs.values():
            with Image.open(os.path.join(tiny_coco, split, img['file_name'])) as im:
                assert im.format == 'JPEG' and im.size == (img['width'], img['height'])
        for ann in coco.anns.values():
            img = coco.imgs[ann['image_id']]
            x, y, w, h = ann['bbox']
            assert ann['iscrowd'] == 0 and isinstance(ann['segmentation'], list)
            assert 0 <= x and 0 <= y and x + w <= img['width'] and y + h <= img['height']
            mask = coco.annToMask(ann)
            assert abs(mask.sum() - ann['area']) <= 1
            ys, xs = np.nonzero(mask)  # the box is tight around the mask
            assert abs(xs.min() - x) <= 1.5 and abs(xs.max() + 1 - (x + w)) <= 1.5
            assert abs(ann['area'] - mask_utils.area(coco.annToRLE(ann))) <= 1e-6


def test_mmdet_reads_the_synthetic_dataset(tiny_coco):
    from mmdet.registry import DATASETS

    cfg = Config.fromfile(DEMO)
    init_default_scope('mmdet')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = tiny_coco + '/'
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 8 and dataset.metainfo['classes'] == CLASSES
    sample = dataset[0]
    inst = sample['data_samples'].gt_instances
    assert len(inst) > 0 and inst.masks.masks.shape[0] == len(inst)


# ------------------------------------------------------------ tool errors
def test_missing_dataset_fails_at_once_with_a_fix(tmp_path):
    res = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', 'train_dataloader.dataset.data_root=/no/such/coco/')
    assert res.returncode == 2, res.stderr
    err = res.stderr
    assert 'error: train_dataloader: CocoDataset needs /no/such/coco/annotations/' in err
    assert 'make_synthetic_coco.py /no/such/coco' in err and 'Traceback' not in err
    assert not (tmp_path / 'w').exists()  # nothing was built


def test_unknown_variant_fails_at_once(tmp_path, tiny_coco):
    res = run_tool('tools/train.py', DEMO, '--work-dir', str(tmp_path / 'w'),
                   '--cfg-options', 'model.backbone.arch=9',
                   f'train_dataloader.dataset.data_root={tiny_coco}/')
    assert res.returncode == 2
    assert re.search(r"error: model\.backbone: unknown FasterViT arch '?9'?;", res.stderr)
    assert "'4-21k-224'" in res.stderr and not (tmp_path / 'w').exists()


def test_missing_checkpoint_in_test_tool(tmp_path, tiny_coco):
    res = run_tool('tools/test.py', DEMO, str(tmp_path / 'nope.pth'),
                   '--cfg-options', f'test_dataloader.dataset.data_root={tiny_coco}/')
    assert res.returncode == 2 and "checkpoint '" in res.stderr and 'does not exist' in res.stderr


def test_layer_decay_rejects_unknown_keys_and_takes_default_weight_decay():
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper

    cfg = Config.fromfile(DEMO)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    bad = dict(type='OptimWrapper', constructor='FasterViTLayerDecayOptimizerConstructor',
               paramwise_cfg=dict(decay_rate=0.9, norm_decay_mult=0.0),
               optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05))
    with pytest.raises(ValueError, match=r"not \['norm_decay_mult'\]"):
        build_optim_wrapper(model, bad)
    no_wd = dict(bad, paramwise_cfg=dict(decay_rate=0.9),
                 optimizer=dict(type='AdamW', lr=1e-4))  # AdamW's default weight decay
    groups = build_optim_wrapper(model, no_wd).optimizer.param_groups
    assert {g['weight_decay'] for g in groups} == {0.0, 0.01}


def test_missing_imagenet_checkpoint_fails_at_once(tmp_path, tiny_coco):
    res = run_tool('tools/train.py', os.path.join(ROOT, 'configs/cascade_fastervit_t.py'),
                   '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                   f'train_dataloader.dataset.data_root={tiny_coco}/',
                   f'val_dataloader.dataset.data_root={tiny_coco}/')
    assert res.returncode == 2
    assert "model.backbone.init_cfg checkpoint (download the official file" in res.stderr
    assert "'checkpoints/fastervit_2_224_1k.pth.tar' does not exist" in res.stderr
    assert not (tmp_path / 'w').exists()


def test_demo_never_deletes_a_directory_it_did_not_make(tmp_path):
    data = tmp_path / 'my_real_coco'
    data.mkdir()
    (data / 'precious.json').write_text('{}')
    res = run_tool('tools/demo.py', 'coco', '--data-root', str(data),
                   '--work-dir', str(tmp_path / 'w'))
    assert res.returncode != 0 and 'was not made by this demo' in res.stderr
    assert (data / 'precious.json').exists()
