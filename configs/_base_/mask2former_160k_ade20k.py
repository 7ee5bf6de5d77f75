# The Mask2Former recipe of the mask2former_*_ade20k configs, FasterViT's and LITv2's
# alike (each adds its backbone from its family's base, fastervit_2.py or litv2_s.py,
# and its parameter names' keys from mask2former_custom_keys.py): mmseg's Swin-T recipe
# as it is. ADE20K, 512x512 crops, 160k iterations of 8 GPUs x 2 images, AdamW lr 1e-4
# (backbone 0.1x), gradient norm clipped at 0.01; 100 queries, 9 masked-attention
# decoder layers over a 6-layer multi-scale deformable pixel decoder (mmcv's
# MultiScaleDeformableAttention: its CUDA kernel on GPUs, PyTorch on CPUs).
_base_ = ['mmseg::mask2former/mask2former_swin-t_8xb2-160k_ade20k-512x512.py',
          './mask2former_custom_keys.py']

# mmdet.models: the pixel decoder and Hungarian matching are mmdet's (as upstream)
custom_imports = dict(imports=['mmdet.models', 'mmfastervit'], allow_failed_imports=False)

# The base's Swin goes; the backbone is the leaf config's. The head keeps the base's
# in_channels=[96, 192, 384, 768], Swin-T's widths, which FasterViT-2 and LITv2-S share
# (wider backbones set model.decode_head.in_channels).
model = dict(
    backbone=dict(
        _delete_=True,
        # The backbone's batch norms (FasterViT's conv stages, LITv2's DTMs) synchronised
        # across GPUs (mmseg's convention for CNN backbones, as our UPerNet recipe).
        norm_cfg=dict(type='SyncBN', requires_grad=True)))

# The Swin-named keys go (they would match nothing); the leaf config sets its family's.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True)))
