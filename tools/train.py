"""Train an mmdet or mmseg model from a config (FasterViT or any other backbone).

    python tools/train.py configs/cascade_fastervit_t.py [--work-dir DIR] [--amp]
        [--resume [CKPT]] [--cfg-options k=v ...] [--launcher pytorch]

Multi-GPU / multi-node: tools/dist_train.sh. Without GPUs, distributed runs use gloo.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

from mmengine.logging import print_log  # noqa: E402

from mmfastervit.cli import add_common_args, build_runner, checked_config, main_guard  # noqa: E402


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


def main(argv=None):
    args = parse_args(argv)
    cfg = checked_config(args, 'train', lambda cfg: adjust(cfg, args))
    if cfg.get('resume') and cfg.get('load_from') and not osp.isfile(cfg.load_from):
        from mmfastervit.preflight import ConfigError
        raise ConfigError(f'--resume checkpoint {cfg.load_from!r} does not exist')
    build_runner(cfg).train()


if __name__ == '__main__':
    main_guard(main)
