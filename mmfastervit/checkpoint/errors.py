"""Errors of checkpoint reading and loading; each message names the file,
what was found, what was expected and how to fix it."""


class CheckpointError(ValueError):
    """Base of the checkpoint errors below."""


class CheckpointFileError(CheckpointError):
    """A file that cannot be read as a checkpoint (missing, empty, truncated,
    corrupt, or not a checkpoint at all)."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's weights do not fit the backbone they are loaded into."""
