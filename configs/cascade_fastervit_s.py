# Cascade Mask R-CNN + FasterViT-3 (the paper's match for Swin-S / ConvNeXt-S), COCO 3x.
_base_ = './cascade_fastervit_t.py'

# `fastervit_3_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_3_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='3', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
