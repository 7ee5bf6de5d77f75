# Mask2Former + LITv2-B, COCO instance segmentation, LSJ 50e.
_base_ = './mask2former_litv2_s_coco.py'

# `litv2_b.pth` from the ziplab/LITv2 GitHub releases.
checkpoint_file = 'checkpoints/litv2_b.pth'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    panoptic_head=dict(in_channels=[128, 256, 512, 1024]))
