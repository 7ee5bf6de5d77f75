# UPerNet + LITv2-S on exactly the FasterViT recipe (upernet_fastervit_t.py: ADE20K
# 512x512, 160k iterations, AdamW with layer-wise LR decay, auxiliary FCN head), so that
# the two families compare like for like; LITv2-S has FasterViT-2's widths.
_base_ = ['./upernet_fastervit_t.py', './_base_/litv2_s.py']

model = dict(
    backbone=dict(
        _base_.litv2_s_backbone,
        _delete_=True,
        # as in the FasterViT recipe: batch norms (here the DTMs') synchronised across GPUs
        norm_cfg=dict(type='SyncBN', requires_grad=True)))

optim_wrapper = dict(constructor='PyramidLayerDecayOptimizerConstructor')
