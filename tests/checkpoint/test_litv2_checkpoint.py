"""Official LITv2 ImageNet files load, report, and refuse mismatches, naming
what was expected and found; files of the other family are named as such."""
import re
import sys

import pytest
import torch

from mmfastervit import FasterViT, LITv2
from mmfastervit.checkpoint import CheckpointMismatchError, load_pretrained
from mmfastervit.checkpoint.format import CLASSIFIER
from support.official_files import (
    official_state_dict,
    randomize_,
    save_official_file,
)
from support.tool_runs import ROOT

sys.path.insert(0, ROOT)
CLASSIFIER_KEYS = ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']


def output_norm_keys(model):
    return sorted(k for k in model.state_dict() if re.match(r'norm\d\.', k))


@pytest.fixture(scope='module')
def official_s(tmp_path_factory):
    """An official-layout LITv2-S file with random weights, and its model."""
    model = randomize_(LITv2('s'))
    path = tmp_path_factory.mktemp('litv2') / 'litv2_s.pth'
    save_official_file(model, path)
    return str(path), model


@pytest.mark.parametrize('variant, num_keys', [('s', 219), ('m', 459), ('b', 459)])
def test_official_file_of_every_variant_loads(tmp_path, variant, num_keys):
    """0 missing, 0 unexpected: all but the classifier (dropped, reported)
    and the new output norms (reported)."""
    src = randomize_(LITv2(variant), seed=1)
    path = tmp_path / f'litv2_{variant}.pth'
    official = save_official_file(src, path)
    assert len(official) == num_keys  # LITV2.md's key count of the released files
    model = LITv2(variant)
    report = load_pretrained(model, str(path))
    assert report.new == output_norm_keys(model) == [f'norm{i}.{p}' for i in range(4)
                                                     for p in ('bias', 'weight')]
    assert {k: sorted(v) for k, v in report.dropped.items()} == {CLASSIFIER: CLASSIFIER_KEYS}
    assert len(report.loaded) == num_keys - 4
    expected = src.state_dict()
    for key, value in model.state_dict().items():
        if key not in report.new:
            assert torch.equal(value, expected[key]), key
    assert 'loaded' in str(report) and 'new output norms' in str(report)


def test_official_layout_has_the_released_shapes(official_s):
    """The layout we write for the tests is LITV2.md's (so the loading tests
    above check the real file format, not our own reflection of it)."""
    _, model = official_s
    sd = official_state_dict(model)
    shapes = {
        'patch_embed.proj.weight': (96, 3, 4, 4),
        'layers.0.blocks.1.mlp.fc1.weight': (384, 96),
        'layers.0.blocks.1.mlp.dwconv.dwconv.weight': (384, 1, 3, 3),
        'layers.1.blocks.0.mlp.fc2.weight': (192, 768),
        'layers.2.blocks.5.attn.l_q.weight': (320, 384),
        'layers.2.blocks.5.attn.l_kv.weight': (640, 384),
        'layers.2.blocks.5.attn.l_proj.weight': (320, 320),
        'layers.2.blocks.5.attn.h_qkv.weight': (192, 384),
        'layers.2.blocks.5.attn.h_proj.weight': (64, 64),
        'layers.3.blocks.1.attn.l_q.weight': (768, 768),
        'layers.3.blocks.1.attn.l_kv.weight': (1536, 768),
        'layers.2.downsample.dconv.weight': (768, 384, 2, 2),
        'layers.2.downsample.dconv.conv_offset.weight': (8, 384, 2, 2),
        'layers.1.downsample.norm_layer.running_var': (384,),
        'norm.weight': (768,), 'head.weight': (1000, 768),
    }
    for key, shape in shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any('h_qkv' in k for k in sd if k.startswith('layers.3.'))  # window 1
    assert not any(k.startswith(('layers.0.', 'layers.1.')) and 'norm1' in k for k in sd)


def test_file_of_another_variant_fails_naming_both(official_s):
    path, _ = official_s
    with pytest.raises(CheckpointMismatchError) as err:
        load_pretrained(LITv2('m'), path)
    msg = str(err.value)
    assert "this LITv2 (arch 'm')" in msg
    assert 'expected: embed_dims=96, depths=(2, 2, 18, 2)' in msg
    assert 'found:    embed_dims=96, depths=(2, 2, 6, 2)' in msg
    assert 'missing' in msg and 'released variant s: use that arch' in msg


