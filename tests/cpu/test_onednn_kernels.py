"""CPU inference kernels: oneDNN linears agree with PyTorch, never run where
gradients are needed, and are picked per CPU."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mmfastervit.cpu.onednn as lin
from mmfastervit import FasterViT, cpu_kernels

pytestmark = pytest.mark.skipif(lin._linear is None, reason='torch built without oneDNN')


@pytest.fixture
def counted(monkeypatch):
    calls = []
    original = lin._linear

    def wrapper(*args):
        calls.append(args[3])
        return original(*args)

    def binary(*args):  # a product with a residual add fused in
        calls.append(args[4])
        return original.binary(*args)
    wrapper.binary = binary
    monkeypatch.setattr(lin, '_linear', wrapper)
    return calls


@pytest.mark.parametrize('gelu', [False, True])
def test_onednn_linear_matches_pytorch(counted, gelu):
    torch.manual_seed(0)
    layer = nn.Linear(96, 160)
    x = torch.randn(3, 50, 96)
    with torch.no_grad(), cpu_kernels('fused'):  # on any ISA (auto picks it on AVX-512)
        got = lin.linear(x, layer, gelu=gelu)
        want = F.linear(x, layer.weight, layer.bias)
        want = F.gelu(want) if gelu else want
    assert counted == ['gelu' if gelu else 'none']
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_autograd_takes_the_pytorch_path(counted):
    layer = nn.Linear(8, 8)
    x = torch.randn(4, 8, requires_grad=True)
    lin.linear(x, layer, gelu=True).sum().backward()
    assert counted == []
    assert layer.weight.grad is not None and x.grad is not None


def test_backbone_inference_uses_onednn_and_training_does_not(counted):
    model = FasterViT(dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2)))
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    with torch.no_grad(), cpu_kernels('fused'):  # on any ISA (auto picks it on AVX-512)
        inference = model(x)
    assert len(counted) > 0
    counted.clear()
    model.train()
    with cpu_kernels('fused'):
        model(x)
    assert counted == []
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16), cpu_kernels('plain'):
        model(x)  # plain: PyTorch's own autocast (bf16 end to end: test_bf16_inference.py)
    assert counted == []
    assert all(torch.isfinite(o).all() for o in inference)


def _randomize_norms(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_(1, 0.3)
                m.bias.normal_(0, 0.3)


def fused_conv_calls(monkeypatch):
    """A list that records every call of the fused oneDNN convolution."""
    calls, conv3x3 = [], lin.conv3x3

    def recorded(*args, **kwargs):
        calls.append(args[0].shape)
        return conv3x3(*args, **kwargs)
    monkeypatch.setattr(lin, 'conv3x3', recorded)
    return calls


@pytest.mark.parametrize('layer_scale', [None, 0.7])
def test_fused_conv_path_matches_the_plain_one(monkeypatch, layer_scale):
    """Conv stem and conv blocks: BN folded + activation/residual fused by
    oneDNN == the plain modules, and the fold follows new BN statistics."""
    from mmfastervit.models.fastervit.conv_blocks import ConvBlock, Stem
    torch.manual_seed(0)
    stem, block = Stem(3, 16, 24).eval(), ConvBlock(24, layer_scale).eval()
    if layer_scale:
        with torch.no_grad():
            block.ls.gamma.uniform_(0.5, 1.5)
    _randomize_norms(stem)
    _randomize_norms(block)
    x = torch.randn(2, 3, 64, 96).contiguous(memory_format=torch.channels_last)
    convs = fused_conv_calls(monkeypatch)

    def run(fused: bool):
        with torch.no_grad(), cpu_kernels('fused' if fused else 'plain'):
            return block(stem(x))

    fused = run(True)
    assert len(convs) == 4  # the fused path ran: two convs in the stem, two in the block
    torch.testing.assert_close(fused, run(False), rtol=1e-4, atol=1e-4)

    block.train()
    block(torch.randn(4, 24, 16, 16))  # new running statistics
    block.eval()
    refolded = run(True)
    torch.testing.assert_close(refolded, run(False), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(refolded, fused)


def test_fused_conv_path_is_not_used_while_training_with_frozen_norms(monkeypatch):
    """norm_eval keeps batch norms in eval mode during training; the block
    must still take the plain path there (stochastic depth, autograd)."""
    from mmfastervit.models.fastervit.conv_blocks import ConvBlock
    block = ConvBlock(8, drop_path=0.5).train()
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    convs = fused_conv_calls(monkeypatch)
    with torch.no_grad():
        block(torch.randn(2, 8, 8, 8).contiguous(memory_format=torch.channels_last))
    assert not convs


# ------------------------------------------------------- per-CPU dispatch
def _features(isa: str):
    from mmfastervit.cpu.features import CPUFeatures
    aten = {'avx512': 'AVX512', 'avx2': 'AVX2', 'other': 'DEFAULT'}[isa]
    flags = {'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'} if isa == 'avx512' else (
        {'avx2'} if isa == 'avx2' else set())
    return CPUFeatures('test CPU', 2, frozenset(flags), aten, 'ALL', None)


@pytest.mark.parametrize('isa', ['avx512', 'avx2', 'other'])
def test_auto_picks_the_fused_path_by_isa(monkeypatch, counted, isa):
    """'auto' runs the fused kernels exactly where the ISA table says they win;
    forcing a mode overrides the table; every path gives the same outputs."""
    import mmfastervit
    from mmfastervit.cpu import dispatch as cpu_dispatch

    monkeypatch.setattr(cpu_dispatch, 'cpu_features', lambda: _features(isa))
    monkeypatch.delenv(cpu_dispatch.ENV, raising=False)
    torch.manual_seed(0)
    model = FasterViT(dict(dim=16, depths=(1, 1, 2, 1), num_heads=(1, 1, 2, 2))).eval()
    _randomize_norms(model)
    x = torch.randn(2, 3, 96, 128)
    outs = {}
    for mode in ('auto', 'fused', 'plain'):
        counted.clear()
        with torch.no_grad(), mmfastervit.cpu_kernels(mode):
            outs[mode] = model(x)
        fused = mode == 'fused' or (mode == 'auto' and cpu_dispatch.FUSED_BY_ISA[isa])
        assert bool(counted) == fused, (mode, isa)
    for mode in ('auto', 'fused'):
        for a, b in zip(outs[mode], outs['plain']):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_kernel_mode_from_the_environment_and_bad_values(run_tool):
    code = ('import torch, mmfastervit\n'
            'import mmfastervit.cpu.onednn as o\n'
            'torch.set_grad_enabled(False)\n'
            'print(mmfastervit.get_cpu_kernels(), o.usable(torch.zeros(1)))\n')
    res = run_tool('-c', code, env={'MMFV_CPU_KERNELS': 'plain'})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ['plain', 'False']
    import mmfastervit
    with pytest.raises(ValueError, match=r"'fast' is not a CPU kernel mode.*'fused', 'plain'"):
        mmfastervit.set_cpu_kernels('fast')
