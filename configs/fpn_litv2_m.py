# Semantic FPN + LITv2-M, ADE20K 80k (official result: 45.7 mIoU).
_base_ = './fpn_litv2_s.py'

# `litv2_m.pth` from the ziplab/LITv2 GitHub releases.
checkpoint_file = 'checkpoints/litv2_m.pth'

model = dict(
    backbone=dict(arch='m', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
