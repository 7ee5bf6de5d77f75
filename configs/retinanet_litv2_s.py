# RetinaNet + LITv2-S, COCO 1x: the LITv2 paper's recipe (8 GPUs x 2 images, AdamW
# lr 1e-4, weight decay 1e-4 and none on norms, fp16). Official result: 44.0 box AP.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_amp-1x_coco.py', './_base_/litv2_s.py']

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _base_.litv2_s_backbone,
        _delete_=True,
        # The FPN starts at stride 8 as in the official config (its start_level=1 over
        # four outputs). Stage 0 (stride 4) is left out here rather than skipped by the
        # neck, so that no output norm goes unused (DDP needs every parameter to get a
        # gradient); the detector is the same.
        out_indices=(1, 2, 3)),
    neck=dict(in_channels=[192, 384, 768], start_level=0))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
