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


def save_random_weights(config: str, path) -> None:
    """A checkpoint of ``config``'s model with seeded random weights, as a
    tool loads it (``state_dict``, and ``meta`` with the test set's class names
    where the config gives them, as mmengine's runner saves them): a trained
    checkpoint's stand-in."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    if cfg.default_scope == 'mmdet':
        import mmdet.models  # noqa: F401  (registers the library's modules)
    else:
        import mmseg.models  # noqa: F401
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    meta = dict(iter=0)
    metainfo = cfg.test_dataloader.dataset.get('metainfo')
    if metainfo:
        meta['dataset_meta'] = dict(metainfo)
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
