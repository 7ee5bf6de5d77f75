"""Turning a config's ``arch`` (a variant's fields or a user's dict) plus
constructor overrides into a family's frozen arch dataclass."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional, Sequence, Type, TypeVar

T = TypeVar('T')


def arch_from_fields(cls: Type[T], family: str, fields: Mapping[str, Any],
                     overrides: Mapping[str, Any], required: Sequence[str] = (),
                     prepare: Optional[Callable[[dict], None]] = None) -> T:
    """``cls(**fields)`` with the ``overrides`` that are not None applied;
    KeyError naming missing ``required`` or unknown keys. ``prepare`` may
    normalise the merged dict in place (e.g. one value for all stages)."""
    cfg = dict(fields)
    missing = set(required) - set(cfg)
    if missing:
        raise KeyError(f'a custom {family} arch dict needs {sorted(missing)}')
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = set(cfg) - valid
    if unknown:
        raise KeyError(f'unknown {family} arch keys {sorted(unknown)}; '
                       f'valid keys are {sorted(valid)}')
    if prepare is not None:
        prepare(cfg)
    return cls(**cfg)
