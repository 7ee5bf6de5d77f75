"""Measuring backbones: builders for the models we compare, timers, peak memory,
operation counts.

Used by ``tools/analysis_tools/benchmark.py``; kept importable so that measurements can be
scripted. Every number is measured, never estimated: latency is the median of
timed repeats after warm-up (CUDA events on a GPU), peak memory is the most
tensor memory a call allocates on top of what existed before it (CUDA
allocator statistics on a GPU, the profiler's allocation events on the CPU).
"""
from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmfastervit.models import PyramidBackbone

SWIN = {  # mmdet's Swin configs (configs/swin/*): embed dims, depths, heads
    't': (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    's': (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    'b': (128, (2, 2, 18, 2), (4, 8, 16, 32)),
}
CONVNEXT = {'t': 'convnext_tiny', 's': 'convnext_small', 'b': 'convnext_base'}
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


@dataclass
class Timing:
    """Latencies (seconds) of repeated calls."""

    samples: List[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> Tuple[float, float]:
        return min(self.samples), max(self.samples)


@dataclass
class Measurement:
    model: str
    size: Tuple[int, int]
    batch: int
    dtype: str
    threads: int
    mode: str
    timing: Timing
    peak_mb: Optional[float] = None
    notes: Dict[str, str] = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        return self.batch / self.timing.median


# --------------------------------------------------------------- models
def ours_prefixes() -> Tuple[str, ...]:
    """``('fastervit-', 'litv2-', ...)``: how our models' benchmark names start,
    one prefix per registered family."""
    return tuple(f'{cls.benchmark_name()}-' for cls in PyramidBackbone.families().values())


def build_ours(name: str, window_size: Optional[Sequence[int]] = None,
               **kwargs) -> nn.Module:
    """One of our backbones by benchmark name, ``<family>-<arch>[-<option>]``:
    ``fastervit-2`` (with optional FasterViT windows), ``litv2-s``, ``litv2-s-dcn``
    (an option of the family's ``name_options``); random weights, no drop
    path; ``window_size`` for the families that take it. Every registered
    family is known here."""
    prefix, _, arch = name.partition('-')
    family = next((cls for cls in PyramidBackbone.families().values()
                   if cls.benchmark_name() == prefix), None)
    if family is None or not arch:
        raise ValueError(f'unknown model {name!r}')
    arch, _, option = arch.partition('-')
    if option:
        if option not in family.name_options:
            raise ValueError(f'unknown model {name!r}: {family.__name__} options are '
                             f'{sorted(family.name_options) or "none"}')
        kwargs.update(family.name_options[option])
    if window_size is not None and 'window_size' in family.arch_overrides:
        kwargs['window_size'] = window_size  # the families that have windows
    return family(arch, drop_path_rate=0.0, **kwargs)


class CompiledForInference(nn.Module):
    """``module`` under ``torch.compile`` (inductor, one static graph per input
    shape) with inductor's *freezing* switched on around each call: without
    autograd, the weights become constants of the graph, batch norms fold and
    oneDNN gets its linear and convolution weights prepacked once, in the
    autocast dtype (bf16 included). The first call of each shape compiles
    (about a minute for FasterViT-2 on two cores); frozen weights do not follow
    later changes of the module's parameters."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.compiled = torch.compile(module, dynamic=False)

    def forward(self, x: Tensor):
        import torch._inductor.config as inductor_config
        with inductor_config.patch(freezing=True):
            return self.compiled(x)


def synthetic_pictures(count: int = 4, size: Tuple[int, int] = (384, 512)) -> List[Tensor]:
    """``count`` synthetic COCO pictures (the suite's data set) as a loaded
    image reaches an exported model: ``(1, 3, H, W)`` float, 0..255, BGR."""
    import numpy as np

    from mmfastervit.datasets.synthetic_coco import render_image
    rng = np.random.default_rng(0)
    images = [np.asarray(render_image(rng, *size)[0], dtype=np.float32) for _ in range(count)]
    return [torch.from_numpy(i[..., ::-1].copy()).permute(2, 0, 1)[None] for i in images]


def synthetic_calibration(count: int = 4, size: Tuple[int, int] = (384, 512)) -> List[Tensor]:
    """:func:`synthetic_pictures` in RGB normalised with ImageNet's mean and
    std as the detectors' preprocessor does: ``(1, 3, H, W)`` each,
    calibration inputs of an int8 backbone."""
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    return [(p.flip(1) - mean) / std for p in synthetic_pictures(count, size)]


def ort_session(path: str, threads: int):
    """ONNX Runtime on the CPU with ``threads`` threads (all graph
    optimisations, ORT's default)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def export_backbone(model: nn.Module, path: str) -> None:
    """``model`` to ONNX as the README's Deploy section does (TorchScript
    exporter, dynamic batch, height and width; traced at 2x3x224x288), each
    user of a shared weight given its copy (``inline_shared_initializers``)."""
    names = [f'out{i}' for i in range(len(model.out_indices))]
    axes = {'x': {0: 'batch', 2: 'height', 3: 'width'}}
    axes.update({n: {0: 'batch', 2: f'h{i}', 3: f'w{i}'} for i, n in enumerate(names)})
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model.eval(), (torch.randn(2, 3, 224, 288),), path, dynamo=False,
                          input_names=['x'], output_names=names, dynamic_axes=axes)
    # random weights share equal parameters (zero biases), which int8 would not fuse
    import onnx

    from mmfastervit.export.driver import inline_shared_initializers
    graph = onnx.load(path)
    if inline_shared_initializers(graph):
        onnx.save(graph, path)


class OrtBackbone:
    """A backbone exported once to ONNX (TorchScript exporter, dynamic batch,
    height and width; traced at 2x3x224x288) and run by ONNX Runtime on the
    CPU with ``threads`` threads: ``(B, 3, H, W)`` tensor -> tuple of tensors.
    ``int8_calibration`` > 0: the file quantized by
    :mod:`mmfastervit.export.quantize`, calibrated on that many
    :func:`synthetic_calibration` pictures."""

    def __init__(self, model: nn.Module, path: str, threads: int,
                 int8_calibration: int = 0) -> None:
        export_backbone(model, path)
        if int8_calibration:
            from mmfastervit.export.quantize import quantize
            fp32, path = path, path.removesuffix('.onnx') + '.int8.onnx'
            quantize(fp32, path, ({'x': x.numpy()}
                                  for x in synthetic_calibration(int8_calibration)))
        self.session = ort_session(path, threads)

    def __call__(self, x: Tensor):
        return tuple(torch.from_numpy(o) for o in self.session.run(None, {'x': x.numpy()}))


class OVBackbone:
    """A backbone exported as for :class:`OrtBackbone` and compiled by
    OpenVINO on the CPU with ``threads`` threads at ``precision`` ('f32',
    'bf16'; 'int8': quantized by NNCF on ``int8_calibration``
    :func:`synthetic_calibration` pictures, the float rest at OpenVINO's
    default): ``(B, 3, H, W)`` tensor -> tuple of tensors."""

    def __init__(self, model: nn.Module, path: str, threads: int, precision: str,
                 int8_calibration: int = 4) -> None:
        from mmfastervit.export.ov_runtime import OVSession
        if not os.path.isfile(path):
            export_backbone(model, path)
        if precision == 'int8':
            from mmfastervit.export.ov_quantize import quantize_openvino
            fp32, path = path, path.removesuffix('.onnx') + '.ov-int8.xml'
            quantize_openvino(fp32, path, ({'x': x.numpy()}
                                           for x in synthetic_calibration(int8_calibration)))
        self.session = OVSession(path, 'default' if precision == 'int8' else precision,
                                 threads)

    def __call__(self, x: Tensor):
        return tuple(torch.from_numpy(o) for o in self.session.run(None, {'x': x.numpy()}))


class ExportedPredictor:
    """A whole detector / segmentor as ``tools/deployment/export_onnx.py``
    writes it (one graph: the resized image in, detections or the class map
    out; written to ``path`` once, traced at ``shape``), run by ``runtime``:
    ``ort`` / ``ort-int8`` ONNX Runtime (int8: QDQ), ``ov`` / ``ov-bf16`` /
    ``ov-int8`` OpenVINO f32, bf16, int8 (NNCF); int8 files are calibrated on
    ``int8_calibration`` :func:`synthetic_pictures` of ``shape``.
    ``(1, 3, H, W)`` float image (0..255, BGR) -> the file's outputs."""

    RUNTIMES = ('ort', 'ort-int8', 'ov', 'ov-bf16', 'ov-int8')

    def __init__(self, cfg, model: nn.Module, runtime: str, path: str,
                 shape: Tuple[int, int], threads: int, int8_calibration: int = 4) -> None:
        from mmfastervit.export import driver
        if runtime not in self.RUNTIMES:
            raise ValueError(f'unknown runtime {runtime!r}; choose from {self.RUNTIMES}')
        self.runtime, self.segmentor = runtime, cfg.default_scope == 'mmseg'
        if not os.path.isfile(path):
            graph = driver.build_graph(model.cpu(), cfg.default_scope)
            with contextlib.redirect_stdout(io.StringIO()):
                driver.export(graph, path, shape,
                              driver.metadata(cfg, graph, 'benchmark', None))
        if runtime.endswith('int8'):
            feeds = [self.feed(p) for p in synthetic_pictures(int8_calibration, shape)]
            stem = path.removesuffix('.onnx')
            if runtime == 'ort-int8':
                from mmfastervit.export.quantize import quantize
                path = quantize(path, stem + '.int8.onnx', feeds).path
            else:
                from mmfastervit.export.ov_quantize import quantize_openvino
                path = quantize_openvino(path, stem + '.ov-int8.xml', feeds).path
        #: the dtype of the weight layers, for the report
        self.dtype = {'ov-bf16': 'bf16'}.get(runtime, 'int8' if runtime.endswith('int8')
                                             else 'fp32')
        if runtime.startswith('ort'):
            self.session, self.precision = ort_session(path, threads), None
        else:
            from mmfastervit.export.ov_runtime import OVSession
            precision = {'ov': 'f32', 'ov-bf16': 'bf16', 'ov-int8': 'default'}[runtime]
            self.session = OVSession(path, precision, threads)
            #: what OpenVINO runs the float operations in
            self.precision = self.session.precision

    def feed(self, image: Tensor) -> dict:
        import numpy as np
        feed = {'image': image.float().numpy()}
        if self.segmentor:
            feed['out_size'] = np.asarray(image.shape[-2:], dtype=np.int64)
        return feed

    def __call__(self, image: Tensor):
        return self.session.run(None, self.feed(image))


def ort_gemm_ceiling(threads: int, m: int = 6400, k: int = 384, n: int = 1536,
                     repeat: int = 5) -> Dict[str, float]:
    """What ONNX Runtime's CPU matrix product reaches here, in G(FL)OP/s
    (2 per multiply-add): ``fp32`` a MatMul, ``int8`` the same MatMul with
    QDQ uint8 activations and int8 weights (run as an integer GEMM), of the
    MLPs' shape (6400 tokens x 384 -> 1536)."""
    import tempfile

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.standard_normal((k, n)).astype(np.float32)
    x = rng.standard_normal((m, k)).astype(np.float32)
    q = [numpy_helper.from_array(np.array(v, dtype=t), name) for name, v, t in (
        ('xs', 0.05, np.float32), ('xz', 128, np.uint8), ('ws', [0.02] * n, np.float32),
        ('wz', [0] * n, np.int8))]
    qweight = numpy_helper.from_array(np.clip(weight / 0.02, -127, 127).astype(np.int8), 'wq')
    graphs = {
        'fp32': helper.make_graph(
            [helper.make_node('MatMul', ['x', 'w'], ['y'])], 'fp32',
            [helper.make_tensor_value_info('x', TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info('y', TensorProto.FLOAT, [m, n])],
            [numpy_helper.from_array(weight, 'w')]),
        'int8': helper.make_graph(
            [helper.make_node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
             helper.make_node('DequantizeLinear', ['xq', 'xs', 'xz'], ['xd']),
             helper.make_node('DequantizeLinear', ['wq', 'ws', 'wz'], ['wd'], axis=1),
             helper.make_node('MatMul', ['xd', 'wd'], ['y'])], 'int8',
            [helper.make_tensor_value_info('x', TensorProto.FLOAT, [m, k])],
            [helper.make_tensor_value_info('y', TensorProto.FLOAT, [m, n])],
            [qweight, *q]),
    }
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dtype, graph in graphs.items():
            path = os.path.join(tmp, f'{dtype}.onnx')
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)]),
                      path)
            session = ort_session(path, threads)
            timing = time_calls(lambda s=session: s.run(None, {'x': x}), torch.device('cpu'),
                                2, repeat)
            rates[dtype] = 2 * m * k * n / timing.median / 1e9
    return rates


def build_swin(size: str) -> nn.Module:
    from mmdet.models.backbones import SwinTransformer
    dims, depths, heads = SWIN[size]
    model = SwinTransformer(embed_dims=dims, depths=depths, num_heads=heads, window_size=7,
                            out_indices=(0, 1, 2, 3), drop_path_rate=0.0)
    model.eval()  # mmdet's Swin.train() returns None, so not chained
    return model


def build_convnext(size: str) -> nn.Module:
    import timm
    return timm.create_model(CONVNEXT[size], pretrained=False, features_only=True).eval()


class ReferencePair:
    """Our FasterViT and NVIDIA's any-resolution model of the same variant and
    window sizes, holding identical (random) weights. The reference is built
    for one input size at a time, as it must be."""

    #: the benchmark name of ours that ``reference-<arch>`` is paired with
    OURS = 'fastervit-{arch}'

    @classmethod
    def arch_of(cls, name: str) -> Optional[str]:
        """``'fastervit-2'`` -> ``'2'``; None for a model with no reference."""
        prefix = cls.OURS.split('{')[0]
        return name[len(prefix):] if name.startswith(prefix) else None

    def __init__(self, arch: str, window_size: Optional[Sequence[int]] = None, seed: int = 0):
        from mmfastervit.models.fastervit.checkpoint_format import (
            RESOLUTION_BUFFERS,
            convert_official,
        )

        from .reference import build_reference, reference_kwargs

        self.arch = arch
        self.kwargs = reference_kwargs(arch)
        if window_size:
            self.kwargs['window_size'] = list(window_size)
        self._build = build_reference
        seed_model = build_reference([224, 224], seed=seed, **self.kwargs)
        self.weights = {k: v for k, v in seed_model.state_dict().items()
                        if not k.endswith(RESOLUTION_BUFFERS)}
        self.ours = build_ours(self.OURS.format(arch=arch), window_size).eval()
        self.ours.load_state_dict(convert_official(self.weights)[0], strict=False)

    def reference(self, size: Tuple[int, int]) -> nn.Module:
        model = self._build(list(size), **self.kwargs)
        model.load_state_dict(self.weights, strict=False)
        return model.eval()

    def max_abs_diff(self, reference: nn.Module, x: Tensor) -> float:
        """Largest difference of the four stage features (before downsampling)."""
        from .reference import reference_stage_features, stage_features
        pairs = zip(reference_stage_features(reference, x), stage_features(self.ours, x))
        return max((a.float() - b.float()).abs().max().item() for a, b in pairs)


# --------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], device: torch.device, warmup: int,
               repeat: int) -> Timing:
    for _ in range(warmup):
        fn()
    _sync(device)
    samples = []
    for _ in range(repeat):
        if device.type == 'cuda':
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            samples.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
    return Timing(samples)


