"""Position terms: per-shape tables, and the eval-mode cache of the biases."""
import torch

from mmfastervit import FasterViT
from mmfastervit.models.fastervit.position import (
    AbsolutePosition,
    RelativePositionBias,
    absolute_coords,
    log_relative_coords,
    relative_index,
)


def test_coordinate_tables_are_cached_per_shape_and_bounded():
    dev = torch.device('cpu')
    for fn in (absolute_coords, log_relative_coords, relative_index):
        assert fn(5, 9, dev) is fn(5, 9, dev)
        assert fn(5, 9, dev) is not fn(9, 5, dev)
        assert fn.cache_info().maxsize is not None
    assert relative_index(5, 9, dev).shape == (45, 45)
    assert log_relative_coords(5, 9, dev).shape == (9 * 17, 2)


def test_eval_cache_hits_and_is_dropped_when_weights_change():
    bias = RelativePositionBias(num_heads=4).eval()
    with torch.no_grad():
        first = bias(7, 7)
        table = bias._cache[(7, 7)][1]
        assert torch.equal(bias(7, 7), first) and bias._cache[(7, 7)][1] is table  # hit
        assert bias(4, 6).shape == (4, 24, 24)         # per shape
        bias.mlp[2].weight.mul_(2)                     # weights change in place
        changed = bias(7, 7)
    assert bias._cache[(7, 7)][1] is not table and not torch.equal(changed, first)
    bias.clear_cache()
    assert len(bias._cache) == 0
    with torch.no_grad():
        torch.testing.assert_close(changed, bias(7, 7))  # equals a fresh compute


def test_autocast_does_not_leave_low_precision_in_the_cache():
    bias = RelativePositionBias(num_heads=4).eval()
    with torch.no_grad():
        fp32 = bias(7, 7)
        bias.clear_cache()
        with torch.autocast('cpu', dtype=torch.bfloat16):
            bias(7, 7)
        assert bias._cache[(7, 7)][1].dtype == torch.float32
        assert torch.equal(bias(7, 7), fp32)


def test_cache_follows_load_state_dict_and_optimizer_steps():
    pos = AbsolutePosition(dim=8).eval()
    with torch.no_grad():
        before = pos(7, 7)
    other = AbsolutePosition(dim=8)
    pos.load_state_dict(other.state_dict())
    with torch.no_grad():
        after_load = pos(7, 7)
        torch.testing.assert_close(after_load, other.eval()(7, 7))
    assert not torch.equal(before, after_load)

    pos.train()
    opt = torch.optim.SGD(pos.parameters(), lr=1.0)
    pos(7, 7).sum().backward()
    opt.step()
    pos.eval()
    with torch.no_grad():
        after_step = pos(7, 7)
    assert not torch.equal(after_step, after_load)


def test_training_recomputes_and_stays_differentiable():
    bias = RelativePositionBias(num_heads=2)
    with torch.no_grad():
        bias.eval()
        bias(7, 7)
    assert len(bias._cache) == 1
    bias.train()
    assert len(bias._cache) == 0                       # mode change drops the cache
    out = bias(7, 7)
    assert out.requires_grad and bias(7, 7) is not out
    out.sum().backward()
    assert bias.mlp[0].weight.grad.abs().sum() > 0
    assert len(bias._cache) == 0


def test_cache_is_bounded():
    bias = RelativePositionBias(num_heads=2).eval()
    with torch.no_grad():
        for n in range(2, 2 + 3 * bias.max_cached):
            bias(n, 3)
    assert len(bias._cache) == bias.max_cached


def test_backbone_eval_outputs_identical_with_and_without_cache():
    torch.manual_seed(0)
    model = FasterViT(dict(dim=16, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4))).eval()
    x = torch.randn(1, 3, 224, 160)
    with torch.no_grad():
        cold = model(x)
        warm = model(x)
    caches = [m._cache for m in model.modules() if hasattr(m, '_cache')]
    assert caches and all(len(c) > 0 for c in caches)
    for a, b in zip(cold, warm):
        assert torch.equal(a, b)


def test_position_cache_sees_writes_through_data():
    """Writes through ``.data`` give PyTorch no version bump; the cache
    compares the weights themselves, so the next pass sees them (no
    ``clear_caches`` needed), and ``clear_caches`` only frees memory."""
    torch.manual_seed(0)
    arch = dict(dim=16, in_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
    model = FasterViT(arch=arch, window_size=(7, 7, 3, 3)).eval()
    fresh = FasterViT(arch=arch, window_size=(7, 7, 3, 3)).eval()
    x = torch.randn(1, 3, 160, 224)
    with torch.no_grad():
        before = model(x)                           # fills the caches
        for p, q in zip(model.parameters(), fresh.parameters()):
            p.data.copy_(q.data)                     # e.g. an EMA swap by hand
        for b, c in zip(model.buffers(), fresh.buffers()):
            b.data.copy_(c.data)
        after = model(x)
        expected = fresh(x)
        model.clear_caches()
    assert not any(m._cache for m in model.modules() if hasattr(m, '_cache'))
    for a, e, b in zip(after, expected, before):
        assert not torch.equal(e, b)
        torch.testing.assert_close(a, e, rtol=0, atol=0)


def test_one_copy_of_the_weights_per_state():
    """Entries computed from the same weights share one snapshot of them."""
    bias = RelativePositionBias(num_heads=2).eval()
    with torch.no_grad():
        bias(3, 3), bias(4, 4)
        assert bias._cache[(3, 3)][0] is bias._cache[(4, 4)][0]
        bias.mlp[0].bias.data.add_(1.0)
        bias(4, 4)
    assert bias._cache[(3, 3)][0] is not bias._cache[(4, 4)][0]
