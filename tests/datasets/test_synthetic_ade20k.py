"""The synthetic ADE20K-layout dataset (mmfastervit.datasets.synthetic_ade20k)
is real ADE20K: mmseg reads it."""
import os

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from mmfastervit.datasets.synthetic_ade20k import CLASSES
from support.tool_runs import DEMO_ADE


def test_synthetic_ade20k_is_real_ade20k(ade_6_train_3_val):
    from mmseg.registry import DATASETS

    for split, n in (('training', 6), ('validation', 3)):
        images = sorted(os.listdir(os.path.join(ade_6_train_3_val, 'images', split)))
        labels = sorted(os.listdir(os.path.join(ade_6_train_3_val, 'annotations', split)))
        tag = 'train' if split == 'training' else 'val'
        assert images == [f'ADE_{tag}_{k:08d}.jpg' for k in range(1, n + 1)]
        assert labels == [i.replace('.jpg', '.png') for i in images]
        for img, lab in zip(images, labels):
            with Image.open(os.path.join(ade_6_train_3_val, 'images', split, img)) as im, \
                    Image.open(os.path.join(ade_6_train_3_val, 'annotations', split, lab)) as lm:
                assert im.format == 'JPEG' and lm.format == 'PNG' and lm.mode == 'L'
                assert im.size == lm.size
                values = np.unique(np.asarray(lm))
                assert values.min() == 0 and values.max() <= len(CLASSES) and len(values) >= 2

    cfg = Config.fromfile(DEMO_ADE)
    init_default_scope('mmseg')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = ade_6_train_3_val
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 6 and dataset.metainfo['classes'] == CLASSES
    seg = dataset[0]['data_samples'].gt_sem_seg.data
    raw = np.asarray(Image.open(dataset.get_data_info(0)['seg_map_path']))
    assert set(np.unique(seg.numpy())) <= set(range(len(CLASSES))) | {255}
    assert 255 in np.unique(seg.numpy()) and 0 in raw  # "other" (0) became ignore (255)
