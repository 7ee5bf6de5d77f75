# The DINO demo (`bash tools/demo.sh coco dino`): DINO-4scale, NVIDIA's FasterViT
# detector recipe on MMDetection 3.3's DINO (configs/dino_4scale_fastervit_0.py), with
# the FasterViT demo's small backbone, trained from scratch on the synthetic
# COCO-layout dataset (boxes only) on a CPU. Slimmed for 2 CPU cores: 2 encoder and 2
# decoder layers, a 512-wide FFN, 100 queries, 20 denoising queries, ~320 px images.
_base_ = '../dino_4scale_fastervit_0.py'

data_root = 'data/synthetic_coco/'
classes = ('square', 'disc', 'triangle', 'hexagon')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 160, 80), (30, 80, 230),
                                          (200, 180, 0)])

model = dict(
    num_queries=100,
    backbone=dict(
        arch=dict(_delete_=True, dim=32, in_dim=32, depths=(1, 2, 3, 2),
                  num_heads=(2, 2, 4, 8)),
        drop_path_rate=0.0, with_cp=False,
        init_cfg=None),  # no ImageNet weights offline: from scratch
    neck=dict(in_channels=[64, 128, 256]),
    encoder=dict(num_layers=2, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512))),
    decoder=dict(num_layers=2, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512))),
    bbox_head=dict(num_classes=len(classes)),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=20)),
    test_cfg=dict(max_per_img=50))

image_scale = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_scale, ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, filter_cfg=None,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json',
                     metric='bbox')
test_evaluator = val_evaluator

# Iterations of batch 4, validating on the held-out images before training and every
# 50 iterations; from scratch, so a higher learning rate than the recipe's 1e-4 and
# the backbone at the same rate.
max_iters = 200
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=50)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
custom_hooks = [dict(type='ValidateBeforeTrainHook')]
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=1e-5),
]
optim_wrapper = dict(
    optimizer=dict(lr=4e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(_delete_=True, custom_keys={}))
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=50, max_keep_ckpts=1, save_last=True))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)
