"""bf16 CPU inference: under ``torch.autocast('cpu', dtype=torch.bfloat16)``
both backbones run in bf16 end to end (bf16 weights made once, the fused
oneDNN kernels in bf16) where the kernel mode allows it, stay as close to
fp32 as plain autocast, and never take that path in training, with autograd
or with ``plain`` kernels."""
import dataclasses

import pytest
import torch

import mmfastervit.cpu.bf16 as bf16
import mmfastervit.cpu.onednn as onednn
from benchmarks.harness import relative_errors as rel_errors
from mmfastervit import FasterViT, LITv2, cpu_kernels
from mmfastervit.cpu.features import cpu_features

pytestmark = pytest.mark.skipif(onednn._linear is None, reason='torch built without oneDNN')

#: worst relative error of a stage's features in bf16 against fp32 (random
#: weights; bf16 keeps 8 bits of mantissa: ~4e-3 per rounding)
MAX_REL_ERR = 2.5e-2


def fastervit():
    torch.manual_seed(0)  # FasterViT-0's widths, fewer blocks; carrier tokens at 256x320
    return FasterViT(dict(dim=64, in_dim=64, depths=(1, 1, 2, 1), num_heads=(2, 4, 8, 16),
                          window_size=(7, 7, 7, 7), ct_size=2)).eval()


def litv2():
    torch.manual_seed(0)
    return LITv2(dict(embed_dims=64, depths=(1, 1, 2, 1), num_heads=(2, 4, 8, 16),
                      local_ws=(0, 0, 2, 1), alpha=0.9)).eval()


MODELS = {'fastervit': fastervit, 'litv2': litv2}


@pytest.fixture
def linear_dtypes(monkeypatch):
    """The dtypes the fused oneDNN linear kernel was called with."""
    seen = []
    original = onednn._linear

    def wrapper(x, *args):
        seen.append(x.dtype)
        return original(x, *args)
    wrapper.binary = lambda x, *args: (seen.append(x.dtype), original.binary(x, *args))[1]
    monkeypatch.setattr(onednn, '_linear', wrapper)
    return seen


def run(model, x, mode='auto', autocast=True):
    with torch.no_grad(), cpu_kernels(mode), torch.autocast('cpu', dtype=torch.bfloat16,
                                                            enabled=autocast):
        return model(x)


@pytest.mark.parametrize('family', MODELS)
def test_bf16_end_to_end_is_as_close_to_fp32_as_plain_autocast(family, linear_dtypes):
    model = MODELS[family]()
    x = torch.randn(1, 3, 256, 320)
    fp32 = run(model, x, autocast=False)
    linear_dtypes.clear()
    native = run(model, x, 'fused')
    # the fused bf16 kernels where the CPU has bf16 units, plain bf16 ops elsewhere
    assert set(linear_dtypes) == ({torch.bfloat16} if cpu_features().bf16_units else set())
    plain = run(model, x, 'plain')
    assert [o.dtype for o in native] == [torch.bfloat16] * 4  # as autocast gives them
    assert [o.shape for o in native] == [o.shape for o in fp32]
    native_err, plain_err = rel_errors(native, fp32), rel_errors(plain, fp32)
    print(family, 'bf16 vs fp32 per stage: end to end', [f'{e:.1e}' for e in native_err],
          'plain autocast', [f'{e:.1e}' for e in plain_err])
    assert max(native_err) < MAX_REL_ERR
    assert all(n < 1.5 * p + 1e-3 for n, p in zip(native_err, plain_err)), (native_err,
                                                                           plain_err)
    # the model itself is untouched: fp32 parameters, the same objects
    assert all(p.dtype == torch.float32 for p in model.parameters())
    torch.testing.assert_close(run(model, x, autocast=False), fp32, rtol=0, atol=0)


