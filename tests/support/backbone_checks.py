"""Checks that every backbone family must pass, shared by the test files."""
import torch


def check_with_cp_is_exact(plain, cp, x) -> None:
    """``cp`` (``with_cp=True``) gives the same outputs and gradients as
    ``plain`` (same weights, both in training mode, no drop path)."""
    cp.load_state_dict(plain.state_dict())
    outs = [m(x) for m in (plain, cp)]
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    for o in outs:
        sum((t * torch.linspace(0, 1, t.numel()).view_as(t)).sum() for t in o).backward()
    for (name, p), q in zip(plain.named_parameters(), cp.parameters()):
        assert p.grad is not None, name
        torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=0, msg=name)
