# The Mask2Former recipe of the mask2former_*_coco configs, FasterViT's and LITv2's
# alike (each adds its backbone from its family's base, fastervit_2.py or litv2_s.py,
# and its parameter names' keys from mask2former_custom_keys.py): mmdet's Swin-T
# instance-segmentation recipe as it is. COCO, large-scale jitter (resize by 0.1-2.0,
# 1024x1024 crops, every batch padded to 1024x1024), 50 epochs of 8 GPUs x 2 images as
# 368,750 iterations, AdamW lr 1e-4 (backbone 0.1x), gradient norm clipped at 0.01;
# 100 queries, 9 masked-attention decoder layers over a 6-layer multi-scale deformable
# pixel decoder (mmcv's MultiScaleDeformableAttention: its CUDA kernel on GPUs, PyTorch
# on CPUs). Testing resizes to 1333x800 and pads to a multiple of 32: our backbones
# take any size (windows that the map does not fill are padded and masked).
_base_ = ['mmdet::mask2former/mask2former_swin-t-p4-w7-224_8xb2-lsj-50e_coco.py',
          './mask2former_custom_keys.py']

custom_imports = dict(imports=['mmfastervit'], allow_failed_imports=False)

# The base's Swin goes; the backbone is the leaf config's. The head keeps the base's
# in_channels=[96, 192, 384, 768], Swin-T's widths, which FasterViT-2 and LITv2-S share
# (wider backbones set model.panoptic_head.in_channels).
model = dict(
    backbone=dict(
        _delete_=True,
        # The backbone's batch norms (FasterViT's conv stages, LITv2's DTMs) keep their
        # ImageNet statistics: with 2 images per GPU they could not be re-estimated
        # (mmdet's convention for CNNs, as our Cascade Mask R-CNN recipe).
        norm_eval=True))

# The Swin-named keys go (they would match nothing); the leaf config sets its family's.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys=dict(_delete_=True)))
