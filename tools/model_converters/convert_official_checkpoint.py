"""Convert an official checkpoint to mmfastervit's key layout, once.

    python tools/model_converters/convert_official_checkpoint.py fastervit_2_224_1k.pth.tar \
        checkpoints/fastervit_2_in1k_mmfastervit.pth [--arch 2]
    python tools/model_converters/convert_official_checkpoint.py litv2_s.pth \
        checkpoints/litv2_s_mmfastervit.pth
    python tools/model_converters/convert_official_checkpoint.py mask_rcnn_litv2_s_fpn_1x_coco.pth \
        checkpoints/mask_rcnn_litv2_s.pth
    python tools/model_converters/convert_official_checkpoint.py \
        DINO_4scale_faster_vit_4_21k_224_ms_coco.pth \
        checkpoints/dino_4scale_fastervit_4_21k_224_mmdet.pth

An ImageNet file: the family (FasterViT or LITv2) is recognised from the file's
keys (the two official layouts share ``patch_embed.*`` but nothing else); the
output holds only the backbone weights. A whole detector / segmentor file (a
released LITv2 RetinaNet, Mask R-CNN or Semantic FPN, ...): the whole model is
converted (backbone, neck, heads), to load strictly into its config; so is a
whole detector of NVIDIA's DINO code (for configs/dino_4scale_fastervit_*.py:
keys renamed, the 91 category-id class rows mapped to mmdet's 80 labels, the
shared decoder heads copied per layer). Either way the output is ``state_dict``
and a ``meta`` entry naming the source. Converting is optional:
``init_cfg.checkpoint``, ``load_from`` and ``tools/test.py`` take the official
files directly.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))  # a checkout

import torch  # noqa: E402

from mmfastervit.checkpoint import (  # noqa: E402
    CheckpointMismatchError,
    check_checkpoint,  # noqa: E402
    check_compatible,
    extract_state_dict,
    read_checkpoint,
)
from mmfastervit.checkpoint.whole_model import whole_model_format  # noqa: E402
from mmfastervit.cli import main_guard  # noqa: E402
from mmfastervit.models import PyramidBackbone  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth / .pth.tar)')
    parser.add_argument('dst', help='where to write the converted file')
    parser.add_argument('--arch', help='variant the file must match (default: detect)')
    args = parser.parse_args(argv)

    check_checkpoint(args.src, 'official checkpoint')
    checkpoint = read_checkpoint(args.src)
    whole = whole_model_format(checkpoint)
    if whole is not None:
        return convert_whole(args, checkpoint, whole)
    weights = extract_state_dict(checkpoint)
    families = list(PyramidBackbone.families().values())  # every registered family
    official = [cls for cls in families if cls.checkpoint_format.is_official(weights)]
    if len(official) != 1:
        names = ', '.join(cls.__name__ for cls in (official or families))
        ours = [cls for cls in families if cls.checkpoint_format.recognises(weights)]
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


def convert_whole(args, checkpoint, fmt) -> int:
    """A whole detector / segmentor: every key, not only the backbone's."""
    if args.arch:
        print('warning: --arch is for ImageNet files; a whole model file is converted '
              'as it is (its config says the arch)', file=sys.stderr)
    weights, lines = fmt.convert(checkpoint)
    os.makedirs(os.path.dirname(os.path.abspath(args.dst)), exist_ok=True)
    meta = dict(source=os.path.basename(args.src), converted_from=fmt.name)
    torch.save(dict(state_dict=weights, meta=meta), args.dst)
    print(f'wrote {len(weights)} tensors (the whole model) to {args.dst}')
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    main_guard(main)
