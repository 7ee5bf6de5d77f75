# Mask2Former + FasterViT-4 (the paper's match for Swin-B), ADE20K 512x512, 160k (mmseg's
# Swin-B recipe is 640x640 from 384-pixel weights; this keeps the 512x512 recipe).
_base_ = './mask2former_fastervit_t_ade20k.py'

# `fastervit_4_224_1k.pth.tar` from the ahatamiz/FasterViT hub repo.
checkpoint_file = 'checkpoints/fastervit_4_224_1k.pth.tar'

model = dict(
    backbone=dict(arch='4', drop_path_rate=0.5,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[196, 392, 784, 1568]))
