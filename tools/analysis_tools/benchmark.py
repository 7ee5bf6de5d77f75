"""Benchmark FasterViT and LITv2 against NVIDIA's FasterViT, Swin and ConvNeXt.

Inference (default): median latency, images/s and peak memory of backbone forward
passes (and, with ``--config``, of the whole model's prediction) for every model x
input size x batch x dtype x thread count, all in one
process on the same inputs. ``fastervit-N`` is ours, ``reference-N`` NVIDIA's
any-resolution model of the same variant and windows with identical weights (the
max-abs difference of their stage features is reported), ``litv2-{s,m,b}`` ours
(its deformable downsampling by grid_sample; ``litv2-s-dcn`` by torchvision's
deform_conv2d kernel), ``swin-{t,s,b}`` mmdet's Swin, ``convnext-{t,s,b}``
timm's ConvNeXt (features_only); ``-compiled`` after any of them: that model under
torch.compile (inductor, with freezing: weights folded in and prepacked, one graph
per input shape); ``fastervit-N-ort`` / ``litv2-X-ort`` ours exported to ONNX (one
file for every size) and run by ONNX Runtime (the max-abs difference from eager
PyTorch is reported; a first line gives ONNX Runtime's fp32 and int8 GEMM ceiling),
``-ort-int8`` the same file quantized to int8 (QDQ, calibrated on synthetic COCO
pictures; the worst stage's cosine to eager is reported too); ``-ov``, ``-ov-bf16``,
``-ov-int8`` the same file compiled by OpenVINO in f32, bf16, and int8 quantized by
NNCF (the relative error of each stage against eager fp32 and the precision OpenVINO
reports are given); ``-fused`` / ``-plain`` force a CPU kernel mode. With
``--config``, ``--runtimes ort ort-int8 ov ov-bf16 ov-int8`` adds rows of the whole
model exported as ``tools/deployment/export_onnx.py`` writes it, in those runtimes.

    python tools/analysis_tools/benchmark.py --models fastervit-2 reference-2 litv2-s \
        litv2-m swin-t convnext-t --sizes 800x1216 1600x2432 --threads 2 \
        --out-dir work_dirs/benchmark

``--share CLASS ...`` adds, for each model that has modules of a class (e.g.
``DeformableTokenMerging``, ``HiLo``), the median share of a forward spent in them.

Training (``--mode train``): one forward+backward step of the backbone with and
without ``with_cp`` (peak memory, and the largest gradient difference), and, with
``--config``, of the whole detector/segmentor of a config.

FLOPs (``--mode flops``): multiply-accumulates (GMACs) and parameters of the
backbone and, with ``--config``, of the whole model, counted by mmengine's
analyzer (plus attention and deformable-conv counters).

Writes ``results.md``, ``results.json`` and ``latency.png`` to ``--out-dir``.
"""
import argparse
import json
import logging
import os
import os.path as osp
import sys
import warnings

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)  # run from a checkout


#: caps that make this CPU use only one vector ISA, in PyTorch's kernels,
#: oneDNN and MKL; each library reads its cap once, when torch loads
ISA_CAPS = {
    'avx2': dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2',
                 MKL_ENABLE_INSTRUCTIONS='AVX2'),
    'avx512': dict(ATEN_CPU_CAPABILITY='avx512', ONEDNN_MAX_CPU_ISA='AVX512_CORE_BF16',
                   MKL_ENABLE_INSTRUCTIONS='AVX512'),
}


def _emulate_isa(argv) -> None:
    """``--isa avx2|avx512``: restart this process with that ISA's caps set."""
    isa = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == '--isa'), None)
    isa = isa or next((a.split('=', 1)[1] for a in argv if a.startswith('--isa=')), None)
    if isa not in ISA_CAPS or os.environ.get('MMFV_BENCH_ISA') == isa:
        return  # native, already restarted, or a bad value argparse will report
    os.environ.update(ISA_CAPS[isa], MMFV_BENCH_ISA=isa)
    os.execv(sys.executable, [sys.executable, *sys.argv])


_emulate_isa(sys.argv[1:])

# The official FasterViT package (the reference) imports timm's deprecated module paths.
warnings.filterwarnings('ignore', message='Importing from timm', category=FutureWarning)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import mmfastervit  # noqa: E402,F401
from benchmarks import harness as bm  # noqa: E402


