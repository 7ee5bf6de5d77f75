"""Fast vision-transformer backbones for MMDetection 3.x and MMSegmentation 1.x.

``custom_imports=dict(imports=['mmfastervit'])`` in an mmdet or mmseg config
registers our modules in mmengine's root registries, which both libraries'
registries search: the backbones (``type='FasterViT'``, ``type='LITv2'``), the
optimizer-wrapper constructor ``PyramidLayerDecayOptimizerConstructor`` and
the hooks. It also lets torch's weights-only loader read official
checkpoints and mmengine training checkpoints. Nothing else changes: the
process-wide settings of our tools are :func:`mmfastervit.cli.setup_env`.
"""
import warnings as _warnings

from .checkpoint import allow_checkpoint_globals
from .cpu import cpu_kernels, get_cpu_kernels, set_cpu_kernels
from .engine import (
    FasterViTLayerDecayOptimizerConstructor,
    PyramidLayerDecayOptimizerConstructor,
    ValidateBeforeTrainHook,
)
from .models import (
    FasterViT,
    FasterViTArch,
    InputError,
    LITv2,
    LITv2Arch,
    NonFiniteInputError,
    PyramidBackbone,
)

allow_checkpoint_globals()

__version__ = '0.1.0'
__all__ = ['FasterViT', 'FasterViTArch', 'FasterViTLayerDecayOptimizerConstructor',
           'InputError', 'LITv2', 'LITv2Arch', 'NonFiniteInputError', 'PyramidBackbone',
           'PyramidLayerDecayOptimizerConstructor', 'ValidateBeforeTrainHook',
           'cpu_kernels', 'get_cpu_kernels', 'set_cpu_kernels']

#: FasterViT-only names that used to stand here as if generic: old name ->
#: (what it is, what to use); removed in the next release
_DEPRECATED = {
    'arch_zoo': (lambda: FasterViT.arch_zoo, 'FasterViT.arch_zoo'),
    'resolve_arch': (lambda: FasterViT.resolve_arch, 'FasterViT.resolve_arch'),
    'MIN_INPUT_SIZE': (lambda: FasterViT.min_input_size, 'FasterViT.min_input_size'),
}


def __getattr__(name: str):
    if name in _DEPRECATED:
        value, instead = _DEPRECATED[name]
        _warnings.warn(f'mmfastervit.{name} is deprecated (it is FasterViT\'s, not every '
                       f'family\'s): use {instead} (LITv2 has its own)', DeprecationWarning,
                       stacklevel=2)
        return value()
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
