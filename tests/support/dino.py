"""The DINO configs at test size: the architecture of a golden ``arch.json``
(``tests/data/dino_golden/``) put into a config's model, and the model built."""
from __future__ import annotations

import json
import os
from typing import Any, Mapping

from .tool_runs import ROOT

DINO_GOLDEN = os.path.join(ROOT, 'tests', 'data', 'dino_golden')


def golden_arch(name: str = 'tiny_local') -> dict:
    """A golden detector's ``arch.json``: its FasterViT dict and DINO arguments."""
    with open(os.path.join(DINO_GOLDEN, name, 'arch.json')) as f:
        return json.load(f)


def shrink_dino(model_cfg: Any, arch: Mapping[str, Any]) -> Any:
    """Set a DINO config's model (in place) to the architecture of an
    ``arch.json``: backbone arch, neck inputs, encoder / decoder layers, FFN
    width, queries and detections per image. Returns ``model_cfg``."""
    fv, args = arch['fastervit'], arch['dino_args']
    model_cfg.backbone.arch = {k: fv[k] for k in ('dim', 'in_dim', 'depths', 'num_heads',
                                                  'window_size', 'ct_size', 'mlp_ratio',
                                                  'layer_scale', 'hat')}
    model_cfg.backbone.init_cfg = None
    model_cfg.neck.in_channels = [fv['dim'] * 2**i for i in args['return_interm_indices']]
    for part in ('encoder', 'decoder'):
        model_cfg[part].num_layers = args[f'{part[:3]}_layers']
        model_cfg[part].layer_cfg.ffn_cfg.feedforward_channels = args['dim_feedforward']
    model_cfg.num_queries = args['num_queries']
    model_cfg.test_cfg.max_per_img = args['num_select']
    return model_cfg


def build_detector(model_cfg: Any):
    """An mmdet model from a config's ``model`` (mmdet's scope)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    import mmfastervit.models.dense_heads.dino_head  # noqa: F401  (registers ForkDINOHead)

    init_default_scope('mmdet')
    return MODELS.build(model_cfg)
