"""Inputs a backbone cannot take get a clear error that names the cause and
the fix; non-finite input is named (check_finite) or propagates the same on
every path."""
import pytest
import torch

from mmfastervit import FasterViT, InputError

TINY = dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2))


# ------------------------------------------------------------ backbone inputs
@pytest.fixture(scope='module')
def tiny():
    return FasterViT(TINY).eval()


@pytest.mark.parametrize('make, match', [
    (lambda: torch.zeros(0, 3, 64, 64), r'empty batch \(shape \(0, 3, 64, 64\)\)'),
    (lambda: torch.zeros(1, 3, 64, 64, dtype=torch.uint8),
     r'dtype torch\.uint8.*data preprocessor.*x\.float\(\)'),
    (lambda: torch.zeros(1, 3, 64, 64, dtype=torch.int64), r'dtype torch\.int64.*x\.float\(\)'),
    (lambda: torch.zeros(1, 3, 64, 64, dtype=torch.float64),
     r'torch\.float32 weights but got a torch\.float64 input.*x\.to\(torch\.float32\)'),
    (lambda: torch.zeros(3, 64, 64), r'got shape \(3, 64, 64\).*x\[None\]'),
    (lambda: torch.zeros(1, 1, 3, 64, 64), r'\(B, C, H, W\) tensor, got shape \(1, 1, 3, 64, 64\)'),
    (lambda: torch.zeros(1, 1, 64, 64), r'built for 3 input channels but got 1'),
    (lambda: torch.zeros(1, 3, 31, 64), r'input \(31, 64\) is too small.*at least 32'),
    (lambda: [torch.zeros(3, 64, 64)], r'expects a \(B, C, H, W\) tensor, got list'),
])
def test_inputs_a_backbone_cannot_take(tiny, make, match):
    with pytest.raises(InputError, match=match), torch.no_grad():
        tiny(make())


def test_other_float_dtypes_work_where_they_should(tiny):
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert len(tiny(x.bfloat16())) == 4  # autocast takes any float input
    double = FasterViT(TINY).double().eval()
    with torch.no_grad():
        assert double(x.double())[0].dtype == torch.float64


def test_check_finite_names_the_bad_images():
    model = FasterViT(TINY, check_finite=True).eval()
    x = torch.randn(4, 3, 64, 64)
    x[1, 0, 5, 5] = float('nan')
    x[3, 2, 0, 0] = float('inf')
    with pytest.raises(InputError, match=r'NaN and inf in batch element\(s\) \[1, 3\] of 4'), \
            torch.no_grad():
        model(x)
    x[1, 0, 5, 5] = x[3, 2, 0, 0] = 0.0
    with torch.no_grad():
        assert all(torch.isfinite(o).all() for o in model(x))


# ------------------------------------------------------------ non-finite input
def test_non_finite_input_propagates_the_same_on_every_eager_path(monkeypatch):
    """NaN / inf never silently become numbers: the fused inference kernels,
    the plain no-grad path, autograd and bf16 autocast give NaN at the same
    places, and only in the image that holds them."""
    import mmfastervit.cpu.onednn as onednn

    torch.manual_seed(0)
    model = FasterViT(dict(TINY, depths=(1, 1, 2, 1))).eval()
    x = torch.randn(3, 3, 128, 160)
    x[1, 0, 40, 40] = float('nan')
    x[2, 1, 7, 9] = float('inf')
    with torch.no_grad():
        fused = model(x)
    paths = {}
    with torch.no_grad(), monkeypatch.context() as m:
        m.setattr(onednn, 'usable', lambda t: False)
        paths['plain'] = model(x)
    paths['autograd'] = model(x)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        paths['bf16 autocast'] = model(x)
    for i, out in enumerate(fused):
        assert torch.isfinite(out[0]).all(), f'stage {i}: a clean image got non-finite values'
        assert out[1].isnan().any() and out[2].isnan().any(), f'stage {i} lost the NaN'
        for name, outs in paths.items():
            assert torch.equal(outs[i].isnan(), out.isnan()), f'stage {i}: {name} differs'
