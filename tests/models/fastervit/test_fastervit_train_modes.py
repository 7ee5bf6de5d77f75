"""frozen_stages, norm_eval and with_cp behave as in mmdet's Swin backbone."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmfastervit import FasterViT
from support.backbone_checks import check_with_cp_is_exact
from support.train_modes import (
    assert_drop_path_only_in_training,
    assert_frozen_stages,
    assert_with_cp_reruns_blocks,
)

SMALL = dict(dim=16, depths=(2, 1, 2, 2), num_heads=(1, 2, 2, 4), layer_scale=0.5,
             do_propagation=True)


@pytest.mark.parametrize('frozen', [0, 1, 3])
def test_frozen_stages(frozen):
    model = FasterViT(SMALL, frozen_stages=frozen).train()
    assert_frozen_stages(model, frozen)
    # frozen BN statistics do not move in training
    stats = model.stem.norm1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert torch.equal(stats, model.stem.norm1.running_mean)


def test_norm_eval_keeps_batch_norms_in_eval():
    model = FasterViT(SMALL, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and all(not m.training for m in bns)
    assert model.stages[2].training
    model = FasterViT(SMALL, norm_eval=False).train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))


def test_with_cp_gives_identical_outputs_and_gradients():
    torch.manual_seed(0)
    check_with_cp_is_exact(FasterViT(SMALL, drop_path_rate=0.0).train(),
                           FasterViT(SMALL, drop_path_rate=0.0, with_cp=True).train(),
                           torch.randn(2, 3, 160, 224))


def test_with_cp_actually_recomputes(monkeypatch):
    """Checkpointed blocks run their forward twice in one training step."""
    from mmfastervit.models.fastervit import hat_block

    calls = []
    original = hat_block.HATBlock.forward
    monkeypatch.setattr(hat_block.HATBlock, 'forward',
                        lambda self, *a: calls.append(1) or original(self, *a))
    model = FasterViT(SMALL, with_cp=True).train()
    assert_with_cp_reruns_blocks(model, torch.randn(1, 3, 64, 64), calls,
                                 sum(SMALL['depths'][2:]))


def test_drop_path_is_active_only_in_training():
    torch.manual_seed(0)
    model = FasterViT(SMALL, drop_path_rate=0.5)
    assert_drop_path_only_in_training(model, torch.randn(2, 3, 64, 64))