def parse_size(text: str):
    h, w = text.lower().split('x')
    return int(h), int(w)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--mode', choices=['infer', 'train', 'flops', 'profile'], default='infer',
                   help='profile: where each forward spends its time, by kind of '
                   'operator (matrix products, attention, norms, gathers, copies, ...); '
                   'with --config also where the whole model\'s predict spends it, by part '
                   '(backbone, neck, RPN, RoI extraction, box / mask heads, NMS, the rest)')
    p.add_argument('--models', nargs='+', default=['fastervit-2', 'reference-2', 'swin-t',
                                                  'convnext-t'])
    p.add_argument('--sizes', nargs='+', type=parse_size, default=[(800, 1216)])
    p.add_argument('--batch', nargs='+', type=int, default=[1])
    p.add_argument('--dtypes', nargs='+', choices=sorted(bm.DTYPES), default=['fp32'])
    p.add_argument('--threads', nargs='+', type=int, default=[torch.get_num_threads()])
    p.add_argument('--window-size', type=int, nargs=4, help='FasterViT windows (ours and '
                   'the reference alike); default: the variant\'s own')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--config', help='also measure the whole model of this mmdet/mmseg config')
    p.add_argument('--runtimes', nargs='+', choices=bm.ExportedPredictor.RUNTIMES, default=[],
                   help='with --config: also the whole model exported as '
                   'tools/deployment/export_onnx.py writes it, run by ONNX Runtime (ort, '
                   'ort-int8) or OpenVINO (ov, ov-bf16, ov-int8); rows <config>-<runtime>')
    p.add_argument('--no-memory', action='store_true', help='skip the peak-memory pass')
    p.add_argument('--int8-calib', type=int, default=4, metavar='N',
                   help='-ort-int8, -ov-int8: calibrate on N synthetic COCO pictures '
                   '(default 4)')
    p.add_argument('--share', nargs='+', default=[], metavar='CLASS',
                   help="also report the share of each forward spent in modules of these "
                        "classes, e.g. DeformableTokenMerging HiLo (in extra calls)")
    p.add_argument('--isa', choices=['native', *ISA_CAPS], default='native',
                   help='run as a CPU with only this vector ISA (sets ATEN_CPU_CAPABILITY, '
                   'ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS and restarts)')
    p.add_argument('--allocator', choices=['keep', 'default'], default='keep',
                   help="keep: glibc's malloc keeps freed large buffers for reuse "
                   "(mmfastervit.cpu.keep_freed_memory, as tools/test.py does); default: "
                   "fresh pages for every large buffer")
    p.add_argument('--out-dir', default='work_dirs/benchmark')
    return p.parse_args(argv)


# ----------------------------------------------------------------- models
def split_kernels(name: str):
    """``'fastervit-2-plain'`` -> ``('fastervit-2', 'plain')``: a forced CPU
    kernel mode ('fused' / 'plain'; none: the automatic choice)."""
    for mode in ('fused', 'plain'):
        if name.endswith(f'-{mode}'):
            return name[:-len(mode) - 1], mode
    return name, None


#: ONNX Runtime models: ``-ort`` (fp32), ``-ort-int8`` (int8 QDQ)
ORT_SUFFIXES = ('-ort', '-ort-int8')
#: OpenVINO models: ``-ov`` (f32), ``-ov-bf16``, ``-ov-int8`` (NNCF)
OV_SUFFIXES = ('-ov', '-ov-bf16', '-ov-int8')
EXPORTED = ORT_SUFFIXES + OV_SUFFIXES


def eager_name(name: str) -> str:
    """``'litv2-s-ort-int8'`` -> ``'litv2-s'``: the eager model an exported one is made from."""
    if name.endswith(OV_SUFFIXES):
        return name[:name.rindex('-ov')]
    return name[:name.rindex('-ort')] if name.endswith(ORT_SUFFIXES) else name


def openvino_backbone(models, name, size, threads):
    """The ``-ov*`` model ``name``: the eager one exported once, compiled per precision."""
    os.makedirs(models.args.out_dir, exist_ok=True)
    path = osp.join(models.args.out_dir, f'{eager_name(name)}.onnx')
    precision = {'-ov': 'f32', '-ov-bf16': 'bf16', '-ov-int8': 'int8'}[
        name[name.rindex('-ov'):]]
    return bm.OVBackbone(models.get(eager_name(name), size), path, threads, precision,
                         models.args.int8_calib)


