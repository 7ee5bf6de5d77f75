"""The pictures the docs name come from commands: a run's learning curve
(tools/analysis_tools/learning_curve.py --plot) and latency against input size
from a benchmark's results.json (tools/analysis_tools/plot_benchmark.py)."""
import json

import pytest

from support.tool_runs import run_tool

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
