# Mask2Former + FasterViT-2 (the paper's match for Swin-T), ADE20K 512x512, 160k: mmseg's
# Mask2Former Swin-T recipe (_base_/mask2former_160k_ade20k.py) on the backbone of
# _base_/fastervit_2.py, with Swin's parameter-wise settings by FasterViT's names.
_base_ = ['./_base_/mask2former_160k_ade20k.py', './_base_/fastervit_2.py']

# Windows for 512x512 crops, as upernet_fastervit_t.py: stage 3 (32x32) in 4x4 windows
# of 8 with an 8x8 grid of carrier tokens, stage 4 (16x16) one window.
model = dict(backbone=dict(_base_.fastervit_2_backbone, window_size=(7, 7, 8, 16)))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.fastervit_custom_keys))
