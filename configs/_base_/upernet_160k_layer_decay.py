# The UPerNet recipe of the upernet_* configs, FasterViT's and LITv2's alike (each adds
# its backbone from its family's base, fastervit_2.py or litv2_s.py): ADE20K, 512x512
# crops, 160k iterations, AdamW, auxiliary FCN head on stage 3: mmseg's Swin recipe
# (8 GPUs x 2 images) with layer-wise LR decay as in its ConvNeXt recipe.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa: E501

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# The base's Swin goes; the backbone is the leaf config's. The heads keep the base's 150
# classes and in_channels, Swin-T's widths (96..768, 384 for the auxiliary head on stage
# 3), which FasterViT-2 and LITv2-S share (wider backbones set both heads' in_channels).
model = dict(
    backbone=dict(
        _delete_=True,
        # The backbone's batch norms (FasterViT's conv stages, LITv2's DTMs) synchronised
        # across GPUs, as the heads' (mmseg's convention for CNN backbones).
        norm_cfg=dict(type='SyncBN', requires_grad=True)))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='PyramidLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise'),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))

# Sliding-window inference instead of whole-image:
#   --cfg-options model.test_cfg.mode=slide model.test_cfg.crop_size="(512,512)" \
#                 model.test_cfg.stride="(341,341)"
# Multi-scale + flip test-time augmentation: tools/test.py ... --tta
