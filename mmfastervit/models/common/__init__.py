"""What the backbone families share: the pyramid base class, input checks,
inference caches and CPU kernels."""
from .backbone import NUM_STAGES, PyramidBackbone
from .inputs import InputError, NonFiniteInputError

__all__ = ['NUM_STAGES', 'PyramidBackbone', 'InputError', 'NonFiniteInputError']
