"""Checks run by ``tools/train.py`` / ``tools/test.py`` before anything slow.

They turn the mistakes users make most (a dataset that is not where the config
says, a variant name that does not exist, a checkpoint path with a typo or a
broken file, dataloader settings PyTorch refuses) into one clear message at
start-up instead of a traceback minutes later. Every file the run will open is
checked: each dataloader's annotation file and image / label folders, the
evaluators' annotation files, and the checkpoint it loads or resumes from; and
each dataloader the run builds has settings its DataLoader takes.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import re
from typing import Any, Iterator, List, Optional, Tuple

from mmengine.config import Config

from ..checkpoint.io import check_checkpoint
from ..errors import TRAINED, ConfigError

_LAYOUT_HINTS = {
    'CocoDataset': ('COCO layout: DATA_ROOT/annotations/instances_{train,val}2017.json, '
                    'DATA_ROOT/train2017/, DATA_ROOT/val2017/',
                    'python tools/dataset_converters/make_synthetic_coco.py DATA_ROOT'),
    'ADE20KDataset': ('ADE20K layout: DATA_ROOT/images/{training,validation}/*.jpg, '
                      'DATA_ROOT/annotations/{training,validation}/*.png',
                      'python tools/dataset_converters/make_synthetic_ade20k.py DATA_ROOT'),
}

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')


# ------------------------------------------------------------------ datasets
def leaf_datasets(node: Any, key: str) -> Iterator[Tuple[str, dict]]:
    """``(setting, dataset config)`` for every leaf dataset under ``node``
    (through RepeatDataset / ClassBalancedDataset / ConcatDataset wrappers);
    ``setting`` is its dotted config key, as ``--cfg-options`` takes it."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get('dataset'), dict):
        yield from leaf_datasets(node['dataset'], f'{key}.dataset')
    elif isinstance(node.get('datasets'), (list, tuple)):
        for i, sub in enumerate(node['datasets']):
            yield from leaf_datasets(sub, f'{key}.datasets.{i}')
    else:
        yield key, node


def loader_datasets(cfg: Config, loaders=LOADERS) -> Iterator[Tuple[str, dict]]:
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, dict):
            yield from leaf_datasets(loader_cfg.get('dataset'), f'{loader}.dataset')


def evaluator_files(cfg: Config, evaluators=EVALUATORS) -> Iterator[Tuple[str, dict]]:
    """``(setting, metric config)`` for every metric that reads an
    ``ann_file`` (an evaluator may be one metric or a list of them)."""
    for name in evaluators:
        evaluator = cfg.get(name)
        metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
        for i, metric in enumerate(metrics):
            if isinstance(metric, dict) and isinstance(metric.get('ann_file'), str) \
                    and metric['ann_file']:
                key = name if len(metrics) == 1 and not isinstance(evaluator, (list, tuple)) \
                    else f'{name}.{i}'
                yield key, metric


def dataset_settings(cfg: Config) -> List[str]:
    """Every config setting that holds a dataset location."""
    keys = [f'{key}.data_root' for key, _ in loader_datasets(cfg)]
    keys += [f'{key}.ann_file' for key, _ in evaluator_files(cfg)]
    return list(dict.fromkeys(keys))


def _is_remote(path: str) -> bool:
    return '://' in path


def _loads_mmdet_seg_maps(dataset: dict) -> bool:
    """Whether the pipeline reads the maps under mmdet's ``data_prefix.seg``:
    mmdet's instance recipes inherit that prefix (COCO's panoptic PNG folder)
    from their panoptic bases and never open it."""
    return any(isinstance(t, dict) and (t.get('with_seg') or str(t.get('type', '')).endswith(
        'LoadPanopticAnnotations')) for t in dataset.get('pipeline') or [])


