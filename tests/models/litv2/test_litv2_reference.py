"""LITv2 at any size and head split equals a plain float64 transcription of
LITV2.md's rules (written here, independently of the package: explicit
padding, window loops, pooling loops and bilinear sampling), reading the
weights by their official names."""
import math
import sys

import pytest
import torch
from torchvision.ops import deform_conv2d

from benchmarks.reference import stage_features
from mmfastervit import LITv2
from mmfastervit.models.common import InputError
from mmfastervit.models.litv2.dtm import (
    deform_conv2x2_by_gather,
    deform_conv2x2_by_grid_sample,
)
from support.official_files import official_state_dict, randomize_

TINY = dict(LITv2.tiny_arch, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8), alpha=0.9,
            local_ws=(0, 0, 2, 1))


# ------------------------------------------------------- the transcription
def layer_norm(x, sd, name, eps=1e-5):
    """Over the last dimension."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * sd[f'{name}.weight'] + sd[f'{name}.bias']


def linear(x, sd, name):
    return x @ sd[f'{name}.weight'].T + sd[f'{name}.bias']


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def zero_pad(x, multiple):
    """(B, H, W, C) zero-padded bottom/right to multiples of ``multiple``."""
    b, h, w, c = x.shape
    hp, wp = math.ceil(h / multiple) * multiple, math.ceil(w / multiple) * multiple
    out = torch.zeros(b, hp, wp, c, dtype=x.dtype)
    out[:, :h, :w] = x
    return out


window_pad = zero_pad  # HiLo's padding (the guard test swaps it)


def stem(img, sd):
    x = zero_pad(img.permute(0, 2, 3, 1), 4).permute(0, 3, 1, 2)
    x = torch.nn.functional.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'],
                                   stride=4)
    return layer_norm(x.permute(0, 2, 3, 1), sd, 'patch_embed.norm')


def ffn(x, sd, p):
    hidden = linear(x, sd, f'{p}.fc1')
    n = hidden.shape[-1]
    hidden = torch.nn.functional.conv2d(
        hidden.permute(0, 3, 1, 2), sd[f'{p}.dwconv.dwconv.weight'],
        sd[f'{p}.dwconv.dwconv.bias'], padding=1, groups=n).permute(0, 2, 3, 1)
    return linear(gelu(hidden), sd, f'{p}.fc2')


def attention(q, k, v, scale):
    """(B, Nq, heads, d), (B, Nk, heads, d) -> (B, Nq, heads, d)."""
    weights = torch.einsum('bqhd,bkhd->bhqk', q, k) * scale
    return torch.einsum('bhqk,bkhd->bqhd', weights.softmax(-1), v)


def hilo(x, sd, p, heads, window, alpha):
    b, h, w, c = x.shape
    d = c // heads
    lofi = heads if window == 1 else int(heads * alpha)
    hifi = heads - lofi
    s = window
    xp = window_pad(x, s)
    hp, wp = xp.shape[1:3]
    outs = []
    if hifi:
        qkv = linear(xp, sd, f'{p}.h_qkv').view(b, hp, wp, 3, hifi, d)
        out = torch.zeros(b, hp, wp, hifi, d, dtype=x.dtype)
        for i in range(0, hp, s):
            for j in range(0, wp, s):
                win = qkv[:, i:i + s, j:j + s].reshape(b, s * s, 3, hifi, d)
                res = attention(win[:, :, 0], win[:, :, 1], win[:, :, 2], d ** -0.5)
                out[:, i:i + s, j:j + s] = res.view(b, s, s, hifi, d)
        out = linear(out.reshape(b, hp, wp, hifi * d), sd, f'{p}.h_proj')
        outs.append(out[:, :h, :w])
    if lofi:
        q = linear(xp, sd, f'{p}.l_q').view(b, hp * wp, lofi, d)  # every padded position
        pooled = torch.zeros(b, hp // s, wp // s, c, dtype=x.dtype)
        for i in range(hp // s):
            for j in range(wp // s):
                pooled[:, i, j] = xp[:, i * s:(i + 1) * s, j * s:(j + 1) * s].mean((1, 2))
        kv = linear(pooled.reshape(b, -1, c), sd, f'{p}.l_kv').view(b, -1, 2, lofi, d)
        out = attention(q, kv[:, :, 0], kv[:, :, 1], d ** -0.5)
        out = linear(out.reshape(b, hp, wp, lofi * d), sd, f'{p}.l_proj')
        outs.append(out[:, :h, :w])
    return torch.cat(outs, dim=-1)  # Hi-Fi first


def bilinear(img, rows, cols):
    """``img`` (B, C, H, W) at fractional (rows, cols) (B, Ho, Wo) -> (B, C, Ho, Wo):
    corners outside the map count 0; a point at row <= -1 or >= H (columns
    alike) gives 0."""
    b, c, h, w = img.shape
    inside = (rows > -1) & (rows < h) & (cols > -1) & (cols < w)
    r0, c0 = rows.floor(), cols.floor()
    out = torch.zeros(b, c, *rows.shape[1:], dtype=img.dtype)
    batch = torch.arange(b).view(b, 1, 1).expand_as(rows)
    for r in (r0, r0 + 1):
        for cc in (c0, c0 + 1):
            weight = (1 - (rows - r).abs()) * (1 - (cols - cc).abs())
            valid = inside & (r >= 0) & (r < h) & (cc >= 0) & (cc < w)
            ri, ci = r.clamp(0, h - 1).long(), cc.clamp(0, w - 1).long()
            value = img[batch, :, ri, ci].permute(0, 3, 1, 2)  # (B, C, Ho, Wo)
            out += value * (weight * valid)[:, None]
    return out


def dtm(x, sd, p):
    """(B, H, W, C) -> (B, H//2, W//2, 2C)."""
    img = x.permute(0, 3, 1, 2)
    b, c, h, w = img.shape
    ho, wo = h // 2, w // 2
    offset = torch.nn.functional.conv2d(img, sd[f'{p}.dconv.conv_offset.weight'],
                                        sd[f'{p}.dconv.conv_offset.bias'], stride=2)
    weight = sd[f'{p}.dconv.weight']
    out = sd[f'{p}.dconv.bias'].view(1, -1, 1, 1).expand(b, -1, ho, wo).clone()
    ys = torch.arange(ho, dtype=x.dtype).view(1, ho, 1)
    xs = torch.arange(wo, dtype=x.dtype).view(1, 1, wo)
    for i in (0, 1):
        for j in (0, 1):
            k = 2 * i + j
            sampled = bilinear(img, 2 * ys + i + offset[:, 2 * k],
                               2 * xs + j + offset[:, 2 * k + 1])
            out += torch.einsum('bchw,oc->bohw', sampled, weight[:, :, i, j])
    n = f'{p}.norm_layer'
    out = ((out - sd[f'{n}.running_mean'].view(1, -1, 1, 1))
           / torch.sqrt(sd[f'{n}.running_var'].view(1, -1, 1, 1) + 1e-5)
           * sd[f'{n}.weight'].view(1, -1, 1, 1) + sd[f'{n}.bias'].view(1, -1, 1, 1))
    return gelu(out).permute(0, 2, 3, 1)


def reference_features(sd, arch, img):
    """The four stage features (B, C_i, H_i, W_i) of LITV2.md's rules."""
    x = stem(img, sd)
    feats = []
    for i, depth in enumerate(arch['depths']):
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}'
            if i >= 2:
                x = x + hilo(layer_norm(x, sd, f'{p}.norm1'), sd, f'{p}.attn',
                             arch['num_heads'][i], arch['local_ws'][i], arch['alpha'])
            x = x + ffn(layer_norm(x, sd, f'{p}.norm2'), sd, f'{p}.mlp')
        feats.append(x.permute(0, 3, 1, 2))
        if i < 3:
            x = dtm(x, sd, f'layers.{i}.downsample')
    return feats


