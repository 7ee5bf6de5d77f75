"""FasterViT model parts; importing this registers the backbone."""
from .arch_zoo import FasterViTArch, arch_zoo, resolve_arch
from .fastervit import MIN_INPUT_SIZE, FasterViT

__all__ = ['FasterViT', 'FasterViTArch', 'arch_zoo', 'resolve_arch', 'MIN_INPUT_SIZE']
