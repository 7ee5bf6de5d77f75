# Mask2Former + LITv2-S, ADE20K 512x512, 160k: mmseg's Mask2Former Swin-T recipe
# (_base_/mask2former_160k_ade20k.py) on the backbone of _base_/litv2_s.py, with Swin's
# parameter-wise settings by LITv2's names. (Stage 2 is 32x32 on a crop: its 2x2 HiLo
# windows need no padding.)
_base_ = ['./_base_/mask2former_160k_ade20k.py', './_base_/litv2_s.py']

model = dict(backbone=_base_.litv2_s_backbone)

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.litv2_custom_keys))
