"""Official files and our own checkpoints load, report, and refuse mismatches."""
import gzip
import json
import os
import re

import pytest
import torch

import mmfastervit.checkpoint.loading as loading_mod
from benchmarks.reference import build_reference, reference_kwargs, save_official_file
from mmfastervit import FasterViT
from mmfastervit.checkpoint import CheckpointMismatchError, load_pretrained
from mmfastervit.checkpoint.loading import check_compatible
from mmfastervit.models.fastervit.checkpoint_format import RESOLUTION_BUFFERS, convert_official

#: the big variants' official layouts (keys and shapes of the reference's state
#: dict, ``fastervit==1.0.0`` at 224): their files take 20-75 s each to write and
#: read, so one (variant 3: layer scales, carrier tokens, propagation) is loaded
#: from a file in the slow tier and all are checked on their layout in seconds
LAYOUTS = os.path.join(os.path.dirname(__file__), '..', 'data',
                       'fastervit_official_layouts.json.gz')
BIG = json.load(gzip.open(LAYOUTS, 'rt'))['layouts']
FILE_VARIANTS = [v for v in FasterViT.arch_zoo if v not in BIG] + [
    pytest.param('3', marks=pytest.mark.slow)]
EXPECTED_DROPS = {'resolution-dependent buffers (rebuilt at run time)',
                  'ImageNet classifier (head, final norm)',
                  'second copy of the carrier-token position conv'}


def output_norm_keys(model):
    return sorted(k for k in model.state_dict() if re.match(r'norm\d\.', k))


def assert_loaded_exactly(model, weights):
    state = model.state_dict()
    for key, value in weights.items():
        assert torch.equal(state[key], value), key


def layout_of(state_dict) -> list:
    return [[k, list(v.shape)] for k, v in state_dict.items()]


def check_drops(model, dropped) -> None:
    """Only what the official file holds beyond our weights is dropped."""
    ct_copy = {'second copy of the carrier-token position conv'}
    expected_drops = EXPECTED_DROPS if model.arch.hat[2] else EXPECTED_DROPS - ct_copy
    assert set(dropped) == expected_drops
    buffers = dropped['resolution-dependent buffers (rebuilt at run time)']
    assert buffers and all(k.rsplit('.', 1)[1] in RESOLUTION_BUFFERS for k in buffers)


def other_windows(variant):
    """Window sizes other than the file's: its buffers are never used."""
    return (7, 7, 14, 14) if variant in '0123456' else None


@pytest.fixture(scope='module')
def official_v0(tmp_path_factory):
    """An official-format file of variant 0 and the reference model behind it."""
    ref = build_reference([224, 224], **reference_kwargs('0'))
    path = tmp_path_factory.mktemp('official') / 'fastervit_0_224_1k.pth.tar'
    save_official_file(ref, path)
    return str(path), ref


@pytest.mark.parametrize('variant', FILE_VARIANTS)
def test_official_file_of_a_variant_loads(tmp_path, variant):
    """Official file of a variant (the reference's weights at 224): zero
    missing and zero unexpected except the new output norms, every tensor
    loaded with its value."""
    ref = build_reference([224, 224], **reference_kwargs(variant))
    if variant in BIG:  # the stored layout is the reference's
        assert layout_of(ref.state_dict()) == BIG[variant]
    path = tmp_path / f'fastervit_{variant}.pth.tar'
    save_official_file(ref, path)
    expected, _ = convert_official(ref.state_dict())
    del ref

    model = FasterViT(variant, window_size=other_windows(variant))
    report = load_pretrained(model, str(path))
    path.unlink()  # up to 5 GB (FasterViT-6): never let a suite run fill the disk
    assert report.new == output_norm_keys(model)
    check_drops(model, report.dropped)
    assert_loaded_exactly(model, expected)


@pytest.mark.parametrize('variant', list(BIG))
def test_official_layout_of_every_big_variant_converts_and_fits(variant):
    """The big variants' official layouts convert and fill the model (built
    on the meta device) but for the new output norms: right keys and shapes.
    The weights are one zero seen through stride-0 views (no memory)."""
    weights = {k: torch.zeros(()).expand(shape) for k, shape in BIG[variant]}
    with torch.device('meta'):
        model = FasterViT(variant, window_size=other_windows(variant))
    converted, dropped = model.checkpoint_format.convert_official(weights)
    assert sorted(check_compatible(model, converted, variant)) == output_norm_keys(model)
    assert set(converted) == set(model.state_dict()) - set(output_norm_keys(model))
    check_drops(model, dropped)


@pytest.mark.parametrize('layout, prefix', [('state_dict', False), ('model', True),
                                            ('top', True), ('top', False)])
def test_official_file_layouts(tmp_path, official_v0, layout, prefix):
    _, ref = official_v0
    path = tmp_path / 'f.pth'
    save_official_file(ref, path, layout=layout, module_prefix=prefix)
    model = FasterViT('0')
    report = load_pretrained(model, str(path))
    assert report.new == output_norm_keys(model)
    assert_loaded_exactly(model, convert_official(ref.state_dict())[0])


