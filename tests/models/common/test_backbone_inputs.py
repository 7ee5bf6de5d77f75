"""Inputs a backbone cannot take get a clear error that names the cause and
the fix; non-finite input is named (check_finite) or stays non-finite, in its
own image, on every path."""
import pytest
import torch

from mmfastervit import FasterViT, InputError, LITv2
from mmfastervit.cpu import cpu_kernels

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
FAMILIES = {
    'fastervit': lambda: FasterViT(dict(TINY, depths=(1, 1, 2, 1))),
    'litv2': lambda: LITv2(dict(embed_dims=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4))),
}


def eager_paths(model, x):
    """Stage outputs of every eager path, fp32 ones first: oneDNN's fused
    kernels, plain PyTorch (the reference), autograd, bf16 end to end (our
    native path; emulated where the CPU has no bf16 units) and PyTorch's
    bf16 autocast."""
    paths = {}
    with torch.no_grad():
        with cpu_kernels('plain'):
            paths['plain'] = model(x)
        with cpu_kernels('fused'):
            paths['fused'] = model(x)
    paths['autograd'] = tuple(o.detach() for o in model(x))
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        with cpu_kernels('fused'):
            paths['native bf16'] = model(x)
        with cpu_kernels('plain'):
            paths['bf16 autocast'] = model(x)
    return paths


@pytest.mark.parametrize('family', FAMILIES)
def test_non_finite_input_stays_non_finite_in_its_image_on_every_eager_path(family):
    """NaN / inf in an image never silently become numbers and never reach
    another image of the batch, on every path. Which values come out NaN and
    which inf, and how far they spread, is the kernels' business: oneDNN's bf16
    convolutions on AVX512-BF16 / AMX (brgemm, channels-last) pair products
    across padded positions and carry a NaN one column beyond the receptive
    field, and inf * weights of both signs may meet as NaN or not. So the
    contract: every value the fp32 reference path makes non-finite is
    non-finite on every path, each corrupted image has non-finite values at
    every stage, and the clean image stays finite."""
    torch.manual_seed(0)
    model = FAMILIES[family]().eval()
    x = torch.randn(3, 3, 128, 160)
    x[1, 0, 40, 40] = float('nan')
    x[2, 1, 7, 9] = float('inf')
    paths = eager_paths(model, x)
    reference = paths['plain']
    for i, ref in enumerate(reference):
        bad = ~torch.isfinite(ref)
        assert bad[1].any() and bad[2].any(), f'stage {i}: the reference lost the NaN / inf'
        for name, outs in paths.items():
            out = outs[i]
            assert out.shape == ref.shape, (name, i)
            assert torch.isfinite(out[0]).all(), \
                f'{name}, stage {i}: the clean image got non-finite values'
            became_numbers = (bad & torch.isfinite(out)).sum().item()
            assert became_numbers == 0, \
                f'{name}, stage {i}: {became_numbers} non-finite values became numbers'
