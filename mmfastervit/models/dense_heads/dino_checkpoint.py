"""NVIDIA's released DINO-FasterViT detectors -> MMDetection 3's ``DINO``.

NVIDIA's detection code (a fork of IDEA's standalone DINO, not mmdet) saves
``{'model', 'optimizer', 'lr_scheduler', 'epoch', 'args'}``, with ``args`` an
``argparse.Namespace`` (on torch's weights-only allowlist once
``mmfastervit`` is imported, see :mod:`mmfastervit.checkpoint.safe_globals`).
:func:`convert_official_dino` turns ``model`` into the state dict of the
``configs/dino_4scale_fastervit_*`` models:

* the backbone (``backbone.0.*``) through its family's official-key converter;
* the decoder layers' norms reordered (the fork's ``norm2``, after
  self-attention, is mmdet's ``norms.0``; ``norm1``, after cross-attention,
  ``norms.1``), FFN and self-attention renamed;
* the fork's one class head and box MLP, shared by all decoder layers, copied
  into mmdet's per-layer branches, the encoder's heads into the last branch;
* the class rows: the fork has one per COCO category id (91 rows in the heads,
  92 in the denoising label embedding), mmdet one per contiguous label (80);
* the decoder's second references to the shared heads and the backbone's
  cached position biases dropped.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Tuple

import torch
from torch import Tensor

from ...checkpoint.errors import CheckpointMismatchError
from ...checkpoint.format import family_of, rename_key
from ...checkpoint.whole_model import WholeModelFormat, register_whole_model_format

#: COCO category ids (1..90 less the 10 never used), in mmdet's label order
COCO_CATEGORY_IDS: Tuple[int, ...] = tuple(
    i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))

_BACKBONE = 'backbone.0.'
#: keys only the fork's DINO has (with the backbone prefix above)
_SIGNATURE = ('transformer.level_embed', 'transformer.tgt_embed.weight')

#: fork -> mmdet renames of the transformer, applied in order
_RENAMES: List[Tuple[str, str]] = [
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.linear1\.', r'\1.layers.\2.ffn.layers.0.0.'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.linear2\.', r'\1.layers.\2.ffn.layers.1.'),
    (r'^transformer\.encoder\.layers\.(\d+)\.norm1\.', r'encoder.layers.\1.norms.0.'),
    (r'^transformer\.encoder\.layers\.(\d+)\.norm2\.', r'encoder.layers.\1.norms.1.'),
    (r'^transformer\.decoder\.layers\.(\d+)\.norm2\.', r'decoder.layers.\1.norms.0.'),
    (r'^transformer\.decoder\.layers\.(\d+)\.norm1\.', r'decoder.layers.\1.norms.1.'),
    (r'^transformer\.decoder\.layers\.(\d+)\.norm3\.', r'decoder.layers.\1.norms.2.'),
    (r'^transformer\.decoder\.layers\.(\d+)\.self_attn\.', r'decoder.layers.\1.self_attn.attn.'),
    (r'^transformer\.(encoder|decoder)\.layers\.', r'\1.layers.'),
    (r'^transformer\.decoder\.(norm|ref_point_head)\.', r'decoder.\1.'),
    (r'^transformer\.level_embed$', 'level_embed'),
    (r'^transformer\.tgt_embed\.', 'query_embedding.'),
    (r'^transformer\.enc_output\.', 'memory_trans_fc.'),
    (r'^transformer\.enc_output_norm\.', 'memory_trans_norm.'),
]
_DECODER_HEAD_COPY = re.compile(r'^transformer\.decoder\.(class|bbox)_embed\.(\d+)\.(.+)$')
_HEAD = re.compile(r'^(class|bbox)_embed\.(\d+)\.(.+)$')
_ENC_HEAD = re.compile(r'^transformer\.enc_out_(class|bbox)_embed\.(.+)$')
_PROJ = re.compile(r'^input_proj\.(\d+)\.([01])\.(weight|bias)$')


def _model_of(obj: Any) -> Any:
    return obj.get('model') if isinstance(obj, Mapping) else None


def is_official_dino(obj: Any) -> bool:
    """Whether a loaded file is a checkpoint of NVIDIA's DINO code (its
    ``model`` entry in the fork's key layout)."""
    model = _model_of(obj)
    return (isinstance(model, Mapping) and all(k in model for k in _SIGNATURE)
            and any(isinstance(k, str) and k.startswith(_BACKBONE) for k in model))


def _box_mlp(key: str) -> str:
    """The fork's box MLP ``layers.{0,1,2}`` -> mmdet's ``Sequential``
    (Linear, ReLU, Linear, ReLU, Linear) indices ``0, 2, 4``."""
    m = re.fullmatch(r'layers\.(\d+)\.(weight|bias)', key)
    if m is None:
        raise CheckpointMismatchError(f'unexpected box-head key {key!r} in a DINO file')
    return f'{2 * int(m[1])}.{m[2]}'


def _class_rows(value: Tensor, key: str) -> Tensor:
    """Rows indexed by COCO category id (91 or 92 of them) -> the 80 labels."""
    if value.shape[0] <= max(COCO_CATEGORY_IDS):
        raise CheckpointMismatchError(
            f'{key} has {value.shape[0]} rows; a COCO DINO file has one per category '
            f'id (at least {max(COCO_CATEGORY_IDS) + 1})')
    return value[list(COCO_CATEGORY_IDS)].clone()


