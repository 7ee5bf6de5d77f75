"""The released LITv2 detectors and segmentor, scaled down, equal the official
ones: our configs (``retinanet_litv2_s``, ``mask_rcnn_litv2_s``,
``fpn_litv2_s``) with the tiny golden arch and widths, loaded with the official
whole-model file through mmengine's loader (converted on the fly), give the
official backbone features, neck outputs (5e-4) and detections / class maps
(``tests/data/litv2_golden/<model>_tiny``; see its README)."""
import json

import numpy as np
import pytest
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import load_checkpoint

from support.litv2_released import (
    build_model,
    golden,
    official_model_dict,
    tiny_config,
)

FEAT_TOL = 5e-4  # RELEASED.md: fp32 vs fp32, features and neck outputs
CASES = {'retinanet': 'case_256x320', 'mask_rcnn': 'case_256x320', 'fpn': 'case_256x256'}


def build(kind):
    cfg = tiny_config(kind)
    ref = official_model_dict(kind)
    for key in ('test_cfg', 'data_preprocessor'):  # as released: the config's own
        assert json.loads(json.dumps(cfg.model[key].to_dict())) == ref[key], key
    return revert_sync_batchnorm(build_model(cfg))  # the FPN head's SyncBN, one process


def box_iou(a, b):
    lt, rb = torch.max(a[:, None, :2], b[None, :, :2]), torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (a[:, 2:] - a[:, :2]).prod(-1)[:, None] + (b[:, 2:] - b[:, :2]).prod(-1)[None]
    return inter / (area - inter)


def match_detections(ours, ref):
    """Pairs (ours, ref) of equal label and IoU >= 0.99, greedily by IoU;
    returns them and the unmatched reference indices."""
    iou = box_iou(ours.bboxes, ref['bboxes'])
    iou[ours.labels[:, None] != ref['labels'][None, :]] = 0
    pairs, used = [], set()
    for j in range(len(ref['labels'])):
        cand = [(iou[i, j].item(), i) for i in range(len(ours.labels)) if i not in used]
        best = max(cand, default=(0, None))
        if best[0] >= 0.99:
            pairs.append((best[1], j))
            used.add(best[1])
    return pairs, sorted(set(range(len(ref['labels']))) - {j for _, j in pairs})


def check_close(name, ours, ref, tol=FEAT_TOL):
    assert len(ours) == len(ref), name
    for i, (o, r) in enumerate(zip(ours, ref)):
        assert o.shape == r.shape, (name, i, o.shape, r.shape)
        err = (o - r).abs().max().item()
        assert err <= tol, f'{name} {i}: max-abs difference {err:.2e} > {tol}'


@pytest.mark.parametrize('kind', list(CASES))
def test_released_structure_gives_the_official_outputs(kind, tools_environment):
    model = build(kind)
    # the official whole-model file, as released: converted on the fly, strictly
    load_checkpoint(model, golden(kind, 'weights.pth'), map_location='cpu', strict=True)
    model.eval()
    case = torch.load(golden(kind, f'{CASES[kind]}.pth'), weights_only=True)
    if kind == 'fpn':
        from mmseg.structures import SegDataSample as Sample
    else:
        from mmdet.structures import DetDataSample as Sample
    samples = [Sample(metainfo=dict(m)) for m in case['metainfo']]
    data = model.data_preprocessor(dict(inputs=list(case['raw_images']),
                                        data_samples=samples), False)
    with torch.no_grad():
        feats = model.backbone(data['inputs'])
        # RetinaNet's stage 0 is computed but unused by the official FPN (start_level 1)
        skip = 1 if kind == 'retinanet' else 0
        check_close('backbone', feats, case['backbone_feats'][skip:])
        check_close('neck', model.neck(feats), case['neck_outs'])
        preds = model.predict(data['inputs'], data['data_samples'], **(
            {} if kind == 'fpn' else dict(rescale=False)))
    if kind == 'fpn':
        ours, ref = preds[0].pred_sem_seg.data, case['pred_sem_seg']
        equal = (ours.to(ref.dtype) == ref).float().mean().item()
        assert equal >= 0.999, f'{equal:.5f} of the class map equals the official one'
        return
    for pred, ref in zip(preds, case['pred']):
        ours = pred.pred_instances
        pairs, unmatched = match_detections(ours, ref)
        # ties in order may swap the last kept detection (RELEASED.md): at most 2
        assert len(pairs) >= len(ref['labels']) - 2, f'{len(unmatched)} official detections ' \
            f'unmatched: {unmatched[:5]}'
        worst = ref['scores'][unmatched].max().item() if unmatched else 0.0
        assert worst <= ref['scores'].min().item() + 1e-3  # only at the 100th place
        i, j = map(list, zip(*pairs))
        err = (ours.scores[i] - ref['scores'][j]).abs().max().item()
        assert err <= 1e-3, f'score difference {err:.2e}'
        if kind == 'mask_rcnn':
            h, w = ref['mask_shape']
            ref_masks = np.unpackbits(ref['masks_packed'].numpy(), axis=1, count=h * w)
            ref_masks = torch.from_numpy(ref_masks.reshape(-1, h, w).astype(bool))[j]
            m = ours.masks[i]
            iou = (m & ref_masks).sum((1, 2)) / (m | ref_masks).sum((1, 2)).clamp(min=1)
            assert iou.min().item() >= 0.98, f'mask IoU {iou.min().item():.4f}'


def test_out_norm_indices_must_name_output_stages():
    from mmfastervit.models import LITv2
    with pytest.raises(ValueError, match=r'out_norm_indices must be distinct stages of '
                       r'out_indices \(1, 2, 3\).*got \(0, 1\)'):
        LITv2(dict(embed_dims=12, depths=[1, 1, 2, 1], num_heads=[1, 2, 4, 8]),
              out_indices=(1, 2, 3), out_norm_indices=(0, 1))
