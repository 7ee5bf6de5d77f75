"""Datasets that are not where a config says are found before anything is
built (mmfastervit.cli.preflight), and --data-root moves them all."""
import os
import re

import pytest
from mmengine.config import Config

from mmfastervit.cli.preflight import dataset_settings, move_data_root, preflight
from mmfastervit.errors import ConfigError
from support.tool_runs import ADE_SETTINGS, COCO_SETTINGS, DEMO_ADE, DEMO_COCO, ROOT


# ------------------------------------------------------------ datasets (preflight)
def _moved(config, root):
    cfg = Config.fromfile(config)
    move_data_root(cfg, root)
    return cfg


@pytest.mark.parametrize('config, mode, setting', [
    (DEMO_COCO, 'train', 'train_dataloader.dataset.data_root'),
    (DEMO_COCO, 'train', 'val_dataloader.dataset.data_root'),
    (DEMO_COCO, 'train', 'val_evaluator.ann_file'),
    (DEMO_COCO, 'test', 'test_dataloader.dataset.data_root'),
    (DEMO_COCO, 'test', 'test_evaluator.ann_file'),
    (DEMO_ADE, 'train', 'train_dataloader.dataset.data_root'),
    (DEMO_ADE, 'train', 'val_dataloader.dataset.data_root'),
    (DEMO_ADE, 'test', 'test_dataloader.dataset.data_root'),
])
def test_preflight_names_every_file_a_run_opens(tiny_coco, tiny_ade, config, mode, setting):
    """Each dataset and evaluator file is checked before anything is built;
    the message names the missing path, the loader or evaluator, and every
    setting that moves a dataset (or --data-root, which moves them all)."""
    coco = config == DEMO_COCO
    cfg = _moved(config, tiny_coco if coco else tiny_ade)
    preflight(cfg, mode)  # everything in place: passes
    cfg.merge_from_dict({setting: '/nowhere/x' + ('.json' if 'ann_file' in setting else '/')})
    with pytest.raises(ConfigError) as err:
        preflight(cfg, mode)
    msg = str(err.value)
    assert msg.startswith(setting.split('.')[0] + ':') and '/nowhere/x' in msg, msg
    assert '--data-root DIR' in msg and '\n' not in msg
    for key in (COCO_SETTINGS if coco else ADE_SETTINGS):
        assert key in msg, (key, msg)


# ------------------------------------------------------------ dataloader settings
@pytest.mark.parametrize('mode, settings, says', [
    ('train', {'train_dataloader.num_workers': 0},
     ['train_dataloader: persistent_workers=True needs data-loading processes, but '
      'num_workers=0', '--cfg-options train_dataloader.persistent_workers=False']),
    ('train', {'val_dataloader.num_workers': 0},
     ['val_dataloader: persistent_workers=True', 'val_dataloader.persistent_workers=False']),
    ('test', {'test_dataloader.num_workers': 0},
     ['test_dataloader: persistent_workers=True', 'test_dataloader.persistent_workers=False']),
    ('train', {'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
               'train_dataloader.prefetch_factor': 4},
     ['train_dataloader: prefetch_factor=4 needs data-loading processes',
      'train_dataloader.prefetch_factor=None']),
    ('train', {'train_dataloader.num_workers': -1},
     ['train_dataloader.num_workers=-1: the number of data-loading processes is 0',
      'train_dataloader.num_workers=0']),
    ('train', {'train_dataloader.prefetch_factor': -2},
     ['train_dataloader.prefetch_factor=-2', 'prefetch_factor=2 (the default)']),
    ('train', {'val_dataloader.batch_size': 0},
     ['val_dataloader.batch_size=0: a batch holds 1 image or more']),
    ('test', {'test_dataloader.timeout': -1}, ['test_dataloader.timeout=-1', 'timeout=0']),
])
def test_preflight_names_dataloader_settings_pytorch_refuses(tiny_coco, mode, settings, says):
    """Settings PyTorch's DataLoader raises on (after the model is built, as
    a traceback) are one message naming the fix; the fix it names passes."""
    cfg = _moved(DEMO_COCO, tiny_coco)
    cfg.merge_from_dict(settings)
    with pytest.raises(ConfigError) as err:
        preflight(cfg, mode)
    msg = str(err.value)
    assert '\n' not in msg and '. To fix: --cfg-options ' in msg, msg
    assert all(s in msg for s in says), msg
    named = re.findall(r'(\w+_dataloader\.\w+)=(False|None)\b', msg)
    for key, value in named:  # the settings it names to switch off
        cfg.merge_from_dict({key: None if value == 'None' else False})
    if named:
        preflight(cfg, mode)  # with them, num_workers=0 runs


def test_data_root_moves_every_dataset_and_evaluator_file(tiny_coco, tiny_ade):
    """--data-root: every dataloader's dataset (inside wrappers too) and the
    evaluators' files under the old root (one metric or a list) move."""
    cfg = Config.fromfile(DEMO_COCO)
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2,
                                        dataset=cfg.train_dataloader.dataset)
    cfg.val_evaluator = [cfg.val_evaluator, dict(cfg.val_evaluator, metric='bbox')]
    with pytest.raises(ConfigError, match=r'val_evaluator\.1: CocoMetric reads ann_file'):
        cfg2 = Config.fromfile(DEMO_COCO)
        cfg2.val_evaluator = [dict(cfg2.val_evaluator, ann_file=tiny_coco + '/annotations/'
                                   'instances_val2017.json'), cfg2.val_evaluator]
        move_data_root(cfg2, tiny_coco)
        cfg2.val_evaluator[1]['ann_file'] = '/nowhere/a.json'
        preflight(cfg2, 'train')
    moved = move_data_root(cfg, tiny_coco)
    assert moved == dataset_settings(cfg)
    assert 'train_dataloader.dataset.dataset.data_root' in moved
    assert {'val_evaluator.0.ann_file', 'val_evaluator.1.ann_file'} <= set(moved)
    ann = os.path.join(tiny_coco, 'annotations/instances_val2017.json')
    assert [m['ann_file'] for m in cfg.val_evaluator] == [ann, ann]
    preflight(cfg, 'train')
    preflight(cfg, 'test')
    ade = _moved(DEMO_ADE, tiny_ade)
    assert ade.train_dataloader.dataset.data_root == tiny_ade + '/'
    preflight(ade, 'train')


def test_seg_prefix_is_checked_only_where_the_pipeline_reads_it(tiny_coco):
    """mmdet's Mask2Former instance recipe inherits data_prefix.seg (COCO's
    panoptic PNGs) from its panoptic base and never reads it: a COCO without
    them trains; a pipeline that loads them needs the folder."""
    cfg = _moved(os.path.join(ROOT, 'configs/demo/mask2former_fastervit_synthetic_coco.py'),
                 tiny_coco)
    assert cfg.train_dataloader.dataset.data_prefix.seg == 'annotations/panoptic_train2017/'
    preflight(cfg, 'train')
    cfg.train_dataloader.dataset.pipeline[1]['with_seg'] = True
    with pytest.raises(ConfigError, match='annotations/panoptic_train2017/, which does not'):
        preflight(cfg, 'train')
