"""Run a FasterViT backbone on an image-sized input and print its feature pyramid.

    python tools/backbone_demo.py --arch 2 --size 800 1216 [--reference]

With ``--reference`` the same weights also go through NVIDIA's any-resolution
model (test-only dependency ``fastervit``) at a size where neither pads, and
the largest stage-feature difference is printed.
"""
import argparse
import sys
import time

import torch

from mmfastervit import FasterViT


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--arch', default='2')
    parser.add_argument('--size', type=int, nargs=2, default=(800, 1216), metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--reference', action='store_true',
                        help='compare with the official implementation at 448x448')
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = FasterViT(args.arch).eval()
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    x = torch.randn(args.batch, 3, *args.size)
    with torch.no_grad():
        model(x)  # warm-up (builds the per-shape tables)
        start = time.perf_counter()
        outs = model(x)
        elapsed = time.perf_counter() - start
    print(f'FasterViT-{args.arch}: {n_params:.1f} M parameters, input {tuple(x.shape)}, '
          f'forward {elapsed * 1e3:.0f} ms on {torch.get_num_threads()} CPU threads')
    for i, out in zip(model.out_indices, outs):
        print(f'  stage {i + 1} (stride {2 ** (i + 2):2d}): {tuple(out.shape)}')

    if args.reference:
        sys.path.insert(0, 'tests')
        from reference import (
            build_reference,
            reference_kwargs,
            reference_stage_features,
            stage_features,
        )

        from mmfastervit.checkpoint import convert_official

        ref = build_reference([448, 448], **reference_kwargs(args.arch))
        model.load_state_dict(convert_official(ref.state_dict())[0], strict=False)
        x = torch.randn(1, 3, 448, 448)
        err = max((a - b).abs().max().item()
                  for a, b in zip(reference_stage_features(ref, x), stage_features(model, x)))
        print(f'max-abs difference to the official model at 448x448: {err:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
