# UPerNet + FasterViT-4 (the paper's match for Swin-B / ConvNeXt-B), ADE20K 512x512, 160k.
_base_ = './upernet_fastervit_t.py'

# `fastervit_4_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_4_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='4', drop_path_rate=0.5,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[196, 392, 784, 1568]),
    auxiliary_head=dict(in_channels=784))
