"""Errors for mistakes a user can fix, raised by library code and the tools
alike (the tools print them as one ``error:`` line and exit with code 2).

Checkpoint errors live in :mod:`mmfastervit.checkpoint.errors`, input errors
in :mod:`mmfastervit.models.common.inputs`; this module holds the rest, so
that no library module needs the command-line layer for an exception.
"""


class ConfigError(ValueError):
    """A config cannot work as written; the message says how to fix it."""


#: how error messages name a whole-model checkpoint of ours
TRAINED = 'the file tools/train.py saved (WORK_DIR/iter_N.pth or epoch_N.pth)'
