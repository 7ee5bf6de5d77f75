# The LITv2 demo: the FasterViT demo's detector, data and schedule
# (cascade_fastervit_synthetic_coco.py) with a small LITv2 as its backbone, trained
# from scratch on the synthetic COCO-layout dataset, on a CPU in under 5 minutes
# (half the FasterViT demo's iterations).
_base_ = './cascade_fastervit_synthetic_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='LITv2',
        # LITv2's layout at a third of LITv2-S's width: FFN-only stages 0-1, HiLo
        # attention in stage 2 (2x2 windows for 1 of 4 heads) and global in stage 3
        arch=dict(embed_dims=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8)),
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),  # no ImageNet weights offline: from scratch
    neck=dict(in_channels=[32, 64, 128, 256]))

# 120 iterations of batch 4, validating before training and every 40 iterations.
max_iters = 120
train_cfg = dict(max_iters=max_iters, val_interval=40)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=40))
