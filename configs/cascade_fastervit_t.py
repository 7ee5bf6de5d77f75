# Cascade Mask R-CNN + FasterViT-2 (the paper's match for Swin-T / ConvNeXt-T), COCO 3x:
# the recipe of _base_/cascade_mask_rcnn_3x_layer_decay.py (mmdet's ConvNeXt recipe with
# layer-wise LR decay) on the backbone of _base_/fastervit_2.py.
_base_ = ['./_base_/cascade_mask_rcnn_3x_layer_decay.py', './_base_/fastervit_2.py']

model = dict(
    backbone=dict(
        _base_.fastervit_2_backbone,
        # Windows for ~800x1333 inputs. Stage 3 (50x84 at stride 16) keeps the
        # ImageNet window 7: 8x12 windows whose 16x24 carrier tokens attend across
        # the whole image. Stage 4 (25x42) has no carrier tokens, so it takes 14x14
        # windows (2x3 of them) for wider context than 7x7 would give. Sides that
        # do not fill a window are padded and the padding is masked.
        window_size=(7, 7, 7, 14),
        with_cp=False))
