"""Reusing tensors derived from a module's own weights during inference."""
from __future__ import annotations

from collections import OrderedDict
from itertools import chain
from typing import Callable, Hashable, Tuple

import torch
from torch import Tensor, nn

from ...utils.compat import is_tracing


class EvalCache(nn.Module):
    """Base for modules that derive tensors from their weights (position
    biases, batch norms folded into convolutions) and may reuse them.

    In eval mode without autograd, :meth:`cached` keeps results per key; an
    entry is dropped when a parameter or buffer changes through PyTorch (load,
    optimizer step, ``.to()``, new batch-norm statistics) and the whole cache
    when the module changes mode. Training always recomputes, so that
    gradients flow; so does tracing (export, ``torch.compile``), so that the
    graph computes the values instead of holding them as constants. Writes
    through ``.data`` bypass PyTorch's version counters: after those (e.g.
    swapping in EMA weights by hand), call :meth:`clear_cache` or change the
    mode, as mmengine's validation loop does.
    """

    max_cached = 8

    def __init__(self) -> None:
        super().__init__()
        self._cache: OrderedDict = OrderedDict()

    def train(self, mode: bool = True):
        self.clear_cache()
        return super().train(mode)

    def clear_cache(self) -> None:
        self._cache.clear()

    def _state_version(self) -> Tuple:
        return tuple((t._version, t.data_ptr(), t.dtype)
                     for t in chain(self.parameters(), self.buffers()))

    def cached(self, key: Hashable, compute: Callable[[], Tensor]):
        if self.training or torch.is_grad_enabled() or is_tracing():
            return compute()
        version = self._state_version()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            self._cache.move_to_end(key)
            return hit[1]
        value = compute()
        self._cache[key] = (version, value)
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return value
