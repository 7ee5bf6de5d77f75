"""mmengine's loading of local files (``load_from``, ``--resume``,
``tools/test.py``, also in mmdet's and mmseg's own tools) through
:func:`.io.load_checkpoint_file`: the same weights-only safety and clear
errors, and whole official detector / segmentor files converted to our
layout on the fly (:mod:`.whole_model`). Installed by the tools'
``setup_env()``, never by importing the package."""
from __future__ import annotations

import os.path as osp
from typing import Mapping

from .io import load_checkpoint_file, not_a_dict
from .whole_model import convert_whole_model


def _mmengine_local_loader(filename: str, map_location=None):
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    checkpoint = load_checkpoint_file(filename, map_location)
    if not isinstance(checkpoint, Mapping):
        raise not_a_dict(filename, checkpoint)
    return convert_whole_model(checkpoint, filename)


def register_mmengine_loader() -> None:
    """Make mmengine read local checkpoint files through
    :func:`load_checkpoint_file` (same weights-only safety, clear errors),
    whole official detector / segmentor files converted to our layout
    (:mod:`.whole_model`)."""
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', force=True)(_mmengine_local_loader)
