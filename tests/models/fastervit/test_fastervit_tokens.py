"""The compact token layout of HAT stages, against a brute-force construction."""
import pytest
import torch

from mmfastervit.models.fastervit.carrier_tokens import carrier_grid_hw, carrier_validity
from mmfastervit.models.fastervit.compact_layout import token_layout
from mmfastervit.models.fastervit.token_layout import (
    gather_from_slots,
    scatter_to_slots,
    to_map,
    to_tokens,
)
from mmfastervit.models.fastervit.windows import WindowGrid


def brute_force(grid, ct, with_ct, batch):
    """Token list in compact order, by plain loops over windows and slots."""
    h, w, ws = grid.height, grid.width, grid.window
    hc, wc = carrier_grid_hw(grid, ct) if with_ct else (0, 0)
    toks = []
    for b in range(batch):
        for r in range(grid.rows):
            for c in range(grid.cols):
                if with_ct:
                    for i in range(ct):
                        for j in range(ct):
                            toks.append(('ct', b, r * ct + i, c * ct + j, None, (r, c)))
                for i in range(ws):
                    for j in range(ws):
                        y, x = r * ws + i, c * ws + j
                        if y < h and x < w:
                            toks.append(('px', b, y, x, i * ws + j, (r, c)))
    return toks, hc, wc


@pytest.mark.parametrize('h, w, ws, with_ct, batch', [
    (14, 14, 7, True, 1), (8, 14, 7, True, 2), (13, 4, 7, True, 1), (21, 33, 7, True, 2),
    (25, 38, 7, False, 1), (7, 7, 7, False, 3), (16, 20, 8, True, 1)])
def test_layout_matches_brute_force(h, w, ws, with_ct, batch):
    ct = 2
    grid = WindowGrid(h, w, ws)
    ct_valid = carrier_validity(grid, ct) if with_ct else None
    lay = token_layout(grid, ct, with_ct, batch, torch.device('cpu'))
    toks, hc, wc = brute_force(grid, ct, with_ct, batch)
    index = {t[:4]: k for k, t in enumerate(toks)}
    assert lay.source.numel() == len(toks) == batch * (h * w + hc * wc)

    p = ct * ct if with_ct else 0
    n = p + ws * ws
    for k, (kind, b, y, x, pos, (r, c)) in enumerate(toks):
        window = b * grid.num_windows + r * grid.cols + c
        if kind == 'px':
            assert lay.source[k] == b * h * w + y * w + x
            assert lay.position[k] == pos
            assert lay.pixel_of_map[b * h * w + y * w + x] == k
            slot = window * n + p + pos
        else:
            assert lay.source[k] == batch * h * w + b * hc * wc + y * wc + x
            assert lay.position[k] == ws * ws
            assert lay.ct_tokens[b * hc * wc + y * wc + x] == k
            slot = window * n + (y - r * ct) * ct + (x - c * ct)
        assert (lay.window_slots.index[k] if lay.window_slots.index is not None else k) == slot
        assert lay.window_slots.token_group[k] == window

    pixels = [k for k, t in enumerate(toks) if t[0] == 'px']
    assert lay.pixel_tokens.tolist() == pixels
    if with_ct:  # propagation: nearest CT of the pixel's own window
        for k, target in zip(pixels, lay.pixel_ct.tolist()):
            _, b, y, x, pos, (r, c) = toks[k]
            i, j = divmod(pos, ws)
            assert target == index[('ct', b, r * ct + i * ct // ws, c * ct + j * ct // ws)]

    mask = lay.window_slots.key_mask
    empty = sum(1 for r in range(grid.rows) for c in range(grid.cols) for i in range(ws)
                for j in range(ws) if r * ws + i >= h or c * ws + j >= w)
    masked_cts = 0 if ct_valid is None else int((~ct_valid).sum())
    if mask is None:
        assert empty == 0 and masked_cts == 0
    else:
        assert int(torch.isinf(mask).sum()) == empty + masked_cts


def test_round_trip_and_slots():
    grid = WindowGrid(9, 11, 7)
    lay = token_layout(grid, 2, True, 2, torch.device('cpu'))
    pixels = torch.randn(2 * 9 * 11, 5)
    cts = torch.randn(2 * 4 * 4, 5)
    toks = to_tokens(lay, pixels, cts)
    assert torch.equal(to_map(lay, toks), pixels)
    assert torch.equal(toks[lay.ct_tokens], cts)
    slots = scatter_to_slots(toks, lay.window_slots)
    assert slots.shape == (lay.window_slots.groups * lay.window_slots.size, 5)
    assert torch.equal(gather_from_slots(slots, lay.window_slots), toks)
    assert int((slots.abs().sum(1) == 0).sum()) == 2 * (14 * 14 - 9 * 11)  # empty slots


def test_layouts_are_cached_and_bounded():
    args = (WindowGrid(10, 10, 7), 2, True, 1, torch.device('cpu'))
    assert token_layout(*args) is token_layout(*args)
    assert token_layout.cache_info().maxsize is not None


def test_drop_path_drops_whole_windows_and_images():
    """Stochastic depth keeps or drops a residual branch for a whole window
    (window path) or a whole image (carrier-token path), never single tokens."""
    from mmfastervit.models.fastervit.hat_block import GroupDropPath
    torch.manual_seed(0)
    lay = token_layout(WindowGrid(20, 33, 7), 2, True, 3, torch.device('cpu'))
    drop = GroupDropPath(0.5).train()
    for slots in (lay.window_slots, lay.ct_slots):
        tokens = slots.token_group.numel()
        out = drop(torch.ones(tokens, 4), slots)
        for g in range(slots.groups):
            values = out[slots.token_group == g].unique()
            assert values.numel() == 1 and values.item() in (0.0, 2.0)
        kept = torch.stack([out[slots.token_group == g][0, 0] for g in range(slots.groups)])
        assert slots.groups == 3 or (0 < (kept > 0).sum() < slots.groups)
    assert torch.equal(drop.eval()(torch.ones(5, 4), lay.window_slots), torch.ones(5, 4))
