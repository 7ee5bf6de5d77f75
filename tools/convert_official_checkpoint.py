"""Convert an official FasterViT ImageNet file to mmfastervit's key layout, once.

    python tools/convert_official_checkpoint.py fastervit_2_224_1k.pth.tar \
        checkpoints/fastervit_2_in1k_mmfastervit.pth [--arch 2]

The output holds only the backbone weights (``state_dict``) and a ``meta``
entry naming the source and the variant. Converting is optional: configs may
also point ``init_cfg.checkpoint`` at the official file directly.
"""
import argparse
import os
import sys

import torch

from mmfastervit import FasterViT
from mmfastervit.checkpoint import (
    check_compatible,
    convert_official,
    extract_state_dict,
    is_official,
    load_file,
    matching_variants,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth.tar)')
    parser.add_argument('dst', help='where to write the converted file')
    parser.add_argument('--arch', help='variant the file must match (default: detect)')
    args = parser.parse_args(argv)

    weights = extract_state_dict(load_file(args.src))
    if not is_official(weights):
        print(f'{args.src} is not in the official key layout (no levels.* / '
              'patch_embed.* keys); it may already be converted.', file=sys.stderr)
        return 1
    weights, dropped = convert_official(weights)
    variants = matching_variants(weights)
    if args.arch:
        check_compatible(FasterViT(args.arch), weights, args.src)
        variants = [args.arch]
    elif not variants:
        print('warning: the weights match no released variant; load them with an '
              'arch dict of the same structure', file=sys.stderr)

    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    meta = dict(source=os.path.basename(args.src), variants=variants,
                dropped={reason: len(keys) for reason, keys in dropped.items()})
    torch.save(dict(state_dict=weights, meta=meta), args.dst)
    print(f'wrote {len(weights)} tensors to {args.dst}')
    print(f'variant: {" / ".join(variants) or "custom"}')
    for reason, keys in dropped.items():
        print(f'dropped {len(keys)} keys: {reason}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
