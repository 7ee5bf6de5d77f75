"""Export a whole mmdet detector or mmseg segmentor to ONNX, and check it.

    python tools/deployment/export_onnx.py CONFIG [CHECKPOINT] --out model.onnx
        [--shape H W] [--cfg-options k=v ...]
        [--verify [IMAGE ...]] [--verify-only] [--int8 --calib DIR [--keep-float PART ...]]
        [--openvino [f32 bf16 int8]]

The file runs in stock ONNX Runtime at any height and width (standard ops
only). Detectors (Cascade Mask R-CNN, Mask R-CNN, Faster R-CNN): input
``image`` (1, 3, H, W) -> ``boxes``, ``scores``, ``labels``, ``masks`` (RoI
resolution; ``mmfastervit.export.detections_to_image`` pastes them into the
original image). Segmentors (EncoderDecoder, whole-image): ``image``
(B, 3, H, W) and ``out_size`` (2,) -> ``seg_map``. ``image`` is the test
pipeline's resized image as float32 0..255 in loading (BGR) channel order.

``--verify`` runs PyTorch and ONNX Runtime on the images (default: the first
three of the config's test set) and prints their differences; the exit code
is 1 when one is outside tolerance. ``--verify-only`` checks an existing file.

``--int8 --calib DIR`` also writes ``<out>.int8.onnx`` (or ``--int8-out``):
ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8
activations) calibrated on the images of DIR through the test pipeline;
``--keep-float`` names the parts left fp32 (default: attention products,
carrier tokens, position MLPs; ``none`` quantizes them too). With
``--verify`` the int8 file is compared with the fp32 one on the same images
(reported, not judged against the fp32 tolerance). ``--evaluate`` scores the
file(s) on the config's test set with its own evaluator (mAP, mIoU).

``--openvino`` also compiles the file with OpenVINO on the CPU, at f32, bf16
(CPUs with bf16 units) and int8 (NNCF post-training quantization on
``--calib``, written to ``<out without .onnx>.ov-int8.xml``, the same parts
kept float); named with no precision: f32, and bf16 where the CPU has it.
The whole model runs in OpenVINO (NMS and RoiAlign included). ``--verify``
and ``--evaluate`` then report each precision, named; OpenVINO f32 is held
to the fp32 tolerance (exit code), bf16 and int8 are reported.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))  # a checkout

from mmengine.config import DictAction  # noqa: E402

from mmfastervit.cli import main_guard  # noqa: E402
from mmfastervit.errors import ConfigError  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='mmdet or mmseg config file')
    parser.add_argument('checkpoint', nargs='?',
                        help='trained weights (without: random weights, to try the export)')
    parser.add_argument('--out', required=True, help='ONNX file to write (or check)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='size the graph is traced at (the file runs at any size); '
                        'default: a square of the test Resize scale\'s short side')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    parser.add_argument('--verify', nargs='*', metavar='IMAGE',
                        help='compare PyTorch and ONNX Runtime on these images (none given: '
                        'the first 3 of the config\'s test set)')
    parser.add_argument('--verify-only', action='store_true',
                        help='do not export: verify the existing --out file')
    parser.add_argument('--evaluate', nargs='?', type=int, const=0, metavar='N',
                        help='score the file(s) on the config\'s test set (its first N '
                        'images) with the config\'s test_evaluator')
    parser.add_argument('--int8', action='store_true',
                        help='also write an int8 (QDQ) file calibrated on --calib')
    parser.add_argument('--calib', metavar='DIR',
                        help='folder of calibration images (the data the model will see)')
    parser.add_argument('--calib-count', type=int, default=16, metavar='N',
                        help='use at most N calibration images (default 16)')
    parser.add_argument('--int8-out', help='int8 file (default: <out without .onnx>.int8.onnx)')
    parser.add_argument('--keep-float', nargs='+', metavar='PART',
                        help='parts left fp32 in the int8 file: attention carrier position, '
                        'or none (default: all three)')
    parser.add_argument('--openvino', nargs='*', metavar='PRECISION',
                        help='also run the file in OpenVINO at these precisions: f32 bf16 int8 '
                        '(int8: NNCF, needs --calib; none named: f32, and bf16 where the CPU '
                        'has bf16 units)')
    return parser.parse_args(argv)


def int8_options(args, flag='--int8'):
    """(calibration images, int8 path, parts kept fp32) of ``--int8``, checked."""
    from mmfastervit.export.quantize import KEEP_FLOAT, calibration_images
    if not args.calib:
        raise ConfigError(f'{flag} needs --calib DIR: a folder of images to calibrate on')
    keep = tuple(KEEP_FLOAT) if args.keep_float is None else tuple(
        p for p in args.keep_float if p != 'none')
    unknown = [p for p in keep if p not in KEEP_FLOAT]
    if unknown:
        raise ConfigError(f'--keep-float {unknown[0]!r}: choose from '
                          f'{", ".join(KEEP_FLOAT)} or none')
    images = calibration_images(args.calib, args.calib_count)
    stem = args.out[:-5] if args.out.endswith('.onnx') else args.out
    return images, args.int8_out or stem + '.int8.onnx', keep


def openvino_precisions(args):
    """The OpenVINO precisions of ``--openvino``, checked (None: not asked)."""
    if args.openvino is None:
        return None
    from mmfastervit.export import ov_runtime
    if not args.openvino:
        return ['f32'] + (['bf16'] if ov_runtime.has_bf16() else [])
    unknown = [p for p in args.openvino if p not in ('f32', 'bf16', 'int8')]
    if unknown:
        raise ConfigError(f'--openvino {unknown[0]!r}: choose from f32 bf16 int8')
    if 'bf16' in args.openvino and not ov_runtime.has_bf16():
        raise ConfigError('--openvino bf16: this CPU has no bf16 units (AVX512-BF16 or AMX); '
                          'use f32 or int8')
    if 'int8' in args.openvino:
        int8_options(args, '--openvino int8')
    return list(dict.fromkeys(args.openvino))


def openvino_files(args, cfg, precisions):
    """``[(precision, session)]`` for ``--openvino`` (int8: quantized first)."""
    from mmfastervit.export.ov_runtime import OVSession
    sessions = []
    for precision in precisions:
        path = args.out
        if precision == 'int8':
            from mmfastervit.export.ov_quantize import ALSO_FLOAT, quantize_openvino
            from mmfastervit.export.quantize import calibration_feeds
            images, _, keep = int8_options(args, '--openvino int8')
            stem = args.out[:-5] if args.out.endswith('.onnx') else args.out
            path = stem + '.ov-int8.xml'
            info = quantize_openvino(args.out, path, calibration_feeds(cfg, images), keep)
            print(f'wrote {info.path} ({info.megabytes:.1f} MB) in {info.seconds:.1f} s: '
                  f'OpenVINO int8 (NNCF), {info.quantized} weight layers int8, '
                  f'{info.kept_float} float ({", ".join((*keep, *ALSO_FLOAT))}), calibrated on '
                  f'{info.calibration_inputs} images of {args.calib}', flush=True)
        session = OVSession(path, 'default' if precision == 'int8' else precision)
        sessions.append((precision, session))
        print(f'OpenVINO {precision}: {path} compiled for the CPU, running '
              f'{precision if precision != "int8" else "int8 with " + session.precision} '
              f'(INFERENCE_PRECISION_HINT {session.precision})', flush=True)
    return sessions


def default_shape(cfg):
    """A square of the test pipeline's Resize scale's short side, else 512."""
    from mmfastervit.export.verify import test_pipeline_steps
    for step in test_pipeline_steps(cfg):
        scale = step.get('scale')
        if step['type'] == 'Resize' and isinstance(scale, (tuple, list)) and len(scale) == 2:
            return (min(scale), min(scale))
    return (512, 512)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmfastervit.export import driver

    cfg = driver.load_config(args.config, args.cfg_options)
    if args.verify_only:
        if not osp.isfile(args.out):
            raise ConfigError(f'--verify-only: {args.out!r} does not exist (export it first)')
        if args.verify is None:
            args.verify = []
    if args.calib and not (args.int8 or 'int8' in (args.openvino or ())):
        raise ConfigError('--calib is for --int8 (add --int8 to write an int8 file)')
    int8 = int8_options(args) if args.int8 else None
    ov_precisions = openvino_precisions(args)
    model = driver.build_model(cfg, args.checkpoint)
    if args.checkpoint is None:
        print('no checkpoint: exporting randomly initialised weights', flush=True)
    graph = driver.build_graph(model, cfg.default_scope)
    if not args.verify_only:
        shape = tuple(args.shape) if args.shape else default_shape(cfg)
        info = driver.export(graph, args.out, shape,
                             driver.metadata(cfg, graph, args.config, args.checkpoint))
        print(f'wrote {info.path} ({info.megabytes:.1f} MB) in {info.seconds:.1f} s, traced at '
              f'{shape[0]}x{shape[1]}; inputs: {", ".join(driver.io_spec(graph)[0])}; '
              f'outputs: {", ".join(graph.output_names)}', flush=True)
    if int8 is not None:
        from mmfastervit.export.quantize import calibration_feeds, quantize
        images, int8_path, keep = int8
        info = quantize(args.out, int8_path, calibration_feeds(cfg, images), keep)
        print(f'wrote {info.path} ({info.megabytes:.1f} MB) in {info.seconds:.1f} s: '
              f'{info.quantized} weight layers int8, {info.kept_float} fp32 '
              f'({", ".join(keep) or "none kept"}), calibrated on {info.calibration_inputs} '
              f'images of {args.calib}', flush=True)
    ov = openvino_files(args, cfg, ov_precisions) if ov_precisions else []
    if args.evaluate is not None:
        from mmengine.logging import MMLogger

        from mmfastervit.cli.console import quiet_library_records
        from mmfastervit.export.evaluate import evaluate_file
        quiet_library_records(MMLogger.get_current_instance())
        for path in [args.out] + ([int8[1]] if int8 else []):
            metrics = evaluate_file(cfg, path, args.evaluate or None)
            print(f'test set metrics of {path}: '
                  + ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()), flush=True)
        for precision, session in ov:
            metrics = evaluate_file(cfg, session.path, args.evaluate or None, session)
            print(f'test set metrics of {session.path} in OpenVINO {precision}: '
                  + ', '.join(f'{k} {v:.4f}' for k, v in metrics.items()), flush=True)
    if args.verify is None:
        return 0
    from mmfastervit.export.verify import TOLERANCE_TEXT, test_images, verify
    images = args.verify or test_images(cfg, 3)
    if not images:
        raise ConfigError('--verify found no images: name some after --verify')
    missing = [p for p in images if not osp.isfile(p)]
    if missing:
        raise ConfigError(f'--verify: image {missing[0]!r} does not exist')
    results = verify(cfg, model, args.out, images)
    failed = sum(not r.ok for r in results)
    print(f'verification: {len(results) - failed}/{len(results)} images within tolerance '
          f'({TOLERANCE_TEXT})')
    if int8 is not None:
        from mmfastervit.export.verify import compare_files
        print(f'int8 against fp32 ({int8[1]} vs {args.out}; reported, the exit code is '
              'the fp32 check\'s):')
        close = sum(c.ok for c in compare_files(cfg, args.out, int8[1], images))
        print(f'int8: {close}/{len(images)} images within the fp32 tolerance of the fp32 file')
    for precision, session in ov:
        print(f'OpenVINO {precision} against PyTorch fp32'
              + (':' if precision == 'f32' else ' (reported; the exit code is fp32\'s):'))
        results = verify(cfg, model, session.path, images, session=session,
                         sides=('torch', f'openvino-{precision}'))
        close = sum(r.ok for r in results)
        print(f'OpenVINO {precision}: {close}/{len(results)} images within the fp32 tolerance')
        failed += (len(results) - close) if precision == 'f32' else 0
    return 1 if failed else 0


if __name__ == '__main__':
    main_guard(lambda: sys.exit(main()))
