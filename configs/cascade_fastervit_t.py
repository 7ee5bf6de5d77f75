# Cascade Mask R-CNN + FasterViT-2 (the paper's match for Swin-T / ConvNeXt-T), COCO,
# 3x schedule with multi-scale crop augmentation, as mmdet's ConvNeXt recipe:
# 36 epochs, AdamW, FPN, 4conv1fc GIoU box heads, AMP.
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'  # noqa: E501

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# ImageNet-1K weights. Download `fastervit_2_224_1k.pth.tar` from the
# ahatamiz/FasterViT hub repo (https://huggingface.co/ahatamiz/FasterViT) to this path;
# the official file loads directly (keys are converted on the fly).
checkpoint_file = 'checkpoints/fastervit_2_224_1k.pth.tar'

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterViT',
        arch='2',
        # Windows for ~800x1333 inputs. Stage 3 (50x84 at stride 16) keeps the
        # ImageNet window 7: 8x12 windows whose 16x24 carrier tokens attend across
        # the whole image. Stage 4 (25x42) has no carrier tokens, so it takes 14x14
        # windows (2x3 of them) for wider context than 7x7 would give. Sides that
        # do not fill a window are padded and the padding is masked.
        window_size=(7, 7, 7, 14),
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        # The conv stages' batch norms keep their ImageNet statistics: with 2 images
        # per GPU they could not be re-estimated (mmdet's convention for CNNs).
        norm_eval=True,
        with_cp=False,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[96, 192, 384, 768]))

# Layer-wise learning-rate decay over the backbone's blocks (stem = layer 0).
optim_wrapper = dict(
    constructor='FasterViTLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(lr=1e-4, weight_decay=0.05))