def _dataset_paths(dataset: dict) -> List[str]:
    """The files and folders a dataset opens (as mmengine's BaseDataset joins
    them: relative to ``data_root``, absolute paths as they are)."""
    root = dataset.get('data_root') or ''
    paths = []
    if dataset.get('ann_file'):
        paths.append(osp.join(root, dataset['ann_file']))
    prefix = dict(dataset.get('data_prefix') or {})
    if 'seg' in prefix and not _loads_mmdet_seg_maps(dataset):
        del prefix['seg']
    paths += [osp.join(root, p) for p in prefix.values() if isinstance(p, str) and p]
    if not paths and root:
        paths.append(root)
    return paths


def _missing(paths: List[str]) -> List[str]:
    return [p for p in paths if not _is_remote(p) and not osp.exists(p)]


def _move_hint(cfg: Config) -> str:
    settings = dataset_settings(cfg)
    return ('move every path at once with --data-root DIR (it sets '
            f'{", ".join(settings)}; each can also be set with --cfg-options KEY=VALUE)')


def _dataset_fix(cfg: Config, kind: str, root: str) -> str:
    layout, synth = _LAYOUT_HINTS.get(kind, ('the layout the dataset class expects', None))
    here = root.rstrip('/') or '.'
    fix = [f'put the dataset at {here} ({layout.replace("DATA_ROOT", here)})',
           _move_hint(cfg)]
    if synth:
        fix.append('write the small synthetic stand-in: ' + synth.replace('DATA_ROOT', here))
    return 'To fix: ' + ', or '.join(fix) + '.'


def check_datasets(cfg: Config, loaders: List[str], evaluators: List[str] = ()) -> None:
    """Every file and folder of the named dataloaders' datasets and of the
    named evaluators exists on disk."""
    for key, dataset in loader_datasets(cfg, loaders):
        missing = _missing(_dataset_paths(dataset))
        if missing:
            kind = str(dataset.get('type', '?')).split('.')[-1]
            root = dataset.get('data_root') or '.'
            verb = 'does' if len(missing) == 1 else 'do'
            raise ConfigError(f'{key.split(".")[0]}: {kind} needs {", ".join(missing)}, '
                              f'which {verb} not exist. {_dataset_fix(cfg, kind, root)}')
    for key, metric in evaluator_files(cfg, evaluators):
        if _missing([metric['ann_file']]):
            kind = str(metric.get('type', 'metric')).split('.')[-1]
            raise ConfigError(f'{key}: {kind} reads ann_file {metric["ann_file"]}, which does '
                              f'not exist. To fix: point {key}.ann_file at the annotation '
                              f'file, or {_move_hint(cfg)}.')


def move_data_root(cfg: Config, new_root: str) -> List[str]:
    """``--data-root DIR``: point every dataloader's dataset at ``new_root``
    and move the evaluators' annotation files that lived under an old root
    along with it. Returns the settings changed."""
    new_root = new_root.rstrip('/') + '/'
    old_roots, changed = [], []
    for key, dataset in loader_datasets(cfg):
        old = dataset.get('data_root')
        if old and not _is_remote(old):
            old_roots.append(osp.normpath(old))
        if dataset.get('data_root') != new_root:
            dataset['data_root'] = new_root
            changed.append(f'{key}.data_root')
    for key, metric in evaluator_files(cfg):
        path = osp.normpath(metric['ann_file'])
        for old in old_roots:
            if path.startswith(old + os.sep):
                metric['ann_file'] = osp.join(new_root, osp.relpath(path, old))
                changed.append(f'{key}.ann_file')
                break
    return list(dict.fromkeys(changed))


