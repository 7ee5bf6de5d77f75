"""What our tools add to mmengine's runner: stopping cleanly on SIGTERM /
SIGINT with a checkpoint that resumes exactly, naming the images behind an
input error, refusing checkpoints that do not fit, and logs a person reads."""
from .batch_sources import BatchSourcesHook
from .checkpoint_fit import CheckpointFitsModelHook
from .console import summarise_console
from .evaluation_table import CompactEvaluationHook, format_metrics
from .progress import ProgressHook
from .resume_state import ResumeStateHook
from .stop_signals import StopOnSignalHook, TrainingStopped, shield_data_workers
from .tool_runner import ToolRunner, VerboseToolRunner

__all__ = ['BatchSourcesHook', 'CheckpointFitsModelHook', 'CompactEvaluationHook',
           'ProgressHook', 'ResumeStateHook', 'StopOnSignalHook', 'ToolRunner',
           'TrainingStopped', 'VerboseToolRunner', 'format_metrics', 'shield_data_workers',
           'summarise_console']
