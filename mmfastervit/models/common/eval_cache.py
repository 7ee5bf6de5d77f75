"""Reusing tensors derived from a module's own weights during inference."""
from __future__ import annotations

from collections import OrderedDict
from itertools import chain
from typing import Callable, Hashable, Sequence, Tuple

import torch
from torch import Tensor, nn

from ...utils.compat import is_tracing


def same_tensors(a: Sequence[Tensor], b: Sequence[Tensor]) -> bool:
    """Equal dtype, device, shape and values, pairwise (exact: NaN never
    equals itself, so NaN weights are never taken as unchanged)."""
    return len(a) == len(b) and all(
        x.dtype == y.dtype and x.device == y.device and x.shape == y.shape
        and torch.equal(x, y) for x, y in zip(a, b))


class EvalCache(nn.Module):
    """Base for small modules whose outputs, derived from their own weights,
    cost far more than the weights are big (the position terms' coordinate
    MLPs), and may be reused.

    In eval mode without autograd, :meth:`cached` keeps results per key,
    each with a copy of the module's parameters and buffers it was computed
    from, and returns it only while they are equal to the current ones
    (``torch.equal``: exact; a few thousand values here, microseconds). Any
    change of a weight is seen, however it is made: load, optimizer step,
    ``.to()``, and writes through ``.data`` (e.g. a user's own EMA swap),
    which PyTorch's version counters miss. Training always recomputes, so
    that gradients flow; so does tracing (export, ``torch.compile``), so
    that the graph computes the values instead of holding them as constants.
    """

    max_cached = 8

    def __init__(self) -> None:
        super().__init__()
        self._cache: OrderedDict = OrderedDict()

    def train(self, mode: bool = True):
        self.clear_cache()
        return super().train(mode)

    def clear_cache(self) -> None:
        """Free the cached results (they are never stale: see the class)."""
        self._cache.clear()

    def _state(self) -> Tuple[Tensor, ...]:
        return tuple(t.detach() for t in chain(self.parameters(), self.buffers()))

    def cached(self, key: Hashable, compute: Callable[[], Tensor]):
        if self.training or torch.is_grad_enabled() or is_tracing():
            return compute()
        state = self._state()
        hit = self._cache.get(key)
        if hit is not None and same_tensors(hit[0], state):
            self._cache.move_to_end(key)
            return hit[1]
        # entries computed from the same weights share one copy of them
        snapshot = next((s for s, _ in self._cache.values() if same_tensors(s, state)), None)
        value = compute()
        self._cache[key] = (snapshot or tuple(t.clone() for t in state), value)
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return value
