"""What the backbone families share: the pyramid base class, input checks,
inference caches, activation checkpointing and arch resolution (CPU kernels:
:mod:`mmfastervit.cpu`)."""
from .backbone import NUM_STAGES, PyramidBackbone
from .inputs import InputError, NonFiniteInputError

__all__ = ['NUM_STAGES', 'PyramidBackbone', 'InputError', 'NonFiniteInputError']
