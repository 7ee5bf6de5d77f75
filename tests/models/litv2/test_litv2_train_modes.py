"""LITv2's frozen_stages, norm_eval (the DTMs' batch norms), with_cp and drop
path behave as in mmdet's Swin backbone."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmfastervit import LITv2
from support.backbone_checks import check_with_cp_is_exact
from support.official_files import randomize_
from support.train_modes import (
    assert_drop_path_only_in_training,
    assert_frozen_stages,
    assert_with_cp_reruns_blocks,
)

SMALL = dict(embed_dims=8, depths=(1, 2, 2, 1), num_heads=(1, 2, 4, 8), mlp_ratio=2.0)


@pytest.mark.parametrize('frozen', [0, 1, 2, 3, 4])
def test_frozen_stages(frozen):
    """Stem and stages < frozen (with their DTMs and output norms) take no
    gradient and stay in eval mode; their batch-norm statistics do not move."""
    model = randomize_(LITv2(SMALL, frozen_stages=frozen)).train()
    assert_frozen_stages(model, frozen)
    stats = {n: b.clone() for n, b in model.named_buffers() if 'running' in n}
    outs = model(torch.randn(2, 3, 64, 96))
    if frozen < 4:
        sum(o.mean() for o in outs).backward()
    for name, before in stats.items():
        stage = int(name.split('.')[1])
        assert torch.equal(before, model.get_buffer(name)) == (stage < frozen), name
    for name, p in model.named_parameters():
        assert (p.grad is None) == (not p.requires_grad), name  # frozen: checked above


def test_norm_eval_keeps_the_dtm_batch_norms_in_eval():
    model = LITv2(SMALL, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert len(bns) == 3 and all(not m.training for m in bns)
    assert model.stages[2].blocks[0].training
    stats = bns[0].running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(stats, bns[0].running_mean)
    model = LITv2(SMALL, norm_eval=False).train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))


def test_with_cp_gives_identical_outputs_and_gradients():
    torch.manual_seed(0)
    check_with_cp_is_exact(randomize_(LITv2(SMALL, drop_path_rate=0.0)).train(),
                           LITv2(SMALL, drop_path_rate=0.0, with_cp=True).train(),
                           torch.randn(2, 3, 97, 131))


def test_with_cp_recomputes_every_block():
    model = LITv2(SMALL, with_cp=True).train()
    calls = []
    for stage in model.stages:
        for block in stage.blocks:
            block.register_forward_pre_hook(lambda *args: calls.append(1))
    assert_with_cp_reruns_blocks(model, torch.randn(1, 3, 64, 64), calls, sum(SMALL['depths']))


def test_drop_path_is_active_only_in_training():
    torch.manual_seed(0)
    model = LITv2(SMALL, drop_path_rate=0.5)
    assert model.stages[3].blocks[0].drop_path.drop_prob == 0.5  # linear up to the rate
    assert_drop_path_only_in_training(model, torch.randn(4, 3, 64, 64))
