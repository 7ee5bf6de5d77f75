"""LITv2's variant table, names, overrides, and clear errors for bad configuration."""
import pytest
import torch

from mmfastervit import InputError, LITv2
from mmfastervit.models.litv2 import arch_zoo, resolve_arch


@pytest.mark.parametrize('name, params_m', [('s', 27.8), ('m', 48.8), ('b', 86.5)])
def test_parameter_counts_match_the_paper(name, params_m):
    """Backbone + the ImageNet classifier the paper counts (final LayerNorm,
    1000-class head) = published size."""
    model = LITv2(name)
    backbone = sum(p.numel() for n, p in model.named_parameters() if not n.startswith('norm'))
    width = model.num_features[-1]
    assert abs((backbone + 2 * width + width * 1000 + 1000) / 1e6 - params_m) < 0.1


def test_names_and_overrides():
    assert sorted(arch_zoo) == ['b', 'm', 's']
    assert resolve_arch('s') == resolve_arch('LITv2-S') == resolve_arch('litv2_s')
    assert resolve_arch('LITv2-B').embed_dims == 128
    a = resolve_arch('m', local_ws=(0, 0, 4, 1), alpha=0.5, drop_path_rate=0.1)
    assert a.local_ws == (0, 0, 4, 1) and a.alpha == 0.5 and a.drop_path_rate == 0.1
    assert a.depths == (2, 2, 18, 2) and a.name == 'm'
    custom = resolve_arch(dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 4]))
    assert custom.widths == (16, 32, 64, 128) and custom.local_ws == (0, 0, 2, 1)


def test_head_split():
    """int() truncation; a window of 1 makes every head Lo-Fi."""
    s, b = resolve_arch('s'), resolve_arch('b')
    assert s.head_split(2) == (10, 2) and s.head_split(3) == (24, 0)
    assert b.head_split(2) == (14, 2) and b.head_split(3) == (32, 0)
    assert resolve_arch('s', local_ws=(0, 0, 1, 2)).head_split(2) == (12, 0)
    assert resolve_arch('s', local_ws=(0, 0, 2, 2)).head_split(3) == (21, 3)
    assert resolve_arch('s', alpha=0.0).head_split(2) == (0, 12)


@pytest.mark.parametrize('arch, overrides, error, match', [
    ('x', {}, KeyError, r"unknown LITv2 arch 'x'; choose one of \['b', 'm', 's'\]"),
    (dict(embed_dims=16, depths=(1, 1, 1, 1)), {}, KeyError, r"needs \['num_heads'\]"),
    ('s', dict(window_size=4), TypeError, 'window_size'),
    ('s', dict(local_ws=4), ValueError, r'one per stage\), got 4 \(e\.g\. local_ws=\(0, 0, 4, 1\)'),
    ('s', dict(local_ws=(0, 0, 0, 1)), ValueError, r'local_ws\[2\] must be at least 1'),
    ('s', dict(alpha=1.5), ValueError, r'alpha is the share of Lo-Fi heads, in \[0, 1\]'),
    (dict(embed_dims=30, depths=(1, 1, 1, 1), num_heads=(1, 1, 7, 2)), {}, ValueError,
     'stage 2 has 120 channels, which 7 attention heads do not divide'),
    (3, {}, TypeError, 'arch must be a LITv2 variant name or a dict'),
])
def test_bad_arch(arch, overrides, error, match):
    with pytest.raises(error, match=match):
        LITv2(arch, **overrides)


def test_unknown_arch_key():
    with pytest.raises(KeyError, match=r"unknown LITv2 arch keys \['heads'\]"):
        resolve_arch(dict(embed_dims=16, depths=(1,) * 4, num_heads=(1,) * 4, heads=2))


def test_bad_sampler_and_options():
    with pytest.raises(ValueError, match=r"unknown DTM sampler 'bilinear'"):
        LITv2(dict(embed_dims=8, depths=(1,) * 4, num_heads=(1, 1, 2, 4)), dtm_sampler='bilinear')
    with pytest.raises(ValueError, match='out_indices'):
        LITv2('s', out_indices=(0, 4))


def test_out_indices_subset_and_norms():
    model = LITv2(dict(embed_dims=8, depths=(1,) * 4, num_heads=(1, 1, 2, 4)),
                  out_indices=(1, -1)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 8, 8), (1, 64, 2, 2)]
    assert not hasattr(model, 'norm0') and model.norm3.eps == 1e-5


def test_registered_for_mmdet_and_mmseg():
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    for registry in (DET, SEG):
        model = registry.build(dict(type='LITv2', arch=dict(embed_dims=8, depths=(1,) * 4,
                                                            num_heads=(1, 1, 2, 4))))
        assert type(model).__name__ == 'LITv2'


def test_one_image_at_the_minimum_size_names_the_fixes():
    """LITv2's last DTM batch norm would see a (1, C, 1, 1) map when one
    image of 29x29 trains: the error names every fix, and each fix works."""
    model = LITv2(LITv2.tiny_arch).train()
    x = torch.randn(1, 3, 29, 29)
    with pytest.raises(InputError, match=r'one image of \(29, 29\).*DTM\) after stage 2 '
                                         r'gives a 1x1 map.*norm_eval=True.*batch of 2.*'
                                         r'at least 61 pixels'):
        model(x)
    for fixed, inp in [(LITv2(LITv2.tiny_arch, norm_eval=True).train(), x),
                       (model, torch.randn(2, 3, 29, 29)),
                       (model, torch.randn(1, 3, 61, 29))]:
        sum(o.sum() for o in fixed(inp)).backward()
