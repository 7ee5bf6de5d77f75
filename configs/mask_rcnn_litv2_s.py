# Mask R-CNN + LITv2-S, COCO 1x: the LITv2 paper's recipe (8 GPUs x 2 images, AdamW
# lr 2e-4, weight decay 1e-4 and none on norms, fp16). Official result: 44.9 box AP,
# 40.8 mask AP.
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_amp-1x_coco.py', './_base_/litv2_s.py']

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

model = dict(
    # As released: stage 0 (stride 4) reaches the FPN without an output norm, stages 1-3
    # through norm1..norm3 (the official detection backbone has no norm0).
    backbone=dict(_base_.litv2_s_backbone, _delete_=True, out_norm_indices=(1, 2, 3)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
