# Cascade Mask R-CNN + LITv2-S on exactly the FasterViT recipe
# (_base_/cascade_mask_rcnn_3x_layer_decay.py, as cascade_fastervit_t.py: COCO 3x,
# multi-scale crops, AdamW with layer-wise LR decay, GIoU 4conv1fc heads, AMP), so that
# the two families compare like for like; LITv2-S has FasterViT-2's widths.
_base_ = ['./_base_/cascade_mask_rcnn_3x_layer_decay.py', './_base_/litv2_s.py']

model = dict(backbone=_base_.litv2_s_backbone)
