"""Train an mmdet or mmseg model from a config (FasterViT or any other backbone).

    python tools/train.py configs/cascade_fastervit_t.py [--work-dir DIR] [--amp]
        [--resume [CKPT]] [--data-root DIR] [--cfg-options k=v ...] [--launcher pytorch]

Multi-GPU / multi-node: tools/dist_train.sh. Without GPUs, distributed runs use gloo.
SIGTERM or Ctrl-C saves the current iteration and prints the command that
resumes it; a second one stops at once.
"""
import argparse
import os
import os.path as osp
import shlex
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from mmengine.logging import print_log  # noqa: E402

from mmfastervit.cli import (  # noqa: E402
    add_common_args,
    build_runner,
    checked_config,
    main_guard,
    run,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector or segmentor')
    parser.add_argument('config', help='train config file')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CKPT',
                        help='resume from CKPT, or (no value) from the latest '
                        'checkpoint in the work dir')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the total batch size')
    add_common_args(parser)
    return parser.parse_args(argv)


def adjust(cfg, args) -> None:
    import torch

    wrapper = cfg.optim_wrapper
    if args.amp:
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    if wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        # mmengine's AMP wrapper needs a GPU; train in fp32 instead of failing.
        print_log('no GPU: AmpOptimWrapper replaced by OptimWrapper (fp32)',
                  logger='current', level=30)
        wrapper.type = 'OptimWrapper'
        wrapper.pop('loss_scale', None)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True


def resume_command(argv, args, checkpoint: str) -> str:
    """The command line that continues this run from ``checkpoint``."""
    rest, i = [], 0
    while i < len(argv):
        token = argv[i]
        if token == '--resume':
            i += 1 if args.resume == 'auto' else 2
            continue
        if token.startswith('--resume='):
            i += 1
            continue
        rest.append(token)
        i += 1
    rest += ['--resume', checkpoint]
    if args.launcher == 'pytorch' and 'LOCAL_WORLD_SIZE' in os.environ:
        drop = {'--launcher', 'pytorch'}
        rest = [t for t in rest if t not in drop and not t.startswith('--local')]
        script = osp.join(osp.dirname(sys.argv[0]), 'dist_train.sh')
        config = rest.pop(rest.index(args.config))
        command = shlex.join(['bash', script, config, os.environ['LOCAL_WORLD_SIZE'], *rest])
        if int(os.environ.get('WORLD_SIZE', 1)) > int(os.environ['LOCAL_WORLD_SIZE']):
            command += '   (on every node, with the same NNODES, NODE_RANK, MASTER_ADDR)'
        return command
    return shlex.join([sys.executable, sys.argv[0], *rest])


def main(argv=None):
    from mmfastervit.engine.hooks import ResumeStateHook, StopOnSignalHook, shield_data_workers

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    cfg, resumed = checked_config(args, 'train', lambda cfg: adjust(cfg, args))
    randomness = dict(cfg.get('randomness') or {})
    if resumed and resumed.get('seed') is not None and randomness.get('seed') is None:
        # the data order comes from the seed: the resumed run must reuse it
        cfg.randomness = dict(randomness, seed=resumed['seed'])
    runner = build_runner(cfg, args.verbose)
    runner.register_hook(ResumeStateHook())
    runner.register_hook(StopOnSignalHook(lambda path: resume_command(argv, args, path)))
    shield_data_workers(runner)
    run(runner, 'train', '--cfg-options model.backbone.check_finite=False')


if __name__ == '__main__':
    main_guard(main)
