"""Whole-model ONNX export (tools/deployment/export_onnx.py, mmfastervit.export): files
traced at one size run in stock ONNX Runtime at others and give PyTorch's
(mmdet's / mmseg's own predict) results; the building blocks against the
library code they replace; the tool's errors."""
import os
import re
import sys

import numpy as np
import pytest
import torch

from support.tool_runs import ROOT

ort = pytest.importorskip('onnxruntime')

sys.path.insert(0, ROOT)
DET = 'configs/demo/cascade_fastervit_synthetic_coco.py'
SEG = 'configs/demo/upernet_fastervit_synthetic_ade20k.py'
DET_LITV2 = 'configs/demo/cascade_litv2_synthetic_coco.py'


def write_images(folder, sizes, render):
    """Synthetic pictures of the given (H, W) sizes; returns their paths."""
    paths = []
    for i, (h, w) in enumerate(sizes):
        image = render(np.random.default_rng(i), h, w)[0]
        paths.append(str(folder / f'image_{h}x{w}.jpg'))
        image.save(paths[-1], quality=95)
    return paths


def onnx_export(scope_config, path, shape, options=None, seed=0):
    """Build a config's model with random weights (seeded) and export it."""
    from mmfastervit.export import driver

    cfg = driver.load_config(scope_config, options)
    torch.manual_seed(seed)
    model = driver.build_model(cfg)
    graph = driver.build_graph(model, cfg.default_scope)
    driver.export(graph, str(path), shape)
    return cfg, model


# ---------------------------------------------------------------- building blocks

def test_adaptive_pool_as_matrices_equals_torch_at_any_size(tmp_path):
    from mmfastervit.export.adaptive_pool import MatrixAdaptiveAvgPool2d

    pool = MatrixAdaptiveAvgPool2d((3, 6))
    path = str(tmp_path / 'pool.onnx')
    torch.onnx.export(pool, (torch.rand(1, 2, 12, 12),), path, dynamo=False, opset_version=17,
                      input_names=['x'], dynamic_axes={'x': {0: 'b', 1: 'c', 2: 'h', 3: 'w'}})
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    for shape in [(1, 2, 12, 12), (2, 3, 7, 19), (1, 1, 6, 5), (1, 4, 33, 64)]:
        x = torch.randn(shape)
        ref = torch.nn.functional.adaptive_avg_pool2d(x, (3, 6))
        torch.testing.assert_close(pool(x), ref, atol=1e-5, rtol=1e-5)
        out = session.run(None, {'x': x.numpy()})[0]
        np.testing.assert_allclose(out, ref.numpy(), atol=1e-5, rtol=1e-5)


def test_paste_masks_equals_mmdets_cpu_paste():
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask

    from mmfastervit.export import paste_masks

    rng = np.random.default_rng(0)
    probs = rng.random((12, 28, 28)).astype(np.float32)
    xy = rng.uniform(0, 110, (12, 2))
    wh = rng.uniform(0.5, 90, (12, 2))
    boxes = np.concatenate([xy, xy + wh], 1).clip(0, [160, 120, 160, 120]).astype(np.float32)
    boxes[0] = [10, 10, 10, 40]  # zero width
    ours = paste_masks(probs, boxes, (120, 160))
    for i in range(len(probs)):
        ref = np.zeros((120, 160), bool)
        pasted, region = _do_paste_mask(torch.from_numpy(probs[i:i + 1, None]),
                                        torch.from_numpy(boxes[i:i + 1]), 120, 160,
                                        skip_empty=True)
        ref[region] = (pasted[0] >= 0.5).numpy()
        assert (ours[i] != ref).sum() <= 2, i  # float rounding at the threshold only
    assert ours.any()


# ---------------------------------------------------------------- whole models

@pytest.fixture(scope='module')
def coco_images(tmp_path_factory):
    from mmfastervit.datasets.synthetic_coco import render_image

    folder = tmp_path_factory.mktemp('coco_images')
    return write_images(folder, [(240, 320), (300, 200)], render_image)


def test_cascade_per_class_export_matches_pytorch_at_other_sizes(tmp_path, coco_images):
    """The full COCO recipe's per-class box regression, in the demo detector
    with random weights: traced at 288x288, checked at 240x320 and 320x213
    (each one side smaller, one larger)."""
    from mmfastervit.export.verify import Verifier

    options = {f'model.roi_head.bbox_head.{i}.reg_class_agnostic': False for i in range(3)}
    cfg, model = onnx_export(DET, tmp_path / 'det.onnx', (288, 288), options)
    assert not model.roi_head.bbox_head[0].reg_class_agnostic
    import onnx
    nodes = onnx.load(str(tmp_path / 'det.onnx')).graph.node
    assert {n.domain for n in nodes} <= {'', 'ai.onnx'}  # standard ops only
    assert {'RoiAlign', 'NonMaxSuppression'} <= {n.op_type for n in nodes}
    verifier = Verifier(cfg, model, str(tmp_path / 'det.onnx'))
    results = [verifier(path) for path in coco_images]
    assert [r.input_hw for r in results] == [(240, 320), (320, 213)]
    for r in results:
        assert r.ok, r.problems
        assert r.stats['matched'] > 0 and r.stats['matched'] == r.stats['torch_dets']
        assert r.stats['min_box_iou'] >= 0.99 and r.stats['max_score_diff'] <= 1e-3
        assert r.stats['min_mask_iou'] >= 0.98


