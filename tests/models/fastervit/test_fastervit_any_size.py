"""Any input size, decided at run time, with window padding masked."""
import math

import pytest
import torch

import mmfastervit.models.fastervit.attention as attention
import mmfastervit.models.fastervit.carrier_tokens as carrier_tokens
import mmfastervit.models.fastervit.compact_layout as compact_layout
from mmfastervit import FasterViT
from mmfastervit.models.fastervit import windows
from mmfastervit.models.fastervit.position import absolute_coords, log_relative_coords

# Small widths, but every mechanism on: CTs in stages 3 and 4, propagation,
# layer scale, and windows that rarely divide the maps.
TINY = dict(FasterViT.tiny_arch, depths=(1, 1, 2, 2), num_heads=(1, 2, 2, 4),
            layer_scale=0.5, do_propagation=True, hat=(False, False, True, True))


def expected_shapes(model, b, h, w):
    return [(b, model.num_features[i], math.ceil(h / 2**(i + 2)), math.ceil(w / 2**(i + 2)))
            for i in model.out_indices]


@pytest.mark.parametrize('shape', [(1, 3, 333, 517), (2, 3, 800, 1216), (1, 3, 64, 64),
                                   (1, 3, 32, 32), (1, 3, 32, 1024), (1, 3, 1100, 40),
                                   (3, 3, 97, 255)])
def test_awkward_sizes_give_pyramid_shapes(shape):
    model = FasterViT('0').eval()
    with torch.no_grad():
        outs = model(torch.randn(*shape))
    assert [tuple(o.shape) for o in outs] == expected_shapes(model, *shape[:1], *shape[2:])
    assert all(torch.isfinite(o).all() for o in outs)


def test_sizes_and_batches_change_between_training_steps():
    """Multi-scale training: one model, a new size and batch every step."""
    torch.manual_seed(0)
    model = FasterViT(TINY).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    for b, h, w in [(2, 224, 224), (1, 333, 517), (3, 128, 96), (2, 480, 640), (1, 96, 416)]:
        outs = model(torch.randn(b, 3, h, w))
        assert [tuple(o.shape) for o in outs] == expected_shapes(model, b, h, w)
        loss = sum(o.square().mean() for o in outs)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        opt.step()
        # The CT path got gradients whenever stage 3 had more than one window.
        tokenizer = model.stages[2].tokenizer.pos_conv.weight
        assert tokenizer.grad is not None and tokenizer.grad.abs().sum() > 0


def _noisy_padding(monkeypatch):
    """Fill every place padding can appear (empty attention slots, the padded
    map of CT pooling) with large noise instead of zeros."""
    def noisy_slots(tokens, slots):
        if slots.index is None:
            return tokens
        noise = 1e3 * torch.randn(slots.groups * slots.size, tokens.shape[-1])
        return noise.index_copy(0, slots.index, tokens)

    def noisy_pad(x, grid):
        y = windows.pad_to_grid(x, grid)
        if y is x:
            return y
        real = windows.pad_to_grid(torch.ones_like(x), grid)
        return y * real + 1e3 * torch.randn_like(y) * (1 - real)

    monkeypatch.setattr(attention, 'scatter_to_slots', noisy_slots)
    monkeypatch.setattr(carrier_tokens, 'pad_to_grid', noisy_pad)


@pytest.mark.parametrize('shape', [(1, 3, 333, 517), (2, 3, 128, 200), (1, 3, 200, 64)])
def test_padding_never_reaches_real_pixels(monkeypatch, shape):
    """Filling the empty window slots and the CT-pooling padding with large
    noise leaves every real pixel's output unchanged."""
    torch.manual_seed(0)
    model = FasterViT(TINY).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        clean = model(x)
    _noisy_padding(monkeypatch)
    with torch.no_grad():
        dirty = model(x)
    for c, d in zip(clean, dirty):
        torch.testing.assert_close(d, c, rtol=0, atol=1e-5)


def test_noise_in_padding_is_visible_without_masks(monkeypatch):
    """Guard for the test above: with the key masks switched off, the same
    noise does change real outputs, so the masking is what protects them."""
    torch.manual_seed(0)
    model = FasterViT(TINY).eval()
    x = torch.randn(1, 3, 333, 517)
    with torch.no_grad():
        clean = model(x)
    _noisy_padding(monkeypatch)
    monkeypatch.setattr(compact_layout, '_additive', lambda valid: None)
    compact_layout.token_layout.cache_clear()
    try:
        with torch.no_grad():
            dirty = model(x)
    finally:
        compact_layout.token_layout.cache_clear()
    assert (dirty[2] - clean[2]).abs().max() > 1e-2


def test_carrier_tokens_of_pure_padding_are_masked():
    """At stage-3 height 8 (two windows of 7), the last CT row pools only padding."""
    grid = windows.WindowGrid(8, 14, 7)
    ct_valid = carrier_tokens.carrier_validity(grid, 2)
    rows = ct_valid.view(4, 4).all(dim=1)
    assert rows.tolist() == [True, True, True, False]
    # and the backbone runs on such an input (stage 3 map 8 x 14)
    model = FasterViT(TINY).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 128, 224))
    assert all(torch.isfinite(o).all() for o in outs)


def test_non_square_grids_use_per_axis_coordinates():
    """A (h, w) grid's rows carry the coordinates of an (h, h) grid's rows and
    its columns those of a (w, w) grid's columns."""
    dev = torch.device('cpu')
    h, w = 3, 8
    rect = absolute_coords(h, w, dev).view(h, w, 2)
    assert torch.equal(rect[:, 0, 0], absolute_coords(h, h, dev).view(h, h, 2)[:, 0, 0])
    assert torch.equal(rect[0, :, 1], absolute_coords(w, w, dev).view(w, w, 2)[0, :, 1])
    rel = log_relative_coords(h, w, dev).view(2 * h - 1, 2 * w - 1, 2)
    sq_h = log_relative_coords(h, h, dev).view(2 * h - 1, 2 * h - 1, 2)
    sq_w = log_relative_coords(w, w, dev).view(2 * w - 1, 2 * w - 1, 2)
    assert torch.equal(rel[:, 0, 0], sq_h[:, 0, 0])
    assert torch.equal(rel[0, :, 1], sq_w[0, :, 1])
