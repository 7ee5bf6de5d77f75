"""Checkpoints that resume to the same weights as an uninterrupted run.

mmengine's checkpoints hold the model, optimizer, schedulers and iteration,
and its iteration-based loop replays the data loader up to the saved
iteration. Two things are missing for a resumed run to continue exactly:

- the random number generators (Python, numpy, torch, CUDA) as they were when
  the checkpoint was saved: augmentations, RoI sampling and dropout draw from
  them, and a fresh process starts from the seed instead;
- a validation that was due right after the saved iteration (it draws from
  the generators too, and mmengine's resume skips it).

:class:`ResumeStateHook` stores both in every checkpoint (``resume_state``)
and, in a resumed run, restores the generators (and runs that validation)
just before the next batch is fetched, after the loader has been advanced to
the saved position; an epoch-based loop stopped mid-epoch also continues at
the saved batch instead of restarting the epoch.
"""
from __future__ import annotations

import bisect
import random
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop


def capture_rng() -> Dict[str, Any]:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Dict[str, Any]) -> None:
    random.setstate(_as_python_state(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def _as_python_state(state):
    """``random.setstate`` wants tuples; a checkpoint round trip may give lists."""
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _interval(milestones, intervals, step: int) -> int:
    return intervals[bisect.bisect(milestones, step) - 1]


def validation_due(runner, at_epoch_end: bool) -> bool:
    """Whether the train loop validates right after the point a checkpoint
    is being saved at (the end of the current iteration or epoch)."""
    loop, val_loop = runner.train_loop, runner.val_loop
    if val_loop is None:
        return False
    if isinstance(loop, IterBasedTrainLoop) and not at_epoch_end:
        done = runner.iter + 1
        interval = _interval(loop.dynamic_milestones, loop.dynamic_intervals, done + 1)
        return done >= loop.val_begin and (done % interval == 0 or done == loop.max_iters)
    if isinstance(loop, EpochBasedTrainLoop) and at_epoch_end:
        done = runner.epoch + 1
        interval = _interval(loop.dynamic_milestones, loop.dynamic_intervals, done + 1)
        return done >= loop.val_begin and (done % interval == 0 or done == loop.max_epochs)
    return False


class _ActBeforeFetch:
    """The iteration-based loop's data iterator: after ``skip`` batches
    (mmengine's replay up to the saved iteration) runs ``action`` once, just
    before the next batch is fetched, and puts the plain iterator back."""

    def __init__(self, loop, skip: int, action: Callable[[], None]) -> None:
        self._loop, self._inner, self._skip, self._action = (
            loop, loop.dataloader_iterator, skip, action)

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0:
            self._loop.dataloader_iterator = self._inner
            self._action()
        self._skip -= 1
        return next(self._inner)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class _SkipThenAct:
    """The epoch-based loop's data loader for one epoch: skips the ``skip``
    batches trained before the checkpoint (loading them, so data workers
    draw the same random numbers as before), runs ``action``, then yields
    the rest. Later epochs use the plain loader."""

    def __init__(self, loop, skip: int, action: Callable[[], None]) -> None:
        self._loop, self._inner, self._skip, self._action = (
            loop, loop.dataloader, skip, action)

    def __iter__(self):
        self._loop.dataloader = self._inner
        batches = iter(self._inner)
        for _ in range(self._skip):
            next(batches)
        self._action()
        yield from batches

    def __len__(self) -> int:
        return len(self._inner)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


@HOOKS.register_module()
class ResumeStateHook(Hook):
    """Save the random generators' state (and whether a validation was due)
    in every checkpoint; in a resumed run, restore them at the saved point of
    the data stream, so training continues as if never interrupted."""

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta', {})
        at_epoch_end = meta.get('epoch') == runner.epoch + 1
        checkpoint['resume_state'] = dict(rng=capture_rng(),
                                          val_pending=validation_due(runner, at_epoch_end))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('resume_state')

    def before_train_epoch(self, runner) -> None:
        state, self._loaded = self._loaded, None
        if state is None or runner.iter == 0:  # not resumed (load_from) or no state
            return

        def action() -> None:
            restore_rng(state['rng'])
            if state.get('val_pending') and runner.val_loop is not None:
                runner.val_loop.run()
                runner.model.train()

        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _ActBeforeFetch(loop, runner.iter, action)
        elif isinstance(loop, EpochBasedTrainLoop):
            skip = runner.iter - runner.epoch * len(loop.dataloader)
            if skip >= 0:
                loop.dataloader = _SkipThenAct(loop, skip, action)