def module_share(fn: Callable[[], object], model: nn.Module, class_name: str,
                 device: torch.device, repeat: int) -> Optional[float]:
    """Median fraction of one call of ``fn`` spent inside modules of class
    ``class_name`` (timed by forward hooks, in calls of their own so the hooks
    never slow the latency figures); ``None`` if ``model`` has no such module."""
    chosen = [m for m in model.modules() if type(m).__name__ == class_name]
    if not chosen:
        return None
    inside: List[float] = []
    started: Dict[int, float] = {}

    def enter(module, args):
        _sync(device)
        started[id(module)] = time.perf_counter()

    def leave(module, args, output):
        _sync(device)
        inside.append(time.perf_counter() - started.pop(id(module)))

    handles = [h for m in chosen for h in (m.register_forward_pre_hook(enter),
                                           m.register_forward_hook(leave))]
    shares = []
    try:
        for _ in range(repeat):
            inside.clear()
            total = time_calls(fn, device, 0, 1).median
            shares.append(sum(inside) / total)
    finally:
        for handle in handles:
            handle.remove()
    return statistics.median(shares)


def peak_memory_mb(fn: Callable[[], object], device: torch.device) -> float:
    """Peak tensor memory (MiB) that one call of ``fn`` allocates on top of
    what was alive when it started (parameters and inputs are not counted):
    activations, workspaces and, in training, gradients."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - start) / 2**20
    from torch.profiler import ProfilerActivity, profile
    with quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU],
                                        profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]' and e.device_type() == torch.autograd.DeviceType.CPU)
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


@contextlib.contextmanager
def quiet_native_stderr():
    """Hide what C++ libraries write to stderr meanwhile (the profiler's
    Kineto prints `profiler_start` lines no log level turns off)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def autocast(device: torch.device, dtype: str):
    if dtype == 'fp32':
        return nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[dtype])


