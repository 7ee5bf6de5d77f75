"""Print the learning curve of a training run from mmengine's scalar log.

    python tools/analysis_tools/learning_curve.py WORK_DIR [--markdown] [--plot curve.png]

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


def plot_curve(rows, path: str, title: str = '') -> None:
    """Validation metrics (left axis) and mean training loss (right axis) against
    the iteration, one line each, written as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key in (k for k in METRICS if any(k in m for _, _, m in rows)):
        pts = [(step, m[key]) for step, _, m in rows if key in m]
        ax.plot(*zip(*pts), marker='o', label=key)
    ax.set_xlabel('iteration')
    ax.set_ylabel('held-out metric')
    ax.grid(alpha=0.3)
    losses = [(step, loss) for step, loss, _ in rows if loss is not None]
    if losses:
        ax2 = ax.twinx()
        ax2.plot(*zip(*losses), color='black', linestyle='--', marker='.', label='train loss')
        ax2.set_ylabel('mean train loss since the previous point')
        ax2.legend(loc='center right')
    ax.legend(loc='center left')
    ax.set_title(title or 'learning curve')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dir')
    parser.add_argument('--markdown', action='store_true')
    parser.add_argument('--plot', metavar='PNG', help='also draw the curve to this PNG file')
    args = parser.parse_args(argv)
    rows = read_curve(args.work_dir)
    print(format_curve(rows, args.markdown))
    if args.plot:
        plot_curve(rows, args.plot, title=osp.basename(osp.normpath(args.work_dir)))
        print(f'curve drawn to {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
