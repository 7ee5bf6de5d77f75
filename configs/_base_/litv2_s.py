# The LITv2-S backbone of the configs/*_litv2_* files (they inherit it with this file as
# a second base and adjust what their recipe needs).

# ImageNet-1K weights. Download `litv2_s.pth` from the ziplab/LITv2 GitHub releases
# (https://github.com/ziplab/LITv2/releases) to this path; the official file loads
# directly (keys are converted on the fly, the classifier is dropped).
litv2_s_checkpoint = 'checkpoints/litv2_s.pth'

litv2_s_backbone = dict(
    type='LITv2',
    arch='s',
    # 2x2 Hi-Fi windows in stage 2 (stride 16), global attention in stage 3 (stride 32);
    # the released "ws 4" detectors use local_ws=(0, 0, 4, 1) with the same ImageNet file.
    local_ws=(0, 0, 2, 1),
    drop_path_rate=0.2,  # the paper's detection and segmentation rate for S
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint=litv2_s_checkpoint))
