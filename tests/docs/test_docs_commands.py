"""Every command the docs show that runs one of our tools names files that exist
and arguments the tool accepts: each is parsed by the tool's own argparse parser
(the tool runs until its arguments are parsed, then stops), all in one process;
the cheap ones also run for real."""
import glob
import json
import os.path as osp
import re
import shlex

import pytest

from support.tool_runs import ROOT, run_tool

pytestmark = pytest.mark.tools

PAGES = ['README.md', 'CONTRIBUTING.md',
         *sorted(osp.relpath(p, ROOT) for p in
                 glob.glob(osp.join(ROOT, 'docs', '**', '*.md'), recursive=True))]
#: paths in a command that must be the checkout's own files
CHECKOUT = ('configs/', 'tools/', 'docs/', 'tests/', 'benchmarks/')
ENV = re.compile(r'^[A-Z_][A-Z0-9_]*=')


def shell_blocks(text):
    return re.findall(r'```bash\n(.*?)```', text, re.DOTALL)


def commands(page):
    """``(tool, argv)`` of every command in the page's bash blocks that runs
    ``tools/...``, with continuation lines joined, comments dropped and the
    block's ``VAR="..."`` assignments substituted."""
    with open(osp.join(ROOT, page), encoding='utf-8') as f:
        text = f.read()
    for block in shell_blocks(text):
        variables = {}
        for line in block.replace('\\\n', ' ').splitlines():
            words = shlex.split(line, comments=True)
            if len(words) == 1 and ENV.match(words[0]):
                name, value = words[0].split('=', 1)
                variables[name] = value
                continue
            words = [w for w in words if not ENV.match(w)]
            if not words:
                continue
            expanded = []
            for w in words:
                expanded += variables[w[1:]].split() if w[1:] in variables else [w]
            runner, *rest = expanded
            if rest and rest[0].startswith('tools/') and (
                    runner in ('bash', 'python') or runner.endswith('/python')):
                yield rest[0], rest[1:]


def all_commands():
    return [(page, tool, argv) for page in PAGES for tool, argv in commands(page)]


def test_the_docs_show_tool_commands():
    """The parser above finds them (a change in the docs' format must not make
    this test check nothing)."""
    tools = {tool for _, tool, _ in all_commands()}
    assert {'tools/train.py', 'tools/test.py', 'tools/deployment/export_onnx.py',
            'tools/analysis_tools/benchmark.py', 'tools/demo.sh',
            'tools/model_converters/convert_official_checkpoint.py',
            'tools/analysis_tools/plot_benchmark.py',
            'tools/analysis_tools/learning_curve.py'} <= tools


def test_commands_name_files_that_exist():
    for page, tool, argv in all_commands():
        assert osp.isfile(osp.join(ROOT, tool)), f'{page}: {tool} does not exist'
        for arg in argv:
            for word in arg.split('='):
                if word.startswith(CHECKOUT):
                    assert osp.exists(osp.join(ROOT, word)), f'{page}: {tool}: no {word}'


PARSE_ONLY = r'''
import argparse, json, os, runpy, sys

class Parsed(BaseException):
    """Raised right after a successful parse: the tool does nothing else."""

original = argparse.ArgumentParser.parse_args

def parse_then_stop(self, args=None, namespace=None):
    original(self, args, namespace)
    raise Parsed()

argparse.ArgumentParser.parse_args = parse_then_stop
results = []
for tool, argv in json.loads(sys.argv[1]):
    if '--isa' in argv:  # the benchmark restarts itself under an ISA cap unless already set
        os.environ['MMFV_BENCH_ISA'] = argv[argv.index('--isa') + 1]
    sys.argv = [tool, *argv]
    try:
        runpy.run_path(tool, run_name='__main__')
        outcome = 'ran without parsing arguments'
    except Parsed:
        outcome = 'parsed'
    except SystemExit as e:
        outcome = f'exit {e.code}'
    os.environ.pop('MMFV_BENCH_ISA', None)
    results.append(outcome)
print('RESULTS ' + json.dumps(results))
'''


#: shell scripts and the Python tool they run with what arguments (as the
#: scripts' own exec lines pass them on), and how many they need
LAUNCHERS = {
    'tools/demo.sh': ('tools/demo.py', 0, lambda a: a),
    'tools/dist_train.sh': ('tools/train.py', 2, lambda a: [a[0], *a[2:]]),
    'tools/dist_test.sh': ('tools/test.py', 3, lambda a: [a[0], a[1], *a[3:]]),
    'tools/slurm_train.sh': ('tools/train.py', 4, lambda a: [a[2], '--work-dir', a[3], *a[4:]]),
    'tools/slurm_test.sh': ('tools/test.py', 4, lambda a: [a[2], a[3], *a[4:]]),
}
#: scripts whose arguments are pytest's (checked by the existence test only)
PYTEST_SCRIPTS = {'tools/dev/run_tests.sh'}


def python_command(page, tool, argv):
    """``(python tool, argv)`` that the command runs, or None for pytest's."""
    if tool in PYTEST_SCRIPTS:
        return None
    if tool.endswith('.py'):
        return tool, argv
    assert tool in LAUNCHERS, f'{page}: {tool} is not a known launcher'
    target, needed, pass_on = LAUNCHERS[tool]
    assert len(argv) >= needed and not any(a.startswith('-') for a in argv[:needed]), \
        f'{page}: {tool} needs {needed} arguments before its options: {argv}'
    return target, pass_on(argv)


def test_python_tool_commands_parse_with_the_tools_own_parser():
    cases = [c for c in (python_command(*command) for command in all_commands()) if c]
    assert len(cases) > 20
    res = run_tool('-c', PARSE_ONLY, json.dumps(cases), timeout=600)
    lines = [line for line in res.stdout.splitlines() if line.startswith('RESULTS ')]
    assert res.returncode == 0 and lines, res.stdout[-3000:] + res.stderr[-3000:]
    outcomes = json.loads(lines[0][len('RESULTS '):])
    bad = [(tool, argv, o) for (tool, argv), o in zip(cases, outcomes) if o != 'parsed']
    assert not bad, f'{bad}\n{res.stderr[-3000:]}'


def test_the_parse_check_catches_a_wrong_argument():
    res = run_tool('-c', PARSE_ONLY, json.dumps([['tools/test.py', ['CONFIG', 'CKPT',
                                                                     '--no-such-option']]]))
    assert 'RESULTS ["exit 2"]' in res.stdout, res.stdout + res.stderr


def test_documented_plot_command_runs(tmp_path):
    """Cheap enough to run as documented (with its output in a temporary folder):
    the Performance page's plot from the committed JSON."""
    runs = [argv for page, tool, argv in all_commands()
            if tool == 'tools/analysis_tools/plot_benchmark.py']
    assert runs
    for argv in runs:
        out = tmp_path / 'latency.png'
        argv = [str(out) if a.endswith('.png') else a for a in argv]
        res = run_tool('tools/analysis_tools/plot_benchmark.py', *argv)
        assert res.returncode == 0, res.stderr
        assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 10000
