# Mask2Former + LITv2-S, COCO instance segmentation, large-scale jitter, 50 epochs:
# mmdet's Mask2Former Swin-T recipe (_base_/mask2former_lsj_50e_coco.py) on the
# backbone of _base_/litv2_s.py, with Swin's parameter-wise settings by LITv2's names.
_base_ = ['./_base_/mask2former_lsj_50e_coco.py', './_base_/litv2_s.py']

model = dict(backbone=_base_.litv2_s_backbone)

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.litv2_custom_keys))
