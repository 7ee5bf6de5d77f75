# UPerNet + FasterViT-2 (the paper's match for Swin-T / ConvNeXt-T), ADE20K, 512x512
# crops, 160k iterations, AdamW, auxiliary FCN head on stage 3: mmseg's Swin recipe
# (8 GPUs x 2 images) with layer-wise LR decay as in its ConvNeXt recipe.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa: E501

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# ImageNet-1K weights. Download `fastervit_2_224_1k.pth.tar` from the
# ahatamiz/FasterViT hub repo (https://huggingface.co/ahatamiz/FasterViT) to this path;
# the official file loads directly (keys are converted on the fly).
checkpoint_file = 'checkpoints/fastervit_2_224_1k.pth.tar'

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterViT',
        arch='2',
        # Windows for 512x512 crops: stage 3 (32x32 at stride 16) is cut into 4x4
        # windows of 8 with no padding, carrying an 8x8 grid of carrier tokens;
        # stage 4 (16x16) is one 16x16 window, i.e. global attention as at 224 on
        # ImageNet. Other sizes (whole-image or sliding inference) pad and mask.
        window_size=(7, 7, 8, 16),
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        # batch norms of the conv stages synchronised across GPUs, as the heads'
        # (mmseg's convention for CNN backbones)
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='FasterViTLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))

# Sliding-window inference instead of whole-image:
#   --cfg-options model.test_cfg.mode=slide model.test_cfg.crop_size="(512,512)" \
#                 model.test_cfg.stride="(341,341)"
# Multi-scale + flip test-time augmentation: tools/test.py ... --tta
