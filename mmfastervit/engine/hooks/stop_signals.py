"""Stop training on SIGTERM / SIGINT without losing work.

Clusters send SIGTERM before they preempt a job; Ctrl-C sends SIGINT. On the
first of either, :class:`StopOnSignalHook` lets the current iteration finish,
saves a checkpoint of it (with :class:`~.resume_state.ResumeStateHook`'s
random-generator state, so ``--resume`` continues exactly), says how to
resume, and exits with ``128 + signal``. A second signal exits at once
with the same code, whatever the process is doing: not by raising from the
handler (raised inside an exit callback, e.g. torch._dynamo's, it was
printed as a traceback and ignored; once the interpreter's teardown had put
the default handlers back, the signal killed the process: exit -15), but by
ending the data workers and the process itself (``os._exit``); the tools
end the same way after the first signal's stop (``cli.main_guard``), so
the handler answers until the very end. A checkpoint being written when the
second signal comes is finished first: none is ever left half written.
In distributed runs every rank stops after the same iteration.

Data-loader workers are made to ignore both signals
(:func:`ignore_stop_signals_worker_init`): Ctrl-C, and a cluster's SIGTERM,
reach every process of the job, and a worker killed by them would make
PyTorch abort the main process before the checkpoint is written. The tools
end such workers themselves when they exit (``cli.main_guard``).
"""
from __future__ import annotations

import functools
import multiprocessing
import os
import os.path as osp
import signal
import sys
from typing import Callable, Dict, Optional

import torch
import torch.distributed as dist
from mmengine.dataset.utils import worker_init_fn as seeded_worker_init
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS, HOOKS

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)



def _notice(message: str) -> None:
    """One line on stderr from a signal handler. Not through ``logging``: the
    signal may arrive while a log handler is writing, and re-entering its
    buffered stream raises (``reentrant call inside BufferedWriter``); a raw
    write to the file descriptor cannot."""
    os.write(2, f'WARNING - {message}\n'.encode(errors='replace'))

class TrainingStopped(SystemExit):
    """Raised to end the process after a stop signal (exit code ``128 + signal``)."""


