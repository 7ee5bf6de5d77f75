"""Evaluate a trained mmdet or mmseg checkpoint.

    python tools/test.py CONFIG CHECKPOINT [--out results.pkl] [--show-dir DIR]
        [--tta] [--bf16] [--work-dir DIR] [--data-root DIR] [--no-check-finite]
        [--cfg-options k=v ...] [--launcher pytorch]

Prints the config's metrics (COCO bbox/segm mAP for detection, mIoU/mAcc/aAcc for
segmentation) as one table. Our backbones check that every image is finite
(an image with NaN or inf is named and stops the run); --no-check-finite lets
such values through. --bf16 runs every network part under bf16 autocast
(backbone, neck, a segmentor's heads, a detector's RPN / dense heads and its
RoI box and mask branches) and keeps RoIAlign, box decoding and NMS in fp32
(mmfastervit's BF16InferenceHook: mmcv's CPU NMS and RoIAlign take no bf16); on
CPUs with bf16 units our backbones then run in bf16 end to end. On the CPU a
detector's RoIAlign layers run over every thread (mmfastervit.cpu.roi_align:
mmcv's and torchvision's kernels use one; same values). Multi-GPU:
tools/dist_test.sh.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from mmfastervit.checkpoint import check_checkpoint  # noqa: E402
from mmfastervit.cli import (  # noqa: E402
    add_common_args,
    build_runner,
    checked_config,
    main_guard,
    run,
)
from mmfastervit.cli.preflight import backbone_class, model_backbone  # noqa: E402
from mmfastervit.errors import TRAINED, ConfigError  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector or segmentor')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show-dir', help='save pictures of the predictions in this '
                        'directory (under the run\'s timestamped work dir)')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation (the config\'s tta_model/tta_pipeline)')
    parser.add_argument('--bf16', action='store_true',
                        help='the network parts (backbone, neck, heads\' convolutions and '
                        'linear layers) under bf16 autocast, RoIAlign, box decoding and NMS '
                        'in fp32; fast on CPUs with bf16 units (AMX, AVX512-BF16)')
    parser.add_argument('--no-check-finite', action='store_true',
                        help='let images with NaN or inf through our backbones (by default '
                        'they stop the run, naming the image)')
    add_common_args(parser)
    return parser.parse_args(argv)


def adjust(cfg, args) -> None:
    check_checkpoint(args.checkpoint, 'checkpoint', f'pass {TRAINED}')
    cfg.load_from = args.checkpoint
    if backbone_class(cfg) is not None:
        model_backbone(cfg)['check_finite'] = not args.no_check_finite
    if args.out and not args.out.endswith(('.pkl', '.pickle')):
        raise ConfigError(f'--out must name a .pkl file, got {args.out!r}')
    if args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ConfigError('--show-dir needs default_hooks.visualization in the config')
        hook['draw'] = True
        if cfg.default_scope == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            hook['interval'] = 1
            cfg.visualizer['save_dir'] = args.show_dir
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ConfigError('--tta needs tta_model and tta_pipeline in the config')
        cfg.model = dict(**cfg.tta_model, module=cfg.model)
        dataset = cfg.test_dataloader.dataset
        while 'dataset' in dataset:
            dataset = dataset['dataset']
        dataset.pipeline = cfg.tta_pipeline


def bf16_note() -> None:
    """Say so where this CPU would run bf16 slower than fp32."""
    import torch
    if torch.cuda.is_available():
        return
    from mmfastervit.cpu.features import bf16_advice
    advice = bf16_advice()
    if advice:
        print(f'note: {advice}', file=sys.stderr, flush=True)


def split_roi_align(runner) -> None:
    """On the CPU, run the RoI extractors' RoIAlign over every thread."""
    import torch
    if torch.cuda.is_available():
        return
    from mmfastervit.cpu.roi_align import parallel_roi_align
    count = parallel_roi_align(runner.model)
    if count:
        runner.logger.info(f'RoIAlign: {count} layers run over {torch.get_num_threads()} '
                           'threads (mmfastervit.cpu.roi_align)')


def main(argv=None):
    from mmfastervit.cpu import keep_freed_memory
    from mmfastervit.engine.hooks import BF16InferenceHook, CheckpointFitsModelHook

    args = parse_args(argv)
    keep_freed_memory()  # large maps reuse freed buffers (mmfastervit/cpu/allocator.py)
    cfg, _ = checked_config(args, 'test', lambda cfg: adjust(cfg, args))
    if args.bf16:
        bf16_note()
    runner = build_runner(cfg, args.verbose)
    runner.register_hook(CheckpointFitsModelHook(args.checkpoint, args.config))
    split_roi_align(runner)
    if args.bf16:
        runner.register_hook(BF16InferenceHook())
    if args.out:
        if cfg.default_scope == 'mmdet':
            from mmdet.evaluation import DumpDetResults as Dump
        else:
            from mmengine.evaluator import DumpResults as Dump
        runner.test_evaluator.metrics.append(Dump(out_file_path=args.out))
    run(runner, 'test', '--no-check-finite')


if __name__ == '__main__':
    main_guard(main)
