"""Write a small synthetic instance-segmentation dataset in exact COCO layout.

    python tools/dataset_converters/make_synthetic_coco.py data/synthetic_coco \
        [--train 240] [--val 48]

Layout: ROOT/annotations/instances_{train,val}2017.json, ROOT/{train,val}2017/*.jpg;
4 shape categories, polygon masks, boxes, areas, iscrowd.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))  # a checkout

from mmfastervit.datasets.synthetic_coco import make_synthetic_coco  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='dataset root to write')
    parser.add_argument('--train', type=int, default=240, help='training images')
    parser.add_argument('--val', type=int, default=48, help='held-out images')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    paths = make_synthetic_coco(args.root, args.train, args.val, args.seed)
    print(f'wrote {args.train} training and {args.val} held-out images under {args.root}')
    for split, path in paths.items():
        print(f'  {split}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
