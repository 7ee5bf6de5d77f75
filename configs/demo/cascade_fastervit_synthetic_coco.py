# The embedded default of the README's main command: Cascade Mask R-CNN with a small
# FasterViT, trained from scratch on the synthetic COCO-layout dataset that
# tools/dataset_converters/make_synthetic_coco.py writes, on a CPU in minutes. Same detector family and
# pipeline as the COCO configs, slimmed for 2 CPU cores: a 128-channel FPN, 2-fc box
# heads, fewer proposals and RoIs, ~320 px images, fp32.
_base_ = '../cascade_fastervit_n.py'

data_root = 'data/synthetic_coco/'
classes = ('square', 'disc', 'triangle', 'hexagon')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 160, 80), (30, 80, 230),
                                          (200, 180, 0)])
num_classes = len(classes)
width = 128


def roi_layer(size):
    return dict(type='RoIAlign', output_size=size, sampling_ratio=2, use_torchvision=True)


model = dict(
    backbone=dict(
        arch=dict(_delete_=True, dim=32, in_dim=32, depths=(1, 2, 3, 2), num_heads=(2, 2, 4, 8)),
        window_size=(7, 7, 7, 7), drop_path_rate=0.0, with_cp=False,
        norm_eval=False,  # from scratch: batch norms must learn their statistics
        check_finite=True,  # an image holding NaN / inf stops the run, named
        init_cfg=None),  # no ImageNet weights offline: from scratch
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(
        # torchvision's RoIAlign with 2x2 samples per bin is ~3x faster on CPUs
        bbox_roi_extractor=dict(out_channels=width, roi_layer=roi_layer(7)),
        bbox_head=[
            dict(type='Shared2FCBBoxHead', in_channels=width, fc_out_channels=256,
                 roi_feat_size=7, num_classes=num_classes,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                                 target_stds=stds),
                 reg_class_agnostic=True,
                 loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                         [0.033, 0.033, 0.067, 0.067])],
        mask_roi_extractor=dict(out_channels=width, roi_layer=roi_layer(14)),
        mask_head=dict(in_channels=width, conv_out_channels=width, num_convs=2,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=[dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=thr, neg_iou_thr=thr,
                                 min_pos_iou=thr, match_low_quality=False, ignore_iof_thr=-1),
                   sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25,
                                neg_pos_ub=-1, add_gt_as_proposals=True),
                   mask_size=28, pos_weight=-1, debug=False)
              for thr in (0.5, 0.6, 0.7)]),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300),
                  rcnn=dict(max_per_img=50)))

image_scale = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_scale, ratio_range=(0.8, 1.2), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator

# 160 iterations of batch 4 (~6 minutes on 2 CPU cores), validating on the held-out
# images before training and every 80 iterations.
max_iters = 160
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=80)
custom_hooks = [dict(type='ValidateBeforeTrainHook')]
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(decay_rate=1.0),  # from scratch: no layer decay
    optimizer=dict(lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10.0))
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=80, max_keep_ckpts=1, save_last=True))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)
