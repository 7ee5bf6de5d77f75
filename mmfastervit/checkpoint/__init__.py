"""Checkpoints: reading files safely (torch's weights-only allowlist for our
files, :mod:`.safe_globals`), official-layout conversion (each family
has its :class:`CheckpointFormat` in ``models/<family>/checkpoint_format.py``),
structure checks and load reports, shared by every backbone family."""
from .errors import CheckpointError, CheckpointFileError, CheckpointMismatchError
from .fit import StateDictFit, state_dict_fit
from .format import CheckpointFormat
from .io import (
    check_checkpoint,
    extract_state_dict,
    inspect_checkpoint_file,
    load_checkpoint_file,
    read_checkpoint,
    state_dict_of,
)
from .loading import LoadReport, backbone_weights, check_compatible, load_pretrained
from .mmengine_loader import register_mmengine_loader
from .safe_globals import allow_checkpoint_globals

__all__ = ['CheckpointError', 'CheckpointFileError', 'CheckpointFormat',
           'CheckpointMismatchError', 'LoadReport', 'StateDictFit', 'allow_checkpoint_globals',
           'backbone_weights', 'check_checkpoint', 'check_compatible', 'extract_state_dict',
           'inspect_checkpoint_file', 'load_checkpoint_file', 'load_pretrained',
           'read_checkpoint', 'register_mmengine_loader', 'state_dict_fit', 'state_dict_of']
