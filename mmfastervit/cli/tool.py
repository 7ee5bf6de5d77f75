"""What ``tools/train.py`` and ``tools/test.py`` share: arguments, config
loading, the runner, and turning mistakes into one-line errors.

Both tools serve mmdet and mmseg configs alike; the config's ``default_scope``
says which library it belongs to. Every mistake a user can fix (a config
error, a missing or broken file, an input the backbone cannot take) ends as
one ``error: ...`` line on stderr and exit code 2, without a traceback.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from typing import Callable, Optional, Tuple

from mmengine.config import Config, DictAction

from ..engine.hooks.stop_signals import TrainingStopped
from ..errors import ConfigError
from . import distributed
from .environment import setup_env
from .preflight import move_data_root, preflight

SCOPES = ('mmdet', 'mmseg')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--data-root', metavar='DIR',
                        help='move the dataset: every dataloader\'s data_root becomes DIR, and '
                        'the evaluators\' annotation files under the old root move with it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (e.g. '
                        'train_dataloader.batch_size=4)')
    parser.add_argument('--verbose', action='store_true',
                        help='print the full environment, config and evaluation reports on '
                        'the console too (they are always in the log file)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher (tools/dist_*.sh use pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """Read the config and apply the command line (``--cfg-options``, then
    ``--data-root``, then ``--work-dir``)."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise ConfigError(f'config file {args.config!r} does not exist')
    try:
        cfg = Config.fromfile(args.config)
    except (TypeError, KeyError, SyntaxError, ImportError) as err:
        # mmengine's own words (e.g. a dict over a base's string: "set
        # `_delete_=True`"), as one line with the file named
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f'{args.config} cannot be read: {first}') from err
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ConfigError(f'{args.config} has default_scope={scope!r}; these tools run '
                          f'{" and ".join(SCOPES)} configs (inherit an mmdet:: or mmseg:: base)')
    if getattr(args, 'data_root', None):
        moved = move_data_root(cfg, args.data_root)
        if os.environ.get('RANK', '0') == '0':
            print(f'--data-root {args.data_root}: set {", ".join(moved) or "nothing"}',
                  flush=True)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config, verbose: bool = False):
    """Our runner (mmengine's, with a readable console and the hooks of
    :mod:`mmfastervit.engine.hooks`), or the config's ``runner_type``; CPU-only
    distributed runs are set up first."""
    from mmengine.registry import RUNNERS

    from .runner import ToolRunner, VerboseToolRunner

    distributed.setup(cfg, cfg.launcher)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return (VerboseToolRunner if verbose else ToolRunner).from_cfg(cfg)


def checked_config(args: argparse.Namespace, mode: str,
                   adjust: Callable[[Config], None] = lambda cfg: None
                   ) -> Tuple[Config, Optional[dict]]:
    """:func:`load_config`, then ``adjust`` (the tool's own options), then
    the preflight checks on the final config. Returns the config and, for a
    resumed training run, the ``meta`` of the checkpoint it continues from."""
    cfg = load_config(args)
    adjust(cfg)
    return cfg, preflight(cfg, mode)


def run(runner, mode: str, check_finite_off: str = '') -> None:
    """``runner.train()`` / ``runner.test()``; an input the backbone refuses
    is reported with the image files it came from. ``check_finite_off``:
    how to switch the non-finite check off with this tool."""
    from ..models.common.inputs import InputError, NonFiniteInputError

    sources = getattr(runner, 'batch_sources', None)
    try:
        getattr(runner, mode)()
    except NonFiniteInputError as err:
        where = sources.where(err.elements, err.batch_size) if sources else ''
        if not where:
            raise
        that = 'that image' if len(err.elements) == 1 else 'those images'
        raise InputError(f'{err.name} input holds {" and ".join(err.kinds)} in {where}: '
                         f'check {that} and the pipeline before the backbone; to let such '
                         f'values through: {check_finite_off}') from None
    except InputError as err:
        where = sources.where() if sources else ''
        if not where:
            raise
        raise InputError(f'{err} [{where}]') from None


def _user_errors() -> tuple:
    from ..checkpoint import CheckpointError
    from ..models.common.inputs import InputError

    return ConfigError, CheckpointError, InputError, FileNotFoundError


def error_message(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError) and err.filename:
        return f'{err.filename}: {err.strerror or "no such file or directory"}'
    return str(err)


def main_guard(main: Callable[[], Optional[int]]) -> None:
    """Run a tool's ``main``: a mistake the user can fix becomes
    ``error: ...`` and exit code 2, Ctrl-C outside training a one-line note
    and exit code 130, a training stopped by a signal exits with its code
    (``128 + signal``); the process group is closed either way."""
    setup_env()  # also registers our modules and the weights-only allowlist

    errors = _user_errors()
    try:
        code = main()
    except errors as err:
        _end(wait_for_others=False)
        print(f'error: {error_message(err)}', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _end(wait_for_others=False)
        print('interrupted', file=sys.stderr)
        sys.exit(130)
    except TrainingStopped as stop:
        _end(wait_for_others=False)
        _exit_after_stop(stop.code)
    except BaseException:
        _end(wait_for_others=False)  # no barrier: others may be stuck
        raise
    _end(wait_for_others=True)
    sys.exit(code or 0)


def _exit_after_stop(code: int) -> None:
    """Exit with ``code`` after a stop signal, without the interpreter's
    teardown. The exit callbacks run (logging's flush among them) while the
    stop hook still answers a second signal; the teardown after them would
    first put the default signal handlers back (a second signal then kills
    the process: exit code -15) and then take seconds on a busy machine, and
    it has nothing left to do."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _end(wait_for_others: bool) -> None:
    _stop_data_workers()
    _close_process_group(wait_for_others)


def _stop_data_workers() -> None:
    """End the data-loader workers still running. Training workers ignore
    SIGTERM (see :mod:`mmfastervit.engine.hooks.stop_signals`), so the terminate
    that Python's exit would send them could not end them."""
    import multiprocessing
    import signal

    children = multiprocessing.active_children()
    if not children:
        return
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # PyTorch's handler would raise
    for child in children:
        child.kill()
    for child in children:
        child.join(timeout=10)


def _close_process_group(wait_for_others: bool) -> None:
    """Tear the process group down before the interpreter exits; otherwise
    gloo's threads can abort the process at exit ('terminate called without
    an active exception'). After success all ranks meet first."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()
