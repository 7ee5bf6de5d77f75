"""How a state dict fits a model: the one comparison behind the backbone
loader's structure check and the whole-model check of ``tools/test.py``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping

from torch import Tensor


@dataclass
class StateDictFit:
    """Keys of the model the weights do not fill (``missing``), keys of the
    weights the model does not have (``unexpected``), and the keys both hold
    with other shapes (``mismatched``: ``'key: file (..) vs model (..)'``)."""

    missing: List[str]
    unexpected: List[str]
    mismatched: List[str]


def state_dict_fit(expected: Mapping[str, Tensor], weights: Mapping[str, Tensor]
                   ) -> StateDictFit:
    """Compare ``weights`` (a file's) with ``expected`` (a model's state dict)."""
    return StateDictFit(
        missing=[k for k in expected if k not in weights],
        unexpected=[k for k in weights if k not in expected],
        mismatched=[f'{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}'
                    for k, v in weights.items()
                    if k in expected and v.shape != expected[k].shape])
