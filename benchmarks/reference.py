"""Helpers that run NVIDIA's ``fastervit==1.0.0`` as a numerical reference.

Test-only: the reference is used as a black box (built, given random weights,
run, its stage outputs read through hooks). None of its code is reused.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn

from mmfastervit import FasterViT
from mmfastervit.models.fastervit.checkpoint_format import convert_official


def reference_kwargs(arch: str, **overrides) -> dict:
    """Constructor arguments of the reference ``FasterViT`` for one of our variants."""
    a = dict(FasterViT.arch_zoo[arch])
    kw = dict(dim=a['dim'], in_dim=a['in_dim'], depths=list(a['depths']),
              num_heads=list(a['num_heads']), window_size=list(a.get('window_size', (7,) * 4)),
              ct_size=2, mlp_ratio=4, drop_path_rate=0.0,
              layer_scale=a.get('layer_scale'), layer_scale_conv=None,
              hat=list(a.get('hat', (False, False, True, False))),
              do_propagation=a.get('do_propagation', False))
    kw.update(overrides)
    return kw


def build_reference(resolution: Sequence[int], seed: int = 0, **kwargs) -> nn.Module:
    """The reference any-resolution model with random weights (incl. BN stats
    and layer scales, so that every path contributes to the output)."""
    from fastervit.models.faster_vit_any_res import FasterViT as RefFasterViT

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = RefFasterViT(resolution=list(resolution), **kwargs)
    randomize_(model)
    return model.eval()


def randomize_(model: nn.Module) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'cpb_mlp.0.' in name:  # position MLPs: O(1) outputs so they matter
                p.normal_(0, 1)
            elif 'cpb_mlp.2.' in name:
                p.normal_(0, p.shape[1] ** -0.5)
            elif name.endswith('qkv.weight'):  # logits of O(1), not ~0
                p.normal_(0, p.shape[1] ** -0.5)
            elif 'gamma' in name:
                p.copy_(torch.empty_like(p).uniform_(0.5, 1.5))
            elif name.endswith('bias') or p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)


def reference_stage_features(model: nn.Module, x: Tensor) -> List[Tensor]:
    """Each stage's output before its downsampler, read with hooks."""
    feats: Dict[int, Tensor] = {}
    handles = []
    for i, level in enumerate(model.levels):
        if getattr(level, 'downsample', None) is not None:
            handles.append(level.downsample.register_forward_pre_hook(
                lambda m, inp, i=i: feats.__setitem__(i, inp[0])))
        else:
            handles.append(level.register_forward_hook(
                lambda m, inp, out, i=i: feats.__setitem__(i, out)))
    try:
        with torch.no_grad():
            model.forward_features(x)
    finally:
        for h in handles:
            h.remove()
    return [feats[i] for i in range(len(model.levels))]


def ours_from_reference(ref: nn.Module, arch, **kwargs) -> FasterViT:
    """Our backbone (``arch``: name or dict) with the reference's weights,
    loaded through the official key converter. Only the new output norms
    stay unloaded; compare :func:`stage_features` for the stages alone."""
    weights, _ = convert_official(ref.state_dict())
    ours = FasterViT(arch, drop_path_rate=0.0, **kwargs)
    missing, unexpected = ours.load_state_dict(weights, strict=False)
    assert not unexpected, unexpected
    assert all(k.startswith('norm') for k in missing), missing
    return ours.eval()


def stage_features(model: FasterViT, x: Tensor) -> List[Tensor]:
    """Our stages' outputs before their downsamplers (no output norm)."""
    outs = []
    with torch.no_grad():
        x = model.stem(x)
        for stage in model.stages:
            x = stage(x)
            outs.append(x)
            if stage.downsample is not None:
                x = stage.downsample(x)
    return outs


def save_official_file(model: nn.Module, path, layout: str = 'state_dict',
                       module_prefix: bool = False) -> None:
    """Write ``model``'s weights as the official training script did: a
    timm-style checkpoint with the training arguments (an argparse Namespace),
    optimizer and EMA state beside the weights."""
    import argparse

    weights = {('module.' + k if module_prefix else k): v for k, v in model.state_dict().items()}
    extras = dict(epoch=309, arch='faster_vit_any_res', version=2, metric=84.2,
                  args=argparse.Namespace(model='faster_vit_2_224', lr=5e-3, mixup=0.8,
                                          input_size=[3, 224, 224], amp=True, resume=''),
                  optimizer={'state': {}, 'param_groups': [{'lr': 5e-3, 'params': [0, 1]}]})
    if layout == 'state_dict':
        ckpt = dict(extras, state_dict=weights,
                    state_dict_ema={k: v.clone() for k, v in list(weights.items())[:3]})
    elif layout == 'model':
        ckpt = dict(extras, model=weights)
    elif layout == 'top':
        ckpt = weights
    else:
        raise ValueError(layout)
    torch.save(ckpt, path)
