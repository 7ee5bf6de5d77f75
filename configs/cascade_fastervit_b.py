# Cascade Mask R-CNN + FasterViT-4 (the paper's match for Swin-B / ConvNeXt-B), COCO 3x.
_base_ = './cascade_fastervit_t.py'

# `fastervit_4_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_4_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='4', drop_path_rate=0.5,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[196, 392, 784, 1568]))