class Models:
    """Builds each requested model once (references: once per input size)."""

    def __init__(self, args, device):
        self.args, self.device = args, device
        self.pairs = {}
        self.built = {}
        self.ort_ceiling_said = False

    def pair(self, arch):
        if arch not in self.pairs:
            self.pairs[arch] = bm.ReferencePair(arch, self.args.window_size)
            self.pairs[arch].ours.to(self.device)
        return self.pairs[arch]

    def ours(self, name):
        """One of our models; the one a requested reference is paired with
        holds the reference's weights."""
        arch = bm.ReferencePair.arch_of(name)
        if arch is not None and f'reference-{arch}' in self.args.models:
            return self.pair(arch).ours
        return bm.build_ours(name, self.args.window_size).eval().to(self.device)

    def get(self, name, size):
        kind, _, rest = name.partition('-')
        if kind == 'reference':
            return self.pair(rest).reference(size).to(self.device)
        if name.endswith(OV_SUFFIXES):  # compiled per thread count, as ORT's sessions
            key = (name, torch.get_num_threads())
            if key not in self.built:
                self.built[key] = openvino_backbone(self, name, size, key[1])
            return self.built[key]
        if name.endswith(ORT_SUFFIXES):  # exported per thread count (the session's threads)
            key = (name, torch.get_num_threads())
            if key not in self.built:
                if not self.ort_ceiling_said:
                    rates = bm.ort_gemm_ceiling(key[1])
                    print(f'# ONNX Runtime GEMM ceiling (6400x384x1536, {key[1]} threads): '
                          f'fp32 {rates["fp32"]:.0f} GFLOP/s, int8 {rates["int8"]:.0f} GOP/s',
                          flush=True)
                    self.ort_ceiling_said = True
                os.makedirs(self.args.out_dir, exist_ok=True)
                path = osp.join(self.args.out_dir, f'{eager_name(name)}.onnx')
                calib = self.args.int8_calib if name.endswith('-int8') else 0
                self.built[key] = bm.OrtBackbone(self.get(eager_name(name), size), path, key[1],
                                                 int8_calibration=calib)
            return self.built[key]
        if name.endswith('-compiled'):  # any model, under torch.compile (inductor, frozen)
            if name not in self.built:
                # inductor's C++ build looks for CUDA and warns on CPU-only machines
                logging.getLogger('torch.utils.cpp_extension').setLevel(logging.ERROR)
                self.built[name] = bm.CompiledForInference(
                    self.get(name.removesuffix('-compiled'), size))
            return self.built[name]
        if name not in self.built:
            if name.startswith(bm.ours_prefixes()):  # -fused / -plain: another kernel mode
                base = split_kernels(name)[0]
                if base not in self.built:
                    self.built[base] = self.ours(base)
                self.built[name] = self.built[base]
            elif kind == 'swin':
                self.built[name] = bm.build_swin(rest).to(self.device)
            elif kind == 'convnext':
                self.built[name] = bm.build_convnext(rest).to(self.device)
            else:
                raise SystemExit(f'error: unknown model {name!r}')
        return self.built[name]


