"""The command-line layer: what ``tools/*.py`` share (arguments, config
loading, the runner with a readable console, one-line errors), the preflight
checks, the filters for library noise and the CPU (gloo) launcher.

Only the tools import this package; library code never does.
"""
from .environment import setup_env
from .tool import (
    add_common_args,
    build_runner,
    checked_config,
    error_message,
    load_config,
    main_guard,
    run,
)

__all__ = ['add_common_args', 'build_runner', 'checked_config', 'error_message',
           'load_config', 'main_guard', 'run', 'setup_env']
