# The FasterViT-2 backbone of the configs/*_fastervit_* files (they inherit it with this
# file as a second base, next to their recipe's, and adjust what their recipe needs). No
# window sizes here: they follow the input size, so each recipe's config sets its own.

# ImageNet-1K weights. Download `fastervit_2_224_1k.pth.tar` from the
# ahatamiz/FasterViT hub repo (https://huggingface.co/ahatamiz/FasterViT) to this path;
# the official file loads directly (keys are converted on the fly).
fastervit_2_checkpoint = 'checkpoints/fastervit_2_224_1k.pth.tar'

fastervit_2_backbone = dict(
    type='FasterViT',
    arch='2',
    drop_path_rate=0.3,
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint=fastervit_2_checkpoint))
