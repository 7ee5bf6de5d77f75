"""mmengine's runner as our tools use it: a readable console (unless
``verbose``) and the hooks that name the images behind an input error and
print progress and compact evaluation tables."""
from __future__ import annotations

from mmengine.runner import Runner

from ..engine.hooks import BatchSourcesHook, CompactEvaluationHook, ProgressHook
from .console import summarise_console


class ToolRunner(Runner):
    summarise = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batch_sources = BatchSourcesHook()
        for hook in (self.batch_sources, CompactEvaluationHook(), ProgressHook()):
            self.register_hook(hook)

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        if self.summarise:
            summarise_console(logger)
        return logger


class VerboseToolRunner(ToolRunner):
    """Prints every report on the console too (``--verbose``)."""

    summarise = False
