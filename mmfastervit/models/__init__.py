"""The backbone families; importing this registers every backbone."""
from .common import InputError, NonFiniteInputError, PyramidBackbone
from .fastervit import MIN_INPUT_SIZE, FasterViT, FasterViTArch, arch_zoo, resolve_arch
from .litv2 import LITv2, LITv2Arch

__all__ = ['FasterViT', 'FasterViTArch', 'InputError', 'LITv2', 'LITv2Arch', 'NonFiniteInputError',
           'PyramidBackbone',
           'arch_zoo', 'resolve_arch', 'MIN_INPUT_SIZE']
