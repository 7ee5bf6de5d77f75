"""How a backbone family's official checkpoints map onto our models.

Each family (``models/<family>/checkpoint_format.py``) provides one
:class:`CheckpointFormat`; the loader in :mod:`.loading` is shared.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor


def rename_key(key: str, renames: Sequence[Tuple[str, str]]) -> str:
    """Apply ``(pattern, replacement)`` regex renames to a key, in order."""
    for pattern, replacement in renames:
        key = re.sub(pattern, replacement, key)
    return key


CLASSIFIER = 'ImageNet classifier (head, final norm)'


def convert_keys(state_dict: Mapping[str, Tensor], renames: Sequence[Tuple[str, str]],
                 drop_reason: Callable[[str, Tensor], Optional[str]] = lambda key, value: None
                 ) -> Tuple[Dict[str, Tensor], Dict[str, List[str]]]:
    """Official key layout -> ours: every key renamed by ``renames``, except the
    ImageNet classifier (``head.*``, ``norm.*``) and the keys ``drop_reason``
    gives a reason for. Returns the converted weights and the dropped keys
    grouped by reason (so a load report can say why each one went)."""
    out: Dict[str, Tensor] = {}
    dropped: Dict[str, List[str]] = defaultdict(list)
    for key, value in state_dict.items():
        reason = CLASSIFIER if key.startswith(('head.', 'norm.')) else drop_reason(key, value)
        if reason:
            dropped[reason].append(key)
        else:
            out[rename_key(key, renames)] = value
    return out, dict(dropped)


def keys_to_official(state_dict: Mapping[str, Tensor], renames: Sequence[Tuple[str, str]]
                     ) -> Dict[str, Tensor]:
    """Our layout -> official: every backbone key renamed by ``renames`` (the
    inverse of the family's), our output norms ``norm{i}.*`` left out (the
    official models have none)."""
    return {rename_key(key, renames): value for key, value in state_dict.items()
            if not re.match(r'norm\d+\.', key)}


def stage_depths(state_dict: Mapping[str, Tensor], num_stages: int = 4) -> Tuple[int, ...]:
    """Blocks per stage of weights in our layout (``stages.{i}.blocks.{j}.*``)."""
    depths = []
    for i in range(num_stages):
        blocks = {int(m[1]) for k in state_dict
                  if (m := re.match(rf'stages\.{i}\.blocks\.(\d+)\.', k))}
        depths.append(max(blocks) + 1 if blocks else 0)
    return tuple(depths)


@dataclass(frozen=True)
class CheckpointFormat:
    """A family's official key layout, as data and three functions."""

    #: the family's name in messages (also its backbone's registered type)
    family: str
    #: key prefixes that only the family's official layout has
    official_prefixes: Tuple[str, ...]
    #: keys that only the family's weights in our layout have
    layout_keys: Tuple[str, ...]
    #: the released variants' names
    variants: Tuple[str, ...]
    #: official layout -> ours: ``(weights, dropped keys grouped by reason)``
    convert_official: Callable[[Mapping[str, Tensor]],
                               Tuple[Dict[str, Tensor], Dict[str, List[str]]]]
    #: what a state dict in our layout reveals of its architecture
    signature: Callable[[Mapping[str, Tensor]], Dict[str, object]]
    #: a variant's name -> its resolved architecture
    resolve_arch: Callable[[str], object]
    #: a resolved architecture -> the signature its weights have
    arch_signature: Callable[[object], Dict[str, object]]
    #: where to get the official files (the start of a sentence)
    download_hint: str = 'Download the official file'
    #: the backbone options that change its structure, named in mismatch hints
    override_hint: str = ''
    #: ours -> the official layout (backbone keys, no classifier): files as
    #: the official code base writes them, which :attr:`convert_official`
    #: turns back into the same weights
    to_official: Optional[Callable[[Mapping[str, Tensor]], Dict[str, Tensor]]] = None

    @property
    def key_prefixes(self) -> Tuple[str, ...]:
        """Prefixes of the family's backbone keys in either layout (official
        and ours): what a backbone's state dict starts with at top level."""
        ours = tuple(dict.fromkeys(k.split('.')[0] + '.' for k in self.layout_keys))
        return self.official_prefixes + ours

    def is_official(self, state_dict: Mapping[str, Tensor]) -> bool:
        return any(k.startswith(self.official_prefixes) for k in state_dict)

    def recognises(self, state_dict: Mapping[str, Tensor]) -> bool:
        """Whether the weights are this family's, official or converted."""
        return self.is_official(state_dict) or any(k in state_dict for k in self.layout_keys)

    def variant_signature(self, name: str) -> Dict[str, object]:
        """The :attr:`signature` of a released variant's weights."""
        return self.arch_signature(self.resolve_arch(name))

    def matching_variants(self, state_dict: Mapping[str, Tensor]) -> List[str]:
        """Released variants with this state dict's structure (variants that
        differ only in what has no weights, e.g. window sizes, match together)."""
        found = self.signature(state_dict)
        return [name for name in self.variants if self.variant_signature(name) == found]

    def describe(self, state_dict: Mapping[str, Tensor]) -> str:
        return ', '.join(f'{k}={v}' for k, v in self.signature(state_dict).items())

    def identify(self, state_dict: Mapping[str, Tensor]) -> str:
        """The released variant(s) that weights in either layout hold, or
        their structure when they match none."""
        if self.is_official(state_dict):
            state_dict = self.convert_official(state_dict)[0]
        variants = self.matching_variants(state_dict)
        return f'variant {" / ".join(variants)}' if variants else self.describe(state_dict)


_FORMATS: List[CheckpointFormat] = []


def register_format(fmt: CheckpointFormat) -> CheckpointFormat:
    """Make a family's format known to :func:`family_of` (returns it)."""
    _FORMATS.append(fmt)
    return fmt


def backbone_key_prefixes() -> Tuple[str, ...]:
    """:attr:`CheckpointFormat.key_prefixes` of every registered family."""
    return tuple(dict.fromkeys(p for fmt in _FORMATS for p in fmt.key_prefixes))


def family_of(state_dict: Mapping[str, Tensor]) -> Optional[CheckpointFormat]:
    """The registered format that recognises the weights (official layouts
    first, then ours), or None."""
    for test in ('is_official', 'recognises'):
        found = [f for f in _FORMATS if getattr(f, test)(state_dict)]
        if found:
            return found[0]
    return None
