"""Variant table, overrides, and clear errors for bad configuration or input."""
import pytest
import torch

from mmfastervit import FasterViT

arch_zoo, resolve_arch = FasterViT.arch_zoo, FasterViT.resolve_arch

RELEASED = ['0', '1', '2', '3', '4', '5', '6',
            '4-21k-224', '4-21k-384', '4-21k-512', '4-21k-768']


def test_every_released_variant_is_in_the_table():
    assert sorted(arch_zoo) == sorted(RELEASED)


@pytest.mark.parametrize('name, params_m', [('0', 31.4), ('1', 53.4), ('2', 75.9), ('3', 159.5)])
def test_parameter_counts_match_the_paper(name, params_m):
    """Backbone + the 1000-class head the paper counts = published size."""
    model = FasterViT(name)
    backbone = sum(p.numel() for n, p in model.named_parameters() if not n.startswith('norm'))
    head = model.num_features[-1] * 1000 + 1000 + 2 * model.num_features[-1]  # fc + final BN
    assert abs((backbone + head) / 1e6 - params_m) < 0.1


def test_names_ints_and_overrides():
    assert resolve_arch(2) == resolve_arch('2') == resolve_arch('fastervit-2')
    a = resolve_arch('3', window_size=(7, 7, 14, 7), ct_size=1, hat=False,
                     drop_path_rate=0.1, layer_scale=0.1)
    assert a.window_size == (7, 7, 14, 7) and a.ct_size == 1
    assert a.hat == (False,) * 4 and a.drop_path_rate == 0.1 and a.layer_scale == 0.1
    assert resolve_arch('2', window_size=14).window_size == (14,) * 4
    custom = resolve_arch(dict(dim=32, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2)))
    assert custom.widths == (32, 64, 128, 256)


def test_unknown_variant_names_the_valid_ones():
    with pytest.raises(KeyError, match=r"unknown FasterViT arch '7'.*'4-21k-224'"):
        FasterViT('7')


@pytest.mark.parametrize('arch, match', [
    (dict(dim=32, depths=(1, 1, 1, 1)), r"needs \['num_heads'\]"),
    (dict(dim=32, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), heads=2),
     'unknown FasterViT arch keys'),
    (dict(dim=32, depths=(1, 1, 1), num_heads=(1, 1, 2, 2)), '4 values'),
    (dict(dim=30, depths=(1, 1, 1, 1), num_heads=(1, 1, 7, 2)), 'do not divide'),
])
def test_bad_custom_arch(arch, match):
    with pytest.raises((KeyError, ValueError), match=match):
        FasterViT(arch)


def test_ct_size_larger_than_window_is_rejected():
    with pytest.raises(ValueError, match='ct_size 8 is larger than the window size 7'):
        FasterViT('0', ct_size=8)


@pytest.mark.parametrize('kwargs, match', [
    (dict(out_indices=(0, 4)), 'out_indices'),
    (dict(out_indices=(1, -3)), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages'),
])
def test_bad_backbone_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FasterViT('0', **kwargs)


def test_input_errors_say_what_is_wrong():
    model = FasterViT(dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2))).eval()
    with pytest.raises(ValueError, match=r'built for 3 input channels but got 1'):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r'at least 32 pixels'):
        model(torch.randn(1, 3, 31, 64))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        model(torch.randn(3, 64, 64))
    assert len(model(torch.randn(1, 3, 32, 32))) == 4  # the minimum itself works


def test_out_indices_subset_and_negative():
    model = FasterViT(dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2)),
                      out_indices=(1, -1)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [32, 128]
    assert not hasattr(model, 'norm0') and hasattr(model, 'norm3')


def test_hat_is_for_attention_stages_only():
    assert resolve_arch('2', hat=True).hat == (False, False, True, True)
    with pytest.raises(ValueError, match='stages 1-2 are convolutional'):
        resolve_arch('2', hat=(True, False, True, False))
