# RetinaNet + LITv2-S, COCO 1x: the LITv2 paper's recipe (8 GPUs x 2 images, AdamW
# lr 1e-4, weight decay 1e-4 and none on norms, fp16). Official result: 44.0 box AP.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_amp-1x_coco.py'

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
        # The FPN starts at stride 8 as in the official config (its start_level=1 over
        # four outputs). Stage 0 (stride 4) is left out here rather than skipped by the
        # neck, so that no output norm goes unused (DDP needs every parameter to get a
        # gradient); the detector is the same.
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    neck=dict(in_channels=[192, 384, 768], start_level=0))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