def forward_fn(model: nn.Module, x: Tensor, device: torch.device, dtype: str,
               kernels: Optional[str] = None):
    """Inference of ``model`` on ``x``; ``kernels`` forces a CPU kernel mode
    ('fused' / 'plain', see ``mmfastervit.set_cpu_kernels``)."""
    from mmfastervit.cpu.dispatch import cpu_kernels

    def run():
        with torch.no_grad(), autocast(device, dtype), \
                (cpu_kernels(kernels) if kernels else nullcontext()):
            return model(x)
    return run


def train_step_fn(model: nn.Module, x: Tensor, device: torch.device, dtype: str):
    """Forward + backward of a backbone (a fixed weighting of all its outputs
    as the loss), gradients cleared before each step."""
    def run():
        model.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            outs = model(x)
        loss = sum(o.float().mean() for o in (outs if isinstance(outs, (list, tuple)) else [outs]))
        loss.backward()
        return loss
    return run


def model_step_fn(model: nn.Module, packed: dict):
    """One training step (loss + backward) of an mmdet/mmseg model on a packed batch."""
    def run():
        model.zero_grad(set_to_none=True)
        data = model.data_preprocessor(packed, training=True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        loss.backward()
        return loss
    return run


def gradients(model: nn.Module) -> Dict[str, Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


# ------------------------------------------------------------ op counts
def sdpa_macs(inputs, outputs) -> int:
    """``scaled_dot_product_attention``: the QK^T and AV multiply-adds."""
    q, k, v = (i.type().sizes() for i in inputs[:3])
    batch = 1
    for d in q[:-2]:
        batch *= d
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def deform_conv2d_macs(inputs, outputs) -> int:
    """``torchvision.ops.deform_conv2d``: the convolution's multiply-adds plus
    4 per sampled value (bilinear interpolation), as mmengine counts
    ``grid_sample`` (so both DTM samplers count the same)."""
    channels = inputs[0].type().sizes()[1]
    out_channels, group_channels, kh, kw = inputs[1].type().sizes()
    b, _, h, w = outputs[0].type().sizes()
    return b * h * w * kh * kw * (out_channels * group_channels + 4 * channels)


#: counters for operations mmengine's FlopAnalyzer does not know
OP_HANDLES = {
    'aten::scaled_dot_product_attention': sdpa_macs,
    'torchvision::deform_conv2d': deform_conv2d_macs,
}


# ------------------------------------------------------- ceilings, profiles
def gemm_ceiling(dtype: str, threads: int, m: int = 6400, k: int = 384, n: int = 1536,
                 repeat: int = 5) -> float:
    """GFLOP/s (2 per multiply-add) of one eager ``(m, k) x (k, n)`` matrix
    product in ``dtype`` on the CPU with ``threads`` threads; the default
    shape is the MLPs' (6400 tokens x 384 -> 1536). Median of ``repeat``."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(m, k, dtype=DTYPES[dtype])
        w = torch.randn(n, k, dtype=DTYPES[dtype])
        with torch.no_grad():
            timing = time_calls(lambda: torch.nn.functional.linear(a, w), torch.device('cpu'),
                                2, repeat)
    finally:
        torch.set_num_threads(previous)
    return 2 * m * k * n / timing.median / 1e9


#: operator kinds of a profile, by the name of the ATen / oneDNN operator
OP_KINDS = (
    ('matrix products', ('linear', 'addmm', 'mm', 'bmm', 'matmul', 'conv', 'convolution')),
    ('attention (SDPA)', ('scaled_dot_product', '_flash_attention')),
    ('norms', ('layer_norm', 'batch_norm', 'group_norm')),
    ('gathers / scatters', ('index', 'gather', 'scatter', 'masked')),
    ('copies, casts, padding', ('copy_', 'cat', 'clone', 'contiguous', 'pad', 'fill_',
                                'zero_', 'repeat', '_to_copy', 'stack')),
    ('bilinear sampling (DTM)', ('grid_sampler',)),
    ('elementwise', ('add', 'mul', 'div', 'sub', 'gelu', 'relu', 'sigmoid', 'sum', 'mean',
                     'clamp', 'exp', 'softmax', 'sqrt', 'rsqrt', 'pool')),
)


def op_kind(name: str) -> str:
    """The kind (a first element of :data:`OP_KINDS`, or 'other') of an
    operator such as ``aten::addmm`` or ``mkldnn::_linear_pointwise``."""
    op = name.split('::')[-1]
    for kind, keys in OP_KINDS:
        if any(key in op for key in keys):
            return kind
    return 'other'


def op_profile(fn: Callable[[], object]) -> Dict[str, float]:
    """Where one call of ``fn`` spends its time: self CPU time (seconds)
    per operator kind (:func:`op_kind`), from torch's profiler (one extra
    call; ``fn`` should be warmed up)."""
    from torch.profiler import ProfilerActivity, profile

    with quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    kinds: Dict[str, float] = {}
    for event in prof.key_averages():
        if event.key.startswith(('aten::', 'mkldnn::')):
            kind = op_kind(event.key)
            kinds[kind] = kinds.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    return kinds


#: a detector's / segmentor's parts, in the order predict runs them (dotted
#: paths; a cascade's list of heads counts as one part)
PREDICT_PARTS = ('backbone', 'neck', 'rpn_head', 'bbox_head', 'decode_head', 'auxiliary_head',
                 'roi_head.bbox_roi_extractor', 'roi_head.bbox_head',
                 'roi_head.mask_roi_extractor', 'roi_head.mask_head')
NMS = "NMS (mmcv's nms)"
OTHER = 'other (preprocessing, decoding, pasting, top-k)'


@contextlib.contextmanager
def part_timer(model: nn.Module, parts: Sequence[str] = PREDICT_PARTS) -> Iterator[Dict]:
    """Inside the ``with`` block, the wall time (seconds) of every call of
    each part's forward is added to the yielded dict under the part's path,
    and mmcv's NMS calls under :data:`NMS` (they run outside the parts)."""
    import importlib
    spent: Dict[str, float] = {}
    handles = []
    for path in parts:
        module = model
        for name in path.split('.'):
            module = getattr(module, name, None)
        if not isinstance(module, nn.Module):
            continue
        for part in (list(module) if isinstance(module, nn.ModuleList) else [module]):
            started = []
            handles.append(part.register_forward_pre_hook(
                lambda *_, started=started: started.append(time.perf_counter())))
            handles.append(part.register_forward_hook(
                lambda *_, started=started, path=path: spent.__setitem__(
                    path, spent.get(path, 0.0) + time.perf_counter() - started.pop())))
    nms_module = importlib.import_module('mmcv.ops.nms')
    original = nms_module.NMSop.apply

    def timed_nms(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[NMS] = spent.get(NMS, 0.0) + time.perf_counter() - start
    nms_module.NMSop.apply = timed_nms
    try:
        yield spent
    finally:
        nms_module.NMSop.apply = original
        for handle in handles:
            handle.remove()


def predict_breakdown(model: nn.Module, predict: Callable[[], object],
                      repeat: int = 3) -> Dict[str, float]:
    """Where a whole model's predict spends its time: per part
    (:data:`PREDICT_PARTS`, RoIAlign inside the RoI extractors), NMS, and
    the rest (:data:`OTHER`), each the median over ``repeat`` calls (seconds,
    CPU; ``predict`` warmed up). Keys in the order predict runs them, then
    ``'total'``."""
    runs = []
    for _ in range(repeat):
        with part_timer(model) as spent:
            start = time.perf_counter()
            predict()
            total = time.perf_counter() - start
        spent[OTHER] = total - sum(spent.values())
        spent['total'] = total
        runs.append(spent)
    keys = list(dict.fromkeys(k for run in runs for k in run))
    return {k: statistics.median(run.get(k, 0.0) for run in runs) for k in keys}


def relative_errors(got: Sequence[Tensor], want: Sequence[Tensor]) -> List[float]:
    """``||got - want|| / ||want||`` per output (stage), in fp32."""
    return [float((g.float() - w.float()).norm() / w.float().norm().clamp_min(1e-12))
            for g, w in zip(got, want)]
