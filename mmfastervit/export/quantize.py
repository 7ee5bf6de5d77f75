"""int8 static quantization of an exported file with ONNX Runtime (QDQ).

Weights are quantized per output channel (int8, symmetric), activations per
tensor (uint8, asymmetric) from their ranges on calibration inputs: the
images of a folder, through the config's test pipeline exactly as the file
expects them (:func:`calibration_feeds`). Only the layers with weights are
quantized (Conv, Gemm, MatMul on an initializer): norms, GELU and softmax
stay fp32. By default three more parts stay fp32 (:data:`KEEP_FLOAT`): the
products of two activations (attention's ``Q K^T`` and ``A V``, whose softmax
input spans a wide range; quantized they double FasterViT-2's largest stage-3
error and run slower), the carrier tokens' path (few pooled tokens that every
window reads) and the position MLPs (inputs are coordinates, not features).
"""
from __future__ import annotations

import contextlib
import logging
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError

#: the parts that can stay fp32, and what each holds (see :func:`keeps_float`);
#: the modules of the named parts are each family's ``float_scopes``
KEEP_FLOAT = {
    'attention': "MatMul of two activations (attention's Q K^T and A V)",
    'carrier': 'nodes under the carrier-token modules (FasterViT: tokenizer, carrier)',
    'position': 'nodes under the position MLPs, whose inputs are coordinates',
}
#: the operators that are quantized (those with weights)
QUANTIZED_OPS = ('Conv', 'Gemm', 'MatMul')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def _in_scope(node, words: Sequence[str]) -> bool:
    parts = node.name.split('/')
    return any(part.split('.')[0] in words for part in parts[:-1])


def scope_words(part: str) -> Tuple[str, ...]:
    """The module names of ``part`` over every registered family (their
    ``float_scopes``)."""
    from ..models import PyramidBackbone
    return tuple(dict.fromkeys(word for cls in PyramidBackbone.families().values()
                               for word in cls.float_scopes.get(part, ())))


def keeps_float(node, initializers: set, part: str) -> bool:
    """Whether ``node`` belongs to the ``part`` of :data:`KEEP_FLOAT`."""
    if part not in KEEP_FLOAT:
        raise ValueError(f'unknown part {part!r}; choose from {", ".join(KEEP_FLOAT)}')
    if part == 'attention':
        return node.op_type == 'MatMul' and not any(i in initializers for i in node.input)
    return _in_scope(node, scope_words(part))


def float_nodes(model, keep: Sequence[str]) -> List[str]:
    """Names of the weight-layer nodes of ``model`` (an ``onnx.ModelProto``)
    that the ``keep`` parts leave in fp32."""
    unknown = [part for part in keep if part not in KEEP_FLOAT]
    if unknown:
        raise ValueError(f'unknown part {unknown[0]!r}; choose from {", ".join(KEEP_FLOAT)}')
    initializers = {i.name for i in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type in QUANTIZED_OPS
            and any(keeps_float(n, initializers, part) for part in keep)]


def calibration_images(folder: str, limit: Optional[int] = None) -> List[str]:
    """The images of ``folder`` (sorted; at most ``limit``)."""
    if not osp.isdir(folder):
        raise ConfigError(f'--calib: {folder!r} is not a folder (give a folder of images of '
                          'the data the model will see, e.g. the validation set\'s)')
    paths = sorted(osp.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise ConfigError(f'--calib: {folder!r} holds no images ({", ".join(IMAGE_SUFFIXES)})')
    return paths[:limit] if limit else paths


def calibration_feeds(cfg, images: Sequence[str]) -> Iterator[Dict[str, np.ndarray]]:
    """The file's inputs for each image: the test pipeline's resized image
    ``(1, 3, H, W)`` float32 (and ``out_size`` for segmentors)."""
    from .verify import image_feed, test_pipeline

    pipeline = test_pipeline(cfg)
    for path in images:
        yield image_feed(pipeline, path, cfg.default_scope == 'mmdet')[1]


@contextlib.contextmanager
def _quiet_quantizer():
    """Hide the quantizer's advice on the root logger (to pre-process the
    file first: its shape inference adds nothing for our files)."""
    def advice(record):
        return 'pre-process' not in record.getMessage()
    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


@dataclass
class QuantizeInfo:
    path: str
    seconds: float
    megabytes: float
    calibration_inputs: int
    quantized: int   # weight layers in int8
    kept_float: int  # weight layers left fp32 by ``keep``


def quantize(fp32_path: str, int8_path: str, feeds: Iterable[Dict[str, np.ndarray]],
             keep: Sequence[str] = tuple(KEEP_FLOAT)) -> QuantizeInfo:
    """Write the int8 (QDQ) version of ``fp32_path`` to ``int8_path``,
    calibrated (min-max) on ``feeds``; the ``keep`` parts stay fp32."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    feeds = list(feeds)
    if not feeds:
        raise ConfigError('int8: no calibration inputs')

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feeds)

        def get_next(self):
            return next(self.items, None)

    model = onnx.load(fp32_path)
    excluded = float_nodes(model, keep)
    weight_layers = sum(n.op_type in QUANTIZED_OPS for n in model.graph.node)
    start = time.perf_counter()
    with _quiet_quantizer():
        quantize_static(fp32_path, int8_path, Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=excluded,
                        extra_options=dict(WeightSymmetric=True, ActivationSymmetric=False))
    out = onnx.load(int8_path)
    del out.metadata_props[:]
    for prop in model.metadata_props:
        out.metadata_props.add(key=prop.key, value=prop.value)
    out.metadata_props.add(key='precision', value=(
        'int8 QDQ (per-channel weights, uint8 activations, min-max calibration on '
        f'{len(feeds)} inputs); fp32: norms, GELU, softmax'
        + ''.join(f', {part}' for part in keep)))
    onnx.save(out, int8_path)
    return QuantizeInfo(int8_path, time.perf_counter() - start,
                        osp.getsize(int8_path) / 2**20, len(feeds),
                        weight_layers - len(excluded), len(excluded))
