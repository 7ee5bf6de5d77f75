# UPerNet + LITv2-S on exactly the FasterViT recipe (upernet_fastervit_t.py: ADE20K
# 512x512, 160k iterations, AdamW with layer-wise LR decay, auxiliary FCN head), so that
# the two families compare like for like; LITv2-S has FasterViT-2's widths.
_base_ = './upernet_fastervit_t.py'

# ImageNet-1K weights: `litv2_s.pth` from the ziplab/LITv2 GitHub releases
# (https://github.com/ziplab/LITv2/releases).
checkpoint_file = 'checkpoints/litv2_s.pth'

model = dict(
    backbone=dict(
        _delete_=True,
        type='LITv2',
        arch='s',
        local_ws=(0, 0, 2, 1),
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # as in the FasterViT recipe: batch norms (here the DTMs') synchronised across GPUs
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(constructor='PyramidLayerDecayOptimizerConstructor')
