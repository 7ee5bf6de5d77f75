"""Check an exported file against PyTorch: the same images through the
config's test pipeline, mmdet's/mmseg's own ``predict`` on one side, ONNX
Runtime plus :mod:`.postprocess` on the other, and the differences measured.

Detections are matched greedily (best PyTorch score first, to the unmatched
ONNX box of highest IoU); a detection found on one side only is tolerated
when its score lies within ``score_tol`` of a cut (``score_thr``, or the last
kept score when ``max_per_img`` is full), where float rounding may put it on
either side.
"""
from __future__ import annotations

import contextlib
import io
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

#: the bar of issue 11: boxes matched at IoU >= 0.99, scores within 1e-3,
#: mask IoU >= 0.98, the same class on >= 99.9% of pixels
TOLERANCES = dict(box_iou=0.99, score=1e-3, mask_iou=0.98, pixel_agreement=0.999)
TOLERANCE_TEXT = ('box IoU >= {box_iou}, scores within {score:g}, mask IoU >= {mask_iou}; '
                  'class maps >= {pixel_agreement:.1%} equal').format(**TOLERANCES)


def test_pipeline_steps(cfg: Config) -> List[dict]:
    """The config's test pipeline without its ground-truth loading."""
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return [step for step in dataset.pipeline if 'LoadAnnotations' not in step['type']]


def test_pipeline(cfg: Config):
    """:func:`test_pipeline_steps` as a callable on ``dict(img_path=...)``."""
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.default_scope)
    return Compose(test_pipeline_steps(cfg))


