"""Every registered family's checkpoint format: its ``to_official`` is the
converter's exact inverse for every released variant, and FasterViT's gives
the layout NVIDIA's own package saves (tests/data/fastervit_official_layouts)."""
import gzip
import json
import os

import pytest
import torch

from mmfastervit import FasterViT, PyramidBackbone
from mmfastervit.models.fastervit.checkpoint_format import RESOLUTION_BUFFERS

FAMILIES = PyramidBackbone.families()
LAYOUTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'data',
                       'fastervit_official_layouts.json.gz')


def variants():
    return [(name, arch) for name, cls in sorted(FAMILIES.items()) for arch in cls.arch_zoo]


def keys_of(cls, arch):
    """A variant's state-dict keys, built on the meta device (no memory)."""
    with torch.device('meta'):
        model = cls(arch)
    return {k: torch.empty(0) for k in model.state_dict()}


@pytest.mark.parametrize('name, arch', variants())
def test_to_official_is_the_converters_inverse(name, arch):
    cls = FAMILIES[name]
    fmt = cls.checkpoint_format
    assert fmt.to_official is not None, f'{name} declares no to_official'
    ours = keys_of(cls, arch)
    official = fmt.to_official(ours)
    assert fmt.is_official(official) and not any(k in official for k in fmt.layout_keys)
    back, dropped = fmt.convert_official(official)
    assert set(back) == {k for k in ours if not k.startswith(('norm0.', 'norm1.', 'norm2.',
                                                              'norm3.'))}
    assert all('classifier' not in reason for reason in dropped)


def test_fastervit_to_official_gives_nvidias_own_layout():
    """Keys and shapes as ``fastervit==1.0.0`` saves them, for the stored
    variants (the resolution-dependent buffers and the classifier aside)."""
    with gzip.open(LAYOUTS, 'rt') as f:
        layouts = json.load(f)['layouts']
    checked = 0
    for variant, entries in layouts.items():
        if variant not in FasterViT.arch_zoo:
            continue
        with torch.device('meta'):
            model = FasterViT(variant)
        mine = {k: tuple(v.shape) for k, v in
                FasterViT.checkpoint_format.to_official(model.state_dict()).items()}
        theirs = {k: tuple(shape) for k, shape in entries
                  if k.rsplit('.', 1)[-1] not in RESOLUTION_BUFFERS
                  and not k.startswith(('head.', 'norm.'))}
        assert mine == theirs, variant
        checked += 1
    assert checked >= 4
