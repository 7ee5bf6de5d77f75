"""Every trainable parameter takes part in every training forward, at every
input size, for both families: DDP with ``find_unused_parameters=False``
(mmengine's default) trains at sizes where FasterViT skips its carrier
tokens, and where ``out_indices`` leaves the last stages out."""
import pytest
import torch

from mmfastervit.models import PyramidBackbone
from support.ddp_steps import ddp_train_steps

#: 96x96 and 112x112: FasterViT's stage 3 fits in one 7x7 window (carrier
#: tokens skipped); 97x131: padded windows; 256x320: carrier tokens everywhere
SIZES = [(32, 32), (96, 96), (112, 112), (97, 131), (256, 320)]
#: every registered family, at its default variant
FAMILIES = {name: dict(type=name, arch=cls.default_arch)
            for name, cls in PyramidBackbone.families().items()}


def _grads(model, size):
    model.train()
    model.zero_grad(set_to_none=True)
    sum(o.float().pow(2).mean() for o in model(torch.randn(2, 3, *size))).backward()
    return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    return {name: cls(arch=cls.default_arch, drop_path_rate=0.0)
            for name, cls in PyramidBackbone.families().items()}


@pytest.mark.parametrize('family', FAMILIES)
@pytest.mark.parametrize('size', SIZES, ids=lambda s: f'{s[0]}x{s[1]}')
def test_every_parameter_has_a_gradient_after_one_step(models, family, size):
    grads = _grads(models[family], size)
    missing = [n for n, g in grads.items() if g is None]
    assert not missing, f'{len(missing)} parameters without gradient: {missing[:5]}'
    assert all(torch.isfinite(g).all() for g in grads.values())


def test_skipped_carrier_tokens_get_exact_zero_gradients(models):
    """At 96x96 stage 3 is one window: its carrier path is tied in with zero
    gradients (the features are unchanged); at 256x320 it really trains."""
    model = models['FasterViT']
    carrier = {n for n, _ in model.named_parameters()
               if n.startswith('stages.2.') and ('tokenizer' in n or '.carrier.' in n)}
    assert len(carrier) > 50
    small = _grads(model, (96, 96))
    assert all(torch.count_nonzero(small[n]) == 0 for n in carrier)
    large = _grads(model, (256, 320))
    assert all(torch.count_nonzero(large[n]) > 0 for n in carrier
               if not n.endswith('.bias') or 'norm' not in n)
    # the local path is unaffected: its gradients are real at both sizes
    assert torch.count_nonzero(small['stages.2.blocks.0.local.attn.qkv.weight']) > 0


@pytest.mark.parametrize('family', FAMILIES)
def test_stages_after_the_last_output_are_tied_not_run(family):
    """``out_indices=(0, 1)``: the features equal the first two of the full
    model's; stages 2-3 are not run, yet get (zero) gradients in training."""
    torch.manual_seed(0)
    cls = PyramidBackbone.families()[family]
    full = cls(arch=FAMILIES[family]['arch']).eval()
    part = cls(arch=FAMILIES[family]['arch'], out_indices=(0, 1)).eval()
    part.load_state_dict({k: v for k, v in full.state_dict().items()
                          if not k.startswith(('norm2', 'norm3'))})
    x = torch.randn(2, 3, 128, 160)
    with torch.no_grad():
        want, got = full(x)[:2], part(x)
    assert len(got) == 2 and all(torch.equal(a, b) for a, b in zip(want, got))
    grads = _grads(part, (128, 160))
    later = [n for n in grads if n.startswith(('stages.2.', 'stages.3.', 'stages.1.downsample'))]
    assert later and all(grads[n] is not None and torch.count_nonzero(grads[n]) == 0
                         for n in later)


@pytest.mark.tools  # starts two processes
@pytest.mark.parametrize('family', FAMILIES)
def test_ddp_without_find_unused_parameters_trains_at_every_size(family):
    """Two gloo processes, two steps at 96x96 (carrier tokens skipped) and
    two at 256x320; gradients averaged, so the ranks end with equal weights."""
    results = ddp_train_steps(FAMILIES[family], [(96, 96), (256, 320)])
    assert [r[0] for r in results] == [0, 1]
    for rank, report, same, error in results:
        assert error is None, f'rank {rank}: {error}'
        assert [size for size, _ in report] == [(96, 96), (256, 320)]
        assert all(torch.isfinite(torch.tensor(loss)) for _, loss in report)
        assert same, 'the ranks hold different weights after DDP steps'
