"""Progress with an ETA during validation and testing.

mmengine's logger hook prints a validation / test line every ``interval``
batches, the same interval as in training; a pass shorter than a few
intervals (a small validation set, a quick test) then runs silently for
minutes. :class:`ProgressHook` adds a line at each quarter of such a pass.
"""
from __future__ import annotations

import datetime
import time

from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log

QUARTERS = (0.25, 0.5, 0.75)


class ProgressHook(Hook):
    priority = 'BELOW_NORMAL'

    def __init__(self) -> None:
        self._start = 0.0
        self._marks: list = []

    def _begin(self, runner, loader) -> None:
        total = len(loader)
        interval = next((h.interval for h in runner.hooks if isinstance(h, LoggerHook)), 1)
        self._start = time.time()
        # quarters, unless the logger hook prints at least as often
        self._marks = ([max(1, round(q * total)) for q in QUARTERS]
                       if total >= 4 and interval > total // 4 else [])
        self._total = total

    def _step(self, stage: str, batch_idx: int) -> None:
        done = batch_idx + 1
        if done not in self._marks:
            return
        elapsed = time.time() - self._start
        eta = datetime.timedelta(seconds=round(elapsed / done * (self._total - done)))
        print_log(f'{stage}: {done}/{self._total} batches ({done / self._total:.0%}), '
                  f'eta {eta}', logger='current')

    def before_val_epoch(self, runner) -> None:
        self._begin(runner, runner.val_dataloader)

    def before_test_epoch(self, runner) -> None:
        self._begin(runner, runner.test_dataloader)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step('val', batch_idx)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step('test', batch_idx)