def run_infer(args, device):
    models = Models(args, device)
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for size in args.sizes:
            for batch in args.batch:
                torch.manual_seed(0)
                x = torch.randn(batch, 3, *size, device=device)
                for dtype in args.dtypes:
                    for name in args.models:
                        model = models.get(name, size)
                        fn = bm.forward_fn(model, x, device, dtype, split_kernels(name)[1])
                        timing = bm.time_calls(fn, device, args.warmup, args.repeat)
                        m = bm.Measurement(name, size, batch, dtype, threads, 'forward', timing)
                        if not args.no_memory and not name.endswith(EXPORTED):
                            m.peak_mb = bm.peak_memory_mb(fn, device)
                        for class_name in args.share if isinstance(model, nn.Module) else ():
                            share = bm.module_share(fn, model, class_name, device, args.repeat)
                            if share is not None:
                                m.notes[f'share_{class_name}'] = f'{100 * share:.1f}%'
                        if dtype != 'fp32' and isinstance(model, nn.Module):
                            m.notes['rel_err_vs_fp32'] = _stage_errors(
                                model, x, device, dtype, split_kernels(name)[1])
                        if name.endswith(ORT_SUFFIXES) and dtype == 'fp32':
                            with torch.no_grad():
                                want = models.get(eager_name(name), size)(x)
                            got = model(x)
                            diff = max(float((g - e).abs().max()) for g, e in zip(got, want))
                            m.notes['max_abs_diff_vs_eager'] = f'{diff:.2e}'
                            if name.endswith('-int8'):  # the worst stage's cosine
                                cos = min(float(F.cosine_similarity(g.flatten(), e.flatten(), 0))
                                          for g, e in zip(got, want))
                                m.notes['cosine_vs_eager'] = f'{cos:.5f}'
                        if name.endswith(OV_SUFFIXES) and dtype == 'fp32':
                            m.notes['maxabs_rel_err_vs_eager'] = _exported_errors(
                                models, name, size, model, x)
                            m.notes['openvino_precision'] = model.session.precision
                        if name.startswith('reference-') and dtype == 'fp32':
                            pair = models.pair(name.split('-', 1)[1])
                            m.notes['max_abs_diff_vs_ours'] = (
                                f'{pair.max_abs_diff(model, x[:1]):.2e}')
                        results.append(m)
                        print(row(m), flush=True)
                        if name.startswith('reference-'):
                            del model
    if args.config:
        results += run_config_inference(args, device)
    return results


def _stage_errors(model, x, device, dtype, kernels=None) -> str:
    """Relative error of each output (stage) in ``dtype`` against fp32."""
    with torch.no_grad():
        want = model(x)
        got = bm.forward_fn(model, x, device, dtype, kernels)()
    if isinstance(want, torch.Tensor):
        want, got = (want,), (got,)
    return '/'.join(f'{e:.1e}' for e in bm.relative_errors(got, want))


def _exported_errors(models, name, size, model, x) -> str:
    """Each stage's max-abs difference from eager fp32 over eager's max-abs."""
    with torch.no_grad():
        want = models.get(eager_name(name), size)(x)
    return '/'.join(f'{float((g - e).abs().max() / e.abs().max()):.1e}'
                    for g, e in zip(model(x), want))


def run_profile(args, device):
    """Per model, size and dtype: the share of one forward's operator time
    by kind of operator (torch's profiler, after the warm-up calls)."""
    models = Models(args, device)
    torch.set_num_threads(args.threads[0])
    kinds = [kind for kind, _ in bm.OP_KINDS] + ['other']
    lines = [f'| model | input | dtype | total ms | {" | ".join(kinds)} |',
             '|---|---|---|---|' + '---|' * len(kinds)]
    for size in args.sizes:
        x = torch.randn(args.batch[0], 3, *size, device=device)
        for dtype in args.dtypes:
            for name in args.models:
                model = models.get(name, size)
                fn = bm.forward_fn(model, x, device, dtype, split_kernels(name)[1])
                for _ in range(max(args.warmup, 1)):
                    fn()
                spent = bm.op_profile(fn)
                total = sum(spent.values())
                cells = ' | '.join(f'{100 * spent.get(k, 0) / total:.1f}%' for k in kinds)
                line = (f'| {name} | {size[0]}x{size[1]} | {dtype} | {1e3 * total:.1f} | '
                        f'{cells} |')
                print(line, flush=True)
                lines.append(line)
    return lines


def run_predict_profile(args, device):
    """``--config`` with ``--mode profile``: where the whole model's predict
    spends its time, by part (backbone, neck, RPN, RoI extraction, box and
    mask heads, NMS, the rest), per input size and dtype (bf16: the
    BF16InferenceHook's parts, as ``tools/test.py --bf16``)."""
    from mmfastervit.engine.hooks.bf16_inference import PARTS, bf16_forwards, resolve_parts

    cfg, model = _build_config_model(args.config, device)
    model.eval()
    torch.set_num_threads(args.threads[0])
    name = osp.basename(args.config)
    lines = []
    for size in args.sizes:
        packed = _config_batch(cfg, size, args.batch[0], device)
        for dtype in [d for d in args.dtypes if d in ('fp32', 'bf16')]:
            parts = resolve_parts(model, PARTS) if dtype == 'bf16' else []

            def predict(parts=parts, packed=packed):
                with torch.no_grad(), bf16_forwards(parts, device.type):
                    return model(**model.data_preprocessor(packed, False), mode='predict')
            for _ in range(max(args.warmup, 1)):
                predict()
            spent = bm.predict_breakdown(model, predict, max(1, args.repeat))
            total = spent.pop('total')
            lines += [f'{name}, {size[0]}x{size[1]}, {dtype}: predict {1e3 * total:.0f} ms '
                      f'(median of {max(1, args.repeat)})', '', '| part | ms | share |',
                      '|---|---|---|']
            lines += [f'| {part} | {1e3 * t:.0f} | {100 * t / total:.1f}% |'
                      for part, t in spent.items()]
            lines.append('')
            print('\n'.join(lines[-len(spent) - 5:]), flush=True)
    return lines


