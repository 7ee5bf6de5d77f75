"""A small synthetic instance-segmentation dataset in exact COCO layout.

Real COCO cannot be downloaded everywhere; this writes a stand-in that every
COCO tool reads unchanged::

    ROOT/annotations/instances_train2017.json
    ROOT/annotations/instances_val2017.json
    ROOT/train2017/000000000001.jpg ...
    ROOT/val2017/...

Each image holds a few non-overlapping shapes on a textured background; each
shape is one instance with its polygon mask, tight box, pycocotools area and
``iscrowd=0``. Classes are shapes; each class has its own hue band, with
jitter, so that a small detector can learn them in minutes on a CPU.
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES: Tuple[str, ...] = ('square', 'disc', 'triangle', 'hexagon')
#: Hue (degrees) of each class; objects get it +-20.
_HUES = (0, 120, 220, 50)


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> List[float]:
    corners = {'square': 4, 'disc': 32, 'triangle': 3, 'hexagon': 6}[kind]
    pts = []
    for k in range(corners):
        a = angle + 2 * math.pi * k / corners
        pts += [cx + r * math.cos(a), cy + r * math.sin(a)]
    return [round(v, 2) for v in pts]


def _hsv_to_rgb(h: float, s: float, v: float) -> Tuple[int, int, int]:
    import colorsys
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def _background(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    base = rng.uniform(60, 190, size=3)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    grad = (yy * rng.uniform(-60, 60) + xx * rng.uniform(-60, 60))[..., None]
    noise = rng.normal(0, 12, size=(h, w, 3))
    img = np.clip(base + grad + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(img).filter(ImageFilter.GaussianBlur(1))


def render_image(rng: np.random.Generator, height: int, width: int,
                 max_objects: int = 5, min_radius: int = 14, max_radius: int = 60
                 ) -> Tuple[Image.Image, List[Dict]]:
    """One image and its instances (``category_id``, ``polygon``)."""
    img = _background(rng, height, width)
    draw = ImageDraw.Draw(img)
    placed: List[Tuple[float, float, float]] = []
    instances = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _try in range(30):
            r = float(rng.uniform(min_radius, min(max_radius, min(height, width) / 3)))
            cx = float(rng.uniform(r, width - r))
            cy = float(rng.uniform(r, height - r))
            if all(math.hypot(cx - x, cy - y) > r + rr + 4 for x, y, rr in placed):
                break
        else:
            continue
        placed.append((cx, cy, r))
        label = int(rng.integers(len(CLASSES)))
        poly = _polygon(CLASSES[label], cx, cy, r, float(rng.uniform(0, 2 * math.pi)))
        color = _hsv_to_rgb(_HUES[label] + rng.uniform(-20, 20), rng.uniform(0.6, 1.0),
                            rng.uniform(0.55, 1.0))
        draw.polygon(list(zip(poly[::2], poly[1::2])), fill=color)
        instances.append(dict(category_id=label + 1, polygon=poly))
    return img, instances


def _annotation(ann_id: int, image_id: int, inst: Dict, height: int, width: int) -> Dict:
    from pycocotools import mask as mask_utils

    poly = inst['polygon']
    rles = mask_utils.frPyObjects([poly], height, width)
    area = float(mask_utils.area(mask_utils.merge(rles)))
    xs, ys = poly[::2], poly[1::2]
    x0, y0 = max(min(xs), 0.0), max(min(ys), 0.0)
    x1, y1 = min(max(xs), float(width)), min(max(ys), float(height))
    return dict(id=ann_id, image_id=image_id, category_id=inst['category_id'],
                segmentation=[poly], area=area,
                bbox=[round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                iscrowd=0)


def write_split(root: str, split: str, num_images: int, seed: int,
                sizes: Sequence[Tuple[int, int]] = ((256, 320), (320, 256), (288, 288)),
                first_image_id: int = 1) -> str:
    """Write ``num_images`` images of ``split`` (e.g. ``train2017``) and
    ``annotations/instances_{split}.json``; returns the json path."""
    rng = np.random.default_rng(seed)
    img_dir = os.path.join(root, split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for k in range(num_images):
        image_id = first_image_id + k
        height, width = sizes[int(rng.integers(len(sizes)))]
        img, instances = render_image(rng, height, width)
        file_name = f'{image_id:012d}.jpg'
        img.save(os.path.join(img_dir, file_name), quality=95)
        images.append(dict(id=image_id, file_name=file_name, height=height, width=width,
                           license=1, date_captured=''))
        for inst in instances:
            annotations.append(_annotation(len(annotations) + 1, image_id, inst, height, width))
    coco = dict(
        info=dict(description='mmfastervit synthetic shapes (COCO layout)', version='1.0',
                  year=2026, contributor='mmfastervit', date_created=''),
        licenses=[dict(id=1, name='CC0', url='')],
        images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(CLASSES)])
    path = os.path.join(root, 'annotations', f'instances_{split}.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def make_synthetic_coco(root: str, num_train: int = 240, num_val: int = 48,
                        seed: int = 0) -> Dict[str, str]:
    """Write the train and val splits under ``root``; returns their json paths.
    Held-out images come from another random stream than training ones."""
    return dict(
        train=write_split(root, 'train2017', num_train, seed),
        val=write_split(root, 'val2017', num_val, seed + 10_000, first_image_id=1_000_000))
