# Mask2Former's parameter-wise settings (mmdet's and mmseg's Swin recipes) by our
# parameter names: the whole backbone at 0.1x the learning rate; no weight decay on
# its norms and position terms; the head's query and level embeddings at the full
# rate without weight decay. The Swin recipes' keys (`backbone.stages.N.blocks.M.norm`,
# `absolute_pos_embed`, `relative_position_bias_table`, ...) name nothing in our
# backbones: the recipe bases delete them and each leaf config takes its family's
# dict from here.
#
# How mmengine's DefaultOptimWrapperConstructor reads these: a key applies to every
# parameter whose full name contains it; the longest key that matches wins (then the
# alphabetically first), and a parameter that a key matches skips the other rules
# (norm_decay_mult only reaches the head's norms). So every backbone key below is
# longer than 'backbone' (8 characters), which would otherwise win. None depends on
# a variant's depths. tests/configs/test_mask2former_configs.py checks on built
# models which parameters each key takes.
# (named apart from the upstream recipes' backbone_norm_multi etc., which bases may
# not repeat)
backbone_lr = dict(lr_mult=0.1, decay_mult=1.0)
backbone_no_decay = dict(lr_mult=0.1, decay_mult=0.0)
head_embed_no_decay = dict(lr_mult=1.0, decay_mult=0.0)

# Every norm of both families: the output norms (norm0..norm3), the stem's, the
# downsamplers' (LITv2's DTM), and the blocks' norm1 / norm2 (FasterViT's conv blocks,
# its HAT window and carrier-token layers, LITv2's blocks).
litv2_custom_keys = {
    'backbone': backbone_lr,
    'backbone.norm': backbone_no_decay,
    'backbone.stem.norm': backbone_no_decay,
    'downsample.norm': backbone_no_decay,
    'norm1.weight': backbone_no_decay,
    'norm1.bias': backbone_no_decay,
    'norm2.weight': backbone_no_decay,
    'norm2.bias': backbone_no_decay,
    # the head (mmdet's Mask2FormerHead, also under mmseg), as upstream
    'query_embed': head_embed_no_decay,
    'query_feat': head_embed_no_decay,
    'level_embed': head_embed_no_decay,
}
# LITv2 has no position parameters (position comes from its FFN's depthwise conv, an
# ordinary weight). FasterViT's position terms, Swin's absolute_pos_embed and
# relative_position_bias_table for us: the absolute position MLPs of the window and
# carrier tokens, the relative position bias MLPs of both attentions, and the
# carrier-token maker (a depthwise conv that is the carrier tokens' position encoding).
fastervit_custom_keys = dict(
    litv2_custom_keys,
    **{
        'pos_embed.mlp': backbone_no_decay,
        'attn.rel_pos.mlp': backbone_no_decay,
        'tokenizer.pos_conv': backbone_no_decay,
    })
