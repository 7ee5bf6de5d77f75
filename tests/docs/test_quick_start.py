"""The quick start's Python (README.md, and the same block on the Get started
page) runs as shown, on the demo configs with random weights saved to a
temporary folder and the synthetic datasets' images in place of the demo's."""
import os.path as osp
import re

import pytest

from support.tool_runs import DEMO_ADE, DEMO_COCO, ROOT, run_tool, save_random_weights

pytestmark = pytest.mark.tools


def python_blocks(page):
    with open(osp.join(ROOT, page), encoding='utf-8') as f:
        return re.findall(r'```python\n(.*?)```', f.read(), re.DOTALL)


def quick_start():
    code = next(b for b in python_blocks('README.md') if 'DetInferencer' in b)
    assert code in python_blocks('docs/get-started.md'), \
        'the quick start differs between README.md and docs/get-started.md'
    return code


def test_quick_start_runs(tmp_path, tiny_coco, tiny_ade):
    save_random_weights(DEMO_COCO, tmp_path / 'det.pth')
    save_random_weights(DEMO_ADE, tmp_path / 'seg.pth')
    code = quick_start()
    swaps = {'work_dirs/demo_coco/iter_160.pth': str(tmp_path / 'det.pth'),
             'work_dirs/demo_ade20k/iter_200.pth': str(tmp_path / 'seg.pth'),
             'data/synthetic_ade20k/ADEChallengeData2016': tiny_ade,
             'data/synthetic_coco': tiny_coco}
    for old, new in swaps.items():
        assert old in code, f'the quick start no longer names {old}: update this test'
        code = code.replace(old, new)
    # the configs and images it names are the checkout's / the fixtures' files
    for path in re.findall(r"'([^']+\.(?:py|jpg|png))'", code):
        assert osp.isfile(osp.join(ROOT, path)), path
    res = run_tool('-c', code, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # the print line: labels, scores (random weights: any values) and the class map's shape
    last = res.stdout.strip().splitlines()[-1]
    assert re.search(r'\(\d+, \d+\)$', last), res.stdout[-2000:]