@FUNCTIONS.register_module()
def ignore_stop_signals_worker_init(worker_id: int, num_workers: int, seed: int,
                                    rank: Optional[int] = None,
                                    disable_subprocess_warning: bool = False) -> None:
    """mmengine's seeding of a data-loader worker, in a worker that ignores
    SIGTERM and SIGINT (the main process decides when to stop)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    if rank is None:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    seeded_worker_init(worker_id, num_workers, rank, seed, disable_subprocess_warning)


def shield_data_workers(runner) -> None:
    """Give the train and val loaders of a runner not yet trained
    :func:`ignore_stop_signals_worker_init` (unless a config sets its own
    ``worker_init_fn``)."""
    for name in ('_train_dataloader', '_val_dataloader'):
        loader = getattr(runner, name, None)
        if not isinstance(loader, dict) or not loader.get('num_workers'):
            continue
        if 'worker_init_fn' in loader:
            continue
        loader['worker_init_fn'] = dict(
            type='ignore_stop_signals_worker_init', num_workers=loader['num_workers'],
            seed=runner.seed, rank=runner.rank,
            disable_subprocess_warning=loader.pop('disable_subprocess_warning', False))


def _world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@HOOKS.register_module()
class StopOnSignalHook(Hook):
    """On SIGTERM / SIGINT: finish the iteration, save it, say how to resume,
    exit. ``resume_command`` (called with the checkpoint path) returns the
    command line to print; by default the message names ``--resume PATH``."""

    priority = 'LOWEST'  # after the checkpoint, scheduler and logger hooks

    def __init__(self, resume_command: Optional[Callable[[str], str]] = None) -> None:
        self.resume_command = resume_command
        self._pid = os.getpid()
        self._previous: Dict[int, object] = {}
        self._signal: Optional[int] = None
        self._started = False  # an iteration began in this process
        self._last_saved: Optional[str] = None
        self._saving = 0  # checkpoints being written now (nested saves count)
        self._deferred: Optional[int] = None  # a second signal that came during a save

    # ------------------------------------------------------------- signals
    def before_train(self, runner) -> None:
        self._runner = runner
        save = runner.save_checkpoint

        @functools.wraps(save)
        def save_whole(out_dir, filename, *args, **kwargs):
            self._saving += 1
            try:
                saved = save(out_dir, filename, *args, **kwargs)
                self._last_saved = osp.join(out_dir, filename)
                return saved
            finally:
                self._saving -= 1
                if not self._saving and self._deferred is not None:
                    self._stop_now(self._deferred)

        runner.save_checkpoint = save_whole  # every save: the checkpoint hook's and ours
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def after_train(self, runner) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        runner.__dict__.pop('save_checkpoint', None)

    def _on_signal(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:  # a forked worker inherited the handler
            return
        name = signal.Signals(signum).name
        if self._signal is not None or not self._started:
            if self._saving:  # finish the checkpoint first: never half a file
                if self._deferred is None:
                    self._deferred = signum
                    _notice(f'{name} received again while a checkpoint is being written: '
                            'stopping as soon as it is complete')
                return
            self._stop_now(signum)
        self._signal = signum
        _notice(f'{name} received: finishing iteration {self._runner.iter + 1}, then saving a '
                f'checkpoint to resume from (send {name} again to stop at once without '
                'saving)')

    def _stop_now(self, signum: int) -> None:
        """End the process with ``128 + signum`` at once: say so, end the data
        workers (they ignore stop signals), flush what was printed, exit
        without unwinding (nothing the signal interrupted runs again)."""
        name = signal.Signals(signum).name
        last = self._last_saved or 'none from this run'
        _notice(f'{name} received again: stopping now without saving (last checkpoint: '
                f'{last})' if self._signal is not None else
                f'{name} received before the first iteration: nothing to save, stopping')
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # PyTorch's handler would raise
        for child in multiprocessing.active_children():
            child.kill()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, RuntimeError):  # closed, or re-entered
                pass
        os._exit(128 + signum)

    # ----------------------------------------------------------- training
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._started = True

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        signum = self._agreed_signal()
        if signum is None:
            return
        done = runner.iter + 1
        if done >= runner.max_iters:
            print_log('this was the last iteration: the run ends normally',
                      logger='current', level=30)
            return
        path = self._save(runner, done)
        if runner.rank == 0:
            command = (self.resume_command(path) if self.resume_command else
                       f'the same training command with --resume {path}')
            print_log(f'Stopped by {signal.Signals(signum).name} after iteration {done} of '
                      f'{runner.max_iters}; saved {path} (weights, optimizer, schedulers, '
                      f'random state, data position). To resume:\n  {command}',
                      logger='current', level=30)
            sys.stdout.flush()
        raise TrainingStopped(128 + signum)

    def _agreed_signal(self) -> Optional[int]:
        """The signal to stop for; in distributed runs, every rank agrees
        (whichever rank received it), so all stop after the same iteration."""
        if _world_size() == 1:
            return self._signal
        device = 'cuda' if dist.get_backend() == 'nccl' else 'cpu'
        flag = torch.tensor([self._signal or 0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item()) or None

    def _save(self, runner, done: int) -> str:
        path = osp.join(runner.work_dir, f'iter_{done}.pth')
        if runner.message_hub.get_info('last_ckpt') != path:  # the checkpoint hook's
            runner.save_checkpoint(runner.work_dir, osp.basename(path), by_epoch=False)
        if runner.rank == 0:
            with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
                f.write(path)
        if _world_size() > 1:
            dist.barrier()  # no rank exits (and gets the others killed) before the save
        self._last_saved = path
        return path
