"""The transformer blocks' MLP."""
from typing import Optional

from torch import Tensor, nn

from ...cpu.onednn import linear


class Mlp(nn.Module):
    """``fc2(drop(GELU(fc1(x))))`` on ``(..., dim)`` tokens, hidden width
    ``hidden``; GELU is fused into ``fc1`` during CPU inference."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """``(..., dim)`` -> ``(..., dim)``, plus ``residual`` if given (fused
        into ``fc2`` where the oneDNN kernels run; only without dropout)."""
        x = self.drop(linear(x, self.fc1, gelu=True))
        if residual is not None:
            return linear(x, self.fc2, residual=residual)
        return self.drop(linear(x, self.fc2))
