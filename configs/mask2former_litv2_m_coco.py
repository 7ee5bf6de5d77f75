# Mask2Former + LITv2-M, COCO instance segmentation, LSJ 50e.
_base_ = './mask2former_litv2_s_coco.py'

# `litv2_m.pth` from the ziplab/LITv2 GitHub releases.
checkpoint_file = 'checkpoints/litv2_m.pth'

model = dict(
    backbone=dict(arch='m', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
