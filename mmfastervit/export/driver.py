"""The common export driver: config and checkpoint -> model -> traceable
graph module -> ONNX file (TorchScript exporter, dynamic height and width).

Which graph is decided by the config's scope: mmdet configs become a
:class:`.detector.DetectorGraph`, mmseg configs a
:class:`.segmentor.SegmentorGraph`.
"""
from __future__ import annotations

import os
import os.path as osp
import time
import warnings
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import nn

from ..checkpoint import check_checkpoint
from ..errors import ConfigError
from .adaptive_pool import matrix_adaptive_pools
from .detector import DetectorGraph
from .onnx_ops import OPSET
from .segmentor import SegmentorGraph

#: config scope -> task name written into the file's metadata
TASKS = {'mmdet': 'detection', 'mmseg': 'segmentation'}


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config, with ``cfg_options`` merged; an mmdet or mmseg one only."""
    if not osp.isfile(path):
        raise ConfigError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ConfigError(f'{path} has default_scope={scope!r}; export_onnx.py exports mmdet '
                          'detectors and mmseg segmentors (inherit an mmdet:: or mmseg:: base)')
    return cfg


def build_model(cfg: Config, checkpoint: Optional[str] = None) -> nn.Module:
    """The config's model in eval mode on the CPU, with the checkpoint's
    weights (without one: random weights, for trying the export)."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint

    # our modules and the weights-only allowlist: registered by the package's
    # __init__, which importing this module ran
    init_default_scope(cfg.default_scope)
    if checkpoint is not None:
        check_checkpoint(checkpoint, 'checkpoint')
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        meta = load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
        model.dataset_meta = (meta or {}).get('meta', {}).get('dataset_meta')
    model.cfg = cfg
    return revert_sync_batchnorm(model).eval()


def build_graph(model: nn.Module, scope: str) -> nn.Module:
    """The traceable inference module of ``model`` (see the module docstring)."""
    graph = DetectorGraph(model) if scope == 'mmdet' else SegmentorGraph(model)
    return graph.eval()


def example_inputs(graph: nn.Module, shape: Tuple[int, int]) -> Tuple[torch.Tensor, ...]:
    """A seeded random image of ``shape`` (the size the graph is traced at;
    the file then runs at any size)."""
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (1, 3, *shape), generator=gen).float()
    if isinstance(graph, SegmentorGraph):
        return image, torch.tensor(shape, dtype=torch.long)
    return (image,)


def io_spec(graph: nn.Module) -> Tuple[Sequence[str], Sequence[str], Dict[str, Dict[int, str]]]:
    """Input names, output names and dynamic axes of the file."""
    outputs = list(graph.output_names)
    if isinstance(graph, SegmentorGraph):
        return (['image', 'out_size'], outputs,
                {'image': {0: 'batch', 2: 'height', 3: 'width'},
                 'seg_map': {0: 'batch', 1: 'out_height', 2: 'out_width'}})
    axes = {'image': {2: 'height', 3: 'width'}}
    axes.update({name: {0: 'detections'} for name in outputs})
    return ['image'], outputs, axes


def metadata(cfg: Config, graph: nn.Module, config_path: str,
             checkpoint: Optional[str]) -> Dict[str, str]:
    """What a user of the file needs to know, stored in its metadata_props."""
    meta = dict(
        producer='mmfastervit tools/deployment/export_onnx.py',
        task=TASKS[cfg.default_scope],
        config=osp.basename(config_path),
        checkpoint=osp.basename(checkpoint) if checkpoint else 'none (random weights)',
        image=('float32 (B, 3, H, W): the test pipeline\'s resized image, pixel values 0..255 '
               'in the channel order images are loaded in (BGR for mmcv); normalisation and '
               'padding happen in the graph'))
    model = graph.model
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    if classes:
        meta['classes'] = ','.join(classes)
    if isinstance(graph, DetectorGraph):
        meta['outputs'] = ('boxes (N, 4) x1y1x2y2 in input pixels, scores (N,), labels (N,) '
                           'int64' + (', masks (N, M, M) probabilities on each box'
                                      if graph.with_mask else ''))
        if graph.with_mask:
            meta['mask_thr_binary'] = str(graph.rcnn_cfg.get('mask_thr_binary', 0.5))
    else:
        meta['outputs'] = 'seg_map (B, out_h, out_w) int64 class indices'
        meta['out_size'] = 'int64 (2,): height and width of seg_map (the original image size)'
    return meta


def inline_shared_initializers(model) -> int:
    """Give each user of a shared weight its own copy, in place; returns how
    many. The exporter stores parameters of equal value once and hands them
    on through ``Identity`` nodes (a fresh model's zero biases: 122 in a
    Cascade Mask R-CNN). A Conv whose bias comes from an Identity is not
    fused by ONNX Runtime's int8 (QDQ -> QLinearConv): it ran as a float
    Conv on weights dequantized at every call, and the int8 detector took
    16.4 s against fp32's 8.5 s (800x1216, 2 threads)."""
    from onnx import numpy_helper

    weights = {w.name: w for w in model.graph.initializer}
    shared = [n for n in model.graph.node if n.op_type == 'Identity' and n.input[0] in weights]
    for node in shared:
        copy = numpy_helper.to_array(weights[node.input[0]])
        model.graph.initializer.append(numpy_helper.from_array(copy, node.output[0]))
        model.graph.node.remove(node)
    return len(shared)


@dataclass
class ExportInfo:
    path: str
    seconds: float
    megabytes: float
    shape: Tuple[int, int]


def export(graph: nn.Module, path: str, shape: Tuple[int, int],
           meta: Optional[Dict[str, str]] = None) -> ExportInfo:
    """Trace ``graph`` at ``shape`` and write ``path`` (opset :data:`OPSET`),
    checked with ``onnx.checker``; ``meta`` goes into metadata_props."""
    import onnx

    inputs = example_inputs(graph, shape)
    names_in, names_out, axes = io_spec(graph)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # the tracer warns at every int() of a size inside our autograd
        # functions; the graph holds their ONNX nodes, not the numbers
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', category=UserWarning)
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        with matrix_adaptive_pools(graph), torch.no_grad():
            torch.onnx.export(graph, inputs, path, dynamo=False, opset_version=OPSET,
                              input_names=names_in, output_names=names_out,
                              dynamic_axes=axes, do_constant_folding=True)
    model = onnx.load(path)
    inline_shared_initializers(model)
    onnx.checker.check_model(model)
    for key, value in (meta or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return ExportInfo(path, time.perf_counter() - start, osp.getsize(path) / 2**20, shape)
