"""What ``tools/train.py`` and ``tools/test.py`` share: arguments, config
loading, the runner, and turning config mistakes into one-line errors.

Both tools serve mmdet and mmseg configs alike; the config's ``default_scope``
says which library it belongs to.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from typing import Callable

from mmengine.config import Config, DictAction

from . import cpu_distributed
from .preflight import ConfigError, preflight

SCOPES = ('mmdet', 'mmseg')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (e.g. '
                        'train_dataloader.batch_size=4)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (tools/dist_*.sh use pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Read the config, apply the command line, and run the preflight checks."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise ConfigError(f'config file {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ConfigError(f'{args.config} has default_scope={scope!r}; these tools run '
                          f'{" and ".join(SCOPES)} configs (inherit an mmdet:: or mmseg:: base)')
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config):
    """mmengine's runner (or the config's ``runner_type``), with CPU-only
    distributed runs set up first."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    cpu_distributed.setup(cfg, cfg.launcher)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def checked_config(args: argparse.Namespace, mode: str,
                   adjust: Callable[[Config], None] = lambda cfg: None) -> Config:
    """:func:`load_config`, then ``adjust`` (the tool's own options), then
    the preflight checks on the final config."""
    cfg = load_config(args)
    adjust(cfg)
    preflight(cfg, mode)
    return cfg


def main_guard(main: Callable[[], None]) -> None:
    """Run ``main``; a :class:`ConfigError` becomes ``error: ...`` and exit 2."""
    import mmfastervit  # noqa: F401  registry + weights-only allowlist before any load

    try:
        main()
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    except BaseException:
        _close_process_group(wait_for_others=False)  # no barrier: others may be stuck
        raise
    _close_process_group(wait_for_others=True)


def _close_process_group(wait_for_others: bool) -> None:
    """Tear the process group down before the interpreter exits; otherwise
    gloo's threads can abort the process at exit ('terminate called without
    an active exception'). After success all ranks meet first."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()
