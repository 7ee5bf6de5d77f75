"""Reading checkpoints that hold objects weights-only loading refuses, safely.

Official training scripts save more than weights: LITv2's saves its yacs
``config`` object, other scripts their argument parsers or custom classes.
torch's weights-only loader refuses any class it does not know, and loading
with full pickle would let the file run code. This unpickler takes the middle
road: it allows exactly what the weights-only loader allows (torch's own list
and what :mod:`mmfastervit.safe_load` added), and replaces every other class or
function by an inert stand-in (:class:`OpaqueObject`) that only records what
the file tried to build. Nothing from the file is imported or called, so
tensors load exactly and foreign objects are kept as harmless placeholders.
"""
from __future__ import annotations

import _compat_pickle
import pickle
import types
from typing import Any, Dict, List

import torch


class OpaqueObject:
    """Stands in for an object of a class that is not loaded; records the
    arguments and state the file gave it, and can be listed in reports."""

    _origin = '?'

    def __new__(cls, *args: Any, **kwargs: Any):
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__['_args'] = args

    def __setstate__(self, state: Any) -> None:
        self.__dict__['_state'] = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__.setdefault('_items', {})[key] = value

    def append(self, item: Any) -> None:
        self.__dict__.setdefault('_list', []).append(item)

    def extend(self, items: Any) -> None:
        self.__dict__.setdefault('_list', []).extend(items)

    def __repr__(self) -> str:
        return f'<{self._origin} (not loaded)>'


def _allowed_globals() -> Dict[str, Any]:
    """What torch's weights-only loader allows: its own list and the user
    allowlist (``torch.serialization.add_safe_globals``)."""
    from torch import _weights_only_unpickler as wo
    return {**wo._get_allowed_globals(), **wo._get_user_allowed_globals()}


def _make_module(replaced: List[str]) -> types.ModuleType:
    allowed = _allowed_globals()
    stand_ins: Dict[str, type] = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            # Python 2 names (protocol <= 2 files), mapped as pickle's own
            # find_class does; no Python 3 module has these names
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
            full = f'{module}.{name}'
            if full in allowed:
                return allowed[full]
            if full not in stand_ins:
                replaced.append(full)
                stand_ins[full] = type(name, (OpaqueObject,), {'_origin': full})
            return stand_ins[full]

    def load(file, **kwargs):  # torch's legacy (pre-zip) format reads through this
        return Unpickler(file, **kwargs).load()

    module = types.ModuleType('mmfastervit_restricted_pickle')
    module.Unpickler = Unpickler
    module.load = load
    module.__dict__.update(dumps=pickle.dumps, HIGHEST_PROTOCOL=pickle.HIGHEST_PROTOCOL)
    return module


def restricted_load(path: str, map_location='cpu'):
    """``torch.load`` of ``path`` where classes outside the weights-only
    allowlist become :class:`OpaqueObject` placeholders. Returns the loaded
    object and the names of the replaced classes / functions."""
    replaced: List[str] = []
    # weights_only=False only selects the pickle module below; that module is
    # as strict as the weights-only loader and calls nothing it does not allow.
    obj = torch.load(path, map_location=map_location, weights_only=False,
                     pickle_module=_make_module(replaced))
    return obj, replaced
