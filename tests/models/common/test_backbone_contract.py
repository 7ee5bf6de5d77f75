"""What mmdet's and mmseg's own backbone tests promise (test_swin.py,
test_pvt.py, test_resnet.py, test_mit.py, test_vit.py), for both families:
``pretrained=`` as they take it, both registries, the ``init_cfg`` and
``out_indices`` forms, all stages frozen, odd sizes, a batch of one,
float64, deterministic eval, and dropping into their base model configs;
for every registered family, at its ``tiny_arch``.
frozen_stages, norm_eval and with_cp are in each family's
test_*_train_modes.py; out_indices subsets in test_*_arch.py."""
import copy
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmfastervit import InputError, PyramidBackbone, cpu_kernels
from mmfastervit.errors import ConfigError
from support.official_files import randomize_, save_official_file

FAMILIES = PyramidBackbone.families()
family = pytest.mark.parametrize('name', sorted(FAMILIES))


def build(name, **kwargs):
    return FAMILIES[name](FAMILIES[name].tiny_arch, **kwargs)


def save_official_tiny(name, path):
    """An official-layout file of the tiny variant with random weights (the
    family's ``to_official``; NVIDIA's own files: test_fastervit_checkpoint.py);
    returns our model holding the same weights (what loading must give)."""
    src = randomize_(build(name))
    save_official_file(src, path)
    return src


def assert_stage_weights_equal(model, src):
    expected = src.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith('norm'):  # the output norms are new
            assert torch.equal(value, expected[key]), key


# ---------------------------------------------------------------- pretrained=
@family
def test_pretrained_forms(name):
    """None keeps init_cfg; a path warns and becomes init_cfg Pretrained; a
    non-string, or both pretrained and init_cfg, raise naming the fix."""
    init = dict(type='Pretrained', checkpoint='b.pth')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert build(name, pretrained=None).init_cfg is None
        assert build(name, pretrained=None, init_cfg=init).init_cfg == init
    with pytest.warns(FutureWarning, match=r"pretrained is deprecated, use init_cfg=dict\("
                                           r"type='Pretrained', checkpoint='a\.pth'\)"):
        model = build(name, pretrained='a.pth')
    assert model.init_cfg == dict(type='Pretrained', checkpoint='a.pth')
    with pytest.raises(TypeError, match=rf'{name}: pretrained must be a checkpoint path '
                                        r'\(str\) or None, got int 123'):
        build(name, pretrained=123)
    with pytest.raises(ConfigError, match=r"both pretrained='a\.pth' and init_cfg=.*set only "
                                          r'one.*model\.pretrained=None'):
        build(name, pretrained='a.pth', init_cfg=init)


@family
@pytest.mark.parametrize('layout', ['official', 'ours'])
def test_pretrained_path_loads_a_file(tmp_path, name, layout):
    """``pretrained=PATH`` goes through init_cfg's loader: an official file's
    keys are converted (a state dict of ours loads as is), and every stage
    weight arrives."""
    path = tmp_path / f'{layout}.pth'
    if layout == 'official':
        src = save_official_tiny(name, path)
    else:
        torch.manual_seed(1)
        src = build(name)
        src.init_weights()
        torch.save(src.state_dict(), path)
    with pytest.warns(FutureWarning):
        model = build(name, pretrained=str(path))
    before = {k: v.clone() for k, v in model.stem.state_dict().items()}
    model.init_weights()
    assert not all(torch.equal(v, model.stem.state_dict()[k]) for k, v in before.items())
    assert_stage_weights_equal(model, src)


# ------------------------------------------------------------ registries, init_cfg
@family
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_both_registries_build_it(name, scope):
    import importlib

    registry = importlib.import_module(f'{scope}.registry').MODELS
    model = registry.build(dict(type=name, arch=FAMILIES[name].tiny_arch, out_indices=(1, 3)))
    assert type(model) is FAMILIES[name] and model.out_indices == (1, 3)


