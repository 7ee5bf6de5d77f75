# The Mask2Former ADE20K demo (`bash tools/demo.sh ade20k mask2former`): the recipe of
# configs/mask2former_fastervit_t_ade20k.py (mmseg's Mask2Former) with the UPerNet
# demo's small FasterViT, trained from scratch on the synthetic ADE20K-layout dataset
# of tools/dataset_converters/make_synthetic_ade20k.py on a CPU. Mask2Former reduced
# for 2 CPU cores as _base_/mask2former_reduced.py says (20 queries, 3 decoder
# layers, 2 pixel-decoder layers, 128 channels); 256x256 crops, fp32, BN instead of
# SyncBN.
_base_ = ['../mask2former_fastervit_t_ade20k.py', './_base_/mask2former_reduced.py']

data_root = 'data/synthetic_ade20k/ADEChallengeData2016'
classes = ('wall', 'building', 'sky', 'floor', 'tree')
metainfo = dict(classes=classes, palette=[[200, 60, 50], [60, 170, 70], [60, 110, 220],
                                          [220, 190, 40], [170, 70, 200]])
num_classes = len(classes)
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN needs GPUs
crop_size = (256, 256)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, dim=32, in_dim=32, depths=(1, 2, 3, 2), num_heads=(2, 2, 4, 8)),
        window_size=(7, 7, 8, 8),  # stage 3 is 16x16 on a crop: 2x2 windows + CTs
        drop_path_rate=0.0,
        norm_cfg=norm_cfg,
        check_finite=True,  # an image holding NaN / inf stops the run, named
        init_cfg=None),  # no ImageNet weights offline: from scratch
    decode_head=dict(
        _base_.mask2former_reduced_head,
        in_channels=[32, 64, 128, 256],
        num_classes=num_classes,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=_base_.mask2former_reduced_points)))

# The recipe's pipeline (random short-side resize, crop, flip, photometric distortion)
# at the demo's scale.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomChoiceResize', scales=[int(256 * x * 0.1) for x in range(8, 16)],
         resize_type='ResizeShortestEdge', max_size=1024),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 256), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=50)
custom_hooks = [dict(type='ValidateBeforeTrainHook')]
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=30, end=max_iters),
]
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys=dict(_delete_=True, **_base_.mask2former_from_scratch_keys)))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=50, max_keep_ckpts=1, save_last=True,
                    save_best=None))
