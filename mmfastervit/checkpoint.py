"""Official FasterViT checkpoints: key conversion, variant checks, loading.

Official files (``fastervit_*_1k.pth.tar`` and the 21K ones) hold the weights
under ``state_dict``, ``model`` or at top level, maybe with a ``module.``
prefix, in the official key layout (``patch_embed.*``, ``levels.*``). They
also hold resolution-dependent buffers, which are never loaded (we rebuild
them from the actual input), the classifier (``norm``, ``head``), and a second
copy of each carrier-token position conv. Everything dropped is reported.
"""
from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from .models.arch_zoo import FasterViTArch, arch_zoo, resolve_arch

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
RESOLUTION_BUFFERS = ('relative_coords_table', 'relative_position_index', 'relative_bias')
_CT_COPY = re.compile(r'^(levels\.\d+\.global_tokenizer\.)to_global_feature\.pos\.(\w+)$')


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the backbone they are loaded into."""


def is_official(state_dict: Mapping[str, Tensor]) -> bool:
    return any(k.startswith(('levels.', 'patch_embed.')) for k in state_dict)


def convert_official(state_dict: Mapping[str, Tensor]
                     ) -> Tuple[Dict[str, Tensor], Dict[str, List[str]]]:
    """Official key layout -> ours. Returns the converted weights and the
    dropped keys grouped by reason."""
    out: Dict[str, Tensor] = {}
    dropped: Dict[str, List[str]] = defaultdict(list)
    for key, value in state_dict.items():
        if key.rsplit('.', 1)[-1] in RESOLUTION_BUFFERS:
            dropped['resolution-dependent buffers (rebuilt at run time)'].append(key)
            continue
        if key.startswith(('head.', 'norm.')):
            dropped['ImageNet classifier (head, final norm)'].append(key)
            continue
        copy = _CT_COPY.match(key)
        if copy:
            original = state_dict.get(f'{copy[1]}pos_embed.{copy[2]}')
            if original is None or not torch.equal(original, value):
                raise CheckpointMismatchError(
                    f'{key} differs from its twin {copy[1]}pos_embed.{copy[2]}; '
                    'this file is not an official FasterViT checkpoint')
            dropped['second copy of the carrier-token position conv'].append(key)
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out, dict(dropped)


def extract_state_dict(checkpoint: Mapping, prefix: Optional[str] = None
                       ) -> Dict[str, Tensor]:
    """The backbone weights in a loaded file: under ``state_dict``, ``model``
    or at top level; ``module.`` stripped; only ``prefix`` keys (stripped) if
    given, or the ``backbone.`` part of a whole detector/segmentor file."""
    for name in ('state_dict', 'model'):
        if isinstance(checkpoint.get(name), Mapping):
            checkpoint = checkpoint[name]
            break
    weights = {k.removeprefix('module.'): v for k, v in checkpoint.items()
               if isinstance(v, Tensor)}
    if not weights:
        raise CheckpointMismatchError(
            'found no tensors under state_dict, model or at the top level '
            f'(keys: {sorted(checkpoint)[:8]})')
    if prefix is None and any(k.startswith('backbone.') for k in weights) and not any(
            k.startswith(('stem.', 'patch_embed.')) for k in weights):
        prefix = 'backbone.'
    if prefix:
        weights = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        if not weights:
            raise CheckpointMismatchError(f'no key starts with prefix {prefix!r}')
    return weights


def weights_signature(state_dict: Mapping[str, Tensor]) -> Dict[str, object]:
    """What a state dict (our layout) reveals of its architecture."""
    def size(key: str, dim: int = 0):
        return tuple(state_dict[key].shape)[dim] if key in state_dict else None

    depths = []
    for i in range(4):
        blocks = {int(m[1]) for k in state_dict
                  if (m := re.match(rf'stages\.{i}\.blocks\.(\d+)\.', k))}
        depths.append(max(blocks) + 1 if blocks else 0)
    return dict(
        dim=size('stem.conv2.weight'), in_dim=size('stem.conv1.weight'),
        depths=tuple(depths),
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


def matching_variants(state_dict: Mapping[str, Tensor]) -> List[str]:
    """Released variants whose weights have this state dict's structure (the
    21K variants differ only in window sizes, so they match together)."""
    found = weights_signature(state_dict)
    return [name for name in arch_zoo if arch_signature(resolve_arch(name)) == found]


def describe(state_dict: Mapping[str, Tensor]) -> str:
    return ', '.join(f'{k}={v}' for k, v in weights_signature(state_dict).items())


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did."""

    source: str
    loaded: List[str]
    new: List[str] = field(default_factory=list)
    dropped: Dict[str, List[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f'loaded {len(self.loaded)} tensors from {self.source}']
        if self.new:
            lines.append(f'not in the file, left at their initialisation (new output norms): '
                         f'{", ".join(self.new)}')
        for reason, keys in self.dropped.items():
            lines.append(f'dropped {len(keys)} keys: {reason}')
        return '\n'.join(lines)


def _output_norm_keys(model: nn.Module) -> List[str]:
    return [k for k in model.state_dict() if re.match(r'norm\d\.', k)]


def check_compatible(model: nn.Module, weights: Mapping[str, Tensor], source: str) -> List[str]:
    """Raise :class:`CheckpointMismatchError` unless ``weights`` fill every
    tensor of ``model`` but its output norms with the right shapes. Returns
    the model keys the file does not fill."""
    expected = model.state_dict()
    allowed_new = set(_output_norm_keys(model))
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    mismatched = [f'{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}'
                  for k, v in weights.items() if k in expected and v.shape != expected[k].shape]
    bad_missing = [k for k in missing if k not in allowed_new]
    if unexpected or bad_missing or mismatched:
        arch = getattr(getattr(model, 'arch', None), 'name', '?')
        details = []
        for title, keys in (('shape mismatches', mismatched), ('missing', bad_missing),
                            ('unexpected', unexpected)):
            if keys:
                details.append(f'  {title} ({len(keys)}): {"; ".join(keys[:5])}'
                               + (' ...' if len(keys) > 5 else ''))
        variants = matching_variants(weights)
        if arch in variants:  # same variant: an override changed the structure
            hint = (f'The file holds variant {arch!r} as released; an override of this '
                    'backbone (hat, layer_scale, ...) changed its structure: drop it, ')
        elif variants:
            hint = f'The file holds released variant {" / ".join(variants)}: use that arch, '
        else:
            hint = 'Use the arch the file was trained with, '
        raise CheckpointMismatchError(
            f'checkpoint {source} does not match this FasterViT (arch {arch!r}).\n'
            f'  expected: {describe(expected)}\n'
            f'  found:    {describe(weights)}\n' + '\n'.join(details) +
            f'\n{hint}or the file for arch {arch!r}.')
    return missing


def load_file(path: str, map_location='cpu') -> Mapping:
    """Load a checkpoint (local path or URL) with torch's weights-only loader."""
    from mmengine.runner import CheckpointLoader

    if '://' not in path and not os.path.isfile(path):
        raise FileNotFoundError(
            f'pretrained checkpoint {path!r} does not exist. Download the official '
            'file (e.g. fastervit_2_224_1k.pth.tar from the ahatamiz/FasterViT hub '
            'repo) to that path, point init_cfg.checkpoint at it, or set '
            'init_cfg=None to train from scratch.')
    return CheckpointLoader.load_checkpoint(path, map_location=map_location)


def load_pretrained(model: nn.Module, path: str, prefix: Optional[str] = None,
                    map_location='cpu', logger=None) -> LoadReport:
    """Load an official or converted FasterViT file into ``model`` after
    checking that it matches; logs and returns a :class:`LoadReport`."""
    weights = extract_state_dict(load_file(path, map_location), prefix)
    dropped: Dict[str, List[str]] = {}
    if is_official(weights):
        weights, dropped = convert_official(weights)
    missing = check_compatible(model, weights, path)
    model.load_state_dict(weights, strict=False)
    report = LoadReport(path, sorted(weights), sorted(missing), dropped)
    print_log(str(report), logger=logger or 'current', level=logging.INFO)
    return report
