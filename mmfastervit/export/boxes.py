"""Box arithmetic of mmdet's test path, written once more with every size a
graph value: anchors on a feature map, delta decoding clipped to the image,
NMS within groups (levels or classes), and RoI features from the pyramid.

Each function follows mmdet's own operation order (``AnchorGenerator``,
``delta2bbox``, mmcv's ``batched_nms``, ``SingleRoIExtractor``), so the
exported graph rounds as PyTorch does.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from .onnx_ops import nms, roi_align


def grid_anchors(base_anchors: Tensor, stride: Sequence[float], feat: Tensor) -> Tensor:
    """All anchors ``(H * W * A, 4)`` of a ``(B, C, H, W)`` map, position-major
    as mmdet's ``single_level_grid_priors``; ``base_anchors``: ``(A, 4)``."""
    h = torch._shape_as_tensor(feat)[-2]
    w = torch._shape_as_tensor(feat)[-1]
    shift_x = torch.arange(w, dtype=torch.long).to(base_anchors.dtype) * float(stride[0])
    shift_y = torch.arange(h, dtype=torch.long).to(base_anchors.dtype) * float(stride[1])
    xx = (shift_x[None, :] + torch.zeros_like(shift_y)[:, None]).reshape(-1)
    yy = (shift_y[:, None] + torch.zeros_like(shift_x)[None, :]).reshape(-1)
    shifts = torch.stack([xx, yy, xx, yy], dim=-1)
    return (base_anchors[None, :, :] + shifts[:, None, :]).reshape(-1, 4)


def clip_boxes(boxes: Tensor, image_hw: Tensor) -> Tensor:
    """Clamp ``(..., 4)`` x1y1x2y2 boxes to ``[0, W] x [0, H]``;
    ``image_hw``: float ``(2,)``."""
    upper = torch.stack([image_hw[1], image_hw[0], image_hw[1], image_hw[0]])
    return torch.minimum(boxes.clamp(min=0), upper)


def decode_deltas(rois: Tensor, deltas: Tensor, means: Sequence[float],
                  stds: Sequence[float], image_hw: Tensor,
                  wh_ratio_clip: float = 16 / 1000) -> Tensor:
    """mmdet's ``delta2bbox`` (``DeltaXYWHBBoxCoder.decode``): ``(..., 4)``
    deltas applied to ``(..., 4)`` boxes (broadcast), clipped to the image."""
    denorm = deltas * deltas.new_tensor(stds) + deltas.new_tensor(means)
    dxy, dwh = denorm[..., :2], denorm[..., 2:]
    pxy = (rois[..., :2] + rois[..., 2:]) * 0.5
    pwh = rois[..., 2:] - rois[..., :2]
    max_ratio = abs(math.log(wh_ratio_clip))
    gxy = pxy + pwh * dxy
    gwh = pwh * dwh.clamp(min=-max_ratio, max=max_ratio).exp()
    boxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=-1)
    return clip_boxes(boxes, image_hw)


def grouped_nms(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float,
                max_num: int) -> Tensor:
    """Indices kept by NMS run separately in each group (FPN level, class),
    best first, at most ``max_num``. As mmcv's ``batched_nms``: one NMS over
    boxes shifted apart by ``group * (max coordinate + 1)``."""
    # a zero keeps the max defined on no boxes; boxes are clipped to >= 0
    max_coordinate = torch.cat([boxes.reshape(-1), boxes.new_zeros(1)]).max()
    offsets = groups.to(boxes.dtype) * (max_coordinate + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold, max_num)


def roi_levels(rois: Tensor, num_levels: int, finest_scale: float) -> Tensor:
    """FPN level of each box ``(K, 4)``, as ``SingleRoIExtractor.map_roi_levels``."""
    scale = torch.sqrt((rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]))
    levels = torch.floor(torch.log2(scale / finest_scale + 1e-6))
    return levels.clamp(min=0, max=num_levels - 1).long()


def extract_roi_features(extractor, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
    """``SingleRoIExtractor`` on the boxes ``rois`` ``(K, 4)`` of image 0:
    ``(K, C, h, w)``, each box pooled on the level its size maps to."""
    feats = feats[:extractor.num_inputs]
    batch_inds = torch.zeros_like(rois[:, 0], dtype=torch.long)
    layers = extractor.roi_layers
    if len(feats) == 1:
        return roi_align(feats[0], rois, batch_inds, layers[0])
    levels = roi_levels(rois, len(feats), extractor.finest_scale)
    h, w = (int(v) for v in layers[0].output_size)
    out = rois.new_zeros(rois.shape[0], extractor.out_channels, h, w)
    for i, feat in enumerate(feats):
        inds = torch.nonzero(levels == i).reshape(-1)
        pooled = roi_align(feat, rois[inds], batch_inds[inds], layers[i])
        out = out.index_put((inds,), pooled)
    return out
