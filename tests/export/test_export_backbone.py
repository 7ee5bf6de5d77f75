"""Deployment of the backbone: one ONNX file (either exporter) and one
``torch.compile`` graph that are exact at every input size.

While tracing, HAT stages take a dense, symbolic layout (every window slot,
index maps built in the graph); these tests check that it equals the eager
compact layout, that exports run in ONNX Runtime at sizes other than the
traced one, and that compilation neither breaks the graph nor recompiles.
"""
import contextlib
import copy
import io
import warnings

import numpy as np
import onnxruntime
import pytest
import torch

import mmfastervit.models.fastervit.stages as stages
from mmfastervit import FasterViT, LITv2, PyramidBackbone
from mmfastervit.models.fastervit.carrier_tokens import (
    CarrierTokenizer,
    axis_pooling,
    carrier_grid_hw,
    carrier_validity,
)
from mmfastervit.models.fastervit.compact_layout import token_layout
from mmfastervit.models.fastervit.dense_layout import dense_layout
from mmfastervit.models.fastervit.token_layout import to_map, to_tokens
from mmfastervit.models.fastervit.windows import WindowGrid

# Small widths, every mechanism on: CTs in stages 3 and 4 (carried between
# blocks in both), propagation, layer scale large enough to matter.
TINY = dict(FasterViT.tiny_arch, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4),
            layer_scale=0.5, do_propagation=True, hat=(False, False, True, True))
EXPORT_SHAPE = (2, 3, 224, 288)  # stage 3: 14 x 18 (2 x 3 windows), stage 4: 7 x 9
# Other sizes and batches: windows padded in stages 3-4 (512 x 640 ...), odd
# sizes, single-window stages and CTs of pure padding below the export size.
SIZES = [(1, 3, 512, 640), (1, 3, 513, 769), (1, 3, 800, 1216), (3, 3, 160, 96), (1, 3, 208, 336),
         (1, 3, 64, 64), (2, 3, 128, 224)]
TOL = 1e-4


# LITv2 at the LITv2 demo's widths: HiLo with 2x2 windows in stage 3 (padded
# at 208 x 336 and 33 x 700), global attention in stage 4, DTM between stages.
LITV2_TINY = dict(LITv2.tiny_arch, embed_dims=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8))
#: the arch each family is exported at (any other registered family: its tiny_arch)
ARCHS = {'FasterViT': TINY, 'LITv2': LITV2_TINY}


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return FasterViT(TINY).eval()


@pytest.fixture(scope='module', params=sorted(PyramidBackbone.families()))
def backbone(request, model):
    """Each registered family's backbone, for the export and compile tests."""
    if request.param == 'FasterViT':
        return model
    torch.manual_seed(0)
    cls = PyramidBackbone.families()[request.param]
    return cls(ARCHS.get(request.param, cls.tiny_arch)).eval()


def eager(model, x):
    with torch.no_grad():
        return [o.numpy() for o in model(x)]


def non_finite_batch(h=513, w=769):
    """Image 0 holds a NaN, image 1 an inf, image 2 is clean."""
    x = torch.randn(3, 3, h, w)
    x[0, 1, 100, 200] = float('nan')
    x[1, 0, 5, w - 60] = float('inf')
    return x


def assert_same_non_finite(got, model, x):
    """Non-finite values appear exactly where eager PyTorch has them (on its
    plain path, autograd on) and the clean image is unaffected."""
    want = [o.detach().numpy() for o in model(x)]
    for i, (g, e) in enumerate(zip(got, want)):
        assert not np.isfinite(e[:2]).all(), f'stage {i}: eager lost the NaN/inf'
        np.testing.assert_array_equal(np.isfinite(g), np.isfinite(e), err_msg=f'stage {i}')
        np.testing.assert_allclose(g[2], e[2], rtol=0, atol=TOL, err_msg=f'stage {i}')


# ----------------------------------------------------------------- layout
@pytest.mark.parametrize('h, w, ws, with_ct, batch', [
    (14, 14, 7, True, 1), (8, 14, 7, True, 2), (13, 4, 7, True, 1), (21, 33, 7, True, 2),
    (25, 38, 7, False, 1), (7, 7, 7, False, 3), (16, 20, 8, True, 1), (30, 45, 14, True, 1)])
