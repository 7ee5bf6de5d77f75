"""FasterViT (Hatamizadeh et al., ICLR 2024): conv stages, then Hierarchical
Attention (window attention + carrier tokens); importing registers the backbone."""
from .arch_zoo import FasterViTArch, arch_zoo, resolve_arch
from .backbone import MIN_INPUT_SIZE, FasterViT

__all__ = ['FasterViT', 'FasterViTArch', 'arch_zoo', 'resolve_arch', 'MIN_INPUT_SIZE']
