"""Official FasterViT checkpoints: key conversion and what a file reveals of its variant.

Official files (``fastervit_*_1k.pth.tar`` and the 21K ones) use the official
key layout (``patch_embed.*``, ``levels.*``). They also hold
resolution-dependent buffers, which are never loaded (we rebuild them from the
actual input), the classifier (``norm``, ``head``), and a second copy of each
carrier-token position conv. Everything dropped is reported.
"""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

from ...checkpoint.errors import CheckpointMismatchError
from ...checkpoint.format import (
    CheckpointFormat,
    convert_keys,
    keys_to_official,
    register_format,
    stage_depths,
)
from .arch_zoo import FasterViTArch, arch_zoo, resolve_arch

#: Official name fragments -> ours, applied in order to every kept key.
_RENAMES: List[Tuple[str, str]] = [
    (r'^patch_embed\.conv_down\.0\.', 'stem.conv1.'),
    (r'^patch_embed\.conv_down\.1\.', 'stem.norm1.'),
    (r'^patch_embed\.conv_down\.3\.', 'stem.conv2.'),
    (r'^patch_embed\.conv_down\.4\.', 'stem.norm2.'),
    (r'^levels\.', 'stages.'),
    (r'\.downsample\.reduction\.0\.', '.downsample.conv.'),
    (r'\.global_tokenizer\.pos_embed\.', '.tokenizer.pos_conv.'),
    (r'\.pos_emb_funct\.cpb_mlp\.', '.rel_pos.mlp.'),
    (r'\.cpb_mlp\.', '.mlp.'),
    (r'\.hat_pos_embed\.', '.carrier.pos_embed.'),
    (r'\.hat_(norm1|attn|norm2|mlp)\.', r'.carrier.\1.'),
    (r'\.gamma1$', '.carrier.ls1.gamma'),
    (r'\.gamma2$', '.carrier.ls2.gamma'),
    (r'\.gamma3$', '.local.ls1.gamma'),
    (r'\.gamma4$', '.local.ls2.gamma'),
    (r'(blocks\.\d+)\.gamma$', r'\1.ls.gamma'),  # conv blocks
    (r'(stages\.[23]\.blocks\.\d+)\.(norm1|attn|norm2|mlp)\.', r'\1.local.\2.'),
]
#: ours -> official, the inverse of :data:`_RENAMES` (applied in order)
_TO_OFFICIAL: List[Tuple[str, str]] = [
    (r'^stem\.conv1\.', 'patch_embed.conv_down.0.'),
    (r'^stem\.norm1\.', 'patch_embed.conv_down.1.'),
    (r'^stem\.conv2\.', 'patch_embed.conv_down.3.'),
    (r'^stem\.norm2\.', 'patch_embed.conv_down.4.'),
    (r'(stages\.[23]\.blocks\.\d+)\.local\.(norm1|attn|norm2|mlp)\.', r'\1.\2.'),
    (r'\.local\.ls1\.gamma$', '.gamma3'),
    (r'\.local\.ls2\.gamma$', '.gamma4'),
    (r'\.carrier\.ls1\.gamma$', '.gamma1'),
    (r'\.carrier\.ls2\.gamma$', '.gamma2'),
    (r'(blocks\.\d+)\.ls\.gamma$', r'\1.gamma'),
    (r'\.carrier\.pos_embed\.', '.hat_pos_embed.'),
    (r'\.carrier\.(norm1|attn|norm2|mlp)\.', r'.hat_\1.'),
    (r'\.rel_pos\.mlp\.', '.pos_emb_funct.cpb_mlp.'),
    (r'pos_embed\.mlp\.', 'pos_embed.cpb_mlp.'),
    (r'\.tokenizer\.pos_conv\.', '.global_tokenizer.pos_embed.'),
    (r'\.downsample\.conv\.', '.downsample.reduction.0.'),
    (r'^stages\.', 'levels.'),
]
RESOLUTION_BUFFERS = ('relative_coords_table', 'relative_position_index', 'relative_bias')
_CT_COPY = re.compile(r'^(levels\.\d+\.global_tokenizer\.)to_global_feature\.pos\.(\w+)$')


def convert_official(state_dict: Mapping[str, Tensor]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, List[str]]]:
    """Official key layout -> ours. Returns the converted weights and the
    dropped keys grouped by reason."""
    def drop_reason(key: str, value: Tensor) -> Optional[str]:
        if key.rsplit('.', 1)[-1] in RESOLUTION_BUFFERS:
            return 'resolution-dependent buffers (rebuilt at run time)'
        copy = _CT_COPY.match(key)
        if copy is None:
            return None
        original = state_dict.get(f'{copy[1]}pos_embed.{copy[2]}')
        if original is None or not torch.equal(original, value):
            raise CheckpointMismatchError(
                f'{key} differs from its twin {copy[1]}pos_embed.{copy[2]}; '
                'this file is not an official FasterViT checkpoint')
        return 'second copy of the carrier-token position conv'

    return convert_keys(state_dict, _RENAMES, drop_reason)


def to_official(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Our layout -> official (the output norms left out), with the second
    copy of each carrier-token position conv that official files hold."""
    out = keys_to_official(state_dict, _TO_OFFICIAL)
    for key in [k for k in out if '.global_tokenizer.pos_embed.' in k]:
        out[key.replace('.pos_embed.', '.to_global_feature.pos.')] = out[key]
    return out


def weights_signature(state_dict: Mapping[str, Tensor]) -> Dict[str, object]:
    """What a state dict (our layout) reveals of its architecture."""
    def size(key: str, dim: int = 0):
        return tuple(state_dict[key].shape)[dim] if key in state_dict else None

    return dict(
        dim=size('stem.conv2.weight'), in_dim=size('stem.conv1.weight'),
        depths=stage_depths(state_dict),
        heads=tuple(size(f'stages.{i}.blocks.0.local.attn.rel_pos.mlp.2.weight')
                    for i in (2, 3)),
        layer_scale=any(k.endswith('local.ls1.gamma') for k in state_dict),
        layer_scale_conv=any(k.endswith('.ls.gamma') for k in state_dict),
        carrier_stages=tuple(i for i in (2, 3)
                             if f'stages.{i}.tokenizer.pos_conv.weight' in state_dict))


def arch_signature(arch: FasterViTArch) -> Dict[str, object]:
    """The :func:`weights_signature` that a model of ``arch`` has."""
    return dict(dim=arch.dim, in_dim=arch.in_dim, depths=arch.depths,
                heads=arch.num_heads[2:], layer_scale=bool(arch.layer_scale),
                layer_scale_conv=bool(arch.layer_scale_conv),
                carrier_stages=tuple(i for i in (2, 3) if arch.hat[i]))


FASTERVIT_FORMAT = register_format(CheckpointFormat(
    family='FasterViT', official_prefixes=('levels.', 'patch_embed.conv_down.'),
    layout_keys=('stem.conv1.weight',),
    variants=tuple(arch_zoo), convert_official=convert_official,
    signature=weights_signature, resolve_arch=resolve_arch, arch_signature=arch_signature,
    download_hint=('Download the official file (e.g. fastervit_2_224_1k.pth.tar from the '
                   'ahatamiz/FasterViT hub repo)'),
    override_hint='hat, layer_scale, ...', to_official=to_official))
