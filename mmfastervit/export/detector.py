"""A two-stage mmdet detector (Cascade Mask R-CNN, Mask R-CNN, Faster R-CNN)
as one traceable module: image in, final detections out.

It runs the model's own layers (backbone, neck, RPN head, RoI box and mask
heads) and replaces mmdet's per-image Python post-processing with the same
steps on tensors (see :mod:`.boxes`): RPN proposals (top ``nms_pre`` per level,
decode, NMS per level), the cascade (each stage regresses the boxes of its
predicted class, or class-agnostically, as the config says), the average of
the stages' class scores, per-class NMS, and the mask heads' averaged
probabilities for the label of each final box.

Batch size 1 (mmdet's test batch): boxes are in the coordinates of the input
image (after the test pipeline's ``Resize``); masks come out at RoI resolution
(``(N, 28, 28)`` probabilities) and :func:`.postprocess.detections_to_image`
scales the boxes to the original image and pastes the masks there, as mmdet's
``predict(rescale=True)`` does.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .boxes import decode_deltas, extract_roi_features, grid_anchors, grouped_nms
from .onnx_ops import spatial_size
from .preprocess import ImageInput

SUPPORTED_DETECTORS = ('CascadeRCNN', 'MaskRCNN', 'FasterRCNN')
OUTPUT_NAMES = ('boxes', 'scores', 'labels', 'masks')


def _as_list(module) -> List[nn.Module]:
    return list(module) if isinstance(module, nn.ModuleList) else [module]


def _nms_iou(cfg, where: str) -> float:
    """IoU threshold of a plain ``dict(type='nms', iou_threshold=...)``;
    anything else (soft-NMS, class-agnostic, score filters) is refused."""
    nms_cfg = dict(cfg.nms)
    kind = nms_cfg.pop('type', 'nms')
    iou = nms_cfg.pop('iou_threshold', None)
    nms_cfg.pop('split_thr', None)  # an mmcv speed knob, same result
    extra = {k: v for k, v in nms_cfg.items() if v}
    if kind != 'nms' or iou is None or extra:
        raise ConfigError(f'{where} uses nms={dict(cfg.nms)}; the ONNX export supports '
                          "dict(type='nms', iou_threshold=...) (ONNX NonMaxSuppression)")
    return float(iou)


def check_detector(model: nn.Module) -> None:
    """Refuse, with the reason, what :class:`DetectorGraph` cannot export."""
    name = type(model).__name__
    roi_head = getattr(model, 'roi_head', None)
    rpn_head = getattr(model, 'rpn_head', None)
    if name not in SUPPORTED_DETECTORS or roi_head is None or rpn_head is None:
        raise ConfigError(f'cannot export a {name}: supported detectors are '
                          f'{", ".join(SUPPORTED_DETECTORS)} (RPN + RoI heads)')
    problems = []
    if type(rpn_head).__name__ != 'RPNHead':
        problems.append(f'rpn_head {type(rpn_head).__name__} (supported: RPNHead)')
    if type(roi_head).__name__ not in ('CascadeRoIHead', 'StandardRoIHead'):
        problems.append(f'roi_head {type(roi_head).__name__} '
                        '(supported: CascadeRoIHead, StandardRoIHead)')
    coders = [rpn_head.bbox_coder] + [h.bbox_coder for h in _as_list(roi_head.bbox_head)]
    for coder in coders:
        if type(coder).__name__ != 'DeltaXYWHBBoxCoder' or coder.add_ctr_clamp \
                or not coder.clip_border:
            problems.append(f'box coder {type(coder).__name__} (supported: '
                            'DeltaXYWHBBoxCoder with clip_border, no add_ctr_clamp)')
    for head in _as_list(roi_head.bbox_head):
        if head.custom_cls_channels or head.custom_activation:
            problems.append(f'{type(head.loss_cls).__name__} class activation')
    if getattr(roi_head, 'with_shared_head', False) and roi_head.shared_head is not None:
        problems.append('a shared RoI head')
    if problems:
        raise ConfigError(f'cannot export this {name}: ' + '; '.join(problems))
    _nms_iou(rpn_head.test_cfg, 'test_cfg.rpn')
    _nms_iou(roi_head.test_cfg, 'test_cfg.rcnn')


class DetectorGraph(nn.Module):
    """``image (1, 3, H, W)`` raw test-pipeline pixels -> ``boxes (N, 4)``
    x1y1x2y2 in input pixels, ``scores (N,)``, ``labels (N,)`` int64,
    ``masks (N, M, M)`` mask probabilities on each box (absent without a mask
    head). ``N <= test_cfg.rcnn.max_per_img``, best score first."""

    def __init__(self, model: nn.Module):
        super().__init__()
        check_detector(model)
        self.model = model
        self.image_input = ImageInput.from_preprocessor(model.data_preprocessor)
        roi_head = model.roi_head
        self.bbox_extractors = _as_list(roi_head.bbox_roi_extractor)
        self.bbox_heads = _as_list(roi_head.bbox_head)
        self.with_mask = roi_head.with_mask
        if self.with_mask:
            self.mask_extractors = _as_list(roi_head.mask_roi_extractor)
            self.mask_heads = _as_list(roi_head.mask_head)
        self.rpn_cfg = model.rpn_head.test_cfg
        self.rcnn_cfg = roi_head.test_cfg

    @property
    def output_names(self) -> Tuple[str, ...]:
        return OUTPUT_NAMES if self.with_mask else OUTPUT_NAMES[:3]

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        image_hw = spatial_size(image).float()
        feats = self.model.extract_feat(self.image_input(image))
        proposals = self.proposals(feats, image_hw)
        boxes, scores, labels = self.detect(feats, proposals, image_hw)
        if not self.with_mask:
            return boxes, scores, labels
        return boxes, scores, labels, self.masks(feats, boxes, labels)

    def proposals(self, feats: Sequence[Tensor], image_hw: Tensor) -> Tensor:
        """RPN boxes ``(P, 4)``, as ``RPNHead.predict_by_feat`` for one image."""
        head, cfg = self.model.rpn_head, self.rpn_cfg
        cls_scores, bbox_preds = head(feats)
        generator = head.prior_generator
        nms_pre = cfg.get('nms_pre', -1)
        boxes, scores, levels = [], [], []
        for level, (cls_score, bbox_pred) in enumerate(zip(cls_scores, bbox_preds)):
            anchors = grid_anchors(generator.base_anchors[level].to(cls_score),
                                   generator.strides[level], cls_score)
            deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, 4)
            logits = cls_score[0].permute(1, 2, 0).reshape(-1, head.cls_out_channels)
            score = logits.sigmoid() if head.use_sigmoid_cls else logits.softmax(-1)[:, :-1]
            score = score.reshape(-1)
            if nms_pre > 0:  # a slice past the end keeps all, as mmdet's `if`
                score, order = score.sort(descending=True)
                score, order = score[:nms_pre], order[:nms_pre]
                deltas, anchors = deltas[order], anchors[order]
            boxes.append(decode_deltas(anchors, deltas, head.bbox_coder.means,
                                       head.bbox_coder.stds, image_hw))
            scores.append(score)
            levels.append(torch.full_like(score, level, dtype=torch.long))
        boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
        min_size = cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            wh = boxes[:, 2:] - boxes[:, :2]
            keep = torch.nonzero((wh[:, 0] > min_size) & (wh[:, 1] > min_size)).reshape(-1)
            boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
        keep = grouped_nms(boxes, scores, levels, _nms_iou(cfg, 'test_cfg.rpn'),
                           cfg.max_per_img)
        return boxes[keep]

    def detect(self, feats: Sequence[Tensor], rois: Tensor,
               image_hw: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Cascade refinement and per-class NMS, as ``CascadeRoIHead.predict_bbox``
        (``StandardRoIHead``: one stage)."""
        stage_logits = []
        for stage, (extractor, head) in enumerate(zip(self.bbox_extractors, self.bbox_heads)):
            cls_score, deltas = head(extract_roi_features(extractor, feats, rois))
            stage_logits.append(cls_score)
            if stage < len(self.bbox_heads) - 1:
                rois = self.regress(head, rois, cls_score, deltas, image_hw)
        logits = stage_logits[0]
        for more in stage_logits[1:]:
            logits = logits + more
        if len(stage_logits) > 1:
            logits = logits / float(len(stage_logits))
        scores = logits.softmax(-1)[:, :-1]                            # (K, C)
        head = self.bbox_heads[-1]
        num_classes = 1 if head.reg_class_agnostic else head.num_classes
        boxes = decode_deltas(rois[:, None, :], deltas.reshape(-1, num_classes, 4),
                              head.bbox_coder.means, head.bbox_coder.stds, image_hw)
        return self.class_nms(boxes, scores)

    def regress(self, head, rois: Tensor, logits: Tensor, deltas: Tensor,
                image_hw: Tensor) -> Tensor:
        """A stage's boxes moved by its deltas for its best class (``regress_by_class``)."""
        if not head.reg_class_agnostic:
            label = logits[:, :-1].argmax(dim=1)
            deltas = deltas.reshape(-1, head.num_classes, 4)
            deltas = torch.gather(deltas, 1, label[:, None, None].expand(-1, 1, 4))[:, 0]
        return decode_deltas(rois, deltas, head.bbox_coder.means, head.bbox_coder.stds,
                             image_hw)

    def class_nms(self, boxes: Tensor, scores: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """mmdet's ``multiclass_nms``: boxes ``(K, C or 1, 4)``, scores ``(K, C)``."""
        cfg = self.rcnn_cfg
        num_classes = scores.shape[1]
        boxes = (boxes + torch.zeros_like(scores)[:, :, None]).reshape(-1, 4)
        scores = scores.reshape(-1)
        inds = torch.nonzero(scores > cfg.score_thr).reshape(-1)
        boxes, scores, labels = boxes[inds], scores[inds], inds % num_classes
        keep = grouped_nms(boxes, scores, labels, _nms_iou(cfg, 'test_cfg.rcnn'),
                           cfg.max_per_img)
        return boxes[keep], scores[keep], labels[keep]

    def masks(self, feats: Sequence[Tensor], boxes: Tensor, labels: Tensor) -> Tensor:
        """``(N, M, M)`` mask probabilities of each box's label, the mean over
        the stages' mask heads (``CascadeRoIHead.predict_mask``)."""
        probs = []
        for extractor, head in zip(self.mask_extractors, self.mask_heads):
            logits = head(extract_roi_features(extractor, feats, boxes))
            probs.append(logits.sigmoid())
        prob = torch.stack(probs).mean(dim=0) if len(probs) > 1 else probs[0]
        if self.mask_heads[-1].class_agnostic:
            return prob[:, 0]
        index = labels[:, None, None, None].expand(-1, 1, prob.shape[2], prob.shape[3])
        return torch.gather(prob, 1, index)[:, 0]
