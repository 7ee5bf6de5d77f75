# UPerNet + FasterViT-2 (the paper's match for Swin-T / ConvNeXt-T), ADE20K 512x512, 160k:
# the recipe of _base_/upernet_160k_layer_decay.py (mmseg's Swin recipe with layer-wise
# LR decay) on the backbone of _base_/fastervit_2.py.
_base_ = ['./_base_/upernet_160k_layer_decay.py', './_base_/fastervit_2.py']

model = dict(
    backbone=dict(
        _base_.fastervit_2_backbone,
        # Windows for 512x512 crops: stage 3 (32x32 at stride 16) is cut into 4x4
        # windows of 8 with no padding, carrying an 8x8 grid of carrier tokens;
        # stage 4 (16x16) is one 16x16 window, i.e. global attention as at 224 on
        # ImageNet. Other sizes (whole-image or sliding inference) pad and mask.
        window_size=(7, 7, 8, 16)))
