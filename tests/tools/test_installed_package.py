"""The package as a user installs it. The sdist of the checkout and the wheel
built from it (``pip wheel --no-deps --no-build-isolation``) carry the configs,
the model index and the user-facing tools in ``mmfastervit/.mim/``. Installed
into a fresh virtual environment beside the stack, with no checkout on its path,
it hands a user its configs, and mmdet's own tools/train.py and tools/test.py
train and evaluate a user config built on one of them, from a folder outside
the checkout."""
import ast
import glob
import os
import os.path as osp
import re
import shutil
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch

from support.tool_runs import ROOT, run_command

#: what a user's checkout holds beside the sources and is not packaged
NOT_SOURCES = {'.git', '.venv', 'build', 'dist', 'data', 'work_dirs', 'checkpoints', 'outputs',
               'tests', 'docs', '.pytest_cache', '.ruff_cache', '.ci'}
SHIPPED_TOOLS = ['train.py', 'test.py', 'dist_train.sh', 'dist_test.sh', 'torchrun.sh',
                 'srun.sh', 'slurm_train.sh', 'slurm_test.sh', 'deployment/export_onnx.py',
                 'dataset_converters/make_synthetic_coco.py',
                 'model_converters/convert_official_checkpoint.py',
                 'analysis_tools/learning_curve.py', 'analysis_tools/show_predictions.py']
CHECKOUT_ONLY_TOOLS = ['dev/run_tests.sh', 'dev/bootstrap.sh', 'demo.sh', 'demo.py',
                       'analysis_tools/benchmark.py']


def checked(cmd, **kw):
    res = run_command(cmd, **kw)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    return res.stdout + res.stderr


@pytest.fixture(scope='module')
def dist(tmp_path_factory):
    """``(sdist, wheel)``: the sdist of a copy of the checkout's sources
    (setuptools' own build hook), then ``pip wheel`` of that sdist, offline."""
    tmp = tmp_path_factory.mktemp('dist')

    def ignore(folder, names):
        return [n for n in names if (folder == ROOT and n in NOT_SOURCES) or n == '.mim'
                or n == '__pycache__' or n.endswith('.egg-info')]

    src = tmp / 'src'
    shutil.copytree(ROOT, src, ignore=ignore)  # the build writes build/ and egg-info
    out = tmp / 'out'
    out.mkdir()
    checked([sys.executable, '-c', 'import sys; from setuptools import build_meta; '
             'build_meta.build_sdist(sys.argv[1])', out], cwd=src)
    sdist, = glob.glob(str(out / '*.tar.gz'))
    checked([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
             '--no-index', '--no-cache-dir', '--wheel-dir', out, sdist], cwd=tmp, timeout=300)
    wheel, = glob.glob(str(out / '*.whl'))
    return sdist, wheel


def test_wheel_and_sdist_carry_configs_index_and_tools(dist):
    sdist, wheel = dist
    configs = sorted(osp.relpath(p, ROOT).replace(os.sep, '/') for p in
                     glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
    assert 'configs/_base_/fastervit_2.py' in configs and len(configs) > 20
    files = set(zipfile.ZipFile(wheel).namelist())
    mim = 'mmfastervit/.mim/'
    missing = [c for c in configs if mim + c not in files]
    assert not missing, f'not in the wheel: {missing}'
    assert {mim + 'model-index.yml', mim + 'configs/metafile.yml',
            'mmfastervit/configs/__main__.py'} <= files
    assert {mim + 'tools/' + t for t in SHIPPED_TOOLS} <= files
    assert not {mim + 'tools/' + t for t in CHECKOUT_ONLY_TOOLS} & files
    assert not any('__pycache__' in f for f in files)
    assert_library_only(zipfile.ZipFile(wheel))
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split('/')[0]
        names = {n[len(top) + 1:] for n in tar.getnames()}
    assert {'setup.py', 'model-index.yml', 'configs/metafile.yml', *configs,
            *['tools/' + t for t in SHIPPED_TOOLS]} <= names


#: what no file of the wheel may import: the test-only reference and what
#: only a checkout has
CHECKOUT_ONLY_IMPORTS = ('fastervit', 'tests', 'support', 'benchmarks')


def assert_library_only(wheel: zipfile.ZipFile) -> None:
    """The wheel is the library: no test helpers or benchmark harness, and no
    Python file in it (the shipped tools included) imports the test-only
    reference or checkout-only code, or names a path under ``tests/``."""
    names = wheel.namelist()
    assert not [n for n in names if n.startswith(('mmfastervit/testing/', 'tests/',
                                                  'benchmarks/'))]
    bad = []
    for name in (n for n in names if n.endswith('.py')):
        source = wheel.read(name).decode()
        for node in ast.walk(ast.parse(source, name)):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                modules = [node.module or '']
            else:
                modules = []
            bad += [f'{name} imports {m}' for m in modules
                    if m.split('.')[0] in CHECKOUT_ONLY_IMPORTS]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    'tests/' in node.value or 'tests' + os.sep in node.value):
                bad.append(f'{name} names {node.value!r}')
    assert not bad, bad


