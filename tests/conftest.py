"""Shared fixtures (the synthetic datasets, the demo checkpoints, the tool
runner) and the three tiers.

Tiers (markers registered in setup.cfg), given here to every test so that
none is untiered:

* ``slow``: marked by the test itself (end-to-end runs, minutes each);
* ``tools``: under ``tests/tools/``, using the ``run_tool`` fixture, or
  marked ``tools`` by the test itself (starts a tool or Python processes);
* ``unit``: everything else (in-process).

The datasets are session-scoped and shared: a test that changes files must
copy the dataset first (as ``coco_with_nan_image`` does).
"""
import os
import sys
import warnings

import pytest
import torch

from mmfastervit.datasets.synthetic_ade20k import make_synthetic_ade20k
from mmfastervit.datasets.synthetic_coco import make_synthetic_coco
from support import tool_runs

#: the checkout on the path, whatever the working folder: ``benchmarks`` and
#: ``tools`` are imported from it (``support`` comes from ``tests/``)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

TOOLS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tools') + os.sep


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker('slow') or item.get_closest_marker('tools'):
            continue
        if str(item.path).startswith(TOOLS_DIR) or 'run_tool' in item.fixturenames:
            item.add_marker(pytest.mark.tools)
        else:
            item.add_marker(pytest.mark.unit)
    if os.environ.get('PYTEST_XDIST_WORKER'):
        # in parallel (tools/dev/run_tests.sh: --dist load --maxschedchunk 1 hands
        # tests out one at a time, in this order, to whichever worker is free):
        # the end-to-end runs first, then the other slow tests, so that none of
        # them starts last and leaves the other workers idle
        items.sort(key=lambda item: (item.get_closest_marker('slow') is None,
                                     os.sep + 'e2e' + os.sep not in str(item.path)))


# ------------------------------------------------------------ tool runner
@pytest.fixture(scope='session')
def run_tool():
    """``run_tool('tools/train.py', ..., timeout=, cwd=, env=)``: the tool
    (or ``'-c', code``) under this Python, from the checkout unless ``cwd``
    says otherwise; returns the ``CompletedProcess``."""
    return tool_runs.run_tool


@pytest.fixture
def tools_environment(monkeypatch):
    """What our tools set up (:func:`mmfastervit.cli.setup_env`, also run by
    a tool's ``main_guard`` in-process), undone after the test: mmengine's
    table of loaders and the warning filters are restored."""
    from mmengine.runner import CheckpointLoader

    from mmfastervit.cli import setup_env
    monkeypatch.setattr(CheckpointLoader, '_schemes', dict(CheckpointLoader._schemes))
    monkeypatch.setattr(warnings, 'filters', list(warnings.filters))
    setup_env()


@pytest.fixture(autouse=True)
def _no_checkpoint_loader_leaks():
    """A test that leaves our checkpoint loader registered in mmengine would
    change what later tests see (stock loading refuses official files; ours
    converts them): use ``tools_environment`` for in-process tool runs."""
    from mmengine.runner import CheckpointLoader
    before = dict(CheckpointLoader._schemes)
    yield
    assert dict(CheckpointLoader._schemes) == before, \
        "mmengine's checkpoint loaders were left changed: use the tools_environment fixture"


# ------------------------------------------------------------ synthetic datasets
@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """COCO layout: 8 training and 4 validation images, seed 1."""
    root = tmp_path_factory.mktemp('coco')
    make_synthetic_coco(str(root), num_train=8, num_val=4, seed=1)
    return str(root)


@pytest.fixture(scope='session')
def tiny_coco_seed3(tmp_path_factory):
    """As ``tiny_coco`` (8 + 4 images) from seed 3: other pictures."""
    root = tmp_path_factory.mktemp('coco_seed3')
    make_synthetic_coco(str(root), num_train=8, num_val=4, seed=3)
    return str(root)


@pytest.fixture(scope='session')
def tiny_ade(tmp_path_factory):
    """ADE20K layout: 2 training and 2 validation images, seed 5."""
    root = tmp_path_factory.mktemp('ade') / 'ADEChallengeData2016'
    make_synthetic_ade20k(str(root), num_train=2, num_val=2, seed=5)
    return str(root)


@pytest.fixture(scope='session')
def ade_6_train_3_val(tmp_path_factory):
    """ADE20K layout: 6 training and 3 validation images, seed 5."""
    root = tmp_path_factory.mktemp('ade_6_3') / 'ADEChallengeData2016'
    make_synthetic_ade20k(str(root), num_train=6, num_val=3, seed=5)
    return str(root)


# ------------------------------------------------------------ checkpoints
@pytest.fixture(scope='session')
def checkpoints(tmp_path_factory):
    """A demo detector's checkpoint (as tools/train.py saves it, untrained),
    and broken or wrong files made from it."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    d = tmp_path_factory.mktemp('ckpt')
    init_default_scope('mmdet')
    torch.manual_seed(0)
    weights = MODELS.build(Config.fromfile(tool_runs.DEMO_COCO).model).state_dict()
    torch.save(dict(state_dict=weights, meta=dict(iter=2, epoch=0, seed=0)), d / 'model.pth')
    good = (d / 'model.pth').read_bytes()
    (d / 'truncated.pth').write_bytes(good[:len(good) // 2])
    (d / 'page.pth').write_text('<!DOCTYPE html><html><body>Not Found</body></html>')
    torch.save([torch.zeros(3)], d / 'list.pth')
    torch.save(dict(state_dict={k[len('backbone.'):]: v for k, v in weights.items()
                                if k.startswith('backbone.')}), d / 'backbone.pth')
    torch.save(dict(state_dict={k: v for k, v in weights.items()
                                if not k.startswith('roi_head.')}), d / 'partial.pth')
    return d