def gemm_ceiling_line(args, device) -> str:
    """The eager matrix-product ceiling per requested dtype and thread count."""
    rates = [f'{dtype} {bm.gemm_ceiling(dtype, threads):.0f} GFLOP/s ({threads} threads)'
             for threads in args.threads for dtype in args.dtypes if dtype != 'fp16']
    return '# GEMM ceiling (eager, 6400x384x1536, median of 5): ' + ', '.join(rates)


def run_config_inference(args, device):
    """Whole detector / segmentor of a config: preprocessing + predict, per
    dtype (bf16: what ``tools/test.py --bf16`` runs, BF16InferenceHook's
    parts under autocast; RoIAlign, box decoding and NMS fp32); then the
    same model exported, per ``--runtimes`` (the file takes the resized
    image: normalisation and padding are in it, as in eager's preprocessor)."""
    from mmfastervit.engine.hooks.bf16_inference import PARTS, bf16_forwards, resolve_parts

    cfg, model = _build_config_model(args.config, device)
    model.eval()
    stem = osp.splitext(osp.basename(args.config))[0]
    exported = {}
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for size in args.sizes:
            for batch in args.batch:
                packed = _config_batch(cfg, size, batch, device)
                for dtype in [d for d in args.dtypes if d in ('fp32', 'bf16')]:
                    parts = resolve_parts(model, PARTS) if dtype == 'bf16' else []

                    def predict(packed=packed, parts=parts):
                        with torch.no_grad(), bf16_forwards(parts, device.type):
                            return model(**model.data_preprocessor(packed, False),
                                         mode='predict')

                    m = bm.Measurement(osp.basename(args.config), size, batch, dtype, threads,
                                       'predict', bm.time_calls(predict, device, args.warmup,
                                                                args.repeat))
                    if not args.no_memory:
                        m.peak_mb = bm.peak_memory_mb(predict, device)
                    results.append(m)
                    print(row(m), flush=True)
                if batch != 1 or not args.runtimes:
                    continue  # the exported files take one image (mmdet's test batch)
                image = packed['inputs'][0][None].float()
                for runtime in args.runtimes:
                    key = (runtime, threads)
                    if key not in exported:
                        os.makedirs(args.out_dir, exist_ok=True)
                        exported[key] = bm.ExportedPredictor(
                            cfg, model, runtime, osp.join(args.out_dir, f'{stem}.onnx'), size,
                            threads, args.int8_calib)
                    session = exported[key]
                    m = bm.Measurement(f'{osp.basename(args.config)}-{runtime}', size, 1,
                                       session.dtype, threads, 'predict',
                                       bm.time_calls(lambda s=session, x=image: s(x), device,
                                                     args.warmup, args.repeat))
                    if session.precision:
                        m.notes['openvino_precision'] = session.precision
                    results.append(m)
                    print(row(m), flush=True)
    return results


