# The Cascade Mask R-CNN recipe of the cascade_* configs, FasterViT's and LITv2's alike
# (each adds its backbone from its family's base, fastervit_2.py or litv2_s.py): COCO,
# 3x schedule with multi-scale crop augmentation, as mmdet's ConvNeXt recipe: 36 epochs,
# AdamW, FPN, 4conv1fc GIoU box heads, AMP; layer-wise LR decay over the backbone.
_base_ = 'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py'  # noqa: E501

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# The base's ConvNeXt goes; the backbone is the leaf config's. The FPN keeps the base's
# in_channels=[96, 192, 384, 768], ConvNeXt-T's widths, which FasterViT-2 and LITv2-S
# share (wider backbones set model.neck.in_channels).
model = dict(
    backbone=dict(
        _delete_=True,
        # The backbone's batch norms (FasterViT's conv stages, LITv2's DTMs) keep their
        # ImageNet statistics: with 2 images per GPU they could not be re-estimated
        # (mmdet's convention for CNNs).
        norm_eval=True))

# Layer-wise learning-rate decay over the backbone's blocks (stem = layer 0).
optim_wrapper = dict(
    constructor='PyramidLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(lr=1e-4, weight_decay=0.05))
