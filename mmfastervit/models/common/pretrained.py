"""The ``pretrained=`` argument of mmdet's / mmseg's backbones, for ours.

mmseg's ``EncoderDecoder`` (and mmdet's older detectors) hand the model-level
``pretrained`` to the backbone, and many of their base model configs set it.
As in mmdet's ResNet / Swin and mmseg's MiT / ViT, a path becomes
``init_cfg=dict(type='Pretrained', checkpoint=path)``, so it loads through
the same converter as ``init_cfg`` does; a FutureWarning (shown by default)
says it is deprecated.
"""
from __future__ import annotations

import warnings
from typing import Optional

from ...errors import ConfigError


def pretrained_init_cfg(pretrained: Optional[str], init_cfg: Optional[dict],
                        name: str) -> Optional[dict]:
    """The ``init_cfg`` a backbone ``name`` uses for ``pretrained`` and
    ``init_cfg``: ``init_cfg`` itself when ``pretrained`` is None."""
    if pretrained is None:
        return init_cfg
    if not isinstance(pretrained, str):
        raise TypeError(f'{name}: pretrained must be a checkpoint path (str) or None, got '
                        f'{type(pretrained).__name__} {pretrained!r}; better use '
                        "init_cfg=dict(type='Pretrained', checkpoint=PATH)")
    if init_cfg is not None:
        raise ConfigError(
            f'{name} got both pretrained={pretrained!r} and init_cfg={init_cfg!r}: set only '
            "one (init_cfg=dict(type='Pretrained', checkpoint=PATH) is preferred). A "
            "pretrained that comes from the model level (mmseg's base configs set "
            "model.pretrained, e.g. to a ResNet file) is removed with model.pretrained=None")
    warnings.warn(f"{name}: pretrained is deprecated, use init_cfg=dict(type='Pretrained', "
                  f'checkpoint={pretrained!r}) instead', FutureWarning, stacklevel=2)
    return dict(type='Pretrained', checkpoint=pretrained)


#: mmcv's model-zoo schemes: weights of mmcv's own backbones (ResNet, HRNet...)
MODEL_ZOO_SCHEMES = ('open-mmlab://', 'openmmlab://', 'torchvision://', 'mmcls://')


def check_not_model_zoo(checkpoint: str, name: str) -> None:
    """Raise :class:`ConfigError` before downloading a model-zoo checkpoint
    (``open-mmlab://resnet50_v1c``: what mmseg's base configs hand on as
    ``model.pretrained``), which can never fit backbone ``name``."""
    if isinstance(checkpoint, str) and checkpoint.startswith(MODEL_ZOO_SCHEMES):
        raise ConfigError(
            f'{name} cannot load {checkpoint!r}: it names mmcv\'s model zoo, weights of '
            f'other backbones (ResNet, HRNet...). A base config\'s model.pretrained passes it '
            f'on: set model.pretrained=None, and load {name} weights with '
            "init_cfg=dict(type='Pretrained', checkpoint=PATH)")
