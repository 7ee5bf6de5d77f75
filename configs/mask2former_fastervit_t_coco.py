# Mask2Former + FasterViT-2 (the paper's match for Swin-T), COCO instance segmentation,
# large-scale jitter, 50 epochs: mmdet's Mask2Former Swin-T recipe
# (_base_/mask2former_lsj_50e_coco.py) on the backbone of _base_/fastervit_2.py, with
# Swin's parameter-wise settings by FasterViT's names.
_base_ = ['./_base_/mask2former_lsj_50e_coco.py', './_base_/fastervit_2.py']

model = dict(
    backbone=dict(
        _base_.fastervit_2_backbone,
        # Windows for the 1024x1024 training batches: stage 3 (64x64 at stride 16) in
        # 8x8 windows of 8, with a 16x16 grid of carrier tokens attending across the
        # image; stage 4 (32x32, no carrier tokens) in 2x2 windows of 16. At test size
        # (1333x800 resized, ~50x84 in stage 3) sides that do not fill a window are
        # padded and the padding is masked.
        window_size=(7, 7, 8, 16)))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.fastervit_custom_keys))
