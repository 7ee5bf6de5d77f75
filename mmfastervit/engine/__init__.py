"""What our package adds to mmengine's training engine: hooks
(:mod:`.hooks`) and the layer-wise learning-rate decay constructor
(:mod:`.optimizers`)."""
from .hooks import (
    BatchSourcesHook,
    CheckpointFitsModelHook,
    CompactEvaluationHook,
    ProgressHook,
    ResumeStateHook,
    StopOnSignalHook,
    TrainingStopped,
    ValidateBeforeTrainHook,
    format_metrics,
    shield_data_workers,
)
from .optimizers import (
    FasterViTLayerDecayOptimizerConstructor,
    PyramidLayerDecayOptimizerConstructor,
)

__all__ = ['BatchSourcesHook', 'CheckpointFitsModelHook', 'CompactEvaluationHook',
           'FasterViTLayerDecayOptimizerConstructor', 'ProgressHook',
           'PyramidLayerDecayOptimizerConstructor', 'ResumeStateHook', 'StopOnSignalHook',
           'TrainingStopped', 'ValidateBeforeTrainHook', 'format_metrics',
           'shield_data_workers']
