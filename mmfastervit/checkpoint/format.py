"""How a backbone family's official checkpoints map onto our models.

Each family (``models/<family>/checkpoint_format.py``) provides one
:class:`CheckpointFormat`; the loader in :mod:`.loading` is shared.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

from torch import Tensor


class CheckpointFormat:
    #: the family's name in messages
    family: str = '?'
    #: key prefixes that only the official layout has
    official_prefixes: Tuple[str, ...] = ()
    #: where to get the official files (the start of a sentence)
    download_hint: str = 'Download the official file'
    #: the backbone options that change its structure, named in mismatch hints
    override_hint: str = ''

    def is_official(self, state_dict: Mapping[str, Tensor]) -> bool:
        return any(k.startswith(self.official_prefixes) for k in state_dict)

    def convert_official(self, state_dict: Mapping[str, Tensor]
                         ) -> Tuple[Dict[str, Tensor], Dict[str, List[str]]]:
        """Official layout -> ours; returns the weights and the dropped keys
        grouped by reason."""
        raise NotImplementedError

    def signature(self, state_dict: Mapping[str, Tensor]) -> Dict[str, object]:
        """What a state dict in our layout reveals of its architecture."""
        raise NotImplementedError

    def matching_variants(self, state_dict: Mapping[str, Tensor]) -> List[str]:
        """Released variants with this state dict's structure."""
        raise NotImplementedError

    def describe(self, state_dict: Mapping[str, Tensor]) -> str:
        return ', '.join(f'{k}={v}' for k, v in self.signature(state_dict).items())
