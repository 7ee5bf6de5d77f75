"""DINO-4scale + FasterViT in the fork's rules computes what NVIDIA's own DINO
code computes, from the same checkpoint: golden outputs of the official code
on a tiny detector with random weights (``tests/data/dino_golden``, see its
README), converted with :func:`convert_official_dino` and loaded strictly
into ``configs/dino_4scale_fastervit_4_21k_224.py`` at the golden's size."""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import load_state_dict

from mmfastervit.checkpoint import read_checkpoint
from mmfastervit.models.dense_heads.dino_checkpoint import COCO_CATEGORY_IDS, convert_official_dino
from support.dino import DINO_GOLDEN, build_detector, golden_arch, shrink_dino
from support.tool_runs import ROOT

CONFIG = os.path.join(ROOT, 'configs', 'dino_4scale_fastervit_4_21k_224.py')
CASES = ['case_1.pth', 'case_2.pth', 'case_3.pth']
IDS = list(COCO_CATEGORY_IDS)
# the golden README's tolerances for float32
FEATURES, LOGITS, BOXES, SCORES, PIXELS = 1e-4, 1e-4, 1e-5, 1e-5, 1e-3


def golden(*name):
    path = os.path.join(DINO_GOLDEN, 'tiny_local', *name)
    assert os.path.isfile(path), f'{path} is missing: the golden data is part of the checkout'
    return path


@pytest.fixture(scope='module')
def detector():
    cfg = Config.fromfile(CONFIG)
    model = build_detector(shrink_dino(cfg.model, golden_arch('tiny_local')))
    weights, _ = convert_official_dino(read_checkpoint(golden('weights.pth')))
    load_state_dict(model, weights, strict=True)
    return model.eval()


def batch(case):
    """The case's already normalised images, padded top-left into one batch
    as mmdet's data preprocessor pads (the mask it implies is the case's)."""
    from mmdet.structures import DetDataSample

    images = [im.float() for im in case['images']]
    hmax, wmax = case['batch_mask'].shape[-2:]
    inputs = images[0].new_zeros(len(images), 3, hmax, wmax)
    samples = []
    for i, im in enumerate(images):
        h, w = im.shape[-2:]
        assert (h, w) == tuple(case['image_sizes'][i].tolist())
        inputs[i, :, :h, :w] = im
        samples.append(DetDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(hmax, wmax),
            batch_input_shape=(hmax, wmax), scale_factor=(1.0, 1.0))))
        mask = torch.ones(hmax, wmax, dtype=torch.bool)
        mask[:h, :w] = False
        assert torch.equal(case['batch_mask'][i], mask)  # True = padding
    return inputs, samples


def max_err(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize('name', CASES)
def test_dino_matches_the_official_detector(detector, name):
    case = torch.load(golden(name), weights_only=True)
    inputs, samples = batch(case)
    # one pass of mmdet's own predict; the backbone's and the head's outputs on the way
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, key=key: seen.setdefault(key, out))
             for key, m in [('feats', detector.backbone), ('head', detector.bbox_head)]]
    try:
        with torch.no_grad():
            results = detector.predict(inputs, samples, rescale=False)
    finally:
        for hook in hooks:
            hook.remove()
    feats, (logits, boxes) = seen['feats'], seen['head']

    assert len(feats) == len(case['backbone_features']) == 3
    for i, (ours, theirs) in enumerate(zip(feats, case['backbone_features'])):
        assert ours.shape == theirs.shape, (i, ours.shape, theirs.shape)
        assert max_err(ours, theirs) <= FEATURES, f'{name} stage {i + 1} features'
    # decoder layers: first and last, logits on the 80 classes, normalised boxes
    for layer, theirs in [(0, case['aux_outputs'][0]), (-1, case)]:
        assert max_err(logits[layer], theirs['pred_logits'][..., IDS]) <= LOGITS, (name, layer)
        assert max_err(boxes[layer], theirs['pred_boxes']) <= BOXES, (name, layer)

    post = case['postprocess']
    for i, (res, (h, w)) in enumerate(zip(results, case['image_sizes'].tolist())):
        det = res.pred_instances
        labels = torch.tensor(IDS)[det.labels]  # mmdet label -> COCO category id
        assert torch.equal(labels, post['labels'][i]), f'{name} image {i}: labels'
        assert max_err(det.scores, post['scores'][i]) <= SCORES, f'{name} image {i}: scores'
        theirs = post['boxes'][i].clone()  # the fork does not clip; mmdet does
        theirs[:, 0::2] = theirs[:, 0::2].clamp(0, w)
        theirs[:, 1::2] = theirs[:, 1::2].clamp(0, h)
        assert max_err(det.bboxes, theirs) <= PIXELS, f'{name} image {i}: boxes'
