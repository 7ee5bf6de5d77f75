"""MMDetection's DINO head with the box refinement of NVIDIA's DINO code.

The two differ in one number: the final boxes of every decoder layer are
``sigmoid(delta + inverse_sigmoid(reference))``, and NVIDIA's code (IDEA's
DINO) clamps the reference to ``[1e-3, 1 - 1e-3]`` inside ``inverse_sigmoid``
where mmdet's head clamps to ``1e-5``. Only boxes touching the image border
(reference coordinates below 1e-3 or above 0.999) see it; with it, the
released detector's weights give the boxes they were trained to give.

Needs mmdet: import ``mmfastervit.models.dense_heads.dino_head`` (the DINO configs'
``custom_imports`` do), which registers ``ForkDINOHead`` in mmdet's registry.
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from mmdet.models.dense_heads import DINOHead
from mmdet.models.layers import inverse_sigmoid
from mmdet.registry import MODELS
from torch import Tensor

#: clamp of ``inverse_sigmoid`` in NVIDIA's DINO code
FORK_EPS = 1e-3


@MODELS.register_module()
class ForkDINOHead(DINOHead):
    """:class:`DINOHead` whose box refinement clamps like NVIDIA's DINO code
    (``inverse_sigmoid`` eps 1e-3 instead of 1e-5); everything else,
    losses included, is mmdet's."""

    def forward(self, hidden_states: Tensor, references: List[Tensor]
                ) -> Tuple[Tensor, Tensor]:
        """``hidden_states`` ``(L, B, Q, C)``, ``references`` L+1 ``(B, Q, 4)``
        sigmoid boxes -> class scores ``(L, B, Q, num_classes)`` and
        ``(cx, cy, w, h)`` boxes ``(L, B, Q, 4)`` in [0, 1]."""
        classes, coords = [], []
        for layer, hidden in enumerate(hidden_states):
            if references[layer].shape[-1] != 4:
                raise ValueError('ForkDINOHead refines 4-d (cx, cy, w, h) references '
                                 '(DINO with as_two_stage=True, with_box_refine=True); '
                                 f'got {references[layer].shape[-1]}-d ones')
            classes.append(self.cls_branches[layer](hidden))
            delta = self.reg_branches[layer](hidden)
            coords.append((delta + inverse_sigmoid(references[layer], FORK_EPS)).sigmoid())
        return torch.stack(classes), torch.stack(coords)
