"""Convert an official ImageNet checkpoint to mmfastervit's key layout, once.

    python tools/convert_official_checkpoint.py fastervit_2_224_1k.pth.tar \
        checkpoints/fastervit_2_in1k_mmfastervit.pth [--arch 2]
    python tools/convert_official_checkpoint.py litv2_s.pth checkpoints/litv2_s_mmfastervit.pth
    python tools/convert_official_checkpoint.py DINO_4scale_faster_vit_4_21k_224_ms_coco.pth \
        checkpoints/dino_4scale_fastervit_4_21k_224_mmdet.pth

The family (FasterViT or LITv2) is recognised from the file's keys: the two
official layouts share ``patch_embed.*`` but nothing else. The output holds only the
backbone weights (``state_dict``) and a ``meta`` entry naming the source, the
family and the variant. A whole detector of NVIDIA's DINO code becomes a checkpoint of
mmdet's DINO for configs/dino_4scale_fastervit_*.py (``state_dict`` and ``meta``).
Converting backbones is optional: configs may also point
``init_cfg.checkpoint`` at the official file directly.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

import torch  # noqa: E402

from mmfastervit.checkpoint import (  # noqa: E402
    CheckpointMismatchError,
    check_checkpoint,  # noqa: E402
    check_compatible,
    extract_state_dict,
    read_checkpoint,
)
from mmfastervit.checkpoint.dino import convert_official_dino, is_official_dino  # noqa: E402
from mmfastervit.cli import main_guard  # noqa: E402
from mmfastervit.models import FasterViT, LITv2  # noqa: E402

#: backbone classes whose official files this tool converts
FAMILIES = [FasterViT, LITv2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth / .pth.tar)')
    parser.add_argument('dst', help='where to write the converted file')
    parser.add_argument('--arch', help='variant the file must match (default: detect)')
    args = parser.parse_args(argv)

    check_checkpoint(args.src, 'official checkpoint')
    obj = read_checkpoint(args.src)
    if is_official_dino(obj):
        weights, report = convert_official_dino(obj)
        os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
        torch.save(dict(state_dict=weights, meta=dict(source=os.path.basename(args.src),
                                                      format='NVIDIA DINO')), args.dst)
        print('\n'.join([f'wrote {args.dst}', *report]))
        return 0
    weights = extract_state_dict(obj)
    official = [cls for cls in FAMILIES if cls.checkpoint_format.is_official(weights)]
    if len(official) != 1:
        names = ', '.join(cls.__name__ for cls in (official or FAMILIES))
        ours = [cls for cls in FAMILIES if cls.checkpoint_format.recognises(weights)]
        if len(official) > 1:
            why = f'its keys fit the official layouts of several families ({names})'
        elif ours:
            fmt = ours[0].checkpoint_format
            why = (f'is not in the official key layout of {names}: it is already converted '
                   f'(our {fmt.family} layout, {fmt.identify(weights)}); configs load it as it is')
        else:
            why = (f'is not in the official key layout of {names}: it may already be converted '
                   "(configs load such files as they are), or be another model's file")
        raise CheckpointMismatchError(f'{args.src} {why}')
    family = official[0]
    fmt = family.checkpoint_format
    weights, dropped = fmt.convert_official(weights)
    variants = fmt.matching_variants(weights)
    if args.arch:
        check_compatible(family(args.arch), weights, args.src)
        variants = [args.arch]
    elif not variants:
        print('warning: the weights match no released variant; load them with an '
              'arch dict of the same structure', file=sys.stderr)

    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    meta = dict(source=os.path.basename(args.src), family=fmt.family, variants=variants,
                dropped={reason: len(keys) for reason, keys in dropped.items()})
    torch.save(dict(state_dict=weights, meta=meta), args.dst)
    print(f'wrote {len(weights)} tensors to {args.dst}')
    print(f'{fmt.family} variant: {" / ".join(variants) or "custom"}')
    for reason, keys in dropped.items():
        print(f'dropped {len(keys)} keys: {reason}')
    return 0


if __name__ == '__main__':
    main_guard(main)
