"""Checkpoints: reading files safely, official-layout conversion (each family
has its :class:`CheckpointFormat` in ``models/<family>/checkpoint_format.py``),
structure checks and load reports, shared by every backbone family."""
from .errors import CheckpointError, CheckpointFileError, CheckpointMismatchError
from .format import CheckpointFormat
from .io import (
    extract_state_dict,
    inspect_checkpoint_file,
    load_checkpoint_file,
    read_checkpoint,
    register_mmengine_loader,
)
from .loading import LoadReport, backbone_weights, check_compatible, load_pretrained

__all__ = ['CheckpointError', 'CheckpointFileError', 'CheckpointFormat',
           'CheckpointMismatchError', 'LoadReport', 'backbone_weights', 'check_compatible',
           'extract_state_dict', 'inspect_checkpoint_file', 'load_checkpoint_file',
           'load_pretrained', 'read_checkpoint', 'register_mmengine_loader']