# --------------------------------------------------------------- dataloaders
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _loader_problem(key: str, loader: dict) -> Optional[str]:
    """What PyTorch's DataLoader (and its BatchSampler) would refuse in one
    dataloader config, as an error message naming the fix; None if nothing."""
    workers = loader.get('num_workers', 0)
    if not _is_int(workers) or workers < 0:
        return (f'{key}.num_workers={workers!r}: the number of data-loading processes is 0 '
                f'(load in the main process) or more. To fix: --cfg-options '
                f'{key}.num_workers=0 (or 1, 2, ...).')
    batch = loader.get('batch_size', 1)
    if 'batch_size' in loader and (not _is_int(batch) or batch < 1):
        return (f'{key}.batch_size={batch!r}: a batch holds 1 image or more. To fix: '
                f'--cfg-options {key}.batch_size=1 (or 2, ...).')
    timeout = loader.get('timeout', 0)
    if not isinstance(timeout, (int, float)) or timeout < 0:
        return (f'{key}.timeout={timeout!r}: the seconds to wait for a batch are 0 (no limit) '
                f'or more. To fix: --cfg-options {key}.timeout=0.')
    prefetch = loader.get('prefetch_factor')
    if workers == 0:
        needs = [f'{name}={loader[name]!r}' for name in ('persistent_workers', 'prefetch_factor')
                 if name in loader and loader[name] not in (None, False)]
        if needs:
            off = ' '.join(f'{key}.{n.split("=")[0]}='
                           f'{"False" if n.startswith("persistent") else "None"}' for n in needs)
            verb = 'needs' if len(needs) == 1 else 'need'
            return (f'{key}: {" and ".join(needs)} {verb} data-loading processes, but '
                    f'num_workers=0. To fix: --cfg-options {off} (as well as num_workers=0), '
                    f'or set {key}.num_workers to 1 or more.')
    elif prefetch is not None and (not _is_int(prefetch) or prefetch < 0):
        return (f'{key}.prefetch_factor={prefetch!r}: the batches each process loads ahead '
                f'are 0 or more. To fix: --cfg-options {key}.prefetch_factor=2 (the default).')
    return None


def check_dataloaders(cfg: Config, loaders: List[str]) -> None:
    """The named dataloaders' settings are ones PyTorch's DataLoader takes
    (``num_workers=0``, a usual debugging switch, needs
    ``persistent_workers=False`` too, which the mmdet / mmseg bases set True)."""
    for key in loaders:
        loader = cfg.get(key)
        problem = _loader_problem(key, loader) if isinstance(loader, dict) else None
        if problem:
            raise ConfigError(problem)


# ------------------------------------------------------------------ backbone
def backbone_class(cfg: Config):
    """The config's backbone class if it is one of ours (a
    :class:`PyramidBackbone` subclass), else None."""
    from mmengine.registry import MODELS

    from ..models import PyramidBackbone

    backbone = model_backbone(cfg)
    name = str(backbone.get('type', '')).split('.')[-1]
    cls = MODELS.get(name) if name else None
    return cls if isinstance(cls, type) and issubclass(cls, PyramidBackbone) else None


def model_backbone(cfg: Config) -> dict:
    """The backbone dict of ``cfg.model`` (inside a test-time-augmentation
    wrapper's ``module`` too); an empty dict if there is none."""
    model = cfg.get('model') or {}
    while isinstance(model, dict) and 'backbone' not in model and 'module' in model:
        model = model['module']
    backbone = model.get('backbone') if isinstance(model, dict) else None
    return backbone if isinstance(backbone, dict) else {}


def check_backbone(cfg: Config) -> None:
    """One of our backbones' ``arch`` resolves (fails before any model is built)."""
    cls = backbone_class(cfg)
    if cls is None:
        return
    backbone = model_backbone(cfg)
    overrides = {k: backbone[k] for k in cls.arch_overrides if k in backbone}
    try:
        cls.resolve_arch(backbone.get('arch', cls.default_arch), **overrides)
    except (KeyError, ValueError, TypeError) as err:
        msg = err.args[0] if err.args else str(err)
        raise ConfigError(f'model.backbone: {msg}') from None


# --------------------------------------------------------------- checkpoints
def _iter_number(path: str) -> int:
    found = re.findall(r'\d+', osp.basename(path))
    return int(found[-1]) if found else -1


