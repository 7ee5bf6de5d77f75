# UPerNet + LITv2-S on exactly the FasterViT recipe (_base_/upernet_160k_layer_decay.py,
# as upernet_fastervit_t.py: ADE20K 512x512, 160k iterations, AdamW with layer-wise LR
# decay, auxiliary FCN head), so that the two families compare like for like; LITv2-S
# has FasterViT-2's widths.
_base_ = ['./_base_/upernet_160k_layer_decay.py', './_base_/litv2_s.py']

model = dict(backbone=_base_.litv2_s_backbone)
