# Semantic FPN + LITv2-B, ADE20K 80k (official result: 47.2 mIoU).
_base_ = './fpn_litv2_s.py'

# `litv2_b.pth` from the ziplab/LITv2 GitHub releases.
checkpoint_file = 'checkpoints/litv2_b.pth'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[128, 256, 512, 1024]))
