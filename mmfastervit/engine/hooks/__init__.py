"""Runner hooks: stopping cleanly on SIGTERM / SIGINT with a checkpoint that
resumes exactly, naming the images behind an input error, refusing
checkpoints that do not fit the model, progress and compact evaluation
tables, a validation before the first training step, and bf16 inference."""
from .batch_sources import BatchSourcesHook
from .bf16_inference import BF16InferenceHook
from .checkpoint_fit import CheckpointFitsModelHook
from .evaluation_table import CompactEvaluationHook, format_metrics
from .progress import ProgressHook
from .resume_state import ResumeStateHook
from .stop_signals import StopOnSignalHook, TrainingStopped, shield_data_workers
from .validate_before_train import ValidateBeforeTrainHook

__all__ = ['BatchSourcesHook', 'BF16InferenceHook', 'CheckpointFitsModelHook',
           'CompactEvaluationHook',
           'ProgressHook', 'ResumeStateHook', 'StopOnSignalHook', 'TrainingStopped',
           'ValidateBeforeTrainHook', 'format_metrics', 'shield_data_workers']