def _backbone(weights: Mapping[str, Tensor]) -> Tuple[Dict[str, Tensor], List[str]]:
    fmt = family_of(weights)
    if fmt is None or not fmt.is_official(weights):
        raise CheckpointMismatchError(
            'the DINO file\'s backbone (backbone.0.*) is in no official backbone layout '
            'known here; import mmfastervit first (it registers the families)')
    converted, dropped = fmt.convert_official(weights)
    lines = [f'backbone: {fmt.family} {fmt.identify(converted)}, {len(converted)} tensors']
    lines += [f'backbone: dropped {len(keys)} keys: {reason}' for reason, keys in dropped.items()]
    return {f'backbone.{k}': v for k, v in converted.items()}, lines


def convert_official_dino(obj: Mapping[str, Any]) -> Tuple[Dict[str, Tensor], List[str]]:
    """A loaded official DINO file -> ``(mmdet DINO state dict, report lines)``.
    Raises :class:`CheckpointMismatchError` naming any key it cannot place."""
    if not is_official_dino(obj):
        raise CheckpointMismatchError(
            'not a checkpoint of NVIDIA\'s DINO detection code: expected a dict whose '
            f"'model' holds {', '.join(_SIGNATURE)} and backbone.0.* keys")
    model: Mapping[str, Tensor] = obj['model']
    out, report = _backbone({k[len(_BACKBONE):]: v for k, v in model.items()
                             if k.startswith(_BACKBONE)})
    heads: Dict[str, Dict[int, Dict[str, Tensor]]] = {'class': {}, 'bbox': {}}
    encoder_heads: Dict[str, Dict[str, Tensor]] = {'class': {}, 'bbox': {}}
    copies, unknown = 0, []
    for key, value in model.items():
        if key.startswith(_BACKBONE):
            continue
        if m := _DECODER_HEAD_COPY.match(key):
            twin = model.get(f'{m[1]}_embed.{m[2]}.{m[3]}')
            if twin is None or not torch.equal(twin, value):
                raise CheckpointMismatchError(
                    f'{key} differs from {m[1]}_embed.{m[2]}.{m[3]}: in a DINO file they '
                    'are the same shared head')
            copies += 1
        elif m := _HEAD.match(key):
            heads[m[1]].setdefault(int(m[2]), {})[m[3]] = value
        elif m := _ENC_HEAD.match(key):
            encoder_heads[m[1]][m[2]] = value
        elif m := _PROJ.match(key):
            out[f'neck.input_proj.{m[1]}.{m[2]}.{m[3]}'] = value  # placed below
        elif key == 'label_enc.weight':
            out['dn_query_generator.label_embedding.weight'] = _class_rows(value, key)
        elif (new := rename_key(key, _RENAMES)) != key:
            out[new] = value
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointMismatchError(
            f'{len(unknown)} keys of the DINO file have no place in mmdet\'s DINO: '
            f'{unknown[:8]}{" ..." if len(unknown) > 8 else ""}')
    _place_neck(out)
    layers = len(heads['class'])
    if layers == 0 or sorted(heads['class']) != sorted(heads['bbox']) \
            or sorted(heads['class']) != list(range(layers)):
        raise CheckpointMismatchError('the DINO file has no complete per-layer '
                                      'class_embed.{i} / bbox_embed.{i} heads')
    for i, branch in [*((i, heads['class'][i]) for i in range(layers)),
                      (layers, encoder_heads['class'])]:
        for name, value in branch.items():
            out[f'bbox_head.cls_branches.{i}.{name}'] = _class_rows(value, f'class head {i}')
    for i, branch in [*((i, heads['bbox'][i]) for i in range(layers)),
                      (layers, encoder_heads['bbox'])]:
        for name, value in branch.items():
            out[f'bbox_head.reg_branches.{i}.{_box_mlp(name)}'] = value.clone()
    shared = all(torch.equal(heads['class'][0]['weight'], heads['class'][i]['weight'])
                 for i in range(layers))
    report += [
        f'decoder: {layers} layers; class head and box MLP '
        f'{"shared by all layers, copied into" if shared else "per layer, as"} '
        f'branches 0..{layers - 1}; the encoder\'s into branch {layers}',
        f'classes: {len(COCO_CATEGORY_IDS)} labels from the rows of the COCO category ids '
        '(class heads and denoising label embedding)',
        f'dropped {copies} keys: second references of the decoder to the shared heads',
        f'{len(out)} tensors; file from epoch {obj.get("epoch", "?")}',
    ]
    return out, report


def _place_neck(out: Dict[str, Tensor]) -> None:
    """The fork's ``input_proj.{i}`` (conv, GroupNorm) -> ``ChannelMapper``:
    the 1x1 projections of the backbone levels are ``convs.{i}``, the strided
    3x3 convs of the extra levels ``extra_convs.{i - levels}``."""
    keys = sorted((k for k in out if k.startswith('neck.input_proj.')),
                  key=lambda k: int(k.split('.')[2]))
    levels = sum(1 for k in keys if k.endswith('.0.weight') and out[k].shape[-1] == 1)
    for key in keys:
        _, _, i, part, name = key.split('.')
        i = int(i)
        where = f'convs.{i}' if i < levels else f'extra_convs.{i - levels}'
        out[f'neck.{where}.{"conv" if part == "0" else "gn"}.{name}'] = out.pop(key)


#: loading such a file anywhere (``load_from``, ``tools/test.py``, the converter
#: tool) converts it, as the families' formats convert their ImageNet files
register_whole_model_format(WholeModelFormat(
    "NVIDIA's DINO-FasterViT detector", is_official_dino, convert_official_dino))
