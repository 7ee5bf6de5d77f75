"""Checks of training behaviour that every backbone family must show."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn


def assert_with_cp_reruns_blocks(model: nn.Module, x: Tensor, calls: list,
                                 n_blocks: int) -> None:
    """``calls`` grows by one per block forward: once in the forward pass,
    once more per block when ``with_cp`` recomputes it in backward."""
    out = model(x)
    assert len(calls) == n_blocks
    sum(o.sum() for o in out).backward()
    assert len(calls) == 2 * n_blocks


def assert_drop_path_only_in_training(model: nn.Module, x: Tensor,
                                      pick: Callable = lambda out: out[3]) -> None:
    """Two training passes differ (stochastic depth); two eval passes agree."""
    model.train()
    assert not torch.equal(pick(model(x)), pick(model(x)))
    model.eval()
    with torch.no_grad():
        assert torch.equal(pick(model(x)), pick(model(x)))


def assert_frozen_stages(model: nn.Module, frozen: int) -> None:
    """The stem, stages ``< frozen`` and their output norms take no gradient
    and stay in eval mode; the next stage (if any) trains."""
    frozen_mods = [model.stem] + [model.stages[i] for i in range(frozen)] + [
        getattr(model, f'norm{i}') for i in range(frozen)]
    frozen_ids = {id(p) for m in frozen_mods for p in m.parameters()}
    for name, p in model.named_parameters():
        assert p.requires_grad == (id(p) not in frozen_ids), name
    assert all(not m.training for fm in frozen_mods for m in fm.modules())
    if frozen < len(model.stages):
        assert all(m.training for m in model.stages[frozen].modules())