def _earlier_checkpoints(work_dir: str, exclude: str) -> List[str]:
    files = [p for p in glob.glob(osp.join(work_dir, '*.pth'))
             if osp.abspath(p) != osp.abspath(exclude)]
    return sorted(files, key=_iter_number, reverse=True)


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (no value) continues from: the one named
    in ``WORK_DIR/last_checkpoint`` (written after every save)."""
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None
    with open(record) as f:
        return f.read().strip() or None


def read_training_checkpoint(path: str, what: str) -> dict:
    """The ``meta`` of a checkpoint ``--resume`` continues from; raises
    :class:`ConfigError` if the file is not one ``tools/train.py`` saved.
    Maps the file's tensors without reading them, so it is cheap."""
    from ..checkpoint import load_checkpoint_file

    checkpoint = load_checkpoint_file(path, 'cpu', mmap=True)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or 'iter' not in meta or 'state_dict' not in checkpoint:
        keys = sorted(map(str, checkpoint))[:6] if isinstance(checkpoint, dict) else []
        raise ConfigError(
            f'{what} {path} is not a training checkpoint (it holds {keys or "no dict"}, not '
            "'meta' with the epoch and iteration, 'state_dict' and 'optimizer'): --resume "
            f'continues from {TRAINED}; to start a new run from these weights use '
            f'--cfg-options load_from={path}')
    return meta


def check_resume(cfg: Config) -> Optional[dict]:
    """The checkpoint a ``resume=True`` run continues from exists, is a
    training checkpoint, and reads; returns its ``meta`` (None when auto
    resume finds no checkpoint and the run starts from scratch)."""
    from ..checkpoint import CheckpointError, inspect_checkpoint_file

    if cfg.get('load_from'):
        check_checkpoint(cfg.load_from, '--resume checkpoint',
                         f'pass {TRAINED}, or --resume alone to continue from the latest '
                         'checkpoint in the work dir')
        return read_training_checkpoint(cfg.load_from, '--resume checkpoint')
    work_dir = cfg.work_dir
    path = latest_checkpoint(work_dir)
    if path is None:
        return None
    latest = f'the latest checkpoint in {work_dir} (named in its last_checkpoint file)'
    try:
        if not osp.isfile(path):
            raise ConfigError(f'--resume: {path}, {latest}, does not exist.')
        return read_training_checkpoint(path, f'--resume: {latest},')
    except (CheckpointError, ConfigError) as err:
        readable = []
        for earlier in _earlier_checkpoints(work_dir, path):
            try:
                inspect_checkpoint_file(earlier)
                readable.append(earlier)
                break
            except CheckpointError:
                continue
        other = (f'resume from an earlier one: --resume {readable[0]}' if readable else
                 'start again without --resume')
        if isinstance(err, CheckpointError):
            err = f'--resume: {err} It is {latest}.'
        raise ConfigError(f'{err} To fix: {other}.') from None


def preflight(cfg: Config, mode: str) -> Optional[dict]:
    """Raise :class:`ConfigError` (or a checkpoint error) if ``cfg`` cannot
    ``mode`` ('train' / 'test'). For a resumed training run, returns the
    ``meta`` of the checkpoint it continues from."""
    check_backbone(cfg)
    meta = None
    if mode == 'train':
        loaders, evaluators = ['train_dataloader'], []
        if cfg.get('val_cfg') and cfg.get('val_dataloader'):
            loaders.append('val_dataloader')
            evaluators.append('val_evaluator')
        if cfg.get('resume'):
            meta = check_resume(cfg)
        elif cfg.get('load_from'):
            check_checkpoint(cfg.load_from, 'load_from checkpoint',
                             'point load_from at an existing file, or drop it')
        else:  # ImageNet weights, loaded at start
            init = model_backbone(cfg).get('init_cfg') or {}
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                check_checkpoint(init.get('checkpoint'),
                                 'model.backbone.init_cfg checkpoint (download the official '
                                 'file named in the config, or set init_cfg=None)')
    else:
        loaders, evaluators = ['test_dataloader'], ['test_evaluator']
    check_dataloaders(cfg, loaders)
    check_datasets(cfg, loaders, evaluators)
    return meta
