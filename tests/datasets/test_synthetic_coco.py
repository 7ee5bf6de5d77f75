"""The synthetic COCO-layout dataset (mmfastervit.datasets.synthetic_coco) is
real COCO: pycocotools and mmdet read it."""
import json
import os

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from mmfastervit.datasets.synthetic_coco import CLASSES
from support.tool_runs import DEMO_COCO


def test_synthetic_coco_is_real_coco(tiny_coco_seed3):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    for split, n in (('train2017', 8), ('val2017', 4)):
        path = os.path.join(tiny_coco_seed3, 'annotations', f'instances_{split}.json')
        coco = COCO(path)
        raw = json.load(open(path))
        assert set(raw) >= {'images', 'annotations', 'categories', 'info', 'licenses'}
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
        assert len(coco.imgs) == n and len(coco.anns) >= n
        for img in coco.imgs.values():
            with Image.open(os.path.join(tiny_coco_seed3, split, img['file_name'])) as im:
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


def test_mmdet_reads_the_synthetic_dataset(tiny_coco_seed3):
    from mmdet.registry import DATASETS

    cfg = Config.fromfile(DEMO_COCO)
    init_default_scope('mmdet')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = tiny_coco_seed3 + '/'
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) == 8 and dataset.metainfo['classes'] == CLASSES
    sample = dataset[0]
    inst = sample['data_samples'].gt_instances
    assert len(inst) > 0 and inst.masks.masks.shape[0] == len(inst)