def test_b_file_into_s_names_the_widths(tmp_path):
    src = LITv2('b')
    save_official_file(src, tmp_path / 'b.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'found: +embed_dims=128[\s\S]*shape mismatches[\s\S]*variant b'):
        load_pretrained(LITv2('s'), str(tmp_path / 'b.pth'))


@pytest.mark.parametrize('local_ws', [(0, 0, 1, 1), (0, 0, 2, 2)])
def test_window_one_versus_more_names_the_override(official_s, local_ws):
    """Window 1 means all heads are Lo-Fi: turning stage 2's window into 1
    (or stage 3's into 2) changes parameter shapes; the error blames the override."""
    path, _ = official_s
    with pytest.raises(CheckpointMismatchError) as err:
        load_pretrained(LITv2('s', local_ws=local_ws), path)
    msg = str(err.value)
    assert "variant 's' as released; an override of this backbone (local_ws" in msg
    assert 'lofi_hifi_channels=((320, 64), (768, 0))' in msg  # found


def test_ws4_detectors_take_the_same_imagenet_file(official_s):
    """The released "ws 4" detectors: windows have no weights."""
    path, src = official_s
    model = LITv2('s', local_ws=(0, 0, 4, 1))
    report = load_pretrained(model, path)
    assert report.new == output_norm_keys(model)
    assert torch.equal(model.state_dict()['stages.2.blocks.0.attn.l_q.weight'],
                       src.state_dict()['stages.2.blocks.0.attn.l_q.weight'])


def test_init_cfg_and_module_prefix(tmp_path, official_s):
    """``module.``-prefixed and plain-dict files load through init_cfg."""
    _, src = official_s
    sd = official_state_dict(src)
    torch.save({f'module.{k}': v for k, v in sd.items()}, tmp_path / 'ddp.pth')
    model = LITv2('s', init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'ddp.pth')))
    model.init_weights()
    fc2 = 'stages.3.blocks.1.mlp.fc2.weight'
    assert torch.equal(model.state_dict()[fc2], src.state_dict()[fc2])


def test_a_fastervit_file_into_litv2_names_its_family(tmp_path):
    from benchmarks.reference import build_reference, reference_kwargs, save_official_file
    save_official_file(build_reference([224, 224], **reference_kwargs('0')), tmp_path / 'fv.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r"is an official FasterViT checkpoint \(variant 0\), not LITv2: load "
                             r"it into model.backbone.type='FasterViT'"):
        load_pretrained(LITv2('s'), str(tmp_path / 'fv.pth'))


def test_a_litv2_file_into_fastervit_names_its_family(official_s, tmp_path):
    path, src = official_s
    with pytest.raises(CheckpointMismatchError,
                       match=r"is an official LITv2 checkpoint \(variant s\), not FasterViT"):
        load_pretrained(FasterViT('0'), path)
    # a detector checkpoint with a LITv2 backbone (our layout) is named too
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}},
               tmp_path / 'det.pth')
    with pytest.raises(CheckpointMismatchError, match=r'is a LITv2 checkpoint \(variant s\)'):
        load_pretrained(FasterViT('0'), str(tmp_path / 'det.pth'))


def test_convert_tool_recognises_the_family(tmp_path, official_s, run_tool):
    path, src = official_s
    out = tmp_path / 'converted.pth'
    res = run_tool('tools/model_converters/convert_official_checkpoint.py', path, str(out),
                   timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'LITv2 variant: s' in res.stdout and 'dropped 4 keys: ImageNet classifier' in res.stdout
    model = LITv2('s')
    report = load_pretrained(model, str(out))
    assert report.dropped == {} and report.new == output_norm_keys(model)
    assert torch.equal(model.stem.proj.weight, src.stem.proj.weight)

    # the errors, in-process
    from tools.convert_official_checkpoint import main as convert
    with pytest.raises(CheckpointMismatchError, match='does not match this LITv2'):
        convert([path, str(tmp_path / 'x.pth'), '--arch', 'b'])
    with pytest.raises(CheckpointMismatchError,
                       match=r'already converted \(our LITv2 layout, variant s\)'):
        convert([str(out), str(tmp_path / 'y.pth')])