@family
def test_init_cfg_forms(name):
    """No init_cfg: our initialisation (linear weights truncated normal,
    reproducible under a seed); an mmengine initialiser in init_cfg applies
    after it, as for any BaseModule."""
    torch.manual_seed(0)
    a = build(name)
    a.init_weights()
    torch.manual_seed(0)
    b = build(name)
    b.init_weights()
    linears = [m for m in a.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(abs(float(m.weight.detach().std()) - 0.02) < 0.01 for m in linears)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    model = build(name, init_cfg=dict(type='Constant', layer='Linear', val=0.5, bias=0.0))
    model.init_weights()
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            assert bool((m.weight == 0.5).all())
            assert m.bias is None or bool((m.bias == 0).all())


@family
def test_out_indices_forms_and_all_stages_frozen(name):
    """One int (as mmseg's ViT takes it) or a sequence; anything else is a
    TypeError that says what out_indices takes. frozen_stages=4 (mmdet's
    Swin test): after train(), no parameter takes a gradient."""
    assert build(name, out_indices=-1).out_indices == (3,)
    assert build(name, out_indices=[2, 0]).out_indices == (0, 2)
    for bad in ('0123', 1.0, (0, 1.5)):
        with pytest.raises(TypeError, match=r'out_indices must be a stage index or a '
                                            r'sequence of them \(ints in 0\.\.3\)'):
            build(name, out_indices=bad)
    model = build(name, frozen_stages=4).train()
    assert not any(p.requires_grad for p in model.parameters())
    assert not any(m.training for m in [model.stem, *model.stages])


@family
def test_out_norm_indices_leave_the_other_outputs_raw(name):
    """``out_norm_indices=(1, 2, 3)`` (the released LITv2 detectors): stage
    0 comes out raw, the same tensor as before its norm in the default
    model; the other outputs are unchanged."""
    torch.manual_seed(0)
    full = build(name).eval()
    part = build(name, out_norm_indices=(1, 2, 3)).eval()
    assert not hasattr(part, 'norm0')
    part.load_state_dict({k: v for k, v in full.state_dict().items()
                          if not k.startswith('norm0')})
    seen = []
    full.norm0.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        want, got = full(x), part(x)
    assert torch.equal(got[0], seen[0])
    assert all(torch.equal(a, b) for a, b in zip(want[1:], got[1:]))


# ------------------------------------------------------------------- inputs
@family
def test_odd_size_batch_of_one_float64_and_deterministic_eval(name):
    """Any side >= the minimum, one image, float64 weights: one map per
    out_index, of the family's width and stride; two eval passes agree."""
    model = build(name, out_indices=(0, 2, 3)).double().eval()
    x = torch.randn(1, 3, 67, 93, dtype=torch.float64)
    with torch.no_grad():
        outs, again = model(x), model(x)
    assert [o.shape[1] for o in outs] == [model.num_features[i] for i in (0, 2, 3)]
    sides = FAMILIES[name].feature_sizes(67, 93)
    assert sides[0] == (17, 24)  # ceil at the stem
    assert [tuple(o.shape[2:]) for o in outs] == [sides[i] for i in (0, 2, 3)]
    assert all(o.dtype == torch.float64 and o.shape[0] == 1 for o in outs)
    for a, b in zip(outs, again):
        assert torch.equal(a, b)


@family
def test_31x31(name):
    """mmdet's Swin test runs a 31x31 image: a family whose minimum is 31 or
    less runs it (LITv2: 29), one with a larger minimum (FasterViT: 32) says
    so clearly; one pixel below the minimum is that clear error, the minimum
    itself runs."""
    model = build(name).eval()
    least = model.min_input_size
    too_small = 31 if least > 31 else least - 1
    with pytest.raises(InputError, match=rf'input \({too_small}, {too_small}\) is too small.*'
                                         rf'at least {least}'):
        model(torch.randn(1, 3, too_small, too_small))
    with pytest.raises(InputError, match=r'too small'):
        model(torch.randn(1, 3, least - 1, least - 1))
    with torch.no_grad():
        side = 31 if least <= 31 else least
        outs = model(torch.randn(1, 3, side, side))
    assert tuple(outs[3].shape[2:]) == FAMILIES[name].feature_sizes(side, side)[3]


@family
def test_training_a_batch_of_one_at_the_minimum_size(name):
    """One image at the minimum size either trains, or (a batch norm that
    would see one value per channel, e.g. LITv2's last DTM) raises our
    error naming the fixes, and ``norm_eval=True`` and a batch of two work
    (the message itself: test_litv2_arch.py)."""
    size = FAMILIES[name].min_input_size
    x = torch.randn(1, 3, size, size)
    model = build(name).train()
    try:
        outs = model(x)
    except InputError as err:
        assert 'norm_eval=True' in str(err) and 'batch of 2' in str(err), err
        for fixed, inp in [(build(name, norm_eval=True).train(), x),
                           (model, torch.randn(2, 3, size, size))]:
            sum(o.sum() for o in fixed(inp)).backward()
        return
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in model.stem.parameters())


# ------------------------------------------------- mmdet / mmseg base models
def load_base(tmp_path, base: str) -> Config:
    """The config a user's file ``_base_ = base`` gives."""
    path = tmp_path / 'user_config.py'
    path.write_text(f'_base_ = {base!r}\n')
    return Config.fromfile(str(path))


