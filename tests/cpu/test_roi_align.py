"""RoIAlign over every CPU thread (mmfastervit.cpu.roi_align): the values of
mmcv's RoIAlign for RoIs of every size and image of a batch, what it leaves
to the wrapped layer, and a whole Cascade Mask R-CNN predicting the same
detections with its RoI extractors split."""
import pytest
import torch
from mmcv.ops import RoIAlign

from mmfastervit.cpu.roi_align import ParallelRoIAlign, parallel_roi_align


def random_rois(count, batch, height, width, stride, seed=0):
    """``(count, 5)`` RoIs in image pixels, 2 to 40 feature pixels a side."""
    gen = torch.Generator().manual_seed(seed)
    size = torch.rand(count, 2, generator=gen) * 38 * stride + 2 * stride
    corner = torch.rand(count, 2, generator=gen) * torch.tensor([width, height]) * stride
    index = torch.randint(0, batch, (count, 1), generator=gen).float()
    return torch.cat([index, corner, corner + size], 1)


@pytest.mark.parametrize('sampling_ratio', [0, 2])
@pytest.mark.parametrize('threads', [2, 3])
def test_split_over_threads_gives_mmcvs_values(sampling_ratio, threads):
    torch.manual_seed(0)
    x = torch.randn(2, 16, 50, 60)
    rois = random_rois(301, 2, 50, 60, stride=8)
    layer = RoIAlign(7, 1 / 8, sampling_ratio, aligned=True)
    split = ParallelRoIAlign.from_layer(layer, threads)
    with torch.no_grad():
        want, got = layer(x, rois), split(x, rois)
    assert got.shape == (301, 16, 7, 7)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # the split is exact: one call of the same kernel on all RoIs gives the same bits
    from torchvision.ops import roi_align
    torch.testing.assert_close(got, roi_align(x, rois, 7, 1 / 8, sampling_ratio, True),
                               rtol=0, atol=0)


def test_what_it_leaves_to_mmcvs_layer(monkeypatch):
    """Training (gradients) and max pooling run mmcv's layer; a few RoIs one call."""
    x = torch.randn(1, 8, 20, 20, requires_grad=True)
    rois = random_rois(40, 1, 20, 20, stride=4)
    calls = []
    mmcv_forward = RoIAlign.forward
    monkeypatch.setattr(RoIAlign, 'forward',
                        lambda self, *a: calls.append(self.pool_mode) or mmcv_forward(self, *a))
    split = ParallelRoIAlign(7, 1 / 4, 0, aligned=True, threads=2)
    split(x, rois).sum().backward()  # gradients wanted: mmcv's, which has a backward
    assert calls == ['avg'] and x.grad is not None
    with torch.no_grad():
        ParallelRoIAlign(7, 1 / 4, 0, pool_mode='max', aligned=True, threads=2)(x, rois)
        assert calls == ['avg', 'max']
        out = split(x, rois[:5])  # too few RoIs to split: one call, torchvision's
    assert out.shape == (5, 8, 7, 7) and calls == ['avg', 'max']


def test_a_whole_cascade_predicts_the_same_with_split_roi_extractors():
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    cfg = Config.fromfile('configs/demo/cascade_fastervit_synthetic_coco.py')
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    packed = demo_mm_inputs(1, [[3, 160, 192]], num_items=[3], with_mask=True,
                            num_classes=cfg.model.roi_head.bbox_head[0].num_classes)
    keys = set(model.state_dict())

    def predict():
        with torch.no_grad():
            return model(**model.data_preprocessor(packed, False), mode='predict')[0]

    want = predict().pred_instances
    stages, levels = len(model.roi_head.bbox_roi_extractor), 4
    assert parallel_roi_align(model, threads=2) == 2 * stages * levels  # box and mask
    assert set(model.state_dict()) == keys  # checkpoints load as before
    got = predict().pred_instances
    assert len(want) > 0
    for key in ('bboxes', 'scores'):
        torch.testing.assert_close(getattr(got, key), getattr(want, key), rtol=1e-4, atol=1e-4)
    assert torch.equal(got.labels, want.labels)
    assert (got.masks != want.masks).float().mean() < 1e-3  # pixels at the 0.5 threshold