# ------------------------------------------------------------------ tests
def compare(arch, size, batch=1, seed=0):
    torch.manual_seed(seed)
    model = randomize_(LITv2(arch), seed=seed).eval().double()
    sd = official_state_dict(model)
    img = torch.randn(batch, 3, *size, dtype=torch.float64)
    expected = reference_features(sd, arch, img)
    got = stage_features(model, img)
    h, w = math.ceil(size[0] / 4), math.ceil(size[1] / 4)
    for i, (e, g) in enumerate(zip(expected, got)):
        assert g.shape == e.shape == (batch, arch['embed_dims'] * 2**i, h, w), (i, g.shape)
        err = (g - e).abs().max().item()
        assert err < 1e-9, f'stage {i}: max-abs difference {err:.2e}'
        h, w = h // 2, w // 2
    return expected


@pytest.mark.parametrize('size', [(225, 301), (97, 131), (29, 29), (64, 64)])
def test_odd_sizes_follow_the_official_rules(size):
    """Stem ceil, DTM floor, zero padding to the 2x2 windows unmasked."""
    compare(TINY, size)


@pytest.mark.parametrize('name, overrides', [
    ('alpha 1: pooled Lo-Fi only', dict(alpha=1.0)),
    ('alpha 0.5: 2 of 4 heads each way', dict(alpha=0.5)),
    ('alpha 0: windows only', dict(alpha=0.0)),
    ('window 1 in stage 2: global', dict(local_ws=(0, 0, 1, 1))),
    ('window 4 in stage 2', dict(local_ws=(0, 0, 4, 1))),
    ('windows 3 and 2 in stages 2 and 3', dict(local_ws=(0, 0, 3, 2))),
    ('int() truncation: 8 heads * 0.9 = 7 Lo-Fi', dict(num_heads=(1, 2, 8, 8))),
])
def test_head_splits_and_windows(name, overrides):
    """113x145: stage maps 29x37, 14x18, 7x9, 3x4, so every window pads."""
    compare(dict(TINY, **overrides), (113, 145), batch=2)


