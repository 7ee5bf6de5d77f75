"""Official LITv2 checkpoints: key conversion and what a file reveals of its variant.

The released ImageNet files (``litv2_s.pth`` ... on the ziplab/LITv2 GitHub
releases) hold ``{'model': state_dict, ...}`` in the official key layout
(``patch_embed.*``, ``layers.{i}.blocks.{j}.*``, ``layers.{i}.downsample.*``)
plus the classifier (``norm.*``, ``head.*``), which a backbone drops.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

from torch import Tensor

from ...checkpoint.format import (
    CheckpointFormat,
    convert_keys,
    keys_to_official,
    register_format,
    stage_depths,
)
from .arch_zoo import ATTENTION_STAGES, LITv2Arch, arch_zoo, resolve_arch

#: Official name fragments -> ours, applied in order to every kept key.
_RENAMES: List[Tuple[str, str]] = [
    (r'^patch_embed\.', 'stem.'),
    (r'^layers\.', 'stages.'),
    (r'\.mlp\.dwconv\.dwconv\.', '.mlp.dwconv.'),
    (r'\.downsample\.norm_layer\.', '.downsample.norm.'),
]


#: ours -> official, the inverse of :data:`_RENAMES`
_TO_OFFICIAL: List[Tuple[str, str]] = [
    (r'^stem\.', 'patch_embed.'),
    (r'^stages\.', 'layers.'),
    (r'\.mlp\.dwconv\.', '.mlp.dwconv.dwconv.'),
    (r'\.downsample\.norm\.', '.downsample.norm_layer.'),
]


def to_official(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Our layout -> official (the output norms left out)."""
    return keys_to_official(state_dict, _TO_OFFICIAL)


def convert_official(state_dict: Mapping[str, Tensor]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, List[str]]]:
    """Official key layout -> ours (only the classifier is dropped)."""
    return convert_keys(state_dict, _RENAMES)


def weights_signature(state_dict: Mapping[str, Tensor]) -> Dict[str, object]:
    """What a state dict (our layout) reveals of its architecture. Head
    counts are invisible (only their channels are); the Lo-Fi / Hi-Fi channel
    split of each attention stage is what alpha and the windows decide."""
    def rows(key: str) -> int:
        return tuple(state_dict[key].shape)[0] if key in state_dict else 0

    fc1 = state_dict.get('stages.0.blocks.0.mlp.fc1.weight')
    return dict(
        embed_dims=rows('stem.proj.weight') or None,
        depths=stage_depths(state_dict),
        mlp_ratio=fc1.shape[0] / fc1.shape[1] if fc1 is not None else None,
        lofi_hifi_channels=tuple((rows(f'stages.{i}.blocks.0.attn.l_proj.weight'),
                                  rows(f'stages.{i}.blocks.0.attn.h_proj.weight'))
                                 for i in ATTENTION_STAGES))


def arch_signature(arch: LITv2Arch) -> Dict[str, object]:
    """The :func:`weights_signature` that a model of ``arch`` has."""
    split = []
    for i in ATTENTION_STAGES:
        head_dim = arch.widths[i] // arch.num_heads[i]
        split.append(tuple(n * head_dim for n in arch.head_split(i)))
    return dict(embed_dims=arch.embed_dims, depths=arch.depths,
                mlp_ratio=int(arch.embed_dims * arch.mlp_ratio) / arch.embed_dims,
                lofi_hifi_channels=tuple(split))


LITV2_FORMAT = register_format(CheckpointFormat(
    family='LITv2', official_prefixes=('layers.', 'patch_embed.proj.'),
    layout_keys=('stem.proj.weight',),
    variants=tuple(arch_zoo), convert_official=convert_official,
    signature=weights_signature, resolve_arch=resolve_arch, arch_signature=arch_signature,
    download_hint=('Download the official file (e.g. litv2_s.pth from the ziplab/LITv2 '
                   'GitHub releases)'),
    override_hint='local_ws (a window of 1 vs more changes the head split), alpha',
    to_official=to_official))
