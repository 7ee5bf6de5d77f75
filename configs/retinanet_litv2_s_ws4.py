# RetinaNet + LITv2-S with 4x4 Hi-Fi windows in stage 2, COCO 1x: the released
# retinanet_litv2_s_fpn_1x_coco_ws_4.pth (official result: 43.7 box AP). Same ImageNet file and
# weight shapes as the window-2 model: windows and pooling have no weights.
_base_ = './retinanet_litv2_s.py'

model = dict(backbone=dict(local_ws=(0, 0, 4, 1)))
