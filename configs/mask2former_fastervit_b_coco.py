# Mask2Former + FasterViT-4 (the paper's match for Swin-B), COCO instance, LSJ 50e
# (mmdet ships no Swin-B instance recipe; this is the Swin-T / Swin-S one).
_base_ = './mask2former_fastervit_t_coco.py'

# `fastervit_4_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_4_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='4', drop_path_rate=0.5,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    panoptic_head=dict(in_channels=[196, 392, 784, 1568]))
