# DINO-4scale + FasterViT-0 (ImageNet-1K), COCO 12 epochs: the recipe of NVIDIA's DINO
# config for this backbone (DINO_4scale_faster_vit_0_224), which is the one of
# dino_4scale_fastervit_4_21k_224.py with another backbone. No detector was released for
# it, so the backbone is our standard FasterViT (any input size, window padding masked,
# the ImageNet models' position coordinates, LayerNorm output norms) rather than the
# detection code's rules, which only matter for loading that code's trained weights.
_base_ = './dino_4scale_fastervit_4_21k_224.py'

# ImageNet-1K weights: fastervit_0_224_1k.pth.tar from the ahatamiz/FasterViT hub repo.
fastervit_checkpoint = 'checkpoints/fastervit_0_224_1k.pth.tar'

model = dict(
    backbone=dict(
        arch='0',  # windows 7 in every stage, carrier tokens in stage 3, as in that code
        window_padding='masked',
        window_position='axis',
        out_norm_cfg=None,
        init_cfg=dict(type='Pretrained', checkpoint=fastervit_checkpoint)),
    neck=dict(in_channels=[128, 256, 512]))
