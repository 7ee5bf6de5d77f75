# DINO-4scale + FasterViT-4-21K-224, COCO 12 epochs: NVIDIA's released detector
# (DINO_4scale_faster_vit_4_21k_224_ms_coco.pth, 55.16 box AP in their code) on
# MMDetection 3.3's own DINO. mmdet's 12-epoch DINO recipe is the official one already
# (AdamW lr 1e-4, weight decay 1e-4, backbone lr x0.1, gradient clip 0.1, lr x0.1 after
# epoch 11, 2 images per GPU, 900 queries, 300 detections per image); this file swaps
# the backbone and keeps the model structure of the base.
#
# The backbone follows the rules of NVIDIA's DINO code, which the released weights were
# trained with: every stage zero-pads its input to a multiple of its window and runs on
# the padded map, unmasked (window_padding='every_stage'); the window position terms take
# that code's coordinates (window_position='cells'); the returned stages 1-3 go through
# BatchNorm2d (out_norm_cfg). Convert the released file once:
#   python tools/model_converters/convert_official_checkpoint.py DINO_4scale_faster_vit_4_21k_224_ms_coco.pth \
#       checkpoints/dino_4scale_fastervit_4_21k_224_mmdet.pth
# then `tools/test.py THIS_CONFIG checkpoints/dino_4scale_fastervit_4_21k_224_mmdet.pth`.
_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'

custom_imports = dict(imports=['mmfastervit', 'mmfastervit.models.dense_heads.dino_head'],
                      allow_failed_imports=False)

# ImageNet-21K weights of the backbone, for training from scratch: fastervit_4_21k_224_w14
# from the ahatamiz/FasterViT hub repo (loads directly; keys are converted on the fly).
fastervit_checkpoint = 'checkpoints/fastervit_4_21k_224_w14.pth.tar'

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterViT',
        arch='4-21k-224',
        drop_path_rate=0.1,  # the detection code's value for every variant
        out_indices=(1, 2, 3),
        window_padding='every_stage',
        window_position='cells',
        out_norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,  # the detection code trains the batch norms
        with_cp=True,  # the detection code checkpoints activations too
        init_cfg=dict(type='Pretrained', checkpoint=fastervit_checkpoint)),
    # The detection code's input projections have biases before their GroupNorm;
    # ChannelMapper leaves them out unless bias=True.
    neck=dict(in_channels=[392, 784, 1568], bias=True),
    # The detection code's final box refinement takes inverse_sigmoid with eps 1e-3
    # (mmdet's DINOHead: 1e-5); this head follows it.
    bbox_head=dict(type='ForkDINOHead'),
    dn_cfg=dict(box_noise_scale=0.4))  # the detection code's dn_box_noise_scale
