"""Print the learning curve of a training run from mmengine's scalar log.

    python tools/analysis_tools/learning_curve.py WORK_DIR [--markdown]

Rows are validation points: the iteration, the mean training loss since the
previous point, and the validation metrics (COCO mAP or mIoU/mAcc/aAcc).
"""
import argparse
import glob
import json
import os.path as osp
import sys

METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'mIoU', 'mAcc', 'aAcc')


def read_curve_file(path: str):
    """``[(iteration, mean train loss or None, {metric: value})]`` from one
    run's ``vis_data/scalars.json``."""
    rows, losses = [], []
    with open(path) as f:
        for line in f:
            entry = json.loads(line)
            if 'loss' in entry:
                losses.append(entry['loss'])
            metrics = {k: entry[k] for k in METRICS if k in entry}
            if metrics:
                loss = sum(losses) / len(losses) if losses else None
                rows.append((entry.get('step', 0), loss, metrics))
                losses = []
    return rows


def read_curve(work_dir: str):
    """The curve of the newest run in ``work_dir`` that trained (test runs
    write their own log directory beside it)."""
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')),
                       reverse=True):
        rows = read_curve_file(path)
        if any(loss is not None for _, loss, _ in rows):
            return rows
    raise FileNotFoundError(f'no training run with validation metrics under {work_dir}')


def format_curve(rows, markdown: bool = False) -> str:
    keys = [k for k in METRICS if any(k in m for _, _, m in rows)]
    head = ['iteration', 'train loss'] + keys
    lines = []
    for step, loss, metrics in rows:
        cells = [str(step), '-' if loss is None else f'{loss:.3f}']
        cells += [f'{metrics[k]:.3f}' if k in metrics else '-' for k in keys]
        lines.append(cells)
    if markdown:
        out = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        return '\n'.join(out + ['| ' + ' | '.join(c) + ' |' for c in lines])
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = '  '.join(f'{{:>{w}}}' for w in widths)
    return '\n'.join([fmt.format(*head)] + [fmt.format(*c) for c in lines])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--markdown', action='store_true')
    args = parser.parse_args(argv)
    print(format_curve(read_curve(args.work_dir), args.markdown))
    return 0


if __name__ == '__main__':
    sys.exit(main())