def test_images(cfg: Config, count: int) -> List[str]:
    """The first ``count`` images of the config's test set."""
    from mmengine.registry import DATASETS, init_default_scope

    init_default_scope(cfg.default_scope)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return [dataset.get_data_info(i)['img_path'] for i in range(min(count, len(dataset)))]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` IoU of x1y1x2y2 boxes."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 1.0)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@dataclass
class Comparison:
    """One image's differences; ``ok`` is whether they are within tolerance."""
    image: str
    input_hw: tuple
    torch_ms: float
    onnx_ms: float
    stats: Dict[str, float] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_detections(ref: Dict[str, np.ndarray], out: Dict[str, np.ndarray],
                       score_thr: float, max_per_img: int, tol: Dict[str, float]
                       ) -> tuple:
    """``(stats, problems)`` of ONNX detections ``out`` against PyTorch's ``ref``."""
    iou = box_iou(ref['boxes'], out['boxes'])
    free = np.ones(len(out['boxes']), dtype=bool)
    pairs = []
    for i in np.argsort(-ref['scores'], kind='stable'):
        if not free.any():
            break
        j = int(np.argmax(np.where(free, iou[i], -1)))
        if iou[i, j] >= 0.5:
            free[j] = False
            pairs.append((int(i), j))
    matched_ref = {i for i, _ in pairs}

    def borderline(scores: np.ndarray, count: int) -> np.ndarray:
        near_thr = np.abs(scores - score_thr) <= tol['score']
        near_cut = count >= max_per_img and np.abs(scores - scores.min()) <= tol['score']
        return near_thr | near_cut

    lone_ref = np.array([i not in matched_ref for i in range(len(ref['scores']))], dtype=bool)
    lone_out = free
    tolerated = int(borderline(ref['scores'], len(ref['scores']))[lone_ref].sum()
                    + borderline(out['scores'], len(out['scores']))[lone_out].sum())
    unexplained = int(lone_ref.sum() + lone_out.sum()) - tolerated
    ious = np.array([iou[i, j] for i, j in pairs])
    score_diff = np.array([abs(ref['scores'][i] - out['scores'][j]) for i, j in pairs])
    labels_equal = sum(int(ref['labels'][i] == out['labels'][j]) for i, j in pairs)
    stats = dict(torch_dets=len(ref['scores']), onnx_dets=len(out['scores']),
                 matched=len(pairs), borderline=tolerated,
                 min_box_iou=float(ious.min()) if len(pairs) else 1.0,
                 max_score_diff=float(score_diff.max()) if len(pairs) else 0.0,
                 labels_equal=labels_equal)
    problems = []
    if unexplained:
        problems.append(f'{unexplained} detection(s) found by only one runtime')
    if stats['min_box_iou'] < tol['box_iou']:
        problems.append(f'box IoU {stats["min_box_iou"]:.4f} < {tol["box_iou"]}')
    if stats['max_score_diff'] > tol['score']:
        problems.append(f'score difference {stats["max_score_diff"]:.2e} > {tol["score"]}')
    if labels_equal < len(pairs):
        problems.append(f'{len(pairs) - labels_equal} matched box(es) with another label')
    if 'masks' in ref:
        mious = [mask_iou(ref['masks'][i], out['masks'][j]) for i, j in pairs]
        stats['min_mask_iou'] = min(mious) if mious else 1.0
        if stats['min_mask_iou'] < tol['mask_iou']:
            problems.append(f'mask IoU {stats["min_mask_iou"]:.4f} < {tol["mask_iou"]}')
    return stats, problems


def image_feed(pipeline, image_path: str, detection: bool) -> tuple:
    """``(data, feed)``: the test pipeline's output for one image and the
    exported file's inputs made from it (``image`` (1, 3, H, W) float32, and
    ``out_size`` for segmentors)."""
    data = pipeline(dict(img_path=image_path, img_id=0))
    return data, file_inputs(data, detection)


def file_inputs(data: dict, detection: bool) -> Dict[str, np.ndarray]:
    """The exported file's inputs for one test-pipeline output ``data``."""
    feed = {'image': data['inputs'][None].float().numpy()}
    if not detection:
        feed['out_size'] = np.asarray(data['data_samples'].metainfo['ori_shape'][:2],
                                      dtype=np.int64)
    return feed


def compare_class_maps(ref: np.ndarray, out: np.ndarray, tol: Dict[str, float]) -> tuple:
    """``(stats, problems)`` of class map ``out`` against ``ref``."""
    if ref.shape != out.shape:
        return {}, [f'class map {out.shape} != {ref.shape}']
    agree = float((ref == out).mean())
    stats = dict(pixels=int(ref.size), pixel_agreement=agree, pixels_differ=int((ref != out).sum()))
    problems = []
    if agree < tol['pixel_agreement']:
        problems.append(f'{agree:.5f} of pixels agree < {tol["pixel_agreement"]}')
    return stats, problems


def onnx_session(path: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only (the int8 files' QDQ notes)
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


class Verifier:
    """Runs ``model`` (PyTorch) and the ONNX file on images and compares."""

    def __init__(self, cfg: Config, model: nn.Module, onnx_path: str,
                 tolerances: Optional[Dict[str, float]] = None, session=None):
        self.cfg, self.model = cfg, model
        self.tol = dict(TOLERANCES, **(tolerances or {}))
        # another runtime's session (ov_runtime.OVSession) or ONNX Runtime's
        self.session = session or onnx_session(onnx_path)
        self.meta = self.session.get_modelmeta().custom_metadata_map
        self.pipeline = test_pipeline(cfg)
        self.detection = cfg.default_scope == 'mmdet'

    def __call__(self, image_path: str) -> Comparison:
        from mmengine.dataset import pseudo_collate

        data, feed = image_feed(self.pipeline, image_path, self.detection)
        meta = data['data_samples'].metainfo
        start = time.perf_counter()
        with torch.no_grad(), warnings.catch_warnings():
            # mmdet's mask head copies a tensor with new_tensor() and warns each time
            warnings.filterwarnings('ignore', 'To copy construct from a tensor')
            sample = self.model.test_step(pseudo_collate([data]))[0]
        torch_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        outputs = self.session.run(None, feed)
        onnx_ms = (time.perf_counter() - start) * 1e3
        result = Comparison(image_path, tuple(feed['image'].shape[2:]), torch_ms, onnx_ms)
        if self.detection:
            self._detections(sample, outputs, meta, result)
        else:
            result.stats, result.problems = compare_class_maps(
                sample.pred_sem_seg.data[0].numpy(), outputs[0][0], self.tol)
        return result

    def _detections(self, sample, outputs, meta, result: Comparison) -> None:
        from .postprocess import detections_to_image

        pred = sample.pred_instances
        ref = dict(boxes=pred.bboxes.numpy(), scores=pred.scores.numpy(),
                   labels=pred.labels.numpy())
        if 'masks' in pred:
            ref['masks'] = pred.masks.numpy().astype(bool)
        out = detections_to_image(outputs, meta['scale_factor'], meta['ori_shape'][:2],
                                  float(self.meta.get('mask_thr_binary', 0.5)))
        rcnn = self.model.roi_head.test_cfg
        result.stats, result.problems = compare_detections(
            ref, out, rcnn.score_thr, rcnn.max_per_img, self.tol)


class FileComparer:
    """Two exported files of one config (fp32 and its int8 version, say) on
    the same images: ``reference`` plays PyTorch's part in :class:`Comparison`."""

    def __init__(self, cfg: Config, reference: str, other: str,
                 tolerances: Optional[Dict[str, float]] = None):
        self.tol = dict(TOLERANCES, **(tolerances or {}))
        self.sessions = onnx_session(reference), onnx_session(other)
        self.meta = self.sessions[0].get_modelmeta().custom_metadata_map
        self.pipeline = test_pipeline(cfg)
        self.detection = cfg.default_scope == 'mmdet'
        self.rcnn = cfg.model.test_cfg.rcnn if self.detection else None

    def __call__(self, image_path: str) -> Comparison:
        from .postprocess import detections_to_image

        data, feed = image_feed(self.pipeline, image_path, self.detection)
        meta = data['data_samples'].metainfo
        outputs, times = [], []
        for session in self.sessions:
            start = time.perf_counter()
            outputs.append(session.run(None, feed))
            times.append((time.perf_counter() - start) * 1e3)
        result = Comparison(image_path, tuple(feed['image'].shape[2:]), *times)
        if self.detection:
            ref, out = (detections_to_image(o, meta['scale_factor'], meta['ori_shape'][:2],
                                            float(self.meta.get('mask_thr_binary', 0.5)))
                        for o in outputs)
            result.stats, result.problems = compare_detections(
                ref, out, self.rcnn.score_thr, self.rcnn.max_per_img, self.tol)
        else:
            result.stats, result.problems = compare_class_maps(outputs[0][0][0],
                                                               outputs[1][0][0], self.tol)
        return result


def format_comparison(c: Comparison, sides=('torch', 'onnx')) -> str:
    s = c.stats
    size = f'{c.input_hw[0]}x{c.input_hw[1]}'
    if 'pixel_agreement' in s:
        body = (f'class map: {s["pixel_agreement"] * 100:.3f}% of {s["pixels"]} pixels equal '
                f'({s["pixels_differ"]} differ)')
    elif s:
        body = (f'detections {sides[0]} {s["torch_dets"]} / {sides[1]} {s["onnx_dets"]}, '
                f'matched {s["matched"]}'
                + (f' (+{s["borderline"]} at a score cut)' if s['borderline'] else '')
                + f', min box IoU {s["min_box_iou"]:.5f}, max score diff '
                f'{s["max_score_diff"]:.1e}, labels equal {s["labels_equal"]}/{s["matched"]}'
                + (f', min mask IoU {s["min_mask_iou"]:.4f}' if 'min_mask_iou' in s else ''))
    else:
        body = ''
    verdict = 'ok' if c.ok else 'FAIL: ' + '; '.join(c.problems)
    names = ('torch', 'onnxruntime') if sides == ('torch', 'onnx') else sides
    return (f'{c.image} [{size}] {body} | {names[0]} {c.torch_ms:.0f} ms, {names[1]} '
            f'{c.onnx_ms:.0f} ms | {verdict}')


def verify(cfg: Config, model: nn.Module, onnx_path: str, images: Sequence[str],
           tolerances: Optional[Dict[str, float]] = None, echo=print, session=None,
           sides=('torch', 'onnx')) -> List[Comparison]:
    """Compare on every image, printing one line each through ``echo``
    (``session``: run the file in another runtime, named in ``sides``)."""
    verifier = Verifier(cfg, model, onnx_path, tolerances, session)
    results = []
    for path in images:
        results.append(verifier(path))
        echo(format_comparison(results[-1], sides))
    return results


def compare_files(cfg: Config, reference: str, other: str, images: Sequence[str],
                  tolerances: Optional[Dict[str, float]] = None, sides=('fp32', 'int8'),
                  echo=print) -> List[Comparison]:
    """:func:`verify` for two exported files: ``other`` against ``reference``."""
    comparer = FileComparer(cfg, reference, other, tolerances)
    results = []
    for path in images:
        results.append(comparer(path))
        echo(format_comparison(results[-1], sides))
    return results
