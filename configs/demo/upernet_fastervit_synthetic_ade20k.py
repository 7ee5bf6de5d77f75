# The second embedded default: UPerNet with a small FasterViT trained from scratch on
# the synthetic ADE20K-layout dataset of tools/dataset_converters/make_synthetic_ade20k.py, on a CPU in
# minutes. Same segmentor and data pipeline as the ADE20K configs, slimmed for 2 CPU
# cores: 128-channel UPerNet head, 256x256 crops, fp32, BN instead of SyncBN.
_base_ = '../upernet_fastervit_t.py'

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
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=128, num_classes=num_classes,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=128, channels=64, num_classes=num_classes,
                        norm_cfg=norm_cfg))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(1024, 256), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
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
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=1.0),  # from scratch: no layer decay
                     optimizer=dict(lr=1e-3))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=50, max_keep_ckpts=1, save_last=True))
