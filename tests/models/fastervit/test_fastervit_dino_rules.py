"""The rules of NVIDIA's DINO code as FasterViT options (off by default):
every stage pads to its window unmasked, its position coordinates, BatchNorm2d
output norms. (Equality with that code: tests/models/dino/test_dino_golden.py.)"""
import pytest
import torch
from torch import nn

from mmfastervit import FasterViT

ARCH = dict(dim=16, in_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8),
            window_size=(7, 7, 14, 7), hat=(False,) * 4, layer_scale=1e-5)


def pair(**fork):
    torch.manual_seed(0)
    ours = FasterViT(ARCH, out_indices=(0, 1, 2, 3)).eval()
    theirs = FasterViT(ARCH, out_indices=(0, 1, 2, 3), **fork).eval()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def test_every_stage_padding_changes_only_what_padding_reaches():
    ours, theirs = pair(window_padding='every_stage')
    x = torch.randn(1, 3, 128, 160)  # stage 1: 32x40, padded to 35x42
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    # stage 1 is one conv block (two 3x3 convs): the zero rows and columns below and
    # right of the map reach its last 2 rows / columns, nothing else
    assert torch.allclose(a[0][..., :-2, :-2], b[0][..., :-2, :-2], atol=1e-5)
    assert (a[0][..., -1, :] - b[0][..., -1, :]).abs().max() > 1e-3
    assert all((p - q).abs().max() > 1e-3 for p, q in zip(a[1:], b[1:]))
    # sizes that fill every stage's windows: no padding, the same model
    x = torch.randn(1, 3, 224, 224)  # 56, 28, 14, 7: multiples of 7, 7, 14, 7
    with torch.no_grad():
        assert all(torch.allclose(p, q, atol=1e-4) for p, q in zip(ours(x), theirs(x)))


def test_cells_position_changes_the_attention_stages_only():
    ours, theirs = pair(window_position='cells')
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # conv stages
    assert (a[2] - b[2]).abs().max() > 1e-3 and (a[3] - b[3]).abs().max() > 1e-3


def test_batch_norm_output_norms():
    model = FasterViT(ARCH, out_indices=(1, 2, 3), out_norm_cfg=dict(type='BN'))
    norms = [getattr(model, f'norm{i}') for i in (1, 2, 3)]
    assert all(type(n) is nn.BatchNorm2d and n.eps == 1e-5 for n in norms)
    assert [n.num_features for n in norms] == [32, 64, 128] and not hasattr(model, 'norm0')
    model.train()
    model(torch.randn(2, 3, 64, 96))
    assert int(model.norm3.num_batches_tracked) == 1  # trained (norm_eval off)


@pytest.mark.parametrize('option, value', [('window_padding', 'fork'),
                                           ('window_position', 'dino')])
def test_unknown_rule_values_are_named(option, value):
    with pytest.raises(ValueError, match=f"{option}='{value}': choose one of"):
        FasterViT(ARCH, **{option: value})