def test_init_cfg_pretrained_loads_and_logs(official_v0, monkeypatch):
    path, ref = official_v0
    messages = []
    monkeypatch.setattr(loading_mod, 'print_log', lambda msg, **kw: messages.append(msg))
    model = FasterViT('0', init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    assert_loaded_exactly(model, convert_official(ref.state_dict())[0])
    assert len(messages) == 1
    assert 'new output norms' in messages[0] and 'norm3.weight' in messages[0]
    assert 'resolution-dependent buffers' in messages[0]


def test_official_files_load_under_weights_only_after_import(official_v0, run_tool):
    """torch's default weights-only loader accepts the file once mmfastervit is
    imported (the training args are allowlisted), and refuses it without."""
    path, _ = official_v0
    code = ('import torch, sys\n'
            'if sys.argv[1] == "1": import mmfastervit\n'
            'ck = torch.load(sys.argv[2])\n'
            'print(type(ck["args"]).__name__)\n')
    ok = run_tool('-c', code, '1', path)
    assert ok.returncode == 0 and 'Namespace' in ok.stdout, ok.stderr
    refused = run_tool('-c', code, '0', path)
    assert refused.returncode != 0 and 'argparse.Namespace' in refused.stderr


def test_our_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    src = FasterViT('0')
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    for i, payload in enumerate([src.state_dict(), {'state_dict': src.state_dict()}]):
        path = tmp_path / f'ours{i}.pth'
        torch.save(payload, path)
        dst = FasterViT('0', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
        dst.init_weights()
        for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
            assert torch.equal(a, b), k


def test_backbone_part_of_a_detector_checkpoint_loads(tmp_path):
    src = FasterViT('0')
    weights = {f'backbone.{k}': v for k, v in src.state_dict().items()}
    weights['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    torch.save({'meta': {'epoch': 3}, 'state_dict': weights}, tmp_path / 'det.pth')
    dst = FasterViT('0')
    report = load_pretrained(dst, str(tmp_path / 'det.pth'))
    assert report.new == [] and report.dropped == {}
    assert_loaded_exactly(dst, src.state_dict())


def test_file_of_another_variant_fails_naming_both(official_v0):
    path, _ = official_v0
    with pytest.raises(CheckpointMismatchError) as err:
        load_pretrained(FasterViT('2'), path)
    msg = str(err.value)
    assert "arch '2'" in msg
    assert 'expected: dim=96' in msg and 'depths=(3, 3, 8, 5)' in msg
    assert 'found:    dim=64' in msg and 'depths=(2, 3, 6, 5)' in msg
    assert 'released variant 0' in msg


def test_head_count_mismatch_is_reported(tmp_path):
    """NVlabs/FasterViT#56: same widths, other head counts."""
    ref = build_reference([224, 224], **reference_kwargs('0', num_heads=[2, 4, 4, 8]))
    save_official_file(ref, tmp_path / 'f.pth')
    with pytest.raises(CheckpointMismatchError, match=r'heads=\(4, 8\)[\s\S]*shape mismatches'):
        load_pretrained(FasterViT('0'), str(tmp_path / 'f.pth'))


def test_structure_mismatch_without_shape_change_is_caught(tmp_path):
    """A variant-0 file without carrier tokens (hat off) is refused by a
    backbone that has them, rather than loading with fresh CT weights."""
    ref = build_reference([224, 224], **reference_kwargs('0', hat=[False] * 4))
    save_official_file(ref, tmp_path / 'f.pth')
    with pytest.raises(CheckpointMismatchError, match=r'missing \(\d+\): stages\.2\.tokenizer'):
        load_pretrained(FasterViT('0'), str(tmp_path / 'f.pth'))


def test_truncated_file_is_refused(tmp_path):
    weights = FasterViT('0').state_dict()
    weights.pop('stages.3.blocks.4.local.mlp.fc2.bias')
    torch.save(weights, tmp_path / 'f.pth')
    with pytest.raises(CheckpointMismatchError, match=r'missing.*stages\.3\.blocks\.4\.local'):
        load_pretrained(FasterViT('0'), str(tmp_path / 'f.pth'))


def test_missing_file_says_how_to_fix():
    model = FasterViT('0', init_cfg=dict(type='Pretrained', checkpoint='nowhere/fastervit.pth'))
    with pytest.raises(FileNotFoundError, match='does not exist.*Download.*init_cfg=None'):
        model.init_weights()


def test_convert_tool(tmp_path, official_v0, run_tool):
    path, ref = official_v0
    out = tmp_path / 'converted.pth'
    res = run_tool('tools/model_converters/convert_official_checkpoint.py', path, str(out))
    assert res.returncode == 0, res.stderr
    assert 'FasterViT variant: 0' in res.stdout and 'resolution-dependent buffers' in res.stdout
    model = FasterViT('0')
    report = load_pretrained(model, str(out))
    assert report.dropped == {} and report.new == output_norm_keys(model)
    assert_loaded_exactly(model, convert_official(ref.state_dict())[0])

    bad = run_tool('tools/model_converters/convert_official_checkpoint.py', path,
                   str(tmp_path / 'x.pth'), '--arch', '1')
    assert bad.returncode != 0 and 'does not match' in bad.stderr


def test_override_that_changes_structure_is_named(official_v0):
    """A released file into the same variant with carrier tokens switched off:
    the error says the override, not the file, is the problem."""
    path, _ = official_v0
    with pytest.raises(CheckpointMismatchError, match=r"variant '0' as released; an override"):
        load_pretrained(FasterViT('0', hat=False), path)
