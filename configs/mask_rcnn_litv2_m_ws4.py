# Mask R-CNN + LITv2-M with 4x4 Hi-Fi windows in stage 2, COCO 1x: the released
# mask_rcnn_litv2_m_fpn_1x_coco_ws_4.pth (official result: 46.5 box AP, 42.0 mask AP). Same ImageNet file and
# weight shapes as the window-2 model: windows and pooling have no weights.
_base_ = './mask_rcnn_litv2_m.py'

model = dict(backbone=dict(local_ws=(0, 0, 4, 1)))
