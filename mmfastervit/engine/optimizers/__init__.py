"""Optimizer-wrapper constructors (registered in mmengine's
``OPTIM_WRAPPER_CONSTRUCTORS``)."""
from .layer_decay import (
    FasterViTLayerDecayOptimizerConstructor,
    PyramidLayerDecayOptimizerConstructor,
    layer_id,
    num_layers,
)

__all__ = ['FasterViTLayerDecayOptimizerConstructor', 'PyramidLayerDecayOptimizerConstructor',
           'layer_id', 'num_layers']