def test_litv2_detector_export_matches_pytorch_at_other_sizes(tmp_path, coco_images):
    """The LITv2 demo detector (HiLo, DTM) with random weights: traced at
    224x224, checked at 240x320 and 320x213 (HiLo windows padded there)."""
    from mmfastervit.export.verify import Verifier

    cfg, model = onnx_export(DET_LITV2, tmp_path / 'det.onnx', (224, 224))
    assert type(model.backbone).__name__ == 'LITv2'
    verifier = Verifier(cfg, model, str(tmp_path / 'det.onnx'))
    results = [verifier(path) for path in coco_images]
    assert [r.input_hw for r in results] == [(240, 320), (320, 213)]
    for r in results:
        assert r.stats['matched'] > 0 and r.stats['matched'] == r.stats['torch_dets']
        assert r.stats['min_box_iou'] >= 0.99 and r.stats['max_score_diff'] <= 1e-3
        # random weights: mask logits hover at the threshold, and one pixel of
        # a 40-pixel mask is 0.975 IoU (the trained demo checkpoints meet 0.98)
        assert r.stats['min_mask_iou'] >= 0.95, r.problems


MASK_RCNN = """
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)
width = 64
model = dict(
    backbone=dict(_delete_=True, type='FasterViT', init_cfg=None, out_indices=(0, 1, 2, 3),
                  arch=dict(dim=32, in_dim=32, depths=(1, 2, 3, 2), num_heads=(2, 2, 4, 8))),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=128, num_classes=4),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width, num_classes=4)),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=200)))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor'))]))
"""


def test_mask_rcnn_export_matches_pytorch_at_another_size(tmp_path, coco_images):
    """mmdet's Mask R-CNN recipe (one RoI stage, mmcv RoIAlign with adaptive
    sampling, per-class regression) with a small FasterViT, random weights."""
    from mmfastervit.export.verify import Verifier

    config = tmp_path / 'mask_rcnn.py'
    config.write_text(MASK_RCNN)
    cfg, model = onnx_export(str(config), tmp_path / 'det.onnx', (192, 192))
    assert type(model).__name__ == 'MaskRCNN'
    result = Verifier(cfg, model, str(tmp_path / 'det.onnx'))(coco_images[1])
    assert result.input_hw == (320, 213)
    assert result.ok and result.stats['matched'] > 0, (result.problems, result.stats)


def test_detector_without_masks_and_without_detections(tmp_path, coco_images):
    """A cascade without a mask head exports three outputs; a score threshold
    no box reaches gives empty outputs in both runtimes."""
    from mmengine.dataset import pseudo_collate

    from mmfastervit.export.verify import test_pipeline

    options = {'model.roi_head.mask_head': None, 'model.roi_head.mask_roi_extractor': None,
               'model.test_cfg.rcnn.score_thr': 1.0}
    cfg, model = onnx_export(DET, tmp_path / 'det.onnx', (160, 160), options)
    session = ort.InferenceSession(str(tmp_path / 'det.onnx'),
                                   providers=['CPUExecutionProvider'])
    assert [o.name for o in session.get_outputs()] == ['boxes', 'scores', 'labels']
    data = test_pipeline(cfg)(dict(img_path=coco_images[0], img_id=0))
    boxes, scores, labels = session.run(None, {'image': data['inputs'][None].float().numpy()})
    assert boxes.shape == (0, 4) and scores.shape == (0,) and labels.shape == (0,)
    with torch.no_grad():
        assert len(model.test_step(pseudo_collate([data]))[0].pred_instances) == 0


@pytest.fixture(scope='module')
def ade_images(tmp_path_factory):
    from mmfastervit.datasets.synthetic_ade20k import render

    folder = tmp_path_factory.mktemp('ade_images')
    return write_images(folder, [(200, 300), (333, 250)], render)


