"""LITv2 (Pan et al., NeurIPS 2022): FFN-only early stages, HiLo attention
(windowed Hi-Fi + pooled global Lo-Fi heads) and deformable token merging;
importing registers the backbone."""
from .arch_zoo import LITv2Arch, arch_zoo, resolve_arch
from .backbone import MIN_INPUT_SIZE, LITv2

__all__ = ['LITv2', 'LITv2Arch', 'arch_zoo', 'resolve_arch', 'MIN_INPUT_SIZE']