@pytest.mark.parametrize('family', MODELS)
def test_the_path_is_taken_only_where_it_should_be(family, monkeypatch):
    calls = []
    original = bf16.run_in_bf16
    monkeypatch.setattr('mmfastervit.models.common.backbone.run_in_bf16',
                        lambda *a: (calls.append(1), original(*a))[1])
    model = MODELS[family]()
    x = torch.randn(1, 3, 64, 96)
    run(model, x, 'fused')
    assert calls == [1]
    run(model, x, 'plain')  # plain autocast, as PyTorch does it
    run(model, x, 'fused', autocast=False)  # fp32
    with cpu_kernels('fused'), torch.autocast('cpu', dtype=torch.bfloat16):
        model(x)  # autograd on: the plain autocast path, gradients flow
        model.train()
        model(x)[-1].float().sum().backward()
    assert calls == [1]
    assert all(p.grad is not None for p in model.stem.parameters())
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.float16):
        model.eval()
        model(x)  # fp16 autocast is not bf16
    assert calls == [1]
    with_units = dataclasses.replace(cpu_features(), flags=cpu_features().flags | {'amx_bf16'})
    without = dataclasses.replace(cpu_features(), flags=cpu_features().flags - {
        'amx_bf16', 'avx512_bf16'})
    monkeypatch.setattr(bf16, 'cpu_features', lambda: without)
    run(model, x)  # auto: only with bf16 units
    assert calls == [1]
    monkeypatch.setattr(bf16, 'cpu_features', lambda: with_units)
    monkeypatch.setattr('mmfastervit.cpu.dispatch.cpu_features', lambda: with_units)
    run(model, x)
    assert calls == [1, 1]


@pytest.mark.parametrize('family', MODELS)
def test_without_bf16_units_forced_bf16_runs_plain_ops_in_bf16(family, monkeypatch):
    """``fused`` forces the bf16 path; where the CPU has no bf16 units the
    oneDNN kernels stay off and PyTorch's own bf16 ops compute the same."""
    without = dataclasses.replace(cpu_features(), flags=cpu_features().flags - {
        'amx_bf16', 'avx512_bf16'})
    model = MODELS[family]()
    x = torch.randn(1, 3, 128, 160)
    fp32 = run(model, x, autocast=False)
    monkeypatch.setattr(onednn, 'cpu_features', lambda: without)
    got = run(model, x, 'fused')
    assert [o.dtype for o in got] == [torch.bfloat16] * 4
    assert max(rel_errors(got, fp32)) < MAX_REL_ERR


def test_bf16_weights_are_kept_and_refilled_from_the_weights_every_forward():
    model = fastervit()
    x = torch.randn(1, 3, 128, 160)
    run(model, x, 'fused')
    state = model._bf16_weights.get(model)
    again = model._bf16_weights.get(model)
    assert all(again[k] is v for k, v in state.items())  # the same buffers, refilled
    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(state[f'{n}.weight'].dtype == torch.float32 for n in norms)
    assert state['stem.conv1.weight'].dtype == torch.bfloat16
    before = run(model, x, 'fused')
    other = fastervit()
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(1.5)
    model.load_state_dict(other.state_dict())  # new weights: the copies follow
    after = run(model, x, 'fused')
    assert max(rel_errors(after, run(other, x, autocast=False))) < MAX_REL_ERR
    assert max(rel_errors(before, [o.float() for o in after])) > 0.05
    model.clear_caches()
    with torch.inference_mode():  # buffers made here cannot be written outside it
        in_mode = run(model, x, 'fused')
    torch.testing.assert_close(run(model, x, 'fused'), in_mode, rtol=0, atol=0)
    model.half()  # new dtypes: new buffers
    assert model._bf16_weights.get(model)['stem.conv1.weight'] is not state['stem.conv1.weight']
    model.train()  # a mode change frees them
    assert model._bf16_weights._copies == {}


@pytest.mark.parametrize('family', MODELS)
def test_compile_traces_the_whole_backbone_in_one_graph_under_bf16_autocast(family):
    """``torch.compile`` of a backbone asked for bf16 the usual way: dynamo
    must see one graph (``fullgraph=True`` raises at a break). A break in
    every linear layer (the kernel check reading the CPU's features before
    seeing it is compiled) once cost a recompilation per token count, until
    dynamo's recompile limit sent the rest back to eager. Dynamo's own
    ``eager`` backend checks the tracing in seconds, without code generation;
    the compiled features are the eager ones."""
    model = MODELS[family]()
    x = torch.randn(1, 3, 96, 128)
    torch._dynamo.reset()
    try:
        compiled = torch.compile(model, backend='eager', fullgraph=True, dynamic=False)
        got, want = run(compiled, x), run(model, x)
    finally:
        torch._dynamo.reset()
    assert all(g.dtype == torch.bfloat16 for g in got)
    assert max(rel_errors(got, want)) < MAX_REL_ERR
