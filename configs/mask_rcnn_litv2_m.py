# Mask R-CNN + LITv2-M, COCO 1x (official result: 46.8 box AP, 42.3 mask AP).
_base_ = './mask_rcnn_litv2_s.py'

# `litv2_m.pth` from the ziplab/LITv2 GitHub releases.
checkpoint_file = 'checkpoints/litv2_m.pth'

model = dict(
    backbone=dict(arch='m', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
