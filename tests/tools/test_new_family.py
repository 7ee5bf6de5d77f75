"""A third backbone family is one folder and one import line.

As a newcomer would add one: a copy of the checkout (the package, the shared
tests, the tools) where LITv2's folder is copied under a new name (its class,
arch table and official key names renamed inside the folder) and imported by
one line in ``mmfastervit/models/__init__.py``. With no other edit, the
shared backbone tests collect and pass cases for it, the converter converts
its official files, and the benchmark builds it by name.
"""
import os
import re
import shutil
import sys

import pytest

from support.tool_runs import ROOT, run_command

NEW = 'NewViT'


def _ignore(folder, names):
    return [n for n in names if n in ('__pycache__', '.mim', 'data') or n.endswith('.egg-info')]


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    """The copied checkout with the new family: its root."""
    root = tmp_path_factory.mktemp('checkout')
    for name in ('mmfastervit', 'tools', 'tests', 'benchmarks'):
        shutil.copytree(os.path.join(ROOT, name), root / name, ignore=_ignore)
    for name in ('setup.cfg', 'pyproject.toml'):
        shutil.copy(os.path.join(ROOT, name), root / name)
    models = root / 'mmfastervit' / 'models'
    family = models / NEW.lower()
    shutil.copytree(models / 'litv2', family, ignore=_ignore)
    for path in family.glob('*.py'):
        text = path.read_text().replace('LITv2', NEW).replace('LITV2', NEW.upper())
        if path.name == 'checkpoint_format.py':  # its own official key names
            text = text.replace('layers', 'levels_new').replace('patch_embed', 'embed_new')
        path.write_text(text)
    init = models / '__init__.py'
    init.write_text(init.read_text() + f'from .{NEW.lower()} import {NEW}  # noqa: F401,E402\n')
    return root


def run_in(tree, *args, timeout=900):
    """This Python on the copied checkout (first on the path, before the
    installed one)."""
    env = {'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '2')}
    return run_command([sys.executable, *args], cwd=str(tree), env=env, timeout=timeout)


def test_the_registry_and_the_shared_tests_pick_it_up(tree):
    res = run_in(tree, '-c', 'from mmfastervit import PyramidBackbone as P; '
                 'print(sorted(P.families()))')
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["['FasterViT',", "'LITv2',", f"'{NEW}']"]
    res = run_in(tree, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-n', '0', '-k', NEW,
                 '-m', 'not slow', 'tests/models/common',
                 'tests/checkpoint/test_checkpoint_formats.py',
                 '-W', 'ignore::pytest.PytestUnknownMarkWarning', timeout=1500)
    summary = res.stdout.strip().splitlines()[-1]
    passed = re.search(r'(\d+) passed', summary)
    assert res.returncode == 0 and passed, res.stdout[-4000:] + res.stderr[-2000:]
    # the contract tests, the parameter-use tests and the checkpoint format's
    assert int(passed[1]) >= 20 and 'skipped' not in summary, summary


def test_the_converter_converts_its_official_files(tree, tmp_path):
    official, out = tmp_path / 'official.pth', tmp_path / 'ours.pth'
    write = ('import sys, torch; from mmfastervit.models import PyramidBackbone as P; '
             f'cls = P.families()["{NEW}"]; m = cls("s"); '
             'torch.save({"model": cls.checkpoint_format.to_official(m.state_dict())}, '
             'sys.argv[1])')
    res = run_in(tree, '-c', write, official)
    assert res.returncode == 0, res.stderr[-3000:]
    res = run_in(tree, 'tools/model_converters/convert_official_checkpoint.py', official, out)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f'{NEW} variant: s' in res.stdout, res.stdout


def test_the_benchmark_builds_it_by_name(tree, tmp_path):
    res = run_in(tree, 'tools/analysis_tools/benchmark.py', '--models', f'{NEW.lower()}-s',
                 '--sizes', '64x96', '--warmup', '0', '--repeat', '1', '--threads', '1',
                 '--no-memory', '--out-dir', tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert re.search(rf'^{NEW.lower()}-s\s', res.stdout, re.M), res.stdout
