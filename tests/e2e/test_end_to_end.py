"""The README's main job, end to end: synthetic data, training that learns,
evaluation of the saved checkpoint, a picture (minutes each: marked slow).

The COCO demo test checks the outputs of a demo that already ran, instead of
training again: those MMFV_DEMO_WORK_DIR, MMFV_DEMO_DATA_ROOT and MMFV_DEMO_LOG
name (its work dir, data root and saved console output; .ci/run sets them after
running ``bash tools/demo.sh`` as the README says), else those ``bash
tools/demo.sh`` left in the checkout (work_dirs/demo_coco/) if they are not
stale. Staleness: a finished demo writes a fingerprint beside its outputs
(tools/demo.py ``fingerprint``: a hash of its arguments, every source file
of mmfastervit/, configs/ and tools/, the versions of torch, mmcv, mmengine,
mmdet and mmseg, and the files of the dataset it wrote); the outputs are
reused only if the same hash, computed now, matches. Otherwise it trains in
tmp."""
import os
import re
import sys
from pathlib import Path

import pytest
from PIL import Image

from support.tool_runs import ROOT, run_tool

sys.path.insert(0, ROOT)
from tools.analysis_tools.learning_curve import read_curve  # noqa: E402
from tools.demo import finished_run  # noqa: E402

LITV2_MIN_MAP = 0.25  # measured: 0.565 bbox, 0.678 segm after 120 iterations


def run_demo(task, tmp_path, *extra):
    work, data = tmp_path / 'work', tmp_path / 'data'
    res = run_tool('tools/demo.py', task, *extra, '--work-dir', work, '--data-root', data,
                   timeout=1800)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    return work, data, log


def test_metrics(log: str, tag: str = 'test'):
    """Metrics printed on the final ``Iter(test)`` (or ``Iter(val)``) line."""
    lines = [line for line in log.splitlines() if f'Iter({tag})' in line and ': ' in line]
    return {k: float(v) for k, v in re.findall(r'(\S+): (-?[\d.]+)', lines[-1])
            if not k.startswith(('eta', 'time', 'data_time'))}


test_metrics.__test__ = False  # a helper, not a test


def images_by_size(folder, per_size=2):
    """``per_size`` images of each distinct size in ``folder`` (sorted names)."""
    chosen = {}
    for name in sorted(os.listdir(folder)):
        with Image.open(folder / name) as image:
            group = chosen.setdefault(image.size, [])
        if len(group) < per_size:
            group.append(str(folder / name))
    return [path for group in chosen.values() for path in group]


def export_and_verify(config, checkpoint, onnx_file, images, *extra):
    """tools/deployment/export_onnx.py --verify on ``images``: the per-image lines, each
    checked to be within tolerance, and the distinct input sizes verified."""
    res = run_tool('tools/deployment/export_onnx.py', config, checkpoint, '--out', onnx_file,
                   '--verify', *images, *extra, timeout=1800)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    # PyTorch against ONNX Runtime fp32, the checked lines (int8 and OpenVINO
    # lines after them are reported, not checked)
    lines = [line for line in res.stdout.splitlines() if ' | torch ' in line
             and ', onnxruntime ' in line]
    assert len(lines) == len(images) and all(line.endswith('| ok') for line in lines), \
        res.stdout
    print(res.stdout)  # the measured differences, for the log (-s)
    return lines, {re.search(r' \[(\d+x\d+)\] ', line).group(1) for line in lines}, res.stdout


def file_metrics(stdout: str, path, runtime: str = '') -> dict:
    """The ``--evaluate`` metrics the tool printed for ``path`` (in
    ``runtime``, e.g. ``OpenVINO int8``; default: ONNX Runtime)."""
    where = f' in {runtime}' if runtime else ''
    line, = [line for line in stdout.splitlines()
             if line.startswith(f'test set metrics of {path}{where}: ')]
    return {k: float(v) for k, v in re.findall(r'(\S+) (-?[\d.]+)(?:,|$)', line.split(': ', 1)[1])}


def check_coco_demo(work, log, min_bbox_map: float, min_segm_map: float) -> None:
    """The held-out mAP rises from about zero, the loss falls, tools/test.py
    on the saved checkpoint reproduces the last validation, a picture is drawn."""
    curve = read_curve(str(work))
    first, last = curve[0][2], curve[-1][2]
    assert curve[0][0] == 0 and first['coco/bbox_mAP'] <= 0.02  # untrained: about zero
    assert last['coco/bbox_mAP'] >= min_bbox_map and last['coco/segm_mAP'] >= min_segm_map
    losses = [loss for _, loss, _ in curve if loss is not None]
    assert losses[-1] < losses[0]
    tested = test_metrics(log)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP'):
        assert tested[key] == pytest.approx(last[key], abs=1e-4), key
    with Image.open(work / 'predictions.png') as picture:  # ground truth | prediction
        assert picture.format == 'PNG' and min(picture.size) >= 200
        assert picture.size[0] >= 1.5 * picture.size[1]  # images are 256-320 px a side


