"""The backbone families; importing this registers every backbone. Each
family's variants are its class's ``arch_zoo`` and ``resolve_arch``."""
from . import dense_heads  # noqa: F401  (whole-detector file formats; the heads need mmdet)
from .common import InputError, NonFiniteInputError, PyramidBackbone
from .fastervit import FasterViT, FasterViTArch
from .litv2 import LITv2, LITv2Arch

__all__ = ['FasterViT', 'FasterViTArch', 'InputError', 'LITv2', 'LITv2Arch',
           'NonFiniteInputError', 'PyramidBackbone']
