"""Packaging: setup.cfg holds the metadata; this file adds the OpenMMLab
``.mim`` folder, as mmdet and mmseg ship it: the configs, the model index and
the user-facing tools inside the package (``mmfastervit/.mim/...``), where
``mim`` and ``python -m mmfastervit.configs`` find them after ``pip install``.

Wheels get copies; editable installs get symlinks into the checkout, so edits
to ``configs/`` show through at once.
"""
import os
import os.path as osp
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
#: what goes into mmfastervit/.mim (paths relative to the checkout)
MIM_FILES = ('configs', 'model-index.yml')
#: the tools a user of the installed package runs, relative to ``tools/`` (the
#: demo, the benchmark and the development scripts under ``dev/`` work on a
#: checkout only)
MIM_TOOLS = ('train.py', 'test.py', 'dist_train.sh', 'dist_test.sh', 'torchrun.sh',
             'srun.sh', 'slurm_train.sh', 'slurm_test.sh', 'deployment/export_onnx.py',
             'analysis_tools/show_predictions.py', 'analysis_tools/learning_curve.py',
             'dataset_converters/make_synthetic_coco.py',
             'dataset_converters/make_synthetic_ade20k.py',
             'model_converters/convert_official_checkpoint.py')


def _link(source: str, target: str) -> None:
    if osp.islink(target) or osp.isfile(target):
        os.remove(target)
    elif osp.isdir(target):
        shutil.rmtree(target)
    os.symlink(osp.relpath(source, osp.dirname(target)), target)


def _copy(source: str, target: str) -> None:
    if osp.isdir(source):
        shutil.copytree(source, target, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    else:
        shutil.copy2(source, target)


class BuildPyWithMim(build_py):
    """build_py, then ``mmfastervit/.mim``: copied into the build for a wheel,
    symlinked in the source tree for an editable install."""

    def run(self):
        super().run()
        editable = getattr(self, 'editable_mode', False)
        mim = osp.join(HERE if editable else self.build_lib, 'mmfastervit', '.mim')
        if osp.isdir(mim) and not osp.islink(mim):
            shutil.rmtree(mim)
        for name in MIM_TOOLS:
            os.makedirs(osp.join(mim, 'tools', osp.dirname(name)), exist_ok=True)
        place = _link if editable else _copy
        for name in MIM_FILES:
            place(osp.join(HERE, name), osp.join(mim, name))
        for name in MIM_TOOLS:
            place(osp.join(HERE, 'tools', name), osp.join(mim, 'tools', name))


setup(cmdclass={'build_py': BuildPyWithMim})
