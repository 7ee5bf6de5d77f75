"""Layer-wise learning-rate decay for detectors/segmentors with one of our
backbones (every family names its parts ``stem``, ``stages.{i}.blocks.{j}``
and ``stages.{i}.downsample``; the blocks per stage are the backbone's
``stage_depths``).

Fine-tuning from ImageNet weights works best when early layers move less than
late ones: parameter group ``k`` gets ``lr * decay_rate ** (num_layers - 1 - k)``.

``paramwise_cfg`` keys:
    decay_rate (float): per-layer factor, e.g. 0.8.
    decay_type (str): ``'layer_wise'`` (every block is a layer; the stem is
        layer 0) or ``'stage_wise'`` (every stage is a layer).

Layers: stem 0; block ``j`` of stage ``i`` is ``1 + sum(depths[:i]) + j``; a
FasterViT stage's carrier-token maker shares its first block's layer and a
downsampler (LITv2's DTM included) the next stage's first layer. The
backbone's new output norms, the neck and the heads get the full learning
rate. One-dimensional parameters (norms, biases, layer scales) get no weight
decay.
"""
from __future__ import annotations

import re
import warnings
from typing import Dict, List, Sequence

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn


def num_layers(depths: Sequence[int], decay_type: str = 'layer_wise') -> int:
    """Layers of the decay schedule: stem, blocks (or stages), then the rest."""
    return (len(depths) if decay_type == 'stage_wise' else sum(depths)) + 2


def layer_id(name: str, depths: Sequence[int], decay_type: str = 'layer_wise') -> int:
    """Layer of a model parameter named ``name`` (``backbone.`` prefixed)."""
    if not name.startswith('backbone.'):
        return num_layers(depths, decay_type) - 1
    name = name[len('backbone.'):]
    if name.startswith('stem.'):
        return 0
    match = re.match(r'stages\.(\d+)\.(blocks\.(\d+)|tokenizer|downsample)\.', name)
    if match is None:  # output norms: new, full learning rate
        return num_layers(depths, decay_type) - 1
    stage = int(match[1])
    if match[2] == 'downsample':
        stage, block = stage + 1, 0
    else:
        block = int(match[3]) if match[3] is not None else 0
    if decay_type == 'stage_wise':
        return stage + 1
    return 1 + sum(depths[:stage]) + block


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PyramidLayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """Optimizer-wrapper constructor applying layer-wise LR decay to the
    backbone of any family of this package (``constructor=`` this class's
    name in ``optim_wrapper``). Named apart from mmdet's
    ``LearningRateDecayOptimizerConstructor`` and mmseg's
    ``LayerDecayOptimizerConstructor`` (ConvNeXt / BEiT only)."""

    KEYS = ('decay_rate', 'decay_type')

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        unknown = set(self.paramwise_cfg) - set(self.KEYS)
        if unknown:
            raise ValueError(f'{type(self).__name__} takes paramwise_cfg keys {self.KEYS}, '
                             f'not {sorted(unknown)}')
        from ...models import PyramidBackbone

        backbone = getattr(module, 'backbone', None)
        if not isinstance(backbone, PyramidBackbone):
            raise TypeError(f'{type(self).__name__} needs a model whose .backbone is one of '
                            f'this package\'s ({", ".join(PyramidBackbone.families())}), got '
                            f'{type(backbone).__name__}')
        depths = backbone.stage_depths
        decay_rate = self.paramwise_cfg.get('decay_rate', 1.0)
        decay_type = self.paramwise_cfg.get('decay_type', 'layer_wise')
        if decay_type not in ('layer_wise', 'stage_wise'):
            raise ValueError(f"decay_type must be 'layer_wise' or 'stage_wise', got {decay_type!r}")
        layers = num_layers(depths, decay_type)

        groups: Dict[str, dict] = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith('.bias')
            lid = layer_id(name, depths, decay_type)
            key = f'layer_{lid}_{"no_decay" if no_decay else "decay"}'
            if key not in groups:
                scale = decay_rate ** (layers - 1 - lid)
                groups[key] = dict(params=[], lr=self.base_lr * scale, lr_scale=scale,
                                   group_name=key)
                if no_decay:
                    groups[key]['weight_decay'] = 0.0
                elif self.base_wd is not None:  # else the optimizer's default
                    groups[key]['weight_decay'] = self.base_wd
            groups[key]['params'].append(param)
        params.extend(groups[k] for k in sorted(groups, key=lambda k: int(k.split('_')[1])))
        print_log(f'layer-wise lr decay: {len(groups)} groups over {layers} layers, '
                  f'rate {decay_rate} ({decay_type})', logger='current')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FasterViTLayerDecayOptimizerConstructor(PyramidLayerDecayOptimizerConstructor):
    """Deprecated alias of :class:`PyramidLayerDecayOptimizerConstructor`
    (the name early FasterViT configs used); removed in the next release."""

    def __init__(self, *args, **kwargs) -> None:
        warnings.warn('FasterViTLayerDecayOptimizerConstructor is deprecated: use '
                      "constructor='PyramidLayerDecayOptimizerConstructor' (the same "
                      'constructor, for both families)', DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)
