# Cascade Mask R-CNN + LITv2-S on exactly the FasterViT recipe (cascade_fastervit_t.py:
# COCO 3x, multi-scale crops, AdamW with layer-wise LR decay, GIoU 4conv1fc heads, AMP),
# so that the two families compare like for like; LITv2-S has FasterViT-2's widths.
_base_ = ['./cascade_fastervit_t.py', './_base_/litv2_s.py']

model = dict(
    backbone=dict(
        _base_.litv2_s_backbone,
        _delete_=True,
        # as in the FasterViT recipe: batch norms (here the DTMs') keep their ImageNet
        # statistics with 2 images per GPU
        norm_eval=True))

optim_wrapper = dict(constructor='PyramidLayerDecayOptimizerConstructor')
