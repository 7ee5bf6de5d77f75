"""The tools' old paths (before they were grouped into tools/<group>/) keep
working for one release: the same help, the same run, the same names when
imported."""
import ast
import os

import pytest

from support.tool_runs import ROOT, run_command

MOVED = {
    'benchmark.py': 'analysis_tools/benchmark.py',
    'learning_curve.py': 'analysis_tools/learning_curve.py',
    'show_predictions.py': 'analysis_tools/show_predictions.py',
    'convert_official_checkpoint.py': 'model_converters/convert_official_checkpoint.py',
    'export_onnx.py': 'deployment/export_onnx.py',
    'make_synthetic_coco.py': 'dataset_converters/make_synthetic_coco.py',
    'make_synthetic_ade20k.py': 'dataset_converters/make_synthetic_ade20k.py',
}


@pytest.mark.parametrize('old', sorted(MOVED))
def test_old_path_runs_the_moved_tool(run_tool, old):
    """The moved tool's own parser answers (its description is the first
    line of the moved file's docstring), with nothing else on stderr."""
    with open(os.path.join(ROOT, 'tools', MOVED[old])) as f:
        summary = ast.get_docstring(ast.parse(f.read())).splitlines()[0]
    res = run_tool(f'tools/{old}', '--help')
    assert res.returncode == 0 and not res.stderr, res.stderr[-2000:]
    assert res.stdout.startswith(f'usage: {old} ') and summary in res.stdout, res.stdout


def test_old_module_path_imports_the_moved_tools_names(run_tool):
    res = run_tool('-c', 'from tools.export_onnx import main; '
                   'from tools.learning_curve import read_curve; '
                   'print(main.__module__, read_curve.__name__)')
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ['tools.export_onnx', 'read_curve']


@pytest.mark.parametrize('script', ['bootstrap.sh', 'run_tests.sh'])
def test_old_development_scripts_forward(script):
    """The old script is one line that runs tools/dev/<script> with the same
    arguments (run_tests.sh --version: set-up check, lint, pytest's version)."""
    if script == 'bootstrap.sh':
        res = run_command(['bash', f'tools/{script}'], timeout=900)
        assert res.returncode == 0 and 'environment' in res.stderr + res.stdout, res.stderr
    else:
        res = run_command(['bash', f'tools/{script}', '--version'], timeout=900)
        assert res.returncode == 0 and 'pytest' in res.stdout + res.stderr, res.stderr
