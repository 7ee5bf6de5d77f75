"""int8 for OpenVINO: NNCF's post-training quantization of an exported file.

The same contract as :mod:`.quantize` (ONNX Runtime's QDQ files): calibrated
on the images the model will see, through the test pipeline as the file
expects them, and the same parts left in float (:data:`.quantize.KEEP_FLOAT`:
attention products, carrier tokens, position MLPs), named to NNCF as an
ignored scope. OpenVINO keeps the ONNX node names, so the kept nodes are
exactly those :func:`.quantize.float_nodes` picks in the ONNX file. The
depthwise convolutions stay float too (cheap, memory-bound layers; and
OpenVINO 2026.4's CPU plugin fails shape inference on an int8 depthwise conv
fed by LITv2's channels-last FFN at any input height but the calibration
one: "Eltwise shape infer input shapes dim index: 1 mismatch"), so do the
convolutions fed straight by a Transpose (:func:`transposed_input_convs`:
OpenVINO computes them wrong in int8), and so do a detector's mask heads
(quantized, they lose the masks: COCO demo segm mAP 0.157 against 0.736 in
OpenVINO f32; kept float, 0.741). The quantization
uses NNCF's transformer scheme (``ModelType.TRANSFORMER``): with its default
(CNN) scheme FasterViT's attention stages came out at a cosine of 0.45 to
fp32 on a tiny random model, with the same kept parts (0.99 with it; with
every MatMul float, 0.999). The result is an OpenVINO IR file (``.xml`` +
``.bin``), fp32 weights where not int8, with the ONNX file's metadata in its
rt_info.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import os.path as osp
import time
from typing import Dict, Iterable, List, Sequence

import numpy as np

from ..errors import ConfigError
from .quantize import KEEP_FLOAT, QUANTIZED_OPS, QuantizeInfo, float_nodes


@contextlib.contextmanager
def _quiet_nncf():
    """NNCF logs its progress bars and notes at INFO; we print one line."""
    logger = logging.getLogger('nncf')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


#: OpenVINO's operations for ONNX's weight layers (Conv, ConvTranspose, Gemm, MatMul)
_OV_WEIGHT_OPS = ('Convolution', 'GroupConvolution', 'ConvolutionBackpropData', 'MatMul')


def openvino_names(model, onnx_names) -> List[str]:
    """The weight operations of OpenVINO ``model`` made from the ONNX nodes
    ``onnx_names``: OpenVINO keeps an ONNX node's name, or adds a suffix
    (a Conv with a bias becomes ``<name>/WithoutBiases`` and an ``Add``), or
    renames it and gives its name to the bias ``Add`` that follows (a
    ConvTranspose becomes ``ConvolutionBackpropData_<n>``)."""
    names = []
    for op in model.get_ops():
        if op.get_type_name() not in _OV_WEIGHT_OPS:
            continue
        name = op.get_friendly_name()
        after = [t.get_node().get_friendly_name() for t in op.output(0).get_target_inputs()]
        if any(n in onnx_names or n.rsplit('/', 1)[0] in onnx_names for n in [name, *after]):
            names.append(name)
    return names


def transposed_input_convs(graph) -> List[str]:
    """The Conv nodes of ONNX ``graph`` whose input comes straight from a
    Transpose (FasterViT's downsamplers: a channels-last norm, then the
    strided conv). OpenVINO 2026.4's CPU plugin computes such a conv wrong in
    int8 when NNCF quantizes its input asymmetrically (transformer scheme):
    on the COCO demo checkpoint with only the first downsampler int8, its
    output was 100% off and bbox mAP 0.013 against 0.726; with every layer
    int8 but these, 0.72. The same conv in ONNX Runtime's int8 is right."""
    made_by = {out: n for n in graph.graph.node for out in n.output}
    return [n.name for n in graph.graph.node if n.op_type == 'Conv'
            and getattr(made_by.get(n.input[0]), 'op_type', None) == 'Transpose']


#: what stays float in OpenVINO int8 besides the ``keep`` parts (see the module docstring)
ALSO_FLOAT = ('depthwise convs', 'convs fed by a transpose', 'mask heads')


def quantize_openvino(fp32_path: str, int8_path: str, feeds: Iterable[Dict[str, np.ndarray]],
                      keep: Sequence[str] = tuple(KEEP_FLOAT)) -> QuantizeInfo:
    """Write the NNCF int8 version of ONNX file ``fp32_path`` to the IR file
    ``int8_path`` (``.xml``), calibrated on ``feeds``; ``keep`` parts stay float."""
    os.environ.setdefault('NNCF_TELEMETRY_DISABLED', '1')
    import nncf
    import onnx
    import openvino as ov

    from .ov_runtime import core

    if not int8_path.endswith('.xml'):
        raise ConfigError(f'OpenVINO int8 file {int8_path!r}: give an IR path ending in .xml')
    feeds = list(feeds)
    if not feeds:
        raise ConfigError('int8: no calibration inputs')
    graph = onnx.load(fp32_path)
    kept = set(float_nodes(graph, keep))
    depthwise = {n.name for n in graph.graph.node if n.op_type == 'Conv'
                 and any(a.name == 'group' and a.i > 1 for a in n.attribute)}
    # a detector's mask heads (convs and upsampling): quantized by NNCF they lose
    # the masks (COCO demo checkpoint: segm mAP 0.157 against 0.736 in OpenVINO
    # f32; kept float: 0.741)
    masks = {n.name for n in graph.graph.node
             if n.op_type in ('Conv', 'ConvTranspose') and '/mask_head' in n.name}
    also_float = (depthwise | set(transposed_input_convs(graph)) | masks) - kept
    weight_layers = sum(n.op_type in (*QUANTIZED_OPS, 'ConvTranspose') for n in graph.graph.node)
    model = core().read_model(fp32_path)
    ignored = openvino_names(model, kept | also_float)
    start = time.perf_counter()
    with _quiet_nncf():
        int8 = nncf.quantize(model, nncf.Dataset(feeds), subset_size=len(feeds),
                             model_type=nncf.ModelType.TRANSFORMER,
                             ignored_scope=nncf.IgnoredScope(names=ignored, validate=False))
    meta = {p.key: p.value for p in graph.metadata_props}
    meta['precision'] = ('int8 (NNCF post-training quantization, calibrated on '
                         f'{len(feeds)} inputs); float: norms, GELU, softmax'
                         + ''.join(f', {part}' for part in (*keep, *ALSO_FLOAT)))
    for key, value in meta.items():
        int8.set_rt_info(value, ['mmfastervit', key])
    os.makedirs(osp.dirname(osp.abspath(int8_path)), exist_ok=True)
    ov.save_model(int8, int8_path, compress_to_fp16=False)
    size = sum(osp.getsize(p) for p in (int8_path, int8_path[:-4] + '.bin') if osp.isfile(p))
    return QuantizeInfo(int8_path, time.perf_counter() - start, size / 2**20, len(feeds),
                        weight_layers - len(kept) - len(also_float), len(kept) + len(also_float))