def run_train(args, device):
    torch.set_num_threads(args.threads[0])
    results = []
    for name in [n for n in args.models if n.startswith(bm.ours_prefixes())]:
        for size in args.sizes:
            torch.manual_seed(0)
            x = torch.randn(args.batch[0], 3, *size, device=device)
            grads = {}
            for with_cp in (False, True):
                torch.manual_seed(0)
                model = bm.build_ours(name, args.window_size, with_cp=with_cp)
                model.to(device).train()
                fn = bm.train_step_fn(model, x, device, args.dtypes[0])
                timing = bm.time_calls(fn, device, 1, max(1, args.repeat // 2))
                m = bm.Measurement(f'{name}{" with_cp" if with_cp else ""}', size,
                                   args.batch[0], args.dtypes[0], args.threads[0],
                                   'train step', timing)
                # the least of 3 profiled steps: a new model's first one reports far
                # more and varies (LITv2-S, 128x160: 72-125 MiB, then 21.7 every time),
                # which made with_cp look larger than without; the later, stable figure
                # is below the gradients' size (108 MiB), so what the profiler leaves
                # out of it is not settled
                m.peak_mb = min(bm.peak_memory_mb(fn, device) for _ in range(3))
                grads[with_cp] = bm.gradients(model)
                if with_cp:
                    base = next(r for r in results if r.model == name and r.size == size)
                    diff = max((grads[True][k] - g).abs().max().item()
                               for k, g in grads[False].items())
                    m.notes['peak_vs_without_cp'] = f'{m.peak_mb / base.peak_mb:.0%}'
                    m.notes['max_grad_diff'] = f'{diff:.1e}'
                results.append(m)
                print(row(m), flush=True)
                del model
    if args.config:
        results += run_config_step(args, device)
    return results


def _build_config_model(path, device):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    if cfg.model.backbone.get('init_cfg'):
        cfg.model.backbone.init_cfg = None  # measuring, not training
    from mmengine.registry import MODELS
    torch.manual_seed(0)  # the same random model in every mode and run
    model = MODELS.build(cfg.model).to(device)
    if device.type == 'cpu':  # as tools/test.py runs it
        from mmfastervit.cpu.roi_align import parallel_roi_align
        parallel_roi_align(model)
    return cfg, model


def _config_batch(cfg, size, batch, device):
    """Inputs and targets for one training step of the config's model."""
    h, w = size
    if cfg.default_scope == 'mmdet':
        from mmdet.testing import demo_mm_inputs
        num_classes = cfg.model.roi_head.bbox_head[0].num_classes \
            if isinstance(cfg.model.roi_head.bbox_head, list) else 80
        return demo_mm_inputs(batch, [[3, h, w]] * batch, num_items=[5] * batch,
                              with_mask=True, num_classes=num_classes)
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, h, w)))
        samples.append(s)
    return dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)] * batch,
                data_samples=samples)


