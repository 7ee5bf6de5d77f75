"""Training batches for real mmdet / mmseg models, shared by the test files."""
import torch


def det_loss_step(model, num_classes: int = 80, sizes=((320, 416), (288, 352))):
    """Forward + backward of a detector in train mode on two differently sized
    images (``sizes``, (H, W) each) with boxes and masks; returns
    ``(packed inputs, loss, log_vars)``."""
    from mmdet.testing import demo_mm_inputs

    torch.manual_seed(0)
    packed = demo_mm_inputs(2, [[3, *hw] for hw in sizes], num_items=[3, 2],
                            with_mask=True, num_classes=num_classes)
    data = model.data_preprocessor(packed, training=True)
    loss, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    return packed, loss, log_vars


def seg_loss_step(model, size: int, num_classes: int):
    """Forward + backward of a segmentor in train mode on two ``size x size``
    images with random labels; returns ``(loss, log_vars)``."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    torch.manual_seed(0)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        pad_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size)))
        samples.append(s)
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, size, size), dtype=torch.uint8)] * 2,
             data_samples=samples), training=True)
    loss, log_vars = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    loss.backward()
    return loss, log_vars