USER_CONFIG = """\
# A user's own config: our demo detector (copied next to it with
# python -m mmfastervit.configs), on the user's data, at a small scale.
_base_ = ['./mmfastervit_configs/demo/cascade_fastervit_synthetic_coco.py']
custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

data_root = 'data/shapes/'
scale = (96, 96)
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(**loader, dataset=dict(data_root=data_root, pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='PackDetInputs')]))
val_dataloader = dict(**loader, dataset=dict(data_root=data_root, pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_iters=1, val_interval=1)
custom_hooks = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
"""


def mmdet_tool(name: str) -> str:
    import mmdet

    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', name)
    assert osp.isfile(path), f'mmdet ships no {path}'
    return path


@pytest.mark.slow  # an end-to-end run: install, one training iteration, an evaluation
def test_installed_wheel_trains_and_tests_a_user_config_with_mmdet_tools(dist, tmp_path):
    _, wheel = dist
    venv = tmp_path / 'venv'
    checked([sys.executable, '-m', 'venv', '--without-pip', venv])
    python = str(venv / 'bin' / 'python')
    site = checked([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    # the stack (torch, mmdet, ...) as plain path lines: the stack's own .pth files,
    # the editable hook of the checkout among them, are not run
    stack = sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})
    Path(site.strip(), 'stack.pth').write_text('\n'.join(stack) + '\n')
    checked([python, '-m', 'pip', 'install', '--no-deps', '--no-index', '--no-cache-dir',
             '--ignore-installed', wheel], timeout=300)

    user = tmp_path / 'project'  # outside the checkout; nothing of it on the path
    user.mkdir()
    env = {'PYTHONPATH': '', 'PYTHONNOUSERSITE': '1', 'OMP_NUM_THREADS': '2'}

    def run(*args, timeout=600):
        return checked([python, *args], cwd=user, env=env, timeout=timeout)

    where = run('-c', 'import sys, mmfastervit, mmdet; print(mmfastervit.__file__); '
                'print(sys.path)').splitlines()
    assert where[0].startswith(str(venv)), where
    # nothing of the checkout on the path but the stack's site-packages (the
    # checkout's own .venv when the README's set-up made it there)
    others = [p for p in ast.literal_eval(where[1]) if p and p not in stack]
    assert not any(osp.realpath(p).startswith(osp.realpath(ROOT) + os.sep) or
                   osp.realpath(p) == osp.realpath(ROOT) for p in others), where[1]
    shipped = run('-m', 'mmfastervit.configs', '--path').strip()
    assert shipped.startswith(str(venv)) and shipped.endswith(osp.join('.mim', 'configs'))
    run('-m', 'mmfastervit.configs', 'cascade_fastervit_synthetic_coco',
        '--dest', 'mmfastervit_configs')
    tools = osp.join(osp.dirname(shipped), 'tools')
    run(osp.join(tools, 'dataset_converters', 'make_synthetic_coco.py'), 'data/shapes',
        '--train', '2', '--val', '2', '--seed', '3')
    (user / 'my_detector.py').write_text(USER_CONFIG)

    log = run(mmdet_tool('train.py'), 'my_detector.py', '--work-dir', 'work')
    assert re.search(r'Iter\(train\) \[1/1\]', log), log[-3000:]
    assert 'coco/bbox_mAP' in log
    saved = torch.load(user / 'work' / 'iter_1.pth', map_location='cpu')
    assert saved['meta']['iter'] == 1
    assert any(k.startswith('backbone.stages.3.blocks.') for k in saved['state_dict'])

    log = run(mmdet_tool('test.py'), 'my_detector.py', 'work/iter_1.pth',
              '--work-dir', 'test')
    assert re.search(r'Iter\(test\).*coco/bbox_mAP: -?[\d.]+.*coco/segm_mAP: -?[\d.]+', log), \
        log[-3000:]