def check_coco_export(work, data, config, tmp_path, tested) -> None:
    """The trained checkpoint exported to ONNX (traced at 320x320) gives PyTorch's
    detections on held-out images of every size, and at a scale it never saw;
    on the test set its mAP is tools/test.py's, and that of its int8 versions
    (calibrated on training images: ONNX Runtime's QDQ file, OpenVINO's NNCF
    file) within 0.02 of it."""
    checkpoint = last_checkpoint(work)
    onnx_file = tmp_path / 'det.onnx'
    lines, sizes, stdout = export_and_verify(
        config, checkpoint, onnx_file, images_by_size(data / 'val2017'), '--int8', '--calib',
        str(data / 'train2017'), '--calib-count', '8', '--openvino', 'int8', '--evaluate',
        '--cfg-options', f'test_dataloader.dataset.data_root={data}',
        f'test_evaluator.ann_file={data}/annotations/instances_val2017.json')
    assert len(sizes) >= 3 and all(int(re.search(r'matched (\d+)', line).group(1)) > 0
                                   for line in lines)
    fp32, int8 = (file_metrics(stdout, path) for path in (onnx_file, tmp_path / 'det.int8.onnx'))
    ov_int8 = file_metrics(stdout, tmp_path / 'det.ov-int8.xml', 'OpenVINO int8')
    print('fp32', fp32, 'int8', int8, 'OpenVINO int8', ov_int8)
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        assert fp32[key] == pytest.approx(tested[key], abs=0.005), (key, fp32, tested)
        assert int8[key] >= fp32[key] - 0.02, (key, int8, fp32)
        assert ov_int8[key] >= fp32[key] - 0.02, (key, ov_int8, fp32)
    scale = 'test_dataloader.dataset.pipeline.1.scale=(480,480)'  # the Resize step
    _, sizes, _ = export_and_verify(config, checkpoint, onnx_file,
                                 images_by_size(data / 'val2017', per_size=1), '--verify-only',
                                 '--cfg-options', scale)
    assert sizes and all(max(int(v) for v in size.split('x')) == 480 for size in sizes)


def last_checkpoint(work) -> str:
    return str(work / open(work / 'last_checkpoint').read().strip().split('/')[-1])


def check_bf16_test(config, work, data, fp32: dict, keys, tolerance: float, tmp_path,
                    *extra) -> None:
    """``tools/test.py --bf16`` on the trained checkpoint: the held-out
    metrics within ``tolerance`` of the fp32 run's (``fp32``)."""
    res = run_tool('tools/test.py', config, last_checkpoint(work), '--bf16', '--data-root',
                   data, '--work-dir', tmp_path / 'bf16', *extra, timeout=900)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    bf16 = test_metrics(log)
    print('fp32', {k: fp32[k] for k in keys}, 'bf16', {k: bf16[k] for k in keys})
    for key in keys:
        assert bf16[key] == pytest.approx(fp32[key], abs=tolerance), key


COCO_KEYS = ('coco/bbox_mAP', 'coco/segm_mAP')
DEMO_OUTPUTS = ('MMFV_DEMO_WORK_DIR', 'MMFV_DEMO_DATA_ROOT', 'MMFV_DEMO_LOG')


def checkout_demo(work: Path):
    """``(work dir, data root, log)`` of the default demo that ``bash
    tools/demo.sh`` ran in ``work``, if it is not stale (tools/demo.py
    ``finished_run``); else None. The log: the mmengine log files of its
    runs (train, then test), in order."""
    made = finished_run(str(work))
    if made is None:
        return None
    logs = sorted(work.glob('*/*.log'))
    return work, Path(made['data_root']), ''.join(log.read_text() for log in logs)


def coco_demo(tmp_path):
    """The COCO demo's work dir, data root and console output: those named
    by the MMFV_DEMO_* variables if set, else the checkout's own demo if not
    stale, else a fresh run in ``tmp_path``."""
    given = [os.environ.get(name) for name in DEMO_OUTPUTS]
    if any(given):
        assert all(given), \
            f'set all of {DEMO_OUTPUTS} or none, got {dict(zip(DEMO_OUTPUTS, given))}'
        work, data, log = (Path(p).resolve() for p in given)
        return work, data, log.read_text()
    reused = checkout_demo(Path(ROOT) / 'work_dirs' / 'demo_coco')
    if reused:
        print(f'reusing the demo outputs in {reused[0]} (fingerprint matches)')
        return reused
    return run_demo('coco', tmp_path)


