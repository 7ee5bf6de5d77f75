"""Loading pretrained weights into a backbone: conversion of official files,
structure checks with messages that name the variant, and a load report."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

from mmengine.logging import print_log
from torch import Tensor, nn

from .errors import CheckpointMismatchError
from .fit import state_dict_fit
from .format import family_of
from .io import extract_state_dict, read_checkpoint


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did."""

    source: str
    loaded: List[str]
    new: List[str] = field(default_factory=list)
    dropped: Dict[str, List[str]] = field(default_factory=dict)
    placeholders: List[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f'loaded {len(self.loaded)} tensors from {self.source}']
        if self.new:
            lines.append(f'not in the file, left at their initialisation (new output norms): '
                         f'{", ".join(self.new)}')
        for reason, keys in self.dropped.items():
            lines.append(f'dropped {len(keys)} keys: {reason}')
        if self.placeholders:
            lines.append('not weights, kept as inert placeholders (never imported): '
                         + ', '.join(self.placeholders))
        return '\n'.join(lines)


def _output_norm_keys(model: nn.Module) -> List[str]:
    return [k for k in model.state_dict() if re.match(r'norm\d\.', k)]


def _norms(keys) -> List[int]:
    return sorted({int(m[1]) for k in keys if (m := re.match(r'norm(\d)\.', k))})


def _norm_keys_only(keys) -> bool:
    return all(re.match(r'norm\d\.', k) for k in keys)


def output_norm_hint(model_keys, file_keys) -> str:
    """How to make the model's output norms those of a file that has some
    (``''`` if they agree or the file has none, as an ImageNet file)."""
    ours, theirs = _norms(model_keys), _norms(file_keys)
    if not theirs or ours == theirs:
        return ''
    return (f'; the file\'s backbone has output norms on stages {theirs}, this one on '
            f'{ours}: set model.backbone.out_norm_indices={tuple(theirs)}')


def check_backbone_part(model: nn.Module, state_dict: Mapping[str, Tensor],
                        prefix: str) -> None:
    """Refuse to load the ``prefix`` part of a whole model's weights into its
    backbone ``model`` unless it fills the backbone exactly (in our layout,
    every tensor, same shapes, nothing else): a half-loaded backbone gives
    wrong outputs silently. Weights with no ``prefix`` key are not checked."""
    part = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not part:
        return
    fmt, name = model.checkpoint_format, prefix.rstrip('.')
    if fmt.is_official(part):
        raise CheckpointMismatchError(
            f'the {name} weights being loaded are in the official {fmt.family} layout: load '
            'the file through our tools (or call mmfastervit.cli.setup_env() first), which '
            'convert it on the fly, or convert it once with '
            'tools/model_converters/convert_official_checkpoint.py')
    fit = state_dict_fit(model.state_dict(), part)
    if fit.missing or fit.unexpected or fit.mismatched:
        found = [f'{len(keys)} {what} (e.g. {keys[0]})' for what, keys in (
            ('missing', fit.missing), ('unexpected', fit.unexpected),
            ('with other shapes', fit.mismatched)) if keys]
        raise CheckpointMismatchError(
            f'the {name} weights being loaded do not fill this {fmt.family}: '
            f'{", ".join(found)}{output_norm_hint(model.state_dict(), part)}; '
            'load the file of this config\'s model (a backbone is never loaded in part)')


def check_compatible(model: nn.Module, weights: Mapping[str, Tensor], source: str) -> List[str]:
    """Raise :class:`CheckpointMismatchError` unless ``weights`` fill every
    tensor of ``model`` but its output norms with the right shapes. Returns
    the model keys the file does not fill."""
    fmt = model.checkpoint_format
    expected = model.state_dict()
    # fresh output norms are fine for an ImageNet file, not for one that has trained ones
    allowed_new = set() if _norms(weights) else set(_output_norm_keys(model))
    fit = state_dict_fit(expected, weights)
    missing, unexpected, mismatched = fit.missing, fit.unexpected, fit.mismatched
    bad_missing = [k for k in missing if k not in allowed_new]
    if unexpected or bad_missing or mismatched:
        arch = getattr(getattr(model, 'arch', None), 'name', '?')
        details = []
        for title, keys in (('shape mismatches', mismatched), ('missing', bad_missing),
                            ('unexpected', unexpected)):
            if keys:
                details.append(f'  {title} ({len(keys)}): {"; ".join(keys[:5])}'
                               + (' ...' if len(keys) > 5 else ''))
        variants = fmt.matching_variants(weights)
        norms = output_norm_hint(expected, weights)
        if norms and not mismatched and _norm_keys_only(bad_missing + unexpected):
            raise CheckpointMismatchError(
                f'checkpoint {source} has the structure of this {fmt.family} but other output '
                f'norms ({"; ".join(details).strip()}){norms}')
        if arch in variants:  # same variant: an override changed the structure
            hint = (f'The file holds variant {arch!r} as released; an override of this '
                    f'backbone ({fmt.override_hint}) changed its structure: drop it, ')
        elif variants:
            hint = f'The file holds released variant {" / ".join(variants)}: use that arch, '
        else:
            hint = 'Use the arch the file was trained with, '
        raise CheckpointMismatchError(
            f'checkpoint {source} does not match this {fmt.family} (arch {arch!r}).\n'
            f'  expected: {fmt.describe(expected)}\n'
            f'  found:    {fmt.describe(weights)}\n' + '\n'.join(details) +
            f'\n{hint}or the file for arch {arch!r}{norms}.')
    return missing


def backbone_weights(model: nn.Module, path: str, prefix: Optional[str] = None,
                     map_location='cpu', placeholders: Optional[List[str]] = None):
    """The weights of ``path`` for ``model``, in our layout, and the keys
    dropped in conversion (by reason); classes the file pickled beside its
    weights are appended to ``placeholders``."""
    fmt = model.checkpoint_format
    weights = extract_state_dict(
        read_checkpoint(path, map_location, fmt.download_hint, placeholders), prefix)
    dropped: Dict[str, List[str]] = {}
    other = None if fmt.recognises(weights) else family_of(weights)
    if other is not None:
        kind = 'an official' if other.is_official(weights) else 'a'
        raise CheckpointMismatchError(
            f'checkpoint {path} is {kind} {other.family} checkpoint ({other.identify(weights)}), '
            f'not {fmt.family}: load it into model.backbone.type={other.family!r}, or give '
            f'this {fmt.family} backbone a {fmt.family} file. {fmt.download_hint}.')
    if fmt.is_official(weights):
        weights, dropped = fmt.convert_official(weights)
    return weights, dropped


def load_pretrained(model: nn.Module, path: str, prefix: Optional[str] = None,
                    map_location='cpu', logger=None) -> LoadReport:
    """Load an official or converted file into ``model`` after checking that
    it matches; logs and returns a :class:`LoadReport`."""
    placeholders: List[str] = []
    weights, dropped = backbone_weights(model, path, prefix, map_location, placeholders)
    missing = check_compatible(model, weights, path)
    model.load_state_dict(weights, strict=False)
    report = LoadReport(path, sorted(weights), sorted(missing), dropped, placeholders)
    print_log(str(report), logger=logger or 'current', level=logging.INFO)
    return report
