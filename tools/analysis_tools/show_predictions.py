"""Draw a trained model's predictions on an image (mmdet or mmseg config).

    python tools/analysis_tools/show_predictions.py CONFIG CHECKPOINT IMAGE --out pred.png \
        [--score-thr 0.3] [--gt ANNOTATIONS] [--alpha 0.5]

With ``--gt`` the ground truth is drawn on the left and the prediction on the
right, by mmdet's / mmseg's own visualizers: for a detector the COCO annotation
file that lists IMAGE, for a segmentor IMAGE's label PNG (read as the config's
test pipeline reads it, ``reduce_zero_label`` included). Class maps are blended
over the image at ``--alpha``, so the image shows through.
"""
import argparse
import contextlib
import io
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))  # a checkout

from mmfastervit.checkpoint import check_checkpoint  # noqa: E402
from mmfastervit.cli import main_guard  # noqa: E402
from mmfastervit.errors import ConfigError  # noqa: E402


def coco_ground_truth(ann_file: str, image: str, classes):
    """``InstanceData`` (bboxes ``(N, 4)`` xyxy, labels ``(N,)``, masks ``(N, H, W)``)
    of IMAGE's annotations in a COCO file, labels in the model's class order."""
    import numpy as np
    import torch
    from mmengine.structures import InstanceData
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco = COCO(ann_file)
    name = osp.basename(image)
    info = next((i for i in coco.dataset['images'] if osp.basename(i['file_name']) == name), None)
    if info is None:
        raise ConfigError(f'{name} is not listed in {ann_file!r}: give the annotation file '
                          'of the split the image is from')
    label_of = {c['id']: list(classes).index(c['name']) for c in coco.dataset['categories']
                if c['name'] in classes}
    anns = [a for a in coco.imgToAnns[info['id']]
            if not a.get('iscrowd') and a['category_id'] in label_of]
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
    masks = [coco.annToMask(a).astype(bool) for a in anns]
    return InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor([label_of[a['category_id']] for a in anns], dtype=torch.long),
        masks=np.stack(masks) if masks else np.zeros((0, info['height'], info['width']), bool))


def segmentation_ground_truth(label_png: str, cfg):
    """``PixelData`` of a label PNG ``(1, H, W)``, with the test pipeline's
    ``reduce_zero_label`` (0 becomes 255, ignored; k becomes k - 1)."""
    import mmcv
    import numpy as np
    import torch
    from mmengine.structures import PixelData
    labels = mmcv.imread(label_png, flag='unchanged')
    if labels is None or labels.ndim != 2:
        raise ConfigError(f'{label_png!r} is not a label map (a one-channel PNG)')
    pipeline = cfg.test_dataloader.dataset.get('pipeline', [])
    if any(t.get('type') == 'LoadAnnotations' and t.get('reduce_zero_label') for t in pipeline):
        labels = labels.astype(np.int64)
        labels[labels == 0] = 256
        labels = labels - 1
    return PixelData(data=torch.from_numpy(np.asarray(labels, np.int64))[None])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection score threshold')
    parser.add_argument('--gt', metavar='ANNOTATIONS',
                        help="also draw the ground truth (left): the COCO annotation file "
                        "listing IMAGE, or IMAGE's label PNG for a segmentor")
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='opacity of drawn class maps (default 0.5: the image shows '
                        'through)')
    args = parser.parse_args(argv)

    import mmcv
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    if not 0 <= args.alpha <= 1:
        raise ConfigError(f'--alpha {args.alpha} is not between 0 and 1')
    for path, what in ((args.config, 'config'), (args.image, 'image'),
                       (args.gt, 'ground truth')):
        if path is not None and not osp.isfile(path):
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
    if scope == 'mmseg':
        vis_cfg['alpha'] = args.alpha
    visualizer = VISUALIZERS.build(vis_cfg)
    visualizer.dataset_meta = model.dataset_meta
    image = mmcv.imread(args.image, channel_order='rgb')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if args.gt and scope == 'mmdet':
        result.gt_instances = coco_ground_truth(args.gt, args.image, model.dataset_meta['classes'])
    elif args.gt:
        result.gt_sem_seg = segmentation_ground_truth(args.gt, model.cfg)
    extra = dict(pred_score_thr=args.score_thr) if scope == 'mmdet' else {}
    visualizer.add_datasample('prediction', image, data_sample=result, draw_gt=bool(args.gt),
                              show=False, out_file=args.out, **extra)
    if scope == 'mmdet':
        kept = (result.pred_instances.scores >= args.score_thr).sum().item()
        print(f'{kept} instances above score {args.score_thr} drawn to {args.out}'
              + (f', beside {len(result.gt_instances)} ground-truth ones' if args.gt else ''))
    else:
        beside = ', beside the ground truth' if args.gt else ''
        print(f'segmentation drawn to {args.out}{beside}')
    return 0


if __name__ == '__main__':
    main_guard(main)