def test_the_transcription_sees_the_padding_rule(monkeypatch):
    """Guard for the tests above: padding the HiLo windows with anything
    but zeros changes the reference, so an implementation that masked or
    replicated the padding would fail them."""
    torch.manual_seed(0)
    model = randomize_(LITv2(TINY)).eval().double()
    sd = official_state_dict(model)
    img = torch.randn(1, 3, 113, 145, dtype=torch.float64)
    official = reference_features(sd, TINY, img)

    def edge_pad(x, multiple):
        out = zero_pad(x, multiple)
        h, w = x.shape[1:3]
        out[:, h:, :w] = x[:, -1:]
        out[:, :, w:] = out[:, :, w - 1:w]
        return out

    monkeypatch.setattr(sys.modules[__name__], 'window_pad', edge_pad)
    replicated = reference_features(sd, TINY, img)
    assert (replicated[2] - official[2]).abs().max() > 1e-3
    assert (stage_features(model, img)[2] - official[2]).abs().max() < 1e-9


@pytest.mark.parametrize('sampler', [deform_conv2x2_by_grid_sample, deform_conv2x2_by_gather])
def test_grid_sample_dtm_equals_deform_conv2d(sampler):
    """The fast sampler (and the exported files' integer-index form) is
    torchvision's deformable conv (float64): shifts of several pixels, points
    outside the map, odd sizes, a batch."""
    torch.manual_seed(0)
    for b, c, h, w in [(2, 5, 9, 13), (1, 3, 2, 2), (1, 4, 30, 7), (3, 2, 17, 16)]:
        x = torch.randn(b, c, h, w, dtype=torch.float64)
        offset = 4 * torch.randn(b, 8, h // 2, w // 2, dtype=torch.float64)
        offset[0, :, 0, 0] = torch.tensor([-1.0, -1.0, 0.5, -3.0, h + 0.0, 0.0, -0.999, w - 1.5])
        weight = torch.randn(2 * c, c, 2, 2, dtype=torch.float64)
        bias = torch.randn(2 * c, dtype=torch.float64)
        expected = deform_conv2d(x, offset, weight, bias, stride=2)
        got = sampler(x, offset, weight, bias)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
        # and both equal the transcription of the sampling rule
        rows = 2 * torch.arange(h // 2, dtype=x.dtype).view(1, -1, 1)
        cols = 2 * torch.arange(w // 2, dtype=x.dtype).view(1, 1, -1)
        plain = bias.view(1, -1, 1, 1)
        for k in range(4):
            i, j = divmod(k, 2)
            taps = bilinear(x, rows + i + offset[:, 2 * k], cols + j + offset[:, 2 * k + 1])
            plain = plain + torch.einsum('bchw,oc->bohw', taps, weight[:, :, i, j])
        torch.testing.assert_close(got, plain, rtol=0, atol=1e-12)


def test_integer_index_dtm_keeps_non_finite_values_where_grid_sample_has_them():
    """A NaN / inf / huge shift, and an inf in the map: the exported form is
    non-finite exactly where the eager sampler is (NaN where it may give inf:
    it also reads a corner at weight 0, as torchvision's kernel does, where
    grid_sample's rounded coordinate may skip it) and equal elsewhere."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 12, 14)
    x[1, 0, 4, 5] = float('inf')  # read by taps with integer shifts, at weight 0 too
    offset = torch.randn(2, 8, 6, 7).round()
    offset[0, 0, 1, 1] = float('nan')
    offset[0, 3, 2, 2] = float('inf')
    offset[0, 5, 3, 3] = -float('inf')
    offset[1, 1, 4, 4] = 1e30
    offset[1, 6, 0, 0] = -3e9
    weight, bias = torch.randn(4, 3, 2, 2), torch.randn(4)
    want = deform_conv2x2_by_grid_sample(x, offset, weight, bias)
    got = deform_conv2x2_by_gather(x, offset, weight, bias)
    finite = torch.isfinite(want)
    assert not finite.all() and finite.any()
    assert torch.equal(torch.isfinite(got), finite)
    torch.testing.assert_close(got[finite], want[finite], rtol=1e-5, atol=1e-5)


def test_both_samplers_give_the_same_backbone():
    torch.manual_seed(0)
    fast = randomize_(LITv2(TINY)).eval()
    slow = LITv2(TINY, dtm_sampler='deform_conv2d').eval()
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        for a, b in zip(fast(x), slow(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


@pytest.mark.parametrize('shape', [(1, 3, 28, 28), (1, 3, 28, 300), (2, 3, 300, 20)])
def test_too_small_inputs_get_a_clear_error(shape):
    model = LITv2(TINY).eval()
    with pytest.raises(InputError, match=r'too small: LITv2 needs H and W of at least 29 pixels'):
        model(torch.randn(*shape))


def test_smallest_input_runs():
    model = LITv2(TINY).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 29, 29))
    assert [tuple(o.shape[-2:]) for o in outs] == [(8, 8), (4, 4), (2, 2), (1, 1)]