def test_dense_layout_holds_the_compact_tokens_in_their_slots(h, w, ws, with_ct, batch):
    """The traced layout keeps every window slot: the compact layout's tokens
    sit at the compact layout's slot indices, every other slot is padding
    (a zero row) and masked, and both give the same map back."""
    grid = WindowGrid(h, w, ws)
    compact = token_layout(grid, 2, with_ct, batch, torch.device('cpu'))
    dense = dense_layout(grid, 2, with_ct, batch, torch.device('cpu'))
    hc, wc = carrier_grid_hw(grid, 2) if with_ct else (0, 0)
    pixels = torch.randn(batch * h * w, 5)
    cts = torch.randn(batch * hc * wc, 5) if with_ct else None
    slots = compact.window_slots
    index = slots.index if slots.index is not None else torch.arange(compact.source.numel())

    tokens = to_tokens(dense, pixels, cts)
    assert tokens.shape[0] == slots.groups * slots.size == dense.window_slots.groups * slots.size
    torch.testing.assert_close(tokens[index], to_tokens(compact, pixels, cts), rtol=0, atol=0)
    empty = torch.ones(tokens.shape[0], dtype=torch.bool)
    empty[index] = False
    assert (tokens[empty] == 0).all()
    torch.testing.assert_close(to_map(dense, tokens), pixels, rtol=0, atol=0)

    # the same keys are masked: padding slots, and CTs that pool only padding
    mask = dense.window_slots.key_mask.flatten()
    want = torch.zeros(tokens.shape[0])
    if slots.key_mask is not None:
        want = slots.key_mask.repeat(batch, 1).flatten()
    want[empty] = float('-inf')
    torch.testing.assert_close(mask, want, rtol=0, atol=0)
    # positions, groups and propagation targets of the real tokens agree
    assert torch.equal(dense.position[index], compact.position)
    assert torch.equal(dense.window_slots.token_group[index], slots.token_group)
    if with_ct:
        assert torch.equal(dense.ct_tokens, index[compact.ct_tokens])
        assert bool(dense.carrier_gate)
        ct_mask = compact.ct_slots.key_mask
        ct_mask = torch.zeros(1, hc * wc) if ct_mask is None else ct_mask
        assert torch.equal(dense.ct_slots.key_mask, ct_mask.expand(batch, -1))
        real_pixels = ~empty[dense.pixel_tokens]
        assert torch.equal(dense.pixel_ct[real_pixels], index[compact.pixel_ct])


def test_single_window_masks_the_carrier_tokens():
    """One window: eager uses no CTs; the traced layout keeps their slots but
    masks them as keys and gates propagation off."""
    grid = WindowGrid(5, 7, 7)
    dense = dense_layout(grid, 2, True, 2, torch.device('cpu'))
    mask = dense.window_slots.key_mask
    assert torch.isinf(mask[:, :4]).all() and not bool(dense.carrier_gate)
    pixels_masked = torch.isinf(mask[:, 4:]).view(2, 7, 7)
    assert pixels_masked[:, 5:].all() and not pixels_masked[:, :5].any()


@pytest.mark.parametrize('h, w, ws', [(14, 14, 7), (8, 14, 7), (50, 76, 7), (25, 38, 7),
                                      (30, 45, 14), (7, 20, 7), (9, 9, 4)])
def test_carrier_pooling_by_matrices_equals_the_pooling_kernel(h, w, ws):
    """The traced CT pooling (two matrix products, sizes symbolic) equals the
    eager avg_pool2d with the official size-dependent kernel, real pixels
    only, and marks the same CTs as pure padding."""
    torch.manual_seed(0)
    tok = CarrierTokenizer(6, 2).eval()
    x = torch.randn(2, 6, h, w)
    grid = WindowGrid(h, w, ws)
    with torch.no_grad():
        torch.testing.assert_close(tok(x, grid, symbolic=True), tok(x, grid),
                                   rtol=1e-5, atol=1e-6)
    rows, cols = (axis_pooling(n, ws, 2, torch.device('cpu'))[1] for n in (h, w))
    valid = (rows[:, None] & cols[None]).flatten()
    expected = carrier_validity(grid, 2)
    assert torch.equal(valid, torch.ones_like(valid) if expected is None else expected)


@pytest.mark.parametrize('shape', [EXPORT_SHAPE, *SIZES[1:4]])
def test_traced_path_equals_eager_path(model, monkeypatch, shape):
    """The whole backbone on the traced path, run eagerly, equals the compact
    path (real pixels to float rounding)."""
    x = torch.randn(*shape)
    want = eager(model, x)
    calls = []
    monkeypatch.setattr(stages, 'is_tracing', lambda: True)
    monkeypatch.setattr(stages, 'dense_layout',
                        lambda *a: calls.append(a) or dense_layout(*a))
    got = eager(model, x)
    assert len(calls) == 2  # both HAT stages took it
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5)


# ------------------------------------------------------------------- ONNX
def export_onnx(model, path, dynamo):
    names = [f'out{i}' for i in range(4)]
    x = torch.randn(*EXPORT_SHAPE)
    # torch.no_grad(), the usual export idiom (and mmdeploy's): the fused
    # oneDNN kernels must step aside under tracing
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        if dynamo:
            dim = torch.export.Dim
            shapes = {'x': {0: dim('batch', min=1, max=64), 2: dim('height', min=33, max=4096),
                            3: dim('width', min=33, max=4096)}}
            torch.onnx.export(model, (x,), path, dynamo=True, input_names=['x'],
                              output_names=names, dynamic_shapes=shapes,
                              external_data=False)  # weights inside the file
        else:
            axes = {'x': {0: 'batch', 2: 'height', 3: 'width'}}
            axes.update({n: {0: 'batch', 2: f'h{i}', 3: f'w{i}'} for i, n in enumerate(names)})
            torch.onnx.export(model, (x,), path, dynamo=False, input_names=['x'],
                              output_names=names, dynamic_axes=axes)
    assert [f.name for f in path.parent.iterdir()] == [path.name]  # one file
    return onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])


