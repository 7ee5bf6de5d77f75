"""The three ONNX standard ops a whole detector or segmentor needs beyond
convolutions and matrix products: NonMaxSuppression, RoiAlign and Resize to a
size given at run time.

Each is a :class:`torch.autograd.Function` whose ``forward`` runs the same
kernel mmdet/mmseg run in eager mode (mmcv's NMS, the model's own RoIAlign
layer, ``F.interpolate``), and whose ``symbolic`` writes one standard ONNX
node for the TorchScript exporter. Python control flow inside ``forward``
(empty inputs, ``int()`` of a size) is therefore never recorded: the graph
holds only the node, so nothing about the traced example leaks into it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: opset of the exported files: RoiAlign's ``half_pixel`` mode (mmcv's
#: ``aligned=True``) needs 16, LayerNormalization 17.
OPSET = 17


def _const(g, value, dtype):
    return g.op('Constant', value_t=torch.tensor(value, dtype=dtype))


class _NMS(torch.autograd.Function):
    """Greedy NMS over one set of boxes, indices in descending score order."""

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, iou_threshold: float,
                max_num: int) -> Tensor:
        if boxes.shape[0] == 0:
            return boxes.new_zeros(0, dtype=torch.long)
        from mmcv.ops import nms
        _, keep = nms(boxes, scores, iou_threshold)
        return keep[:max_num]

    @staticmethod
    def symbolic(g, boxes, scores, iou_threshold: float, max_num: int):
        axis0 = _const(g, [0], torch.long)
        boxes = g.op('Unsqueeze', boxes, axis0)                              # (1, N, 4)
        scores = g.op('Unsqueeze', g.op('Unsqueeze', scores, axis0), axis0)  # (1, 1, N)
        selected = g.op('NonMaxSuppression', boxes, scores,
                        _const(g, [max_num], torch.long),
                        _const(g, [iou_threshold], torch.float))             # (K, 3)
        return g.op('Gather', selected, _const(g, 2, torch.long), axis_i=1)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float, max_num: int) -> Tensor:
    """Indices of the boxes ``(N, 4)`` that greedy NMS keeps, best first, at
    most ``max_num``: mmcv's ``nms`` in eager mode, ``NonMaxSuppression`` in
    the graph (both suppress a box whose IoU with a kept one is above the
    threshold)."""
    return _NMS.apply(boxes, scores, float(iou_threshold), int(max_num))


class _RoIAlign(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feat: Tensor, rois: Tensor, batch_inds: Tensor, height: int, width: int,
                spatial_scale: float, sampling_ratio: int, pool_mode: str, aligned: bool,
                use_torchvision: bool) -> Tensor:
        if rois.shape[0] == 0:
            return feat.new_zeros(0, feat.shape[1], height, width)
        rois5 = torch.cat([batch_inds[:, None].to(rois.dtype), rois], dim=1)
        if use_torchvision:
            from torchvision.ops import roi_align as tv_roi_align
            return tv_roi_align(feat, rois5, (height, width), spatial_scale, sampling_ratio,
                                aligned)
        from mmcv.ops import roi_align as mmcv_roi_align
        return mmcv_roi_align(feat, rois5, (height, width), spatial_scale, sampling_ratio,
                              pool_mode, aligned)

    @staticmethod
    def symbolic(g, feat, rois, batch_inds, height: int, width: int, spatial_scale: float,
                 sampling_ratio: int, pool_mode: str, aligned: bool, use_torchvision: bool):
        return g.op('RoiAlign', feat, rois, batch_inds, mode_s=pool_mode,
                    output_height_i=height, output_width_i=width,
                    sampling_ratio_i=max(sampling_ratio, 0), spatial_scale_f=spatial_scale,
                    coordinate_transformation_mode_s=(
                        'half_pixel' if aligned else 'output_half_pixel'))


def roi_align(feat: Tensor, rois: Tensor, batch_inds: Tensor, layer) -> Tensor:
    """``(K, C, h, w)`` features of the boxes ``rois`` ``(K, 4)`` (image
    ``batch_inds`` ``(K,)``, int64) on ``feat`` ``(B, C, H, W)``, with the
    settings of mmcv's ``RoIAlign`` ``layer`` (output size, spatial scale,
    sampling ratio, ``aligned`` = ONNX's ``half_pixel``; its torchvision or
    mmcv kernel in eager mode)."""
    height, width = (int(v) for v in layer.output_size)
    return _RoIAlign.apply(feat, rois, batch_inds, height, width, float(layer.spatial_scale),
                           int(layer.sampling_ratio), getattr(layer, 'pool_mode', 'avg'),
                           bool(layer.aligned), bool(getattr(layer, 'use_torchvision', False)))


class _ResizeTo(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, size: Tensor, align_corners: bool) -> Tensor:
        return F.interpolate(x, size=(int(size[0]), int(size[1])), mode='bilinear',
                             align_corners=align_corners)

    @staticmethod
    def symbolic(g, x, size, align_corners: bool):
        batch_channels = g.op('Slice', g.op('Shape', x), _const(g, [0], torch.long),
                              _const(g, [2], torch.long))
        sizes = g.op('Concat', batch_channels, g.op('Cast', size, to_i=7), axis_i=0)
        empty = _const(g, [], torch.float)
        return g.op('Resize', x, empty, empty, sizes, mode_s='linear',
                    coordinate_transformation_mode_s=(
                        'align_corners' if align_corners else 'pytorch_half_pixel'),
                    nearest_mode_s='floor')


def resize_to(x: Tensor, size: Tensor, align_corners: bool = False) -> Tensor:
    """Bilinear resize of ``x`` ``(B, C, H, W)`` to ``size`` (an int64 tensor
    ``(2,)``: height, width) as ``F.interpolate`` does; the size is a graph
    value, so it may come from an input or from another tensor's shape."""
    return _ResizeTo.apply(x, size, bool(align_corners))


def spatial_size(x: Tensor) -> Tensor:
    """``(H, W)`` of ``x`` ``(..., H, W)`` as an int64 tensor that the
    exporter records as ``Shape`` (a Python ``x.shape`` would be traced into
    a constant wherever it meets plain Python arithmetic)."""
    return torch._shape_as_tensor(x)[-2:]
