# The Mask2Former COCO demo (`bash tools/demo.sh coco mask2former`): the recipe of
# configs/mask2former_fastervit_t_coco.py (mmdet's Mask2Former, instance segmentation
# with large-scale jitter) with the Cascade demo's small FasterViT, trained from
# scratch on the synthetic COCO-layout dataset of
# tools/dataset_converters/make_synthetic_coco.py on a CPU. Mask2Former reduced for 2 CPU cores as _base_/mask2former_reduced.py says (20
# queries, 3 decoder layers, 2 pixel-decoder layers, 128 channels); 320x320 jitter
# crops instead of 1024x1024, fp32.
_base_ = ['../mask2former_fastervit_t_coco.py', './_base_/mask2former_reduced.py']

data_root = 'data/synthetic_coco/'
classes = ('square', 'disc', 'triangle', 'hexagon')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 160, 80), (30, 80, 230),
                                          (200, 180, 0)])
num_classes = len(classes)
image_size = (320, 320)

model = dict(
    data_preprocessor=dict(batch_augments=[dict(
        type='BatchFixedSizePad', size=image_size, img_pad_value=0, pad_mask=True,
        mask_pad_value=0, pad_seg=False)]),
    backbone=dict(
        arch=dict(_delete_=True, dim=32, in_dim=32, depths=(1, 2, 3, 2), num_heads=(2, 2, 4, 8)),
        window_size=(7, 7, 7, 7), drop_path_rate=0.0,
        norm_eval=False,  # from scratch: batch norms must learn their statistics
        check_finite=True,  # an image holding NaN / inf stops the run, named
        init_cfg=None),  # no ImageNet weights offline: from scratch
    panoptic_head=dict(
        _base_.mask2former_reduced_head,
        in_channels=[32, 64, 128, 256],
        num_things_classes=num_classes,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_classes),
    train_cfg=dict(num_points=_base_.mask2former_reduced_points),
    # at most 20 queries x 4 classes to rank
    test_cfg=dict(max_per_image=50))

# The recipe's large-scale jitter at the demo's scale: resize by 0.5-1.5, crop to
# 320x320 (the batch is padded to it).
train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-5, 1e-5), by_mask=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# 160 iterations of batch 4, validating on the held-out images before training and
# every 80 iterations.
max_iters = 160
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=80)
custom_hooks = [dict(type='ValidateBeforeTrainHook')]
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys=dict(_delete_=True, **_base_.mask2former_from_scratch_keys)))
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=80, max_keep_ckpts=1, save_last=True))
log_processor = dict(by_epoch=False)
