"""Running the checkout's tools as a user does, for the tests:
``sys.executable tools/X.py ...`` from the checkout (or from a given empty
folder, so that no relative path can reach the checkout's ``data/``,
``work_dirs/`` or ``checkpoints/``), with a timeout, returning the result."""
import os
import subprocess
import sys
from typing import Optional

#: the checkout: tools/, configs/ and tests/ sit beside this package
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_COCO = os.path.join(ROOT, 'configs/demo/cascade_fastervit_synthetic_coco.py')
DEMO_ADE = os.path.join(ROOT, 'configs/demo/upernet_fastervit_synthetic_ade20k.py')
#: every setting that moves a dataset or an evaluator file of the demo configs
COCO_SETTINGS = ['train_dataloader.dataset.data_root', 'val_dataloader.dataset.data_root',
                 'test_dataloader.dataset.data_root', 'val_evaluator.ann_file',
                 'test_evaluator.ann_file']
ADE_SETTINGS = COCO_SETTINGS[:3]


def run_command(cmd, timeout: float = 600, cwd: Optional[str] = None,
                env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """``cmd`` (a list) with cwd ``cwd`` (default: the checkout), the
    variables ``env`` added to this process's environment, stdout and stderr
    captured as text, killed after ``timeout`` seconds."""
    return subprocess.run([str(a) for a in cmd], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def run_tool(*args, timeout: float = 600, cwd: Optional[str] = None,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """``sys.executable *args``: a tool (``'tools/train.py', ...``, found in
    the checkout whatever ``cwd`` is) or ``'-c', code``."""
    args = [str(a) for a in args]
    if args and args[0].startswith('tools/'):
        args[0] = os.path.join(ROOT, args[0])
    return run_command([sys.executable, *args], timeout=timeout, cwd=cwd, env=env)


def run_test_tool(*args, **kw) -> subprocess.CompletedProcess:
    """tools/test.py on the demo detector config."""
    return run_tool('tools/test.py', DEMO_COCO, *args, **kw)


def assert_one_error(res, *fragments) -> str:
    """Exit code 2, and stderr is exactly one ``error:`` line naming the cause."""
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stderr[-3000:] + res.stdout[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), res.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
