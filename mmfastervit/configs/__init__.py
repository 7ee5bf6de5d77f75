"""The shipped configs: where they are, their names, and copying one with the
``_base_`` files it needs, for a user's project (``python -m mmfastervit.configs``).

An installed package keeps them in ``mmfastervit/.mim/configs/`` (the layout of
OpenMMLab packages, which ``mim`` reads); a checkout in ``configs/``. A config's
name is its path under that folder without ``.py``: ``cascade_fastervit_t``,
``demo/cascade_fastervit_synthetic_coco`` (the ``demo/`` may be left out).

mmengine resolves ``scope::path`` bases only for OpenMMLab's own packages, so a
user's config cannot write ``_base_ = 'mmfastervit::...'``: it copies ours next
to itself and inherits them by relative path; their ``mmdet::`` / ``mmseg::``
bases resolve through the installed mmdet / mmseg.
"""
from __future__ import annotations

import ast
import difflib
import os
import os.path as osp
import shutil
from typing import Dict, List

from ..errors import ConfigError

_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_root() -> str:
    """The folder of the shipped configs: ``mmfastervit/.mim/configs`` when
    installed, the checkout's ``configs/`` otherwise."""
    for root in (osp.join(_PACKAGE, '.mim', 'configs'),
                 osp.join(osp.dirname(_PACKAGE), 'configs')):
        if osp.isfile(osp.join(root, '_base_', 'fastervit_2.py')):
            return root
    raise FileNotFoundError(f'no configs in {_PACKAGE}/.mim/configs: reinstall mmfastervit '
                            '(pip install mmfastervit, or pip install -e . in a checkout)')


def list_configs() -> Dict[str, str]:
    """Name -> path of every shipped config a run can start from (not the
    ``_base_`` files)."""
    root = config_root()
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ('_base_', '__pycache__'))
        for file in sorted(files):
            if file.endswith('.py'):
                path = osp.join(folder, file)
                found[osp.relpath(path, root)[:-3].replace(os.sep, '/')] = path
    return found


def find_config(name: str) -> str:
    """The path of config ``name`` (``cascade_fastervit_t``, with or without
    ``.py`` or ``demo/``); a ConfigError naming the closest names otherwise."""
    configs = list_configs()
    key = name[:-3] if name.endswith('.py') else name
    matches = [n for n in configs if n == key or n.rpartition('/')[2] == key]
    if len(matches) == 1:
        return configs[matches[0]]
    close = difflib.get_close_matches(key, configs, n=3, cutoff=0.5)
    close += [n for n in difflib.get_close_matches(key, [n.rpartition('/')[2] for n in configs],
                                                   n=3, cutoff=0.5)
              if n not in close and f'demo/{n}' not in close]
    hint = f'did you mean {", ".join(close)}? ' if close else ''
    raise ConfigError(f'no config named {name!r}: {hint}'
                      '`python -m mmfastervit.configs --list` lists them')


def local_bases(path: str) -> List[str]:
    """The files ``path`` inherits through ``_base_`` that sit beside it (not
    ``mmdet::`` / ``mmseg::`` ones), read the way mmengine reads them: the
    literal string or list assigned to ``_base_``."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=path)
    bases: List[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            bases = [value] if isinstance(value, str) else list(value)
    return [osp.normpath(osp.join(osp.dirname(path), b)) for b in bases if '::' not in b]


def copy_config(name: str, dest: str) -> List[str]:
    """Copy config ``name`` and every local base it needs into ``dest``,
    keeping their places relative to each other (``dest/cascade_fastervit_t.py``,
    ``dest/_base_/...``), so the copy loads with ``Config.fromfile`` there.
    Returns the copied paths, the config first."""
    root = config_root()
    todo, seen = [find_config(name)], []
    while todo:
        path = todo.pop(0)
        if path not in seen:
            seen.append(path)
            todo += local_bases(path)
    copied = []
    for path in seen:
        rel = osp.relpath(path, root)
        if rel.startswith(os.pardir):
            raise ConfigError(f'{path} inherits from outside {root}')
        target = osp.join(dest, rel)
        os.makedirs(osp.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(target)
    return copied
