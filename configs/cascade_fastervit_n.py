# Cascade Mask R-CNN + FasterViT-0 ("nano", 31M backbone), COCO 3x: a light model for
# small GPUs. Activation checkpointing trades ~25% speed for much less memory.
_base_ = './cascade_fastervit_t.py'

# `fastervit_0_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_0_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='0', drop_path_rate=0.2, with_cp=True,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[64, 128, 256, 512]))
