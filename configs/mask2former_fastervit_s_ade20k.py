# Mask2Former + FasterViT-3 (the paper's match for Swin-S), ADE20K 512x512, 160k.
_base_ = './mask2former_fastervit_t_ade20k.py'

# `fastervit_3_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_3_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='3', drop_path_rate=0.4,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[128, 256, 512, 1024]))
