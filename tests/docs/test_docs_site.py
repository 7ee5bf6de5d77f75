"""The documentation is tested like code: the site builds with every warning
an error (broken links and anchors included), README.md is a front page that links
every page, its relative links and anchors resolve, and the generated tables hold
what their sources hold."""
import glob
import json
import os.path as osp
import re
import sys

import pytest
import yaml
from markdown.extensions.toc import slugify

from support.tool_runs import ROOT, run_command, run_tool

pytestmark = pytest.mark.tools

sys.path.insert(0, ROOT)
from tools.dev import docs_tables  # noqa: E402

LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')


def mkdocs_config():
    with open(osp.join(ROOT, 'mkdocs.yml'), encoding='utf-8') as f:
        return yaml.safe_load(f)


def nav_pages(nav):
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            yield from nav_pages(value)
        else:
            yield value


def build(tmp_path, config_path):
    # not -q: MkDocs counts only the warnings it logs, so -q would let strict pass them
    return run_command([sys.executable, '-m', 'mkdocs', 'build', '--strict',
                        '-f', config_path, '-d', str(tmp_path / 'site')], timeout=300)


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('site')
    res = build(tmp, osp.join(ROOT, 'mkdocs.yml'))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return tmp / 'site'


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def test_site_builds_strictly_with_the_generated_tables(site):
    cfg = mkdocs_config()
    assert cfg['strict'] is True
    assert set(cfg['validation'].values()) == {'warn'}  # strict: every warning an error
    pages = list(nav_pages(cfg['nav']))
    on_disk = sorted(osp.relpath(p, osp.join(ROOT, 'docs'))
                         for p in glob.glob(osp.join(ROOT, 'docs', '**', '*.md'), recursive=True)
                     if not p.startswith(osp.join(ROOT, 'docs', 'benchmarks', '')))
    assert sorted(pages) == on_disk  # every page in the navigation, none missing
    for page in pages:
        html = site / ('index.html' if page == 'index.md' else page[:-3] + '/index.html')
        text = html.read_text(encoding='utf-8')
        assert 'generated:' not in text, f'{page}: a marker was left unexpanded'
    zoo = (site / 'model-zoo' / 'index.html').read_text(encoding='utf-8')
    meta = docs_tables.load_metafile()
    for entry, _, _ in docs_tables.released_files(meta):
        assert entry['File'] in zoo
    perf = (site / 'performance' / 'index.html').read_text(encoding='utf-8')
    for path in glob.glob(osp.join(ROOT, 'docs', 'benchmarks', '*', 'results.json')):
        for row in json.load(open(path)):
            assert f'{row["median_ms"]:.1f}' in perf, (path, row['model'])


def test_a_broken_anchor_fails_the_build(tmp_path):
    """The strict validation is what catches it (not a check that cannot fail)."""
    docs = tmp_path / 'docs'
    run_command(['cp', '-r', osp.join(ROOT, 'docs'), str(docs)]).check_returncode()
    with open(docs / 'index.md', 'a') as f:
        f.write('\n[broken](deploy.md#no-such-heading)\n')
    cfg = mkdocs_config()
    cfg.update(docs_dir=str(docs), hooks=[osp.join(ROOT, h) for h in cfg['hooks']])
    (tmp_path / 'mkdocs.yml').write_text(yaml.safe_dump(cfg))
    res = build(tmp_path, str(tmp_path / 'mkdocs.yml'))
    assert res.returncode != 0 and 'no-such-heading' in res.stdout + res.stderr


def anchors(path):
    """The heading ids MkDocs gives a Markdown file (toc's slugify)."""
    text = re.sub(r'```.*?```', '', read(path), flags=re.DOTALL)
    return {slugify(re.sub(r'[`*]', '', h).strip(), '-')
            for h in re.findall(r'^#{1,6} (.+)$', text, re.MULTILINE)}


@pytest.mark.parametrize('name', ['README.md', 'CONTRIBUTING.md'])
def test_links_outside_the_site_resolve(name):
    """README.md and CONTRIBUTING.md are not built: check their links here."""
    for target in LINK.findall(read(osp.join(ROOT, name))):
        if re.match(r'[a-z]+://', target):
            continue
        path, _, anchor = target.partition('#')
        full = osp.join(ROOT, path) if path else osp.join(ROOT, name)
        assert osp.exists(full), f'{name}: {target} does not exist'
        if anchor:
            assert anchor in anchors(full), f'{name}: no heading #{anchor} in {path}'


def test_readme_is_a_front_page_that_links_every_page():
    text = read(osp.join(ROOT, 'README.md'))
    assert len(text.encode('utf-8')) <= 12 * 1024
    linked = {osp.normpath(t.partition('#')[0]) for t in LINK.findall(text)}
    for page in nav_pages(mkdocs_config()['nav']):
        if page != 'index.md':
            assert osp.join('docs', page) in linked, f'README.md does not link docs/{page}'
    res = run_tool('tools/dev/docs_tables.py', '--check-readme')
    assert res.returncode == 0, res.stderr


def test_model_zoo_lists_every_recipe_config_and_released_file():
    """New configs (and metafile entries) appear without editing the page."""
    page = docs_tables.expand(read(osp.join(ROOT, 'docs', 'model-zoo.md')))
    for path in glob.glob(osp.join(ROOT, 'configs', '*.py')):
        assert f'`configs/{osp.basename(path)}`' in page, path
    meta = docs_tables.load_metafile()
    for entry, _, _ in docs_tables.released_files(meta):
        row = next(line for line in page.splitlines() if f'`{entry["File"]}`' in line)
        command = entry.get('Evaluate') or entry.get('Convert')
        assert f'`{command}`' in row and entry['Verified'] in row
    summary = docs_tables.model_zoo_summary(meta)
    assert summary.count('\n') - 1 == sum(len(m.get('Released', [])) for m in meta['Models'])


def test_performance_tables_come_from_committed_runs():
    """Every committed run is shown, named by its machine line, and each marker
    names a committed run."""
    page = read(osp.join(ROOT, 'docs', 'performance.md'))
    shown = set(re.findall(r'<!-- generated: benchmark (\S+) -->', page))
    committed = {osp.relpath(p, ROOT) for p in
                 glob.glob(osp.join(ROOT, 'docs', 'benchmarks', '*', 'results.json'))}
    assert shown and shown == committed
    for path in committed:
        table = docs_tables.benchmark(path)
        assert table.startswith('Machine: ') and path in table
        assert len(table.splitlines()) == 4 + len(json.load(open(osp.join(ROOT, path))))
