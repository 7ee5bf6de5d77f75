"""model-index.yml and configs/metafile.yml, the index `mim` reads
(``mim search`` / ``mim download mmfastervit --config NAME``): every recipe config
listed exactly once, each entry in the shape mim's loader needs, its Config file
present and its Weights the backbone file the config itself loads."""
import glob
import os
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from mmfastervit import PyramidBackbone
from support.tool_runs import ROOT


def load(path):
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


@pytest.fixture(scope='module')
def entries():
    index = load('model-index.yml')
    assert list(index) == ['Import'] and index['Import'], index
    models, collections = [], []
    for metafile in index['Import']:
        meta = load(metafile)  # a path relative to the index, as in mmfastervit/.mim
        collections += meta.get('Collections', [])
        models += meta['Models']
    return collections, models


def test_every_recipe_config_is_listed_exactly_once(entries):
    _, models = entries
    listed = [m['Config'] for m in models]
    recipes = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '*.py')))
    assert sorted(listed) == recipes, (
        f'not in configs/metafile.yml: {sorted(set(recipes) - set(listed))}; '
        f'listed twice or missing on disk: '
        f'{sorted({c for c in listed if listed.count(c) > 1} | (set(listed) - set(recipes)))}')
    names = [m['Name'] for m in models]
    assert len(set(names)) == len(names)
    # mim's names are the config names that python -m mmfastervit.configs takes too
    assert all(m['Config'] == f'configs/{m["Name"]}.py' for m in models)


def test_entries_have_what_mim_reads(entries):
    """mim download reads Weights and Config of the entry and walks its
    Results (each with Task, Dataset and Metrics); In Collection must name a
    collection."""
    collections, models = entries
    names = {c['Name'] for c in collections}
    assert names == set(PyramidBackbone.families())  # one collection per family
    assert all(c['Paper']['URL'].startswith('https://arxiv.org/') for c in collections)
    for m in models:
        assert m['In Collection'] in names, m['Name']
        assert osp.isfile(osp.join(ROOT, m['Config'])), m['Config']
        assert m['Weights'].startswith('https://'), m['Name']
        assert m['Results'] and all(set(r) == {'Task', 'Dataset', 'Metrics'}
                                    and isinstance(r['Metrics'], dict) for r in m['Results'])
        assert m['Metadata']['Training Data'] in ('COCO', 'ADE20K'), m['Name']


@pytest.mark.slow  # 18 configs, 9 s: mmengine reads mmdet's whole index for each mmdet:: base
def test_weights_are_the_backbone_files_the_configs_load(entries):
    """mim downloads Weights into DEST: it must be the ImageNet file that the
    config's init_cfg names, of its family and variant."""
    _, models = entries
    for m in models:
        cfg = Config.fromfile(osp.join(ROOT, m['Config']))
        backbone = cfg.model.backbone
        assert backbone.type == m['In Collection'], m['Name']
        assert osp.basename(m['Weights']) == osp.basename(backbone.init_cfg.checkpoint), m['Name']
        dataset = 'COCO' if cfg.default_scope == 'mmdet' else 'ADE20K'
        assert m['Metadata']['Training Data'] == dataset
        assert all(r['Dataset'] == dataset for r in m['Results'])
        assert os.sep not in m['Name']
