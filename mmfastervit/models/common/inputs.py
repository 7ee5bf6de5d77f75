"""Checks on a backbone's input: every mistake named, with its fix.

A backbone sees images after mmdet's / mmseg's data preprocessor: a float
``(B, C, H, W)`` batch, normalised, in the weights' dtype (or any float dtype
under autocast). Anything else fails here with a message that names what was
passed and how to fix it, instead of deep inside a convolution.
"""
from __future__ import annotations

from typing import List

import torch
from torch import Tensor

from ...utils.compat import autocast_enabled


class InputError(ValueError):
    """An input a backbone cannot take; the message says how to fix it."""


class NonFiniteInputError(InputError):
    """An input holding NaN or inf; ``elements`` are the batch elements at
    fault (of ``batch_size``), ``kinds`` what they hold ('NaN', 'inf')."""

    def __init__(self, message: str, name: str, kinds: List[str], elements: List[int],
                 batch_size: int) -> None:
        super().__init__(message)
        self.name, self.kinds, self.elements, self.batch_size = (
            name, kinds, elements, batch_size)


def check_input(x: Tensor, *, name: str, in_channels: int, min_size: int,
                weight_dtype: torch.dtype, check_sizes: bool = True) -> None:
    """Raise :class:`InputError` unless ``x`` is a batch ``name`` can run.

    ``min_size``: the smallest height / width the network's strides allow.
    ``check_sizes=False`` (while tracing) skips the checks that read the
    batch, channel and spatial sizes: those are symbolic then, and a check
    on them would bake the traced sizes into the graph or add guards.
    """
    if not isinstance(x, Tensor):
        raise InputError(f'{name} expects a (B, C, H, W) tensor, got {type(x).__name__}')
    if x.dim() != 4:
        hint = ' (a single image: add the batch dimension with x[None])' if x.dim() == 3 else ''
        raise InputError(f'{name} expects a (B, C, H, W) tensor, got shape '
                         f'{tuple(x.shape)}{hint}')
    b, c, h, w = x.shape
    if check_sizes and b == 0:
        raise InputError(f'{name} got an empty batch (shape {tuple(x.shape)}): pass at '
                         'least one image, or skip the call when there is none')
    if not x.is_floating_point():
        hint = (' Raw uint8 pixels must go through the model\'s data preprocessor '
                '(model.data_preprocessor: float conversion, mean/std normalisation), '
                'or be converted with x.float() and normalised by hand.'
                if x.dtype == torch.uint8 else ' Convert it with x.float().')
        raise InputError(f'{name} expects floating-point images, got dtype {x.dtype}.{hint}')
    if x.dtype != weight_dtype and not autocast_enabled(x.device.type):
        raise InputError(
            f'{name} has {weight_dtype} weights but got a {x.dtype} input: convert the '
            f'input (x.to({weight_dtype})), the model (model.to({x.dtype})), or run under '
            'torch.autocast for mixed precision')
    if not check_sizes:
        return
    if c != in_channels:
        raise InputError(f'{name} was built for {in_channels} input channels but got {c} '
                         f'(shape {tuple(x.shape)}); set in_channels in the backbone config')
    if min(h, w) < min_size:
        raise InputError(f'input {(h, w)} is too small: {name} needs H and W of at least '
                         f'{min_size} pixels (its deepest stage has stride 32); resize or '
                         'pad the image')


def check_finite(x: Tensor, name: str) -> None:
    """Raise :class:`NonFiniteInputError` naming every batch element of ``x`` that
    holds NaN or inf (a corrupt image, a division by zero upstream)."""
    finite = torch.isfinite(x).flatten(1).all(1)
    if bool(finite.all()):
        return
    bad = (~finite).nonzero().flatten().tolist()
    kinds = []
    if bool(torch.isnan(x[bad]).any()):
        kinds.append('NaN')
    if bool(torch.isinf(x[bad]).any()):
        kinds.append('inf')
    raise NonFiniteInputError(
        f'{name} input holds {" and ".join(kinds)} in batch element(s) {bad} of '
        f'{x.shape[0]}: check those images and the preprocessing before them '
        '(check_finite=True raised this; set it False to let non-finite values '
        'propagate to the outputs instead)', name, kinds, bad, x.shape[0])
