"""CPU inference kernels: oneDNN linears agree with PyTorch and never run
where gradients are needed."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import mmfastervit.models.common.onednn as lin
from mmfastervit import FasterViT

pytestmark = pytest.mark.skipif(lin._linear is None, reason='torch built without oneDNN')


@pytest.fixture
def counted(monkeypatch):
    calls = []
    original = lin._linear

    def wrapper(*args):
        calls.append(args[3])
        return original(*args)
    monkeypatch.setattr(lin, '_linear', wrapper)
    return calls


@pytest.mark.parametrize('gelu', [False, True])
def test_onednn_linear_matches_pytorch(counted, gelu):
    torch.manual_seed(0)
    layer = nn.Linear(96, 160)
    x = torch.randn(3, 50, 96)
    with torch.no_grad():
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
    with torch.no_grad():
        inference = model(x)
    assert len(counted) > 0
    counted.clear()
    model.train()
    model(x)
    assert counted == []
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        model(x)  # autocast keeps PyTorch's dispatch
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

    def run(fused: bool):
        with monkeypatch.context() as m, torch.no_grad():
            if not fused:
                m.setattr(lin, 'usable', lambda t: False)
            return block(stem(x))

    fused = run(True)
    assert len(block._cache) == 1 and len(stem._cache) == 1  # the fused path ran
    torch.testing.assert_close(fused, run(False), rtol=1e-4, atol=1e-4)

    block.train()
    block(torch.randn(4, 24, 16, 16))  # new running statistics
    block.eval()
    refolded = run(True)
    torch.testing.assert_close(refolded, run(False), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(refolded, fused)


def test_fused_conv_path_is_not_used_while_training_with_frozen_norms():
    """norm_eval keeps batch norms in eval mode during training; the block
    must still take the plain path there (stochastic depth, autograd)."""
    from mmfastervit.models.fastervit.conv_blocks import ConvBlock
    block = ConvBlock(8, drop_path=0.5).train()
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    with torch.no_grad():
        block(torch.randn(2, 8, 8, 8).contiguous(memory_format=torch.channels_last))
    assert len(block._cache) == 0
