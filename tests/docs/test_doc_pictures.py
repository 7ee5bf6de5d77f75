"""The pictures the docs name come from commands: a run's learning curve
(tools/analysis_tools/learning_curve.py --plot), latency against input size
from a benchmark's results.json (tools/analysis_tools/plot_benchmark.py), and
predictions beside the ground truth (tools/analysis_tools/show_predictions.py --gt)."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from support.tool_runs import DEMO_ADE, DEMO_COCO, assert_one_error, run_tool, save_random_weights

pytestmark = pytest.mark.tools
PNG = b'\x89PNG\r\n\x1a\n'


def write_run(work_dir):
    """mmengine's scalar log of a short run: losses, then a validation point."""
    log = work_dir / '20260101_000000' / 'vis_data'
    log.mkdir(parents=True)
    lines = [dict(loss=2.0, step=1), dict(loss=1.0, step=2),
             {'coco/bbox_mAP': 0.25, 'coco/segm_mAP': 0.3, 'step': 2},
             dict(loss=0.5, step=3), {'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.6, 'step': 3}]
    (log / 'scalars.json').write_text('\n'.join(json.dumps(x) for x in lines) + '\n')


def test_learning_curve_plot(tmp_path):
    write_run(tmp_path / 'run')
    out = tmp_path / 'curve.png'
    res = run_tool('tools/analysis_tools/learning_curve.py', tmp_path / 'run', '--plot', out)
    assert res.returncode == 0, res.stderr
    table = res.stdout.splitlines()
    assert table[1].split() == ['2', '1.500', '0.250', '0.300']  # mean loss since the last point
    assert table[2].split() == ['3', '0.500', '0.500', '0.600']
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 10000


def test_latency_plot_of_a_run_without_inference_rows_is_an_error(tmp_path):
    results = tmp_path / 'results.json'
    results.write_text(json.dumps([dict(model='fastervit-0', size=[64, 64], batch=1, dtype='fp32',
                                        threads=1, mode='train', median_ms=1.0)]))
    res = run_tool('tools/analysis_tools/plot_benchmark.py', results, '--out', tmp_path / 'x.png')
    assert res.returncode == 2 and res.stderr.startswith('error: ') and 'forward' in res.stderr
    assert not (tmp_path / 'x.png').exists()


@pytest.fixture(scope='module')
def random_checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp('random_ckpt')
    save_random_weights(DEMO_COCO, d / 'det.pth')
    save_random_weights(DEMO_ADE, d / 'seg.pth')
    return d


def read_rgb(path):
    return np.asarray(Image.open(path).convert('RGB'), dtype=np.int16)


def test_detections_beside_the_ground_truth(tmp_path, tiny_coco, random_checkpoints):
    image = osp.join(tiny_coco, 'val2017', '000001000001.jpg')
    ann = osp.join(tiny_coco, 'annotations', 'instances_val2017.json')
    out = tmp_path / 'pred_gt.png'
    res = run_tool('tools/analysis_tools/show_predictions.py', DEMO_COCO,
                   random_checkpoints / 'det.pth', image, '--gt', ann, '--out', out)
    assert res.returncode == 0, res.stderr[-3000:]
    n_gt = sum(a['image_id'] == 1000001 for a in json.load(open(ann))['annotations'])
    assert f'beside {n_gt} ground-truth ones' in res.stdout and n_gt > 0
    drawn, original = read_rgb(out), read_rgb(image)
    assert drawn.shape == (original.shape[0], 2 * original.shape[1], 3)  # side by side
    assert np.abs(drawn[:, :original.shape[1]] - original).max() > 50  # the boxes are drawn
    # an image the annotation file does not list is one error line
    res = run_tool('tools/analysis_tools/show_predictions.py', DEMO_COCO,
                   random_checkpoints / 'det.pth', osp.join(tiny_coco, 'train2017',
                                                            '000000000001.jpg'),
                   '--gt', ann, '--out', tmp_path / 'x.png')
    assert_one_error(res, 'is not listed in', 'split')


def test_class_maps_beside_the_ground_truth_let_the_image_show(tmp_path, tiny_ade,
                                                              random_checkpoints):
    image = osp.join(tiny_ade, 'images', 'validation', 'ADE_val_00000001.jpg')
    label = osp.join(tiny_ade, 'annotations', 'validation', 'ADE_val_00000001.png')
    original = read_rgb(image)
    width = original.shape[1]
    drawn = {}
    for alpha in ('0', '0.5'):
        out = tmp_path / f'alpha_{alpha}.png'
        res = run_tool('tools/analysis_tools/show_predictions.py', DEMO_ADE,
                       random_checkpoints / 'seg.pth', image, '--gt', label, '--out', out,
                       '--alpha', alpha)
        assert res.returncode == 0 and 'beside the ground truth' in res.stdout, res.stderr
        drawn[alpha] = read_rgb(out)
        assert drawn[alpha].shape == (original.shape[0], 2 * width, 3)
    # the overlay is blended: opacity 0 leaves the image as it is, 0.5 draws over it,
    # halfway between the image and the class colours
    assert np.abs(drawn['0'][:, :width] - original).max() <= 1
    gt = drawn['0.5'][:, :width]
    assert np.abs(gt - original).mean() > 5
    # reduce_zero_label: label 0 is ignored, so not coloured: there mmseg blends the
    # image with black (class names are written in the regions, hence the median)
    unlabelled = np.asarray(Image.open(label)) == 0
    assert unlabelled.any() and np.median(np.abs(gt - original * 0.5)[unlabelled]) <= 1
