"""The paper recipes with mmdet's and mmseg's own tools/train.py and tools/test.py
(shipped in their packages under ``.mim/tools``), not ours: the configs carry
everything they need (custom_imports), and the checkpoints those tools save load
back through torch's weights-only loader. LITv2 configs, on tiny synthetic data."""
import os
import re

import mmdet
import mmseg
import pytest
import torch

from mmfastervit.datasets.synthetic_ade20k import make_synthetic_ade20k
from mmfastervit.datasets.synthetic_coco import CLASSES, make_synthetic_coco
from support.tool_runs import run_tool

NO_IMAGENET = 'model.backbone.init_cfg=None'  # the ImageNet file is not downloaded here


def upstream_tool(package, name: str) -> str:
    path = os.path.join(os.path.dirname(package.__file__), '.mim', 'tools', name)
    assert os.path.isfile(path), f'{package.__name__} ships no {path}'
    return path


def run(tool: str, *args: str) -> str:
    res = run_tool(tool, *args, timeout=1200)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    return log


def data_options(root: str, evaluator_file: str = '') -> list:
    options = [f'{split}_dataloader.dataset.data_root={root}/'
               for split in ('train', 'val', 'test')]
    if evaluator_file:
        options += [f'{split}_evaluator.ann_file={root}/{evaluator_file}'
                    for split in ('val', 'test')]
    return options


@pytest.mark.slow
def test_mmdet_tools_train_and_test_mask_rcnn_litv2(tmp_path):
    """mask_rcnn_litv2_s.py (COCO 1x, AdamW): one epoch of 2 images with
    mmdet's train.py, then mmdet's test.py on the epoch checkpoint."""
    data = tmp_path / 'coco'
    make_synthetic_coco(str(data), num_train=2, num_val=2, seed=3)
    work = tmp_path / 'work'
    config = 'configs/mask_rcnn_litv2_s.py'
    classes = f"({','.join(CLASSES)})"  # a custom dataset's classes, as users set them
    common = [*data_options(str(data), 'annotations/instances_val2017.json'), NO_IMAGENET,
              *[f'{split}_dataloader.dataset.metainfo.classes={classes}'
                for split in ('train', 'val', 'test')],
              f'model.roi_head.bbox_head.num_classes={len(CLASSES)}',
              f'model.roi_head.mask_head.num_classes={len(CLASSES)}',
              'optim_wrapper.type=OptimWrapper']  # the recipe's fp16 wrapper needs a GPU
    log = run(upstream_tool(mmdet, 'train.py'), config, '--work-dir', str(work),
              '--cfg-options', *common, 'train_cfg.max_epochs=1',
              'train_dataloader.batch_size=1', 'default_hooks.logger.interval=1')
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\]', log), log[-3000:]
    assert 'coco/bbox_mAP' in log  # validated with pycocotools after the epoch
    saved = torch.load(work / 'epoch_1.pth', map_location='cpu')
    assert saved['meta']['epoch'] == 1
    assert any(k.startswith('backbone.stages.2.blocks.') for k in saved['state_dict'])

    log = run(upstream_tool(mmdet, 'test.py'), config, str(work / 'epoch_1.pth'),
              '--work-dir', str(tmp_path / 'test'), '--cfg-options', *common)
    assert re.search(r'Epoch\(test\).*coco/bbox_mAP: -?[\d.]+.*coco/segm_mAP: -?[\d.]+', log), \
        log[-3000:]


@pytest.mark.slow
def test_mmseg_tools_train_and_test_semantic_fpn_litv2(tmp_path):
    """fpn_litv2_s.py (Semantic FPN, ADE20K 80k, 512x512 crops): two iterations
    with mmseg's train.py, then mmseg's test.py on the checkpoint."""
    data = tmp_path / 'ADEChallengeData2016'
    make_synthetic_ade20k(str(data), num_train=2, num_val=2, seed=4)
    work = tmp_path / 'work'
    config = 'configs/fpn_litv2_s.py'
    common = [*data_options(str(data)), NO_IMAGENET]
    log = run(upstream_tool(mmseg, 'train.py'), config, '--work-dir', str(work),
              '--cfg-options', *common, 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
              'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=1',
              'default_hooks.logger.interval=1')
    assert re.search(r'Iter\(train\)\s+\[2/2\]', log), log[-3000:]
    saved = torch.load(work / 'iter_2.pth', map_location='cpu')
    assert saved['meta']['iter'] == 2
    assert any(k.startswith('backbone.stages.2.blocks.') for k in saved['state_dict'])

    log = run(upstream_tool(mmseg, 'test.py'), config, str(work / 'iter_2.pth'),
              '--work-dir', str(tmp_path / 'test'), '--cfg-options', *common)
    assert re.search(r'Iter\(test\).*mIoU: [\d.]+', log), log[-3000:]
