"""The released FasterViT variants, and how a user-given ``arch`` resolves to one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from ..common.arch import arch_from_fields
from ..common.backbone import NUM_STAGES


@dataclass(frozen=True)
class FasterViTArch:
    """Hyper-parameters that decide a FasterViT's weights and behaviour.

    Stages 1-2 are convolutional; ``num_heads``, ``window_size`` and ``hat``
    matter for stages 3-4 only (``hat`` on a conv stage is an error).
    ``window_size``, ``ct_size`` and ``drop_path_rate`` change no weight, so
    a checkpoint loads under any value of them; ``hat`` decides whether a stage
    has carrier-token weights.
    """

    dim: int
    depths: Tuple[int, int, int, int]
    num_heads: Tuple[int, int, int, int]
    in_dim: int = 64
    window_size: Tuple[int, int, int, int] = (7, 7, 7, 7)
    ct_size: int = 2
    mlp_ratio: float = 4.0
    layer_scale: Optional[float] = None
    layer_scale_conv: Optional[float] = None
    do_propagation: bool = False
    hat: Tuple[bool, bool, bool, bool] = (False, False, True, False)
    drop_path_rate: float = 0.2
    name: str = field(default='custom', compare=False)

    def __post_init__(self):
        for key in ('depths', 'num_heads', 'window_size', 'hat'):
            value = tuple(getattr(self, key))
            if len(value) != NUM_STAGES:
                raise ValueError(f'FasterViT arch {key!r} needs {NUM_STAGES} '
                                 f'values (one per stage), got {value!r}')
            object.__setattr__(self, key, value)
        if any(self.hat[:2]):
            raise ValueError(f'hat={self.hat}: stages 1-2 are convolutional; carrier '
                             'tokens (hat) apply to stages 3-4 only')
        if any(w < 1 for w in self.window_size) or self.ct_size < 1:
            raise ValueError('window_size and ct_size must be positive, got '
                             f'{self.window_size} and {self.ct_size}')
        for i, (heads, width) in enumerate(zip(self.num_heads, self.widths)):
            if i >= 2 and width % heads:
                raise ValueError(f'stage {i} has {width} channels, which '
                                 f'{heads} attention heads do not divide')

    @property
    def widths(self) -> Tuple[int, ...]:
        """Channels of each stage's output: ``dim * 2**i``."""
        return tuple(self.dim * 2**i for i in range(NUM_STAGES))


def _variant(dim, depths, heads, in_dim=64, big=False, **kw) -> dict:
    # Variants 3-6 add layer scale and carrier-token propagation.
    defaults = dict(layer_scale=1e-5, do_propagation=True,
                    drop_path_rate=0.3) if big else {}
    return dict(dim=dim, depths=depths, num_heads=heads, in_dim=in_dim,
                **{**defaults, **kw})


_SMALL_HEADS = (2, 4, 8, 16)
_BIG_HEADS = (4, 8, 16, 32)
_IN21K = dict(hat=(False,) * 4, drop_path_rate=0.42)

#: Official variants (FASTERVIT.md); names as in the released checkpoints.
arch_zoo: Mapping[str, dict] = {
    '0': _variant(64, (2, 3, 6, 5), _SMALL_HEADS),
    '1': _variant(80, (1, 3, 8, 5), _SMALL_HEADS, in_dim=32),
    '2': _variant(96, (3, 3, 8, 5), _SMALL_HEADS),
    '3': _variant(128, (3, 3, 12, 5), _SMALL_HEADS, big=True),
    '4': _variant(196, (3, 3, 12, 5), _BIG_HEADS, big=True),
    '5': _variant(320, (3, 3, 12, 5), _BIG_HEADS, big=True),
    '6': _variant(320, (3, 3, 16, 8), _BIG_HEADS, big=True,
                  drop_path_rate=0.5),
    **{
        f'4-21k-{res}': _variant(196, (3, 3, 12, 5), _BIG_HEADS, big=True,
                                 window_size=(7, 7, w3, w4), **_IN21K)
        for res, (w3, w4) in {224: (14, 7), 384: (24, 12), 512: (32, 16),
                              768: (48, 24)}.items()
    },
}


def resolve_arch(arch: Union[str, int, Mapping[str, Any]],
                 **overrides: Any) -> FasterViTArch:
    """Turn a variant name (``'2'``, ``'4-21k-384'``, ``2``) or a dict into
    a :class:`FasterViTArch`; ``overrides`` that are not ``None`` replace the
    variant's values (e.g. ``window_size=(7, 7, 14, 7)``)."""
    if isinstance(arch, (str, int)) and not isinstance(arch, bool):
        name = str(arch).lower().replace('_', '-')
        for prefix in ('fastervit-', 'faster-vit-'):  # 'FasterViT_2', 'faster_vit_2'
            name = name.removeprefix(prefix)
        if name not in arch_zoo:
            raise KeyError(f'unknown FasterViT arch {arch!r}; choose one of '
                           f'{sorted(arch_zoo)} or pass a dict with at least '
                           'dim, depths and num_heads')
        fields, required = dict(arch_zoo[name], name=name), ()
    elif isinstance(arch, Mapping):
        fields, required = arch, ('dim', 'depths', 'num_heads')
    else:
        raise TypeError(f'arch must be a variant name or a dict, got {arch!r}')
    return arch_from_fields(FasterViTArch, 'FasterViT', fields, overrides, required,
                            _one_value_for_all)


def _one_value_for_all(cfg: dict) -> None:
    if 'window_size' in cfg and not isinstance(cfg['window_size'], Sequence):
        cfg['window_size'] = (cfg['window_size'],) * NUM_STAGES  # one for all stages
    if 'hat' in cfg and not isinstance(cfg['hat'], Sequence):
        cfg['hat'] = (False, False, cfg['hat'], cfg['hat'])  # the attention stages
