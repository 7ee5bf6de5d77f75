"""Draw a trained model's predictions on an image (mmdet or mmseg config).

    python tools/analysis_tools/show_predictions.py CONFIG CHECKPOINT IMAGE --out pred.png \
        [--score-thr 0.3]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))  # a checkout

from mmfastervit.checkpoint import check_checkpoint  # noqa: E402
from mmfastervit.cli import main_guard  # noqa: E402
from mmfastervit.errors import ConfigError  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection score threshold')
    args = parser.parse_args(argv)

    import mmcv
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    for path, what in ((args.config, 'config'), (args.image, 'image')):
        if not osp.isfile(path):
            raise ConfigError(f'{what} {path!r} does not exist')
    check_checkpoint(args.checkpoint, 'checkpoint')
    scope = Config.fromfile(args.config).get('default_scope')
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.apis import inference_detector as infer
        from mmdet.apis import init_detector as init
    elif scope == 'mmseg':
        from mmseg.apis import inference_model as infer
        from mmseg.apis import init_model as init
    else:
        raise ConfigError(f'{args.config} is neither an mmdet nor an mmseg config')
    from mmengine.registry import VISUALIZERS

    model = init(args.config, args.checkpoint, device='cpu')
    result = infer(model, args.image)
    vis_cfg = dict(model.cfg.visualizer, vis_backends=None)  # draw only, no log backends
    visualizer = VISUALIZERS.build(vis_cfg)
    visualizer.dataset_meta = model.dataset_meta
    image = mmcv.imread(args.image, channel_order='rgb')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    extra = dict(pred_score_thr=args.score_thr) if scope == 'mmdet' else {}
    visualizer.add_datasample('prediction', image, data_sample=result, draw_gt=False,
                              show=False, out_file=args.out, **extra)
    if scope == 'mmdet':
        kept = (result.pred_instances.scores >= args.score_thr).sum().item()
        print(f'{kept} instances above score {args.score_thr} drawn to {args.out}')
    else:
        print(f'segmentation drawn to {args.out}')
    return 0


if __name__ == '__main__':
    main_guard(main)
