# Semantic FPN + LITv2-S, ADE20K 512x512 crops, 80k iterations of 16 images: the LITv2
# paper's recipe (AdamW lr 1e-4, weight decay 1e-4, poly decay). Official result:
# 44.3 mIoU.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# ImageNet-1K weights. Download `litv2_s.pth` from the ziplab/LITv2 GitHub releases
# (https://github.com/ziplab/LITv2/releases) to this path; the official file loads
# directly (keys are converted on the fly, the classifier is dropped).
checkpoint_file = 'checkpoints/litv2_s.pth'

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='LITv2',
        arch='s',
        # 2x2 Hi-Fi windows in stage 2 (32x32 at stride 16 on a crop: no padding),
        # global attention in stage 3
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4))
max_iters = 80000
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