def check_onnx_at_every_size(session, model):
    """Every stage within TOL of eager PyTorch in float64: LITv2's files
    sample with integer indices (bf16-safe), which is closer to exact than
    eager fp32's grid_sample coordinates (1.3e-4 off float64 at 800x1216)."""
    exact = copy.deepcopy(model).double()
    for shape in [EXPORT_SHAPE, *SIZES]:
        x = torch.randn(*shape)
        got = session.run(None, {'x': x.numpy()})
        for i, (g, e) in enumerate(zip(got, eager(exact, x.double()))):
            assert g.shape == e.shape, (shape, i)
            err = float(np.abs(g - e).max())
            assert err <= TOL, f'{shape} stage {i}: max-abs difference {err:.1e} > {TOL}'
    x = non_finite_batch()
    assert_same_non_finite(session.run(None, {'x': x.numpy()}), model, x)


def test_torchscript_onnx_export_is_exact_at_every_size(backbone, tmp_path):
    """``dynamo=False`` with dynamic_axes: one file for every size, and no
    traced value ever became a Python number (the tracer warns when one does)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        session = export_onnx(backbone, tmp_path / 'backbone.onnx', dynamo=False)
    tracer = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert tracer == []
    check_onnx_at_every_size(session, backbone)


@pytest.mark.slow
def test_dynamo_onnx_export_is_exact_at_every_size(backbone, tmp_path):
    """``dynamo=True`` (torch's default) with dynamic batch, height, width."""
    session = export_onnx(backbone, tmp_path / 'backbone.onnx', dynamo=True)
    check_onnx_at_every_size(session, backbone)


# ---------------------------------------------------------------- compile
# Batches 2-15: PyTorch's CPU convolution picks its backend by size, and so
# compiles a batch of 1 (and of 16 or more) separately, for any CNN.
# A map one pixel high makes conv2d pick another kernel too (LITv2's DTM
# offset conv at 33 x 700): LITv2 is compiled for maps at least two high.
COMPILE_SHAPES = [EXPORT_SHAPE, (2, 3, 513, 769), (3, 3, 160, 96), (2, 3, 64, 64),
                  (2, 3, 33, 700)]
LITV2_COMPILE_SHAPES = [*COMPILE_SHAPES[:-1], (2, 3, 65, 700)]


@pytest.mark.slow  # inductor compiles the whole backbone: ~15 s each on 2 cores
def test_compile_has_no_graph_break_and_no_recompilation(backbone):
    """``torch.compile(dynamic=True)``: one graph serves every size (padded
    windows, single-window stages, CTs of pure padding), batch changes, and
    non-finite input."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    graphs = []

    def counting_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    compiled = torch.compile(backbone, backend=counting_backend, dynamic=True)
    with torch.no_grad():
        for shape in LITV2_COMPILE_SHAPES if isinstance(backbone, LITv2) else COMPILE_SHAPES:
            x = torch.randn(*shape)
            for i, (g, e) in enumerate(zip(compiled(x), eager(backbone, x))):
                err = float(np.abs(g.numpy() - e).max())
                assert err <= TOL, f'{shape} stage {i}: max-abs difference {err:.1e} > {TOL}'
        x = non_finite_batch()
        got = [o.numpy() for o in compiled(x)]
    assert dict(counters['graph_break']) == {}
    assert len(graphs) == 1, f'{len(graphs)} graphs compiled'
    assert_same_non_finite(got, backbone, x)
    torch._dynamo.reset()


@pytest.mark.slow
def test_inductor_compiles_a_hat_stage_once_for_every_size(model):
    """The default backend (inductor) on a HAT stage, where all the symbolic
    index maps live (a whole backbone takes many minutes to compile on two
    cores): one compilation for multi-window, padded and single-window maps."""
    from torch._dynamo.utils import counters
    torch._dynamo.reset()
    counters.clear()
    stage = model.stages[2]
    compiled = torch.compile(stage, dynamic=True)
    with torch.no_grad():
        for shape in [(2, 64, 14, 18), (2, 64, 33, 49), (2, 64, 5, 6)]:
            x = torch.randn(*shape)
            torch.testing.assert_close(compiled(x), stage(x), rtol=0, atol=TOL)
    assert counters['stats']['unique_graphs'] == 1
    torch._dynamo.reset()
