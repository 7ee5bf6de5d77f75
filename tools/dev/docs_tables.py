"""Tables the docs show, generated from the one source of each fact.

An MkDocs hook (``hooks:`` in mkdocs.yml): a line ``<!-- generated: NAME [ARG] -->``
in a page becomes the table NAME at build time, so the pages cannot drift from

- ``configs/metafile.yml`` (``model-zoo-released``, ``model-zoo-configs``,
  ``model-zoo-summary``): the recipe configs and the published files they load;
- a benchmark run's ``results.json`` (``benchmark PATH``, PATH from the checkout's
  root), as ``tools/analysis_tools/benchmark.py --out-dir`` wrote it, with the machine
  line of the ``results.md`` beside it.

README.md is not built, so its summary table sits between ``<!-- generated:
model-zoo-summary -->`` and ``<!-- end generated -->``:
``python tools/dev/docs_tables.py --write-readme`` rewrites it, ``--check-readme``
fails when it differs (the doc tests run it).
"""
import argparse
import json
import os.path as osp
import re
import sys

import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MARKER = re.compile(r'^<!-- generated: ([\w-]+)(?: (\S+))? -->$', re.MULTILINE)
README_BLOCK = re.compile(r'(<!-- generated: model-zoo-summary -->\n).*?(<!-- end generated -->)',
                          re.DOTALL)


def load_metafile(root=ROOT):
    with open(osp.join(root, 'configs', 'metafile.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)


def _metrics(metrics) -> str:
    return ' / '.join(f'{v} {k}' for k, v in metrics.items()) or '-'


def _table(head, rows) -> str:
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    return '\n'.join(lines + ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows])


def released_files(meta):
    """``[(entry, config or None, used by)]``: each published file, model entries first."""
    out = [(r, m['Config'], f'`{m["Config"]}`') for m in meta['Models']
           for r in m.get('Released', [])]
    out += [(r, None, r['Used By']) for c in meta.get('Collections', [])
            for r in c.get('Released', [])]
    return out


def model_zoo_released(meta, link_configs=''):
    """Every published file: name, source, our config, command, official metric, verified."""
    rows = []
    for r, _, used in released_files(meta):
        metric = _metrics(r['Official Metrics'])
        if r.get('Metric Note'):
            metric += f' ({r["Metric Note"]})'
        command = r.get('Evaluate') or r.get('Convert')
        rows.append((f'`{r["File"]}` ({r["Source"]})', used, f'`{command}`', metric,
                     r['Verified']))
    return _table(('official file', 'our config', 'command', 'official metric', 'verified'),
                  rows)


def model_zoo_configs(meta):
    """Every recipe config: task, backbone, schedule, backbone weights, a released file."""
    rows = []
    for m in meta['Models']:
        md = m['Metadata']
        schedule = (f'{md["Epochs"]} epochs' if 'Epochs' in md
                    else f'{md["Iterations"] // 1000}k iterations')
        heads = [a for a in md['Architecture'] if a != m['In Collection']]
        released = '; '.join(f'`{r["File"]}`: {_metrics(r["Official Metrics"])}'
                             for r in m.get('Released', [])) or '-'
        rows.append((f'`{m["Config"]}`', md['Backbone'], ' + '.join(heads),
                     md['Training Data'], schedule,
                     f'[{osp.basename(m["Weights"])}]({m["Weights"]})', released))
    return _table(('config', 'backbone', 'model', 'data', 'schedule',
                   'backbone weights (init_cfg)', 'released whole model: official metric'),
                  rows)


def model_zoo_summary(meta):
    """The README's table: released whole-model files only, with their official metric."""
    rows = [(f'`{m["Config"]}`', f'`{r["File"]}`', m['Metadata']['Training Data'],
             _metrics(r['Official Metrics']))
            for m in meta['Models'] for r in m.get('Released', [])]
    return _table(('config', 'official file (loads as is)', 'data', 'official metric'), rows)


def benchmark(path, root=ROOT):
    """A results.json as a table: median ms (min-max) and peak MiB per model and size."""
    full = osp.join(root, path)
    with open(full, encoding='utf-8') as f:
        results = json.load(f)
    machine = ''
    md = osp.join(osp.dirname(full), 'results.md')
    if osp.isfile(md):
        with open(md, encoding='utf-8') as f:
            machine = f.readline().removeprefix('Machine: ').strip()
    rows = []
    for r in results:
        lo, hi = min(r['samples_s']) * 1e3, max(r['samples_s']) * 1e3
        peak = '-' if r['peak_mb'] is None else f'{r["peak_mb"]:.0f}'
        notes = ', '.join(f'{k} {v}' for k, v in r['notes'].items()) or '-'
        rows.append((r['model'], 'x'.join(map(str, r['size'])), r['batch'], r['dtype'],
                     r['threads'], f'{r["median_ms"]:.1f}', f'{lo:.1f}-{hi:.1f}', peak, notes))
    table = _table(('model', 'input', 'batch', 'dtype', 'threads', 'median ms', 'min-max ms',
                    'peak MiB', 'notes'), rows)
    return (f'Machine: {machine} (from `{path}`)\n\n' if machine else '') + table


def include(path, root=ROOT):
    """A report a tool wrote (e.g. the benchmark's ``profile.md``), as it is."""
    with open(osp.join(root, path), encoding='utf-8') as f:
        return f.read().strip() + f'\n\n(from `{path}`)'


def render(name, arg, root=ROOT):
    if name == 'benchmark':
        return benchmark(arg, root)
    if name == 'include':
        return include(arg, root)
    tables = {'model-zoo-released': model_zoo_released, 'model-zoo-configs': model_zoo_configs,
              'model-zoo-summary': model_zoo_summary}
    if name not in tables:
        raise KeyError(f'unknown generated table {name!r}: one of {sorted(tables)} or benchmark')
    return tables[name](load_metafile(root))


def expand(markdown, root=ROOT):
    """Replace every marker line with its table."""
    return MARKER.sub(lambda m: render(m.group(1), m.group(2), root), markdown)


def on_page_markdown(markdown, page, config, files):  # MkDocs hook
    return expand(markdown)


def readme_with_summary(text, root=ROOT):
    if not README_BLOCK.search(text):
        raise ValueError('README.md has no <!-- generated: model-zoo-summary --> block')
    table = model_zoo_summary(load_metafile(root))
    return README_BLOCK.sub(lambda m: m.group(1) + table + '\n' + m.group(2), text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument('--write-readme', action='store_true',
                      help="rewrite README.md's model-zoo summary from configs/metafile.yml")
    what.add_argument('--check-readme', action='store_true',
                      help="exit 1 when README.md's summary differs from the metafile's")
    what.add_argument('--show', metavar='NAME', help='print one generated table')
    parser.add_argument('arg', nargs='?', help='the results.json of --show benchmark')
    args = parser.parse_args(argv)
    if args.show:
        print(render(args.show, args.arg))
        return 0
    path = osp.join(ROOT, 'README.md')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    new = readme_with_summary(text)
    if args.check_readme:
        if new != text:
            print('error: README.md model-zoo summary differs from configs/metafile.yml; run '
                  'python tools/dev/docs_tables.py --write-readme', file=sys.stderr)
            return 1
        return 0
    with open(path, 'w', encoding='utf-8') as f:
        f.write(new)
    return 0


if __name__ == '__main__':
    sys.exit(main())
