"""The test-set metric of an exported file: the config's test set through
ONNX Runtime, scored by the config's own ``test_evaluator`` (mmdet's
CocoMetric, mmseg's IoUMetric), so that an fp32 and an int8 file are
compared on what the model is for.
"""
from __future__ import annotations

import contextlib
import io
import logging
from typing import Dict, Optional

import torch
from mmengine.config import Config


def evaluate_file(cfg: Config, onnx_path: str, limit: Optional[int] = None,
                  session=None) -> Dict[str, float]:
    """Metrics of ``onnx_path`` on the config's test set (its first ``limit``
    images), as ``tools/test.py`` reports them for the PyTorch model;
    ``session``: run it in another runtime (``ov_runtime.OVSession``)."""
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DATASETS, init_default_scope
    from mmengine.structures import InstanceData, PixelData

    from .postprocess import detections_to_image
    from .verify import file_inputs, onnx_session

    init_default_scope(cfg.default_scope)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    session = session or onnx_session(onnx_path)
    mask_thr = float(session.get_modelmeta().custom_metadata_map.get('mask_thr_binary', 0.5))
    detection = cfg.default_scope == 'mmdet'
    count = len(dataset) if limit is None else min(limit, len(dataset))
    for i in range(count):
        data = dataset[i]
        sample = data['data_samples']
        meta = sample.metainfo
        outputs = session.run(None, file_inputs(data, detection))
        if detection:
            out = detections_to_image(outputs, meta['scale_factor'], meta['ori_shape'][:2],
                                      mask_thr)
            sample.pred_instances = InstanceData(
                bboxes=torch.from_numpy(out['boxes']), scores=torch.from_numpy(out['scores']),
                labels=torch.from_numpy(out['labels']),
                **({'masks': torch.from_numpy(out['masks'])} if 'masks' in out else {}))
        else:
            sample.pred_sem_seg = PixelData(data=torch.from_numpy(outputs[0][0])[None])
        evaluator.process([sample], dict(inputs=[data['inputs']], data_samples=[sample]))
    with contextlib.redirect_stdout(io.StringIO()), _quiet_log():
        return evaluator.evaluate(count)


@contextlib.contextmanager
def _quiet_log():
    """The metrics log their tables at INFO; we print the numbers once."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
