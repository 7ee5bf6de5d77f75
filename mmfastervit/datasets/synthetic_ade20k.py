"""A small synthetic semantic-segmentation dataset in exact ADE20K layout.

    ROOT/images/training/ADE_train_00000001.jpg
    ROOT/images/validation/ADE_val_00000001.jpg
    ROOT/annotations/training/ADE_train_00000001.png   (uint8, 0 = "other")
    ROOT/annotations/validation/...

As in ADE20K, label 0 means "other" (ignored with ``reduce_zero_label``) and
labels 1..K are classes. Each image is a noisy background of "other" with a
few large regions. Colour alone does not give a region's class away: "wall" and
"building" share a red family, "sky" and "floor" a blue one, and only their
textures (stripe orientation, checkerboard vs smooth) tell them apart, so a
segmentor must learn spatial patterns; a small one does in minutes on a CPU.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

#: ADE20K's first classes, reused as names for the synthetic ones.
CLASSES: Tuple[str, ...] = ('wall', 'building', 'sky', 'floor', 'tree')
_COLORS = ((200, 70, 60), (200, 70, 60), (70, 110, 210), (70, 110, 210), (70, 170, 80))
#: Texture of each class: ('stripes', angle in degrees, period) / ('checker', size) / ('smooth',)
_PATTERNS = (('stripes', 0, 8), ('stripes', 90, 8), ('smooth',), ('checker', 8),
             ('stripes', 45, 10))


def _texture(rng: np.random.Generator, label: int, h: int, w: int) -> np.ndarray:
    """``(h, w, 3)`` float image of a class's colour (jittered) and texture."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    kind, *args = _PATTERNS[label]
    if kind == 'stripes':
        angle, period = math.radians(args[0]), args[1]
        pattern = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    elif kind == 'checker':
        pattern = ((xx // args[0] + yy // args[0]) % 2) * 2 - 1
    else:
        pattern = np.zeros_like(xx)
    base = np.array(_COLORS[label], np.float32) * rng.uniform(0.75, 1.2) + rng.normal(0, 12, 3)
    return base + 30 * pattern[..., None] + rng.normal(0, 8, (h, w, 3))


def _region(rng: np.random.Generator, h: int, w: int) -> List[Tuple[float, float]]:
    """A random convex-ish blob or box covering 5-30% of the image."""
    cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    r = rng.uniform(0.15, 0.35) * min(h, w)
    if rng.random() < 0.4:
        a, b = r * rng.uniform(0.6, 1.4), r * rng.uniform(0.6, 1.4)
        return [(cx - a, cy - b), (cx + a, cy - b), (cx + a, cy + b), (cx - a, cy + b)]
    n = int(rng.integers(5, 12))
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = r * rng.uniform(0.7, 1.3, n)
    return [(cx + rr * math.cos(t), cy + rr * math.sin(t)) for t, rr in zip(angles, radii)]


def render(rng: np.random.Generator, height: int, width: int, max_regions: int = 4
           ) -> Tuple[Image.Image, Image.Image]:
    """One RGB image and its ``L``-mode label map (0 = other, 1..K)."""
    labels = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, max_regions + 1))):
        canvas = Image.new('L', (width, height), 0)
        ImageDraw.Draw(canvas).polygon(_region(rng, height, width), fill=1)
        labels[np.asarray(canvas) > 0] = int(rng.integers(len(CLASSES))) + 1
    gray = rng.uniform(90, 160)
    image = gray + rng.normal(0, 20, (height, width, 1)) * np.ones(3, np.float32)
    for label in np.unique(labels[labels > 0]):
        mask = labels == label
        image[mask] = _texture(rng, int(label) - 1, height, width)[mask]
    rgb = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    return rgb, Image.fromarray(labels, mode='L')


def write_split(root: str, split: str, num_images: int, seed: int,
                sizes: Sequence[Tuple[int, int]] = ((256, 320), (320, 256), (288, 288))) -> str:
    """Write ``num_images`` pairs of ``split`` ('training' / 'validation')."""
    rng = np.random.default_rng(seed)
    tag = 'train' if split == 'training' else 'val'
    img_dir = os.path.join(root, 'images', split)
    ann_dir = os.path.join(root, 'annotations', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    for k in range(1, num_images + 1):
        height, width = sizes[int(rng.integers(len(sizes)))]
        rgb, labels = render(rng, height, width)
        name = f'ADE_{tag}_{k:08d}'
        rgb.save(os.path.join(img_dir, name + '.jpg'), quality=95)
        labels.save(os.path.join(ann_dir, name + '.png'))
    return img_dir


def make_synthetic_ade20k(root: str, num_train: int = 200, num_val: int = 40,
                          seed: int = 0) -> Dict[str, str]:
    """Write training and validation splits under ``root`` (the directory
    mmseg configs call ``data/ade/ADEChallengeData2016``)."""
    return dict(train=write_split(root, 'training', num_train, seed),
                val=write_split(root, 'validation', num_val, seed + 10_000))