@pytest.mark.slow
def test_coco_demo_learns_and_its_checkpoint_reproduces(tmp_path):
    work, data, log = coco_demo(tmp_path)
    check_coco_demo(work, log, min_bbox_map=0.25, min_segm_map=0.25)
    config = 'configs/demo/cascade_fastervit_synthetic_coco.py'
    check_bf16_test(config, work, data, test_metrics(log), COCO_KEYS, 0.01, tmp_path)
    check_coco_export(work, data, config, tmp_path, test_metrics(log))


@pytest.mark.slow
def test_litv2_coco_demo_learns_and_its_checkpoint_reproduces(tmp_path):
    """``tools/demo.py coco litv2``: the same detector with a small LITv2, a
    shorter run."""
    work, data, log = run_demo('coco', tmp_path, 'litv2')
    assert 'cascade_litv2_synthetic_coco.py' in log
    check_coco_demo(work, log, min_bbox_map=LITV2_MIN_MAP, min_segm_map=LITV2_MIN_MAP)
    check_bf16_test('configs/demo/cascade_litv2_synthetic_coco.py', work, data,
                    test_metrics(log), COCO_KEYS, 0.01, tmp_path)


@pytest.mark.slow
def test_ade20k_demo_learns_and_its_checkpoint_reproduces(tmp_path):
    work, data, log = run_demo('ade20k', tmp_path)
    curve = read_curve(str(work))
    first, last = curve[0][2], curve[-1][2]
    assert curve[0][0] == 0 and first['mIoU'] < 25  # untrained: about chance (mmseg: %)
    assert last['mIoU'] >= 50
    tested = test_metrics(log)
    for key in ('mIoU', 'mAcc', 'aAcc'):
        assert tested[key] == pytest.approx(last[key], abs=0.01), key
    with Image.open(work / 'predictions.png') as picture:  # ground truth | prediction
        assert picture.format == 'PNG' and picture.size[0] >= 1.5 * picture.size[1]
    config = 'configs/demo/upernet_fastervit_synthetic_ade20k.py'
    # mmseg reports IoU in %: 0.01 of it is one point
    check_bf16_test(config, work, data, tested, ('mIoU', 'mAcc'), 1.0, tmp_path)

    # the checkpoint exported to ONNX (traced at 256x256) gives PyTorch's class
    # maps; on the test set its mIoU is tools/test.py's, and that of its int8
    # versions (ONNX Runtime's, OpenVINO's) within 1 point of it
    checkpoint = last_checkpoint(work)
    onnx_file = tmp_path / 'seg.onnx'
    _, sizes, stdout = export_and_verify(
        config, checkpoint, onnx_file, images_by_size(data / 'images' / 'validation'),
        '--int8', '--openvino', 'int8', '--calib', str(data / 'images' / 'training'),
        '--calib-count', '8', '--evaluate', '--cfg-options',
        f'test_dataloader.dataset.data_root={data}/')
    assert len(sizes) >= 3
    fp32, int8 = (file_metrics(stdout, path) for path in (onnx_file, tmp_path / 'seg.int8.onnx'))
    ov_int8 = file_metrics(stdout, tmp_path / 'seg.ov-int8.xml', 'OpenVINO int8')
    print('fp32', fp32, 'int8', int8, 'OpenVINO int8', ov_int8)
    assert fp32['mIoU'] == pytest.approx(tested['mIoU'], abs=0.5), (fp32, tested)
    for metrics in (int8, ov_int8):
        assert metrics['mIoU'] >= fp32['mIoU'] - 1.0, (metrics, fp32)

    # the same checkpoint with sliding-window and multi-scale + flip inference, on
    # the first 6 held-out images (multi-scale + flip runs 12 forwards per image)
    data_opt = [f'test_dataloader.dataset.data_root={data}/', 'test_dataloader.dataset.indices=6']
    for extra in (['--cfg-options', *data_opt, 'model.test_cfg.mode=slide',
                   'model.test_cfg.crop_size=(256,256)', 'model.test_cfg.stride=(171,171)'],
                  ['--tta', '--cfg-options', *data_opt]):
        res = run_tool('tools/test.py', config, checkpoint, '--work-dir', tmp_path / 'more',
                       *extra, timeout=900)
        log = res.stdout + res.stderr
        assert res.returncode == 0, log[-3000:]
        assert re.search(r'Iter\(test\) \[6/6\]', log), log[-3000:]
        assert test_metrics(log)['mIoU'] >= 40
