"""The backbone families; importing this registers every backbone."""
from .common import InputError, NonFiniteInputError, PyramidBackbone
from .fastervit import MIN_INPUT_SIZE, FasterViT, FasterViTArch, arch_zoo, resolve_arch

__all__ = ['FasterViT', 'FasterViTArch', 'InputError', 'NonFiniteInputError', 'PyramidBackbone',
           'arch_zoo', 'resolve_arch', 'MIN_INPUT_SIZE']
