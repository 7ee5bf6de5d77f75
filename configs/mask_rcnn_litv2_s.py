# Mask R-CNN + LITv2-S, COCO 1x: the LITv2 paper's recipe (8 GPUs x 2 images, AdamW
# lr 2e-4, weight decay 1e-4 and none on norms, fp16). Official result: 44.9 box AP,
# 40.8 mask AP.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_amp-1x_coco.py'

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# ImageNet-1K weights. Download `litv2_s.pth` from the ziplab/LITv2 GitHub releases
# (https://github.com/ziplab/LITv2/releases) to this path; the official file loads
# directly (keys are converted on the fly, the classifier is dropped).
checkpoint_file = 'checkpoints/litv2_s.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='LITv2',
        arch='s',
        # 2x2 Hi-Fi windows in stage 2 (stride 16), global attention in stage 3 (stride
        # 32); the released "ws 4" detectors use local_ws=(0, 0, 4, 1) with the same
        # ImageNet file.
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