def run_config_step(args, device):
    results = []
    for with_cp in (False, True):
        cfg, model = _build_config_model(args.config, device)
        for stage in model.backbone.stages:
            stage.with_cp = with_cp
        model.train()
        size = args.sizes[0]
        step = bm.model_step_fn(model, _config_batch(cfg, size, args.batch[0], device))
        timing = bm.time_calls(step, device, 1, max(1, args.repeat // 2))
        m = bm.Measurement(f'{osp.basename(args.config)}{" with_cp" if with_cp else ""}',
                           size, args.batch[0], 'fp32', args.threads[0], 'train step', timing)
        m.peak_mb = bm.peak_memory_mb(step, device)
        results.append(m)
        print(row(m), flush=True)
    return results


def run_flops(args, device):
    from mmengine.analysis import FlopAnalyzer, parameter_count

    rows = []
    targets = [(n, None) for n in args.models]
    if args.config:
        targets.append((args.config, 'config'))
    for size in args.sizes:
        x = torch.randn(1, 3, *size, device=device)
        for name, kind in targets:
            if kind == 'config':  # as mmdet's get_flops.py: a preprocessed batch
                cfg, model = _build_config_model(name, device)
                model.eval()
                data = model.data_preprocessor(_config_batch(cfg, size, 1, device), False)
                model.forward = (lambda inputs, f=model._forward, s=data['data_samples']:
                                 f(inputs, s))
                inputs = (data['inputs'],)
            else:
                model = Models(args, device).get(name, size)
                inputs = (x,)
            analyzer = FlopAnalyzer(model, inputs)
            for op, handle in bm.OP_HANDLES.items():
                analyzer.set_op_handle(op, handle)
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            gflops = analyzer.total() / 1e9
            params = parameter_count(model)[''] / 1e6
            rows.append(dict(model=osp.basename(name), size=f'{size[0]}x{size[1]}',
                             gmacs=round(gflops, 2), params_m=round(params, 2)))
            print(f'{osp.basename(name):50s} {size[0]}x{size[1]}  {gflops:8.2f} GMACs  '
                  f'{params:8.2f} M params', flush=True)
    return rows


# ----------------------------------------------------------------- output
def row(m: bm.Measurement) -> str:
    lo, hi = m.timing.spread
    notes = ' '.join(f'{k}={v}' for k, v in m.notes.items())
    peak = f'{m.peak_mb:9.0f}' if m.peak_mb is not None else '        -'
    return (f'{m.model:24s} {m.size[0]:>5d}x{m.size[1]:<5d} b{m.batch} {m.dtype} '
            f't{m.threads} {m.mode:10s} median {m.timing.median * 1e3:9.1f} ms '
            f'[{lo * 1e3:.1f}-{hi * 1e3:.1f}]  {m.images_per_s:7.2f} img/s  '
            f'peak {peak} MiB  {notes}')


def markdown(results, machine: str) -> str:
    lines = [f'Machine: {machine}', '',
             '| model | input | batch | dtype | threads | mode | median ms | min-max ms | '
             'img/s | peak MiB | notes |', '|' + '---|' * 11]
    for m in results:
        lo, hi = m.timing.spread
        notes = ', '.join(f'{k} {v}' for k, v in m.notes.items())
        peak = f'{m.peak_mb:.0f}' if m.peak_mb is not None else '-'
        lines.append(f'| {m.model} | {m.size[0]}x{m.size[1]} | {m.batch} | {m.dtype} | '
                     f'{m.threads} | {m.mode} | {m.timing.median * 1e3:.1f} | '
                     f'{lo * 1e3:.1f}-{hi * 1e3:.1f} | {m.images_per_s:.2f} | {peak} | '
                     f'{notes} |')
    return '\n'.join(lines)


def machine_description(device) -> str:
    if device.type == 'cuda':
        return f'{torch.cuda.get_device_name(device)}, torch {torch.__version__}'
    from mmfastervit.cpu.dispatch import fused_wanted, get_cpu_kernels
    from mmfastervit.cpu.features import cpu_features
    kernels = f'{get_cpu_kernels()}: {"fused" if fused_wanted() else "plain"}'
    from mmfastervit.cpu.allocator import keep_freed_memory
    allocator = 'keeps freed buffers' if keep_freed_memory.cache_info().currsize else 'default'
    return (f'{cpu_features().describe()}; {torch.get_num_threads()} threads, '
            f'torch {torch.__version__}, CPU kernels {kernels}, malloc {allocator}')


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.allocator == 'keep':
        from mmfastervit.cpu import keep_freed_memory
        keep_freed_memory()
    os.makedirs(args.out_dir, exist_ok=True)
    machine = machine_description(device)
    print(f'# {machine}')
    if device.type == 'cpu' and 'bf16' in args.dtypes:
        from mmfastervit.cpu.features import bf16_advice
        advice = bf16_advice()
        if advice:
            print(f'# note: {advice}')
            warnings.filterwarnings('ignore', message='bf16 on this CPU')  # said once above
    if device.type == 'cpu' and args.mode in ('infer', 'profile'):
        print(gemm_ceiling_line(args, device), flush=True)
    if args.mode == 'profile':
        lines = run_profile(args, device)
        if args.config:
            lines += [''] + run_predict_profile(args, device)
        with open(osp.join(args.out_dir, 'profile.md'), 'w') as f:
            f.write('\n'.join([f'Machine: {machine}', ''] + lines) + '\n')
        print('\n' + '\n'.join(lines))
        return 0
    if args.mode == 'flops':
        rows = run_flops(args, device)
        with open(osp.join(args.out_dir, 'flops.json'), 'w') as f:
            json.dump(rows, f, indent=1)
        return 0
    results = run_infer(args, device) if args.mode == 'infer' else run_train(args, device)
    table = markdown(results, machine)
    with open(osp.join(args.out_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    rows = [dict(model=m.model, size=m.size, batch=m.batch, dtype=m.dtype, threads=m.threads,
                 mode=m.mode, samples_s=m.timing.samples, median_ms=m.timing.median * 1e3,
                 peak_mb=m.peak_mb, notes=m.notes) for m in results]
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    if args.mode == 'infer' and len(args.sizes) > 1:
        from tools.analysis_tools.plot_benchmark import plot_latency
        plot_latency([r for r in rows if r['mode'] == 'forward'],
                     osp.join(args.out_dir, 'latency.png'))
    print('\n' + table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
