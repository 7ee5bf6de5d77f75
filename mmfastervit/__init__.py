"""Fast vision-transformer backbones for MMDetection 3.x and MMSegmentation 1.x.

``custom_imports=dict(imports=['mmfastervit'])`` in an mmdet or mmseg config
registers the backbones (``type='FasterViT'``, ``type='LITv2'``) and the
optimizer-wrapper constructor ``PyramidLayerDecayOptimizerConstructor`` (alias
``FasterViTLayerDecayOptimizerConstructor``) (in mmengine's root
registries, which both libraries' registries search) and lets torch's
weights-only loader read official checkpoints and mmengine training checkpoints.
"""
from .safe_load import allow_checkpoint_globals

allow_checkpoint_globals()

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

__version__ = '0.1.0'
__all__ = ['FasterViT', 'FasterViTArch', 'FasterViTLayerDecayOptimizerConstructor',
           'InputError', 'LITv2', 'LITv2Arch', 'PyramidBackbone',
           'PyramidLayerDecayOptimizerConstructor', 'ValidateBeforeTrainHook', 'arch_zoo',
           'resolve_arch']
