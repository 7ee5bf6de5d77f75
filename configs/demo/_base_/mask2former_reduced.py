# The reduced Mask2Former of the Mask2Former demos (configs/demo/mask2former_*): the
# recipes' head (mmseg's decode_head, mmdet's panoptic_head: the same mmdet
# Mask2FormerHead) at a size that trains on 2 CPU cores in minutes. 20 queries instead
# of 100, 3 masked-attention decoder layers instead of 9 (one round over the 3 feature
# levels), 2 pixel-decoder layers instead of 6, 128 channels instead of 256 (FFNs 512
# wide), 4096 sampled points per mask instead of 12544. The losses and the Hungarian
# matching are the recipes'. (Names apart from the recipes' own, which bases may not
# repeat.)
_width = 128
_ffn = dict(embed_dims=_width, feedforward_channels=4 * _width)
mask2former_reduced_head = dict(
    num_queries=20,
    feat_channels=_width,
    out_channels=_width,
    pixel_decoder=dict(
        encoder=dict(num_layers=2, layer_cfg=dict(self_attn_cfg=dict(embed_dims=_width),
                                                  ffn_cfg=_ffn)),
        positional_encoding=dict(num_feats=_width // 2)),
    positional_encoding=dict(num_feats=_width // 2),
    transformer_decoder=dict(
        num_layers=3,
        layer_cfg=dict(self_attn_cfg=dict(embed_dims=_width),
                       cross_attn_cfg=dict(embed_dims=_width), ffn_cfg=_ffn)))
mask2former_reduced_points = 4096

# Trained from scratch, the backbone learns at the full rate: of the recipes' keys only
# the head's query and level embeddings stay (no weight decay); norms get none either
# (the recipes' norm_decay_mult).
mask2former_from_scratch_keys = {
    k: dict(lr_mult=1.0, decay_mult=0.0) for k in ('query_embed', 'query_feat', 'level_embed')}
