"""One compact table of an evaluation's metrics.

COCO metrics come as ``coco/bbox_mAP``, ``coco/bbox_mAP_50``, ...,
``coco/segm_mAP_l``: one row per task (bbox, segm), one column per measure.
Other metrics (mmseg's aAcc / mIoU / mAcc) make one row.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

_COCO_KEY = re.compile(r'^(?:(?P<prefix>[\w-]+)/)?(?P<task>bbox|segm|proposal)_(?P<measure>.+)$')


def format_metrics(metrics: Dict[str, float]) -> str:
    """The metrics as a small aligned table (rows: tasks; columns: measures)."""
    rows: Dict[str, Dict[str, float]] = {}
    columns: List[str] = []
    for key, value in metrics.items():
        if not isinstance(value, (int, float)):
            continue
        found = _COCO_KEY.match(key)
        row, column = (found['task'], found['measure']) if found else ('', key)
        rows.setdefault(row, {})[column] = value
        if column not in columns:
            columns.append(column)
    if not rows:
        return ''
    width = max(len(r) for r in rows)
    cells = [[f'{rows[r][c]:.3f}' if c in rows[r] else '-' for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [' ' * width + '  ' + '  '.join(c.rjust(w) for c, w in zip(columns, widths))]
    for name, row in zip(rows, cells):
        lines.append(name.ljust(width) + '  ' + '  '.join(v.rjust(w) for v, w in zip(row, widths)))
    return '\n'.join(lines)


class CompactEvaluationHook(Hook):
    """Log each validation / test result as one table (the libraries'
    detailed tables go to the log file, see :mod:`.console`)."""

    priority = 'BELOW_NORMAL'

    def _log(self, stage: str, runner, metrics: Optional[Dict[str, float]]) -> None:
        table = format_metrics(metrics or {})
        if table:
            where = f' after iteration {runner.iter}' if stage == 'val' else ''
            print_log(f'{stage} results{where}:\n{table}', logger='current')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._log('val', runner, metrics)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._log('test', runner, metrics)
