"""Write a small synthetic semantic-segmentation dataset in exact ADE20K layout.

    python tools/dataset_converters/make_synthetic_ade20k.py \
        data/synthetic_ade20k/ADEChallengeData2016 [--train 200] [--val 40]

Layout: ROOT/images/{training,validation}/*.jpg, ROOT/annotations/{...}/*.png
(uint8 label maps, 0 = "other", 1..5 = classes).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))  # a checkout

from mmfastervit.datasets.synthetic_ade20k import CLASSES, make_synthetic_ade20k  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='dataset root to write (ADEChallengeData2016)')
    parser.add_argument('--train', type=int, default=200, help='training images')
    parser.add_argument('--val', type=int, default=40, help='held-out images')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    make_synthetic_ade20k(args.root, args.train, args.val, args.seed)
    print(f'wrote {args.train} training and {args.val} held-out images with '
          f'{len(CLASSES)} classes under {args.root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
