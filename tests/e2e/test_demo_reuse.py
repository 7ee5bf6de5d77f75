"""The suite reuses the outputs ``bash tools/demo.sh`` left in the checkout
only while they belong to the code, configs, libraries and data at hand
(tools/demo.py: ``fingerprint``, ``finished_run``)."""
import json
import shutil
import sys

from support.tool_runs import ROOT

sys.path.insert(0, ROOT)
import tools.demo as demo  # noqa: E402


def finished(work, data, argv=()):
    """What a finished demo run leaves beside its outputs."""
    work.mkdir()
    (work / demo.FINGERPRINT).write_text(json.dumps(dict(
        argv=list(argv), data_root=str(data), fingerprint=demo.fingerprint(argv, str(data)))))
    return str(work)


def test_outputs_are_reused_until_their_data_or_arguments_change(tmp_path):
    data = tmp_path / 'data'
    (data / 'annotations').mkdir(parents=True)
    (data / 'annotations' / 'instances_val2017.json').write_text('{"images": []}')
    work = finished(tmp_path / 'work', data)
    assert demo.finished_run(work)['data_root'] == str(data)
    assert demo.finished_run(work, ['coco', 'litv2']) is None  # another demo's outputs
    (data / 'annotations' / 'instances_val2017.json').write_text('{"images": [1]}')
    assert demo.finished_run(work) is None  # the data changed
    assert demo.finished_run(str(tmp_path / 'never_ran')) is None


def test_fingerprint_follows_every_source_file(tmp_path, monkeypatch):
    """A change to the package, a config (a base too) or a tool makes the
    outputs stale; undoing it makes them current again."""
    for top in demo.SOURCES:
        shutil.copytree(f'{ROOT}/{top}', tmp_path / top,
                        ignore=shutil.ignore_patterns('__pycache__'))
    monkeypatch.setattr(demo, 'ROOT', str(tmp_path))
    data = tmp_path / 'data'
    data.mkdir()
    current = demo.fingerprint([], str(data))
    for name in ('mmfastervit/models/fastervit/conv_blocks.py', 'configs/_base_/fastervit_2.py',
                 'configs/demo/cascade_fastervit_synthetic_coco.py', 'tools/train.py'):
        path = tmp_path / name
        text = path.read_text()
        path.write_text(text + '\n# changed\n')
        assert demo.fingerprint([], str(data)) != current, name
        path.write_text(text)
        assert demo.fingerprint([], str(data)) == current, name
