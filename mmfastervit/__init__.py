"""Fast vision-transformer backbones for MMDetection 3.x and MMSegmentation 1.x.

``custom_imports=dict(imports=['mmfastervit'])`` in an mmdet or mmseg config
registers the backbones (``type='FasterViT'``, ``type='LITv2'``) and the
optimizer-wrapper constructor ``PyramidLayerDecayOptimizerConstructor`` (alias
``FasterViTLayerDecayOptimizerConstructor``) (in mmengine's root
registries, which both libraries' registries search) and lets torch's
weights-only loader read official checkpoints and mmengine training checkpoints.
"""
from .library_noise import quiet_library_noise

quiet_library_noise()

from .checkpoint import register_mmengine_loader  # noqa: E402
from .safe_load import allow_checkpoint_globals  # noqa: E402

allow_checkpoint_globals()
register_mmengine_loader()

from .hooks import ValidateBeforeTrainHook  # noqa: E402
from .layer_decay import (  # noqa: E402
    FasterViTLayerDecayOptimizerConstructor,
    PyramidLayerDecayOptimizerConstructor,
)
from .models import (  # noqa: E402
    FasterViT,
    FasterViTArch,
    InputError,
    LITv2,
    LITv2Arch,
    PyramidBackbone,
    arch_zoo,
    resolve_arch,
)
from .models.common.cpu_dispatch import cpu_kernels, get_cpu_kernels, set_cpu_kernels  # noqa: E402,E501

__version__ = '0.1.0'
__all__ = ['FasterViT', 'FasterViTArch', 'FasterViTLayerDecayOptimizerConstructor',
           'InputError', 'LITv2', 'LITv2Arch', 'PyramidBackbone',
           'PyramidLayerDecayOptimizerConstructor', 'ValidateBeforeTrainHook', 'arch_zoo',
           'cpu_kernels', 'get_cpu_kernels', 'resolve_arch', 'set_cpu_kernels']
