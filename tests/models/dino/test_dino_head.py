"""ForkDINOHead refines boxes as NVIDIA's DINO code does (inverse_sigmoid
clamped at 1e-3) and otherwise computes exactly as mmdet's DINOHead."""
import math

import pytest
import torch

from mmfastervit.models.dense_heads.dino_head import FORK_EPS, ForkDINOHead


def heads():
    from mmdet.models.dense_heads import DINOHead
    from mmengine.registry import init_default_scope

    init_default_scope('mmdet')
    torch.manual_seed(0)
    kw = dict(num_classes=4, embed_dims=32, num_pred_layer=3, as_two_stage=True,
              loss_cls=dict(type='FocalLoss', use_sigmoid=True, loss_weight=1.0))
    ours, mmdet = ForkDINOHead(**kw), DINOHead(**kw)
    mmdet.load_state_dict(ours.state_dict())
    return ours.eval(), mmdet.eval()


def test_box_refinement_clamps_at_1e_3():
    ours, mmdet = heads()
    hidden = torch.randn(2, 1, 3, 32)  # (layers, batch, queries, channels)
    refs = torch.tensor([[0.5, 0.3, 0.2, 0.1], [5e-4, 0.5, 0.9995, 0.2],
                         [0.01, 0.99, 0.4, 0.6]]).expand(1, 3, 4)
    with torch.no_grad():
        (cls_a, box_a), (cls_b, box_b) = ours(hidden, [refs, refs]), mmdet(hidden, [refs, refs])
        delta = ours.reg_branches[1](hidden[1])
    assert torch.equal(cls_a, cls_b)
    inside = (refs > FORK_EPS) & (refs < 1 - FORK_EPS)
    assert torch.allclose(box_a[:, inside], box_b[:, inside], atol=1e-6)
    assert (box_a[:, ~inside] - box_b[:, ~inside]).abs().min() > 1e-4
    expected = torch.sigmoid(delta[0, 1, 0] + math.log(FORK_EPS / (1 - 5e-4)))
    assert box_a[1, 0, 1, 0].item() == pytest.approx(expected.item(), abs=1e-6)
