"""Plot latency against input size from a benchmark run's results.json.

    python tools/analysis_tools/plot_benchmark.py RESULTS_JSON --out latency.png

One line per model (and dtype, batch, threads when the run has several), median
forward latency against input megapixels. ``tools/analysis_tools/benchmark.py
--out-dir`` writes the JSON (and this plot, as latency.png); the docs' plot is made
from the committed JSON with this command.
"""
import argparse
import json
import sys


def plot_latency(rows, path: str, title: str = 'Backbone latency vs input size') -> None:
    """``rows``: dicts with model, size (H, W), batch, dtype, threads, median_ms."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    varying = [k for k in ('dtype', 'batch', 'threads') if len({r[k] for r in rows}) > 1]
    lines = {}
    for r in rows:
        label = ' '.join([r['model']] + [f'{k} {r[k]}' for k in varying])
        lines.setdefault(label, []).append((r['size'][0] * r['size'][1] / 1e6, r['median_ms']))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pts in lines.items():
        ax.plot(*zip(*sorted(pts)), marker='o', label=label)
    ax.set_xlabel('input megapixels')
    ax.set_ylabel('median forward latency (ms)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('results', help="a run's results.json")
    parser.add_argument('--out', required=True, help='PNG file to write')
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding='utf-8') as f:
            rows = [r for r in json.load(f) if r.get('mode', 'forward') == 'forward']
    except (OSError, ValueError) as e:
        print(f'error: cannot read {args.results}: {e}', file=sys.stderr)
        return 2
    if not rows:
        print(f'error: {args.results} holds no forward (inference) rows to plot', file=sys.stderr)
        return 2
    plot_latency(rows, args.out)
    print(f'latency of {len({r["model"] for r in rows})} models drawn to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
