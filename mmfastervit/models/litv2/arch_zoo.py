"""The released LITv2 variants, and how a user-given ``arch`` resolves to one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Tuple, Union

from ..common.arch import arch_from_fields
from ..common.backbone import NUM_STAGES

#: Stages 0-1 are FFN-only in every release; stages 2-3 use HiLo attention.
ATTENTION_STAGES = (2, 3)


@dataclass(frozen=True)
class LITv2Arch:
    """Hyper-parameters that decide a LITv2's weights and behaviour.

    ``num_heads`` and ``local_ws`` (the HiLo window side) matter for the
    attention stages 2-3 only. ``alpha`` is the share of heads that attend to
    the pooled map (Lo-Fi), truncated: ``int(num_heads * alpha)``; a window of
    1 makes every head Lo-Fi (global attention). The split decides parameter
    shapes, so a window changed from 1 to more (or back), or another ``alpha``,
    needs other weights; other window sizes and ``drop_path_rate`` load any file.
    """

    embed_dims: int
    depths: Tuple[int, int, int, int]
    num_heads: Tuple[int, int, int, int]
    mlp_ratio: float = 4.0
    alpha: float = 0.9
    local_ws: Tuple[int, int, int, int] = (0, 0, 2, 1)
    drop_path_rate: float = 0.2
    name: str = field(default='custom', compare=False)

    def __post_init__(self):
        for key in ('depths', 'num_heads', 'local_ws'):
            value = getattr(self, key)
            if isinstance(value, int) or len(value) != NUM_STAGES:
                hint = (' (e.g. local_ws=(0, 0, 4, 1) for the released "ws 4" detectors: '
                        'stages 0-1 have no attention and stage 3 stays global)'
                        if key == 'local_ws' else '')
                raise ValueError(f'LITv2 arch {key!r} needs {NUM_STAGES} values (one per '
                                 f'stage), got {value!r}{hint}')
            object.__setattr__(self, key, tuple(int(v) for v in value))
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f'alpha is the share of Lo-Fi heads, in [0, 1]; got {self.alpha}')
        for i in ATTENTION_STAGES:
            width, heads, window = self.widths[i], self.num_heads[i], self.local_ws[i]
            if heads < 1 or width % heads:
                raise ValueError(f'stage {i} has {width} channels, which {heads} attention '
                                 'heads do not divide')
            if window < 1:
                raise ValueError(f'local_ws[{i}] must be at least 1 (1: global attention), '
                                 f'got {window}')

    @property
    def widths(self) -> Tuple[int, ...]:
        """Channels of each stage's output: ``embed_dims * 2**i``."""
        return tuple(self.embed_dims * 2**i for i in range(NUM_STAGES))

    def head_split(self, stage: int) -> Tuple[int, int]:
        """``(lofi, hifi)`` head counts of an attention stage."""
        heads = self.num_heads[stage]
        lofi = heads if self.local_ws[stage] == 1 else int(heads * self.alpha)
        return lofi, heads - lofi


def _variant(embed_dims: int, depths, heads, drop_path_rate: float) -> dict:
    return dict(embed_dims=embed_dims, depths=depths, num_heads=heads,
                drop_path_rate=drop_path_rate)


#: Official variants (LITV2.md). ``drop_path_rate`` is the rate of the
#: official detection / segmentation recipes (ImageNet used 0.2 / 0.3 / 0.5).
arch_zoo: Mapping[str, dict] = {
    's': _variant(96, (2, 2, 6, 2), (3, 6, 12, 24), 0.2),
    'm': _variant(96, (2, 2, 18, 2), (3, 6, 12, 24), 0.2),
    'b': _variant(128, (2, 2, 18, 2), (4, 8, 16, 32), 0.3),
}
_REQUIRED = ('embed_dims', 'depths', 'num_heads')


def resolve_arch(arch: Union[str, Mapping[str, Any]], **overrides: Any) -> LITv2Arch:
    """Turn a variant name (``'s'``, ``'LITv2-S'``, ``'litv2_s'``) or a dict
    into a :class:`LITv2Arch`; ``overrides`` that are not ``None`` replace
    the variant's values (e.g. ``local_ws=(0, 0, 4, 1)``)."""
    if isinstance(arch, str):
        name = arch.lower().replace('_', '-').removeprefix('litv2-')
        if name not in arch_zoo:
            raise KeyError(f'unknown LITv2 arch {arch!r}; choose one of {sorted(arch_zoo)} '
                           f'(or LITv2-S, litv2_s, ...) or pass a dict with at least '
                           f'{", ".join(_REQUIRED)}')
        fields, required = dict(arch_zoo[name], name=name), ()
    elif isinstance(arch, Mapping):
        fields, required = arch, _REQUIRED
    else:
        raise TypeError(f'arch must be a LITv2 variant name or a dict, got {arch!r}')
    return arch_from_fields(LITv2Arch, 'LITv2', fields, overrides, required)