@family
def test_drops_into_mmseg_upernet_r50(tmp_path, name):
    """mmseg's upernet_r50.py base (model-level pretrained, handed to the
    backbone by EncoderDecoder) builds with our backbone; the model-level
    pretrained loads an official file into it; a loss step reaches it."""
    from mmseg.registry import MODELS

    from support.mm_batches import seg_loss_step

    widths = list(build(name).num_features)
    cfg = load_base(tmp_path, 'mmseg::_base_/models/upernet_r50.py')
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'  # what reaches the backbone
    src = save_official_tiny(name, tmp_path / 'official.pth')
    bn = dict(type='BN', requires_grad=True)  # the base's SyncBN needs a process group
    cfg.merge_from_dict({'model.pretrained': str(tmp_path / 'official.pth'),
                         'model.data_preprocessor.size': (64, 64),
                         'model.decode_head.in_channels': widths,
                         'model.decode_head.channels': 16, 'model.decode_head.norm_cfg': bn,
                         'model.decode_head.num_classes': 5,
                         'model.auxiliary_head.in_channels': widths[2],
                         'model.auxiliary_head.channels': 8, 'model.auxiliary_head.norm_cfg': bn,
                         'model.auxiliary_head.num_classes': 5})
    cfg.model.backbone = dict(type=name, arch=FAMILIES[name].tiny_arch)
    init_default_scope('mmseg')
    with pytest.warns(FutureWarning):  # the base's ResNet file: named before any download
        resnet = MODELS.build(dict(copy.deepcopy(cfg.model),
                                   pretrained='open-mmlab://resnet50_v1c'))
    with pytest.raises(ConfigError, match=rf"{name} cannot load 'open-mmlab://resnet50_v1c'.*"
                                          r'set model\.pretrained=None'):
        resnet.init_weights()
    with pytest.warns(FutureWarning, match='pretrained is deprecated'):
        model = MODELS.build(cfg.model)
    assert type(model.backbone) is FAMILIES[name]
    model.init_weights()
    assert_stage_weights_equal(model.backbone, src)
    model.train()
    seg_loss_step(model, size=64, num_classes=5)
    assert all(p.grad is not None for p in model.backbone.stages[3].parameters())


@family
def test_drops_into_mmdet_mask_rcnn_r50_fpn(tmp_path, name):
    """mmdet's mask-rcnn_r50_fpn.py base with our backbone (neck in_channels
    set to its widths, narrower heads): a loss step, then predict, on small
    images."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs

    cfg = load_base(tmp_path, 'mmdet::_base_/models/mask-rcnn_r50_fpn.py')
    cfg.model.backbone = dict(type=name, arch=FAMILIES[name].tiny_arch)
    cfg.model.neck.in_channels = list(build(name).num_features)
    # narrower heads than the base's 256 / 1024 channels, to keep the step fast
    c = 32
    cfg.merge_from_dict({
        'model.neck.out_channels': c, 'model.rpn_head.in_channels': c,
        'model.rpn_head.feat_channels': c,
        'model.roi_head.bbox_roi_extractor.out_channels': c,
        'model.roi_head.bbox_head.in_channels': c, 'model.roi_head.bbox_head.fc_out_channels': c,
        'model.roi_head.mask_roi_extractor.out_channels': c,
        'model.roi_head.mask_head.in_channels': c, 'model.roi_head.mask_head.conv_out_channels': c,
        'model.train_cfg.rcnn.sampler.num': 64})
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, [[3, 96, 128], [3, 128, 96]], num_items=[2, 1],
                            with_mask=True, num_classes=80)
    loss, _ = model.parse_losses(model(**model.data_preprocessor(packed, True), mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.backbone.stages[3].parameters())
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False), mode='predict')
    assert len(results) == 2 and all(hasattr(r, 'pred_instances') for r in results)


@family
@pytest.mark.parametrize('path', ['fp32 fused', 'fp32 plain', 'native bf16'])
def test_eval_forward_sees_weights_written_through_data(name, path):
    """timm's and mmdet's backbones compute with the weights they hold now: a
    user's own EMA swap or weight surgery through ``.data`` (which PyTorch's
    version counters do not see) changes the next eval forward as it would a
    freshly built model's; no cache (folded batch norms, position biases, bf16
    weight copies) returns the old function."""
    torch.manual_seed(0)
    model = build(name).eval()
    x = torch.randn(2, 3, 96, 128)
    kernels = 'plain' if path == 'fp32 plain' else 'fused'
    autocast = torch.autocast('cpu', dtype=torch.bfloat16, enabled=path == 'native bf16')
    with torch.no_grad(), cpu_kernels(kernels), autocast:
        before = model(x)                          # fills every cache
        for p in model.parameters():
            p.data.mul_(0.5)
        after = model(x)
        fresh = FAMILIES[name](FAMILIES[name].tiny_arch).eval()
        fresh.load_state_dict(model.state_dict())
        expected = fresh(x)
    for i, (a, e, b) in enumerate(zip(after, expected, before)):
        assert not torch.equal(e, b), f'stage {i}: halving the weights changed nothing'
        torch.testing.assert_close(a, e, rtol=0, atol=0, msg=lambda m, i=i: f'stage {i}: {m}')
