# Mask2Former + FasterViT-3 (the paper's match for Swin-S), COCO instance, LSJ 50e.
_base_ = './mask2former_fastervit_t_coco.py'

# `fastervit_3_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_3_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='3', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
