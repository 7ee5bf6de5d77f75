"""What follows an exported detector, in NumPy only (no torch, no mmdet at
deployment): boxes from the resized input back to the original image, and
the RoI-resolution mask probabilities pasted into it.

It is mmdet's ``FCNMaskHead.predict_by_feat(rescale=True)`` on the CPU: each
mask is sampled bilinearly (``grid_sample``, ``align_corners=False``, zeros
outside) at the pixel centres of its box's region in the original image,
widened by one pixel and clipped to the image, and thresholded with ``>=``.
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import numpy as np


def _sample_weights(centres: np.ndarray, start: float, end: float, size: int) -> np.ndarray:
    """``(len(centres), size)`` bilinear weights that sample a ``size``-cell
    axis spanning ``[start, end]`` at the pixel ``centres``; cells outside
    the axis contribute zero (grid_sample's zero padding)."""
    extent = end - start
    with np.errstate(divide='ignore', invalid='ignore'):
        grid = (centres - start) / extent * 2 - 1
    grid[~np.isfinite(grid)] = 0  # a box of zero width, as mmdet
    pos = ((grid + 1) * size - 1) / 2                          # cell coordinates
    low = np.floor(pos)
    frac = pos - low
    weights = np.zeros((len(centres), size), dtype=np.float64)
    rows = np.arange(len(centres))
    for cell, weight in ((low, 1 - frac), (low + 1, frac)):
        inside = (cell >= 0) & (cell <= size - 1)
        weights[rows[inside], cell[inside].astype(np.int64)] += weight[inside]
    return weights


def paste_masks(masks: np.ndarray, boxes: np.ndarray, image_hw: Tuple[int, int],
                threshold: float = 0.5) -> np.ndarray:
    """Binary masks ``(N, H, W)`` from probabilities ``(N, M, M)`` on boxes
    ``(N, 4)`` x1y1x2y2 given in the ``image_hw`` image's pixels."""
    img_h, img_w = int(image_hw[0]), int(image_hw[1])
    out = np.zeros((len(masks), img_h, img_w), dtype=bool)
    for i, (mask, box) in enumerate(zip(masks, boxes.astype(np.float32))):
        x0, y0, x1, y1 = (float(v) for v in box)
        left, top = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
        right = min(int(np.ceil(x1)) + 1, img_w)
        bottom = min(int(np.ceil(y1)) + 1, img_h)
        if right <= left or bottom <= top:
            continue
        wy = _sample_weights(np.arange(top, bottom) + 0.5, y0, y1, mask.shape[0])
        wx = _sample_weights(np.arange(left, right) + 0.5, x0, x1, mask.shape[1])
        out[i, top:bottom, left:right] = wy @ mask.astype(np.float64) @ wx.T >= threshold
    return out


def detections_to_image(outputs: Sequence[np.ndarray], scale_factor: Sequence[float],
                        ori_hw: Tuple[int, int], mask_threshold: float = 0.5
                        ) -> Dict[str, np.ndarray]:
    """An exported detector's outputs ``(boxes, scores, labels[, masks])``
    on the resized input -> ``dict(boxes, scores, labels[, masks])`` on the
    original image: boxes divided by the pipeline's ``scale_factor`` (w, h),
    masks pasted as ``(N, H, W)`` booleans of size ``ori_hw``."""
    boxes, scores, labels = outputs[:3]
    scale = np.asarray(scale_factor, dtype=np.float32)[[0, 1, 0, 1]]
    result = dict(boxes=(boxes / scale).astype(np.float32), scores=scores, labels=labels)
    if len(outputs) > 3:
        result['masks'] = paste_masks(outputs[3], result['boxes'], ori_hw, mask_threshold)
    return result
