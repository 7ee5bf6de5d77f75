# DINO-4scale + FasterViT-2 (ImageNet-1K), COCO 12 epochs: NVIDIA's DINO recipe for this
# backbone (DINO_4scale_faster_vit_2_224); as dino_4scale_fastervit_0.py (which says
# why the backbone is our standard FasterViT) with another variant. ImageNet-1K weights:
# fastervit_2_224_1k.pth.tar from the ahatamiz/FasterViT hub repo.
_base_ = './dino_4scale_fastervit_0.py'

model = dict(
    backbone=dict(arch='2', init_cfg=dict(checkpoint='checkpoints/fastervit_2_224_1k.pth.tar')),
    neck=dict(in_channels=[192, 384, 768]))
