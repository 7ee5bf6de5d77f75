# Cascade Mask R-CNN + LITv2-S on exactly the FasterViT recipe (cascade_fastervit_t.py:
# COCO 3x, multi-scale crops, AdamW with layer-wise LR decay, GIoU 4conv1fc heads, AMP),
# so that the two families compare like for like; LITv2-S has FasterViT-2's widths.
_base_ = './cascade_fastervit_t.py'

# ImageNet-1K weights: `litv2_s.pth` from the ziplab/LITv2 GitHub releases
# (https://github.com/ziplab/LITv2/releases).
checkpoint_file = 'checkpoints/litv2_s.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='LITv2',
        arch='s',
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # as in the FasterViT recipe: batch norms (here the DTMs') keep their ImageNet
        # statistics with 2 images per GPU
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(constructor='PyramidLayerDecayOptimizerConstructor')
