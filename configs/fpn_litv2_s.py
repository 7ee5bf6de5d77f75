# Semantic FPN + LITv2-S, ADE20K 512x512 crops, 80k iterations of 16 images: the LITv2
# paper's recipe (AdamW lr 1e-4, weight decay 1e-4, poly decay). Official result:
# 44.3 mIoU. (Stage 2 is 32x32 on a crop: its 2x2 windows need no padding.)
_base_ = ['mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py', './_base_/litv2_s.py']

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(_base_.litv2_s_backbone, _delete_=True),
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