def test_segmentor_export_tool_verifies_at_other_sizes_and_batches(tmp_path, ade_images,
                                                                  run_tool):
    """tools/deployment/export_onnx.py on the demo UPerNet: traced at 256x256, verified
    at 256x384 and 341x256 (pyramid pooling included); a batch of two gives
    each image's own map. ``--int8 --calib`` writes the int8 file beside it,
    compared with the fp32 file on the same images."""
    out = tmp_path / 'seg.onnx'
    calib = os.path.dirname(ade_images[0])
    res = run_tool('tools/deployment/export_onnx.py', SEG, '--out', str(out), '--verify',
                   *ade_images, '--int8', '--calib', calib, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert 'traced at 256x256' in res.stdout
    fp32_part, int8_part = res.stdout.split('int8 against fp32')
    agreement = [float(a) for a in re.findall(r'class map: ([\d.]+)% of', fp32_part)]
    assert len(agreement) == 2 and min(agreement) >= 99.9, res.stdout
    assert '[256x384]' in res.stdout and '[341x256]' in res.stdout
    assert 'verification: 2/2 images within tolerance' in res.stdout

    int8 = tmp_path / 'seg.int8.onnx'
    assert f'wrote {int8}' in res.stdout and f'calibrated on 2 images of {calib}' in res.stdout
    agreement = [float(a) for a in re.findall(r'class map: ([\d.]+)% of', int8_part)]
    assert len(agreement) == 2 and min(agreement) >= 50, res.stdout
    assert re.search(r'int8: [0-2]/2 images within the fp32 tolerance', int8_part)
    meta = ort.InferenceSession(str(int8), providers=['CPUExecutionProvider']
                                ).get_modelmeta().custom_metadata_map
    assert meta['task'] == 'segmentation' and meta['precision'].startswith('int8 QDQ')

    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta['task'] == 'segmentation' and meta['checkpoint'].startswith('none')
    images = np.random.default_rng(0).uniform(0, 255, (2, 3, 96, 160)).astype(np.float32)
    size = np.array([48, 80], dtype=np.int64)
    both = session.run(None, {'image': images, 'out_size': size})[0]
    assert both.shape == (2, 48, 80) and both.dtype == np.int64
    for i in range(2):
        alone = session.run(None, {'image': images[i:i + 1], 'out_size': size})[0]
        assert (alone[0] == both[i]).mean() >= 0.999



def test_verify_fails_with_exit_code_1_on_another_models_file(tmp_path, ade_images, capsys,
                                                              tools_environment):
    """--verify-only of a file against other weights (class 1 everywhere in
    the file, class 0 in the checkpoint) reports FAIL and exits 1."""
    from mmfastervit.export import driver

    cfg = driver.load_config(SEG)
    model = driver.build_model(cfg)
    out, checkpoint = str(tmp_path / 'seg.onnx'), str(tmp_path / 'other.pth')
    bias = model.decode_head.conv_seg.bias
    with torch.no_grad():
        bias[1] += 100
        driver.export(driver.build_graph(model, 'mmseg'), out, (128, 128))
        bias[1] -= 100
        bias[0] += 100
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    code, stdout, _ = run_export_tool(capsys, SEG, checkpoint, '--out', out, '--verify-only',
                                      '--verify', ade_images[0])
    assert code == 1
    assert 'FAIL: 0.00000 of pixels agree' in stdout and 'verification: 0/1 images' in stdout


def run_export_tool(capsys, *args):
    """tools/deployment/export_onnx.py in this process: (exit code, stdout, stderr)."""
    from mmfastervit.cli import main_guard
    from tools.deployment.export_onnx import main

    with pytest.raises(SystemExit) as exit_info:
        main_guard(lambda: sys.exit(main(list(args))))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_export_tool_errors(tmp_path, capsys, tools_environment):
    out = str(tmp_path / 'x.onnx')
    other = tmp_path / 'other.py'
    other.write_text("default_scope = 'mmpretrain'\nmodel = dict(type='ImageClassifier')\n")
    code, _, err = run_export_tool(capsys, str(other), '--out', out)
    assert code == 2 and "default_scope='mmpretrain'" in err and 'mmdet' in err
    assert err.count('error:') == 1 and err.startswith('error:')

    retina = tmp_path / 'retina.py'
    retina.write_text("_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'\n")
    code, _, err = run_export_tool(capsys, str(retina), '--out', out)
    assert code == 2 and 'cannot export a RetinaNet' in err
    assert 'CascadeRCNN, MaskRCNN, FasterRCNN' in err

    for extra, message in [(['--int8'], '--int8 needs --calib DIR'),
                           (['--calib', str(tmp_path)], '--calib is for --int8'),
                           (['--int8', '--calib', str(tmp_path / 'none')], 'is not a folder'),
                           (['--int8', '--calib', str(tmp_path)], 'holds no images'),
                           (['--int8', '--calib', str(tmp_path), '--keep-float', 'norms'],
                            "--keep-float 'norms': choose from attention, carrier, position")]:
        code, _, err = run_export_tool(capsys, SEG, '--out', out, *extra)
        assert code == 2 and message in err, err

    code, _, err = run_export_tool(capsys, DET, 'no/such.pth', '--out', out)
    assert code == 2 and 'no/such.pth' in err and 'does not exist' in err

    code, _, err = run_export_tool(capsys, SEG, '--out', out, '--cfg-options',
                                'model.test_cfg.mode=slide')
    assert code == 2 and 'model.test_cfg.mode=whole' in err

    code, _, err = run_export_tool(capsys, DET, '--out', out, '--cfg-options',
                                "model.test_cfg.rcnn.nms.type=soft_nms")
    assert code == 2 and 'soft_nms' in err and 'NonMaxSuppression' in err
    assert not os.path.exists(out)
