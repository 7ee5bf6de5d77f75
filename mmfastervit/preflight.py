"""Checks run by ``tools/train.py`` / ``tools/test.py`` before anything slow.

They turn the mistakes users make most (a dataset that is not where the config
says, a variant name that does not exist, a checkpoint path with a typo) into
one clear message at start-up instead of a traceback minutes later.
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional

from mmengine.config import Config


class ConfigError(ValueError):
    """A config cannot work as written; the message says how to fix it."""


_LAYOUT_HINTS = {
    'CocoDataset': ('COCO layout: DATA_ROOT/annotations/instances_{train,val}2017.json, '
                    'DATA_ROOT/train2017/, DATA_ROOT/val2017/',
                    'python tools/make_synthetic_coco.py DATA_ROOT'),
    'ADE20KDataset': ('ADE20K layout: DATA_ROOT/images/{training,validation}/*.jpg, '
                      'DATA_ROOT/annotations/{training,validation}/*.png',
                      'python tools/make_synthetic_ade20k.py DATA_ROOT'),
}


def _datasets(cfg: dict) -> Iterator[dict]:
    """Leaf dataset configs inside wrappers (Repeat, ClassBalanced, Concat)."""
    if not isinstance(cfg, dict):
        return
    if 'dataset' in cfg:
        yield from _datasets(cfg['dataset'])
    elif 'datasets' in cfg:
        for sub in cfg['datasets']:
            yield from _datasets(sub)
    else:
        yield cfg


def _missing_paths(dataset: dict) -> List[str]:
    root = dataset.get('data_root') or ''
    paths = []
    if dataset.get('ann_file'):
        paths.append(os.path.join(root, dataset['ann_file']))
    prefix = dataset.get('data_prefix') or {}
    paths += [os.path.join(root, p) for p in prefix.values() if isinstance(p, str) and p]
    if not paths and root:
        paths.append(root)
    return [p for p in paths if '://' not in p and not os.path.exists(p)]


def check_datasets(cfg: Config, loaders: List[str]) -> None:
    """Every dataset of the named dataloaders exists on disk."""
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset in _datasets(loader_cfg.get('dataset')):
            missing = _missing_paths(dataset)
            if not missing:
                continue
            kind = dataset.get('type', '?')
            layout, synth = _LAYOUT_HINTS.get(kind, ('the layout the dataset class expects', None))
            root = dataset.get('data_root') or '.'
            here = root.rstrip('/')
            fix = [f'  - put the dataset at {root} ({layout.replace("DATA_ROOT", here)})',
                   '  - or point the config at it: '
                   f'--cfg-options {loader}.dataset.data_root=/path/']
            if synth:
                fix.append('  - or write the small synthetic stand-in: '
                           + synth.replace('DATA_ROOT', here))
            raise ConfigError(f'{loader}: {kind} needs {", ".join(missing)}, which does not '
                              'exist.\nTo fix:\n' + '\n'.join(fix))


def check_backbone(cfg: Config) -> None:
    """One of our backbones' ``arch`` resolves (fails before any model is built)."""
    from mmengine.registry import MODELS

    from .models import PyramidBackbone

    backbone = dict((cfg.get('model') or {}).get('backbone') or {})
    name = str(backbone.pop('type', '')).split('.')[-1]
    cls = MODELS.get(name) if name else None
    if not (isinstance(cls, type) and issubclass(cls, PyramidBackbone)):
        return
    overrides = {k: backbone[k] for k in cls.arch_overrides if k in backbone}
    try:
        cls.resolve_arch(backbone.get('arch', cls.default_arch), **overrides)
    except (KeyError, ValueError, TypeError) as err:
        msg = err.args[0] if err.args else str(err)
        raise ConfigError(f'model.backbone: {msg}') from None


def check_checkpoint(path: Optional[str], what: str) -> None:
    if path and '://' not in path and not os.path.isfile(path):
        raise ConfigError(f'{what} {path!r} does not exist')


def preflight(cfg: Config, mode: str) -> None:
    """Raise :class:`ConfigError` if ``cfg`` cannot ``mode`` ('train'/'test')."""
    check_backbone(cfg)
    if mode == 'train':
        loaders = ['train_dataloader']
        if cfg.get('val_cfg') and cfg.get('val_dataloader'):
            loaders.append('val_dataloader')
        if cfg.get('load_from') and not cfg.get('resume'):
            check_checkpoint(cfg.load_from, 'load_from checkpoint')
        elif not cfg.get('resume'):  # ImageNet weights, loaded at start
            init = ((cfg.get('model') or {}).get('backbone') or {}).get('init_cfg') or {}
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                check_checkpoint(init.get('checkpoint'),
                                 'model.backbone.init_cfg checkpoint (download the official '
                                 'file named in the config, or set init_cfg=None)')
    else:
        loaders = ['test_dataloader']
    check_datasets(cfg, loaders)
