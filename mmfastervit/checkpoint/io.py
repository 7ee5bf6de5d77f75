"""Reading checkpoint files and finding the backbone weights inside them.

Every file goes through :func:`load_checkpoint_file`: a cheap look at its
structure first (an empty file, a truncated zip archive, an HTML page saved
by a failed download are named as such), then torch's weights-only loader,
then, for files that also hold objects weights-only loading refuses (a
training config, say), the restricted unpickler that keeps those objects as
inert placeholders. :mod:`.mmengine_loader` routes mmengine's own loading of
local files through it.
"""
from __future__ import annotations

import logging
import os.path as osp
import pickle
import zipfile
from typing import Dict, List, Mapping, Optional

import torch
from torch import Tensor

from ..errors import ConfigError
from .errors import CheckpointFileError, CheckpointMismatchError
from .format import backbone_key_prefixes
from .restricted_unpickler import restricted_load

_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_PROTO = b'\x80'
_AGAIN = 'Download or save it again.'


def _looks_like(head: bytes) -> str:
    text = head.lstrip().lower()
    if text.startswith((b'<!doctype html', b'<html')):
        return 'an HTML page (a failed download saves the server\'s error page)'
    try:
        first = head.decode('utf-8').splitlines()[0][:60]
        return f'text ({first!r})'
    except (UnicodeDecodeError, IndexError):
        return f'bytes {head[:8]!r}'


def inspect_checkpoint_file(path: str) -> None:
    """Raise :class:`CheckpointFileError` if ``path`` cannot be a PyTorch
    checkpoint: empty, a zip archive cut short, or not torch's format at all.
    Reads only the file's start and its zip directory."""
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointFileError(f'checkpoint {path} is empty (0 bytes): an interrupted '
                                  f'download or save leaves such a file. {_AGAIN}')
    with open(path, 'rb') as f:
        head = f.read(64)
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            raise CheckpointFileError(
                f'checkpoint {path} is truncated or corrupt: torch.save writes a zip archive '
                f'whose directory ends the file, and this file ({size:,} bytes) has none; an '
                f'interrupted download or save leaves such a file. {_AGAIN}') from None
        if not any(n == 'data.pkl' or n.endswith('/data.pkl') for n in names):
            raise CheckpointFileError(
                f'{path} is a zip archive but not a PyTorch checkpoint (it holds '
                f'{", ".join(names[:4]) or "nothing"}{" ..." if len(names) > 4 else ""}; '
                'a checkpoint holds data.pkl)')
    elif not head.startswith(_PICKLE_PROTO):
        raise CheckpointFileError(
            f'{path} is not a PyTorch checkpoint: it holds {_looks_like(head)}; expected a '
            f'file written by torch.save (a zip archive or a pickle). {_AGAIN}')


def check_checkpoint(path: Optional[str], what: str, fix: str = '') -> None:
    """``path`` exists and can be a PyTorch checkpoint (empty, truncated and
    non-checkpoint files are named; reads only the file's start and its zip
    directory). ``fix``: what to do instead, for a missing file."""
    if not path or '://' in path:
        return
    if not osp.isfile(path):
        raise ConfigError(f'{what} {path!r} does not exist' + (f': {fix}' if fix else ''))
    inspect_checkpoint_file(path)


def _unreadable(path: str, err: BaseException) -> CheckpointFileError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return CheckpointFileError(
        f'checkpoint {path} is corrupt: its structure looks right but reading it failed '
        f'({type(err).__name__}: {reason[:200]}). {_AGAIN}')


def load_checkpoint_file(path: str, map_location='cpu',
                         placeholders: Optional[List[str]] = None, mmap: bool = False):
    """Load a local checkpoint file with clear errors for broken files.

    torch's weights-only loader reads it; if that refuses some pickled class,
    :func:`restricted_load` reads it again with such objects kept as inert
    placeholders, whose class names are appended to ``placeholders``.
    ``mmap``: map a zip-format file's tensors instead of reading them (to
    look at a file's structure cheaply)."""
    inspect_checkpoint_file(path)
    readable = (RuntimeError, EOFError, UnicodeDecodeError, ValueError, KeyError,
                zipfile.BadZipFile, pickle.UnpicklingError)
    with open(path, 'rb') as f:
        mmap = mmap and f.read(4) == _ZIP_MAGIC
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as err:
        if 'weights only load failed' not in str(err).lower():
            raise _unreadable(path, err) from None
    except readable as err:
        raise _unreadable(path, err) from None
    try:
        obj, replaced = restricted_load(path, map_location)
    except readable as err:
        raise _unreadable(path, err) from None
    if placeholders is not None:
        placeholders.extend(replaced)
    from mmengine.logging import print_log
    print_log(f'{path}: kept {len(replaced)} pickled object type(s) that are not weights '
              f'as inert placeholders, not loaded: {", ".join(replaced)}',
              logger='current', level=logging.INFO)
    return obj


def read_checkpoint(path: str, map_location='cpu',
                    download_hint: str = 'Download the official file',
                    placeholders: Optional[List[str]] = None) -> Mapping:
    """Load a pretrained checkpoint (local path or URL) for a backbone."""
    from mmengine.runner import CheckpointLoader

    if '://' in path:
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location=map_location)
    elif not osp.isfile(path):
        raise FileNotFoundError(
            f'pretrained checkpoint {path!r} does not exist. {download_hint} to that '
            'path, point init_cfg.checkpoint at it, or set init_cfg=None to train from '
            'scratch.')
    else:
        checkpoint = load_checkpoint_file(path, map_location, placeholders)
    if not isinstance(checkpoint, Mapping):
        raise not_a_dict(path, checkpoint)
    return checkpoint


def not_a_dict(path: str, obj) -> CheckpointFileError:
    return CheckpointFileError(
        f'{path} holds a {type(obj).__name__}, not a checkpoint: expected a dict of '
        'weights (a state dict, or one under "state_dict" or "model")')


def _weights_mapping(checkpoint: Mapping) -> Mapping:
    """Where a loaded file keeps its weights: ``state_dict``, ``model`` or
    the top level."""
    for name in ('state_dict', 'model'):
        if isinstance(checkpoint.get(name), Mapping):
            return checkpoint[name]
    return checkpoint


def state_dict_of(checkpoint: Mapping) -> Dict[str, Tensor]:
    """The tensors of a loaded file (:func:`_weights_mapping`), with DDP's
    ``module.`` stripped; empty when there are none."""
    return {k.removeprefix('module.'): v for k, v in _weights_mapping(checkpoint).items()
            if isinstance(v, Tensor)}


def extract_state_dict(checkpoint: Mapping, prefix: Optional[str] = None
                       ) -> Dict[str, Tensor]:
    """The backbone weights in a loaded file (:func:`state_dict_of`): only
    ``prefix`` keys (stripped) if given, or the ``backbone.`` part of a whole
    detector/segmentor file (one with no backbone keys of a registered
    family at top level)."""
    weights = state_dict_of(checkpoint)
    if not weights:
        raise CheckpointMismatchError(
            'found no tensors under state_dict, model or at the top level '
            f'(keys: {sorted(map(str, _weights_mapping(checkpoint)))[:8]})')
    if prefix is None and any(k.startswith('backbone.') for k in weights) and not any(
            k.startswith(backbone_key_prefixes()) for k in weights):
        prefix = 'backbone.'
    if prefix:
        weights = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        if not weights:
            raise CheckpointMismatchError(f'no key starts with prefix {prefix!r}')
    return weights

