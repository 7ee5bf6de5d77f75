"""What the CPU at hand can do, as the libraries we run on will use it.

Speed advice depends on it: oneDNN's fused kernels pay off with AVX-512 and
cost time on AVX2-only CPUs, and bf16 is fast only with bf16 units
(AVX512_BF16 or AMX) and 4-60x slower than fp32 without them. The hardware
flags come from ``/proc/cpuinfo``; what is *used* also depends on the caps a
user (or ``tools/analysis_tools/benchmark.py --isa``) can set before torch loads:
``ATEN_CPU_CAPABILITY`` (PyTorch's vectorised kernels), ``ONEDNN_MAX_CPU_ISA``
(oneDNN: convolutions, the fused kernels) and ``MKL_ENABLE_INSTRUCTIONS``
(MKL: fp32 matrix products).
"""
from __future__ import annotations

import functools
import os
import platform
import time
from dataclasses import dataclass
from typing import FrozenSet, Optional

import torch

#: oneDNN ISA caps (``ONEDNN_MAX_CPU_ISA``) from which AVX-512, and bf16
#: instructions, may be used
_ONEDNN_AVX512 = ('AVX512', 'AVX10')
_ONEDNN_BF16 = ('AVX512_CORE_BF16', 'AVX512_CORE_FP16', 'AVX512_CORE_AMX', 'AVX10_')
_AVX512_FLAGS = {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'}


@dataclass(frozen=True)
class CPUFeatures:
    model: str
    cores: int
    flags: FrozenSet[str]
    #: PyTorch's kernel level: 'AVX512', 'AVX2' or 'DEFAULT' (ATEN_CPU_CAPABILITY)
    aten: str
    #: oneDNN's cap ('ALL' when unset) and MKL's (None when unset)
    onednn_cap: str
    mkl_cap: Optional[str]

    @property
    def avx512_hardware(self) -> bool:
        return _AVX512_FLAGS <= self.flags

    @property
    def avx512(self) -> bool:
        """AVX-512 in use by both PyTorch's kernels and oneDNN."""
        onednn = self.onednn_cap == 'ALL' or self.onednn_cap.startswith(_ONEDNN_AVX512)
        return self.avx512_hardware and self.aten == 'AVX512' and onednn

    @property
    def bf16_units(self) -> bool:
        """bf16 multiply instructions in the hardware and allowed to oneDNN."""
        hardware = bool({'avx512_bf16', 'amx_bf16'} & self.flags)
        allowed = self.onednn_cap == 'ALL' or self.onednn_cap.startswith(_ONEDNN_BF16)
        return hardware and allowed and self.avx512

    @property
    def isa(self) -> str:
        """The vector ISA our kernels run with: 'avx512', 'avx2' or 'other'."""
        if self.avx512:
            return 'avx512'
        return 'avx2' if self.aten in ('AVX2', 'AVX512') and 'avx2' in self.flags else 'other'

    def describe(self) -> str:
        units = [name for flag, name in (('amx_bf16', 'AMX-BF16'), ('avx512_bf16', 'AVX512-BF16'))
                 if flag in self.flags]
        caps = [f'ATen {self.aten}', f'oneDNN {self.onednn_cap}']
        if self.mkl_cap:
            caps.append(f'MKL {self.mkl_cap}')
        vector = ('AVX-512' if self.avx512_hardware
                  else 'AVX2' if 'avx2' in self.flags else 'no AVX2')
        return (f'{self.model}, {self.cores} cores; hardware: {vector}'
                f'{", bf16 units " + "+".join(units) if units else ", no bf16 units"}; '
                f'in use: {self.isa.upper()} ({", ".join(caps)})')


def _cpuinfo() -> tuple:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                key = key.strip()
                if key == 'model name':
                    model = value.strip()
                elif key == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model, frozenset(flags)


@functools.lru_cache(maxsize=1)
def cpu_features() -> CPUFeatures:
    model, flags = _cpuinfo()
    onednn = os.environ.get('ONEDNN_MAX_CPU_ISA') or os.environ.get('DNNL_MAX_CPU_ISA') or 'ALL'
    return CPUFeatures(model, os.cpu_count() or 1, flags,
                       torch.backends.cpu.get_cpu_capability(), onednn.upper(),
                       os.environ.get('MKL_ENABLE_INSTRUCTIONS'))


@functools.lru_cache(maxsize=1)
def bf16_matmul_slowdown(n: int = 256, repeat: int = 5) -> float:
    """Measured time of an ``n x n`` bf16 matrix product over the fp32 one on
    this CPU (one-time, ~0.1 s): below 1 bf16 is faster, far above 1 it is
    emulated."""
    def best(dtype):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
        return min(times)
    # the caller may be inside autocast, which would turn the fp32 product into bf16
    with torch.autocast('cpu', enabled=False), torch.no_grad():
        return best(torch.bfloat16) / best(torch.float32)


def bf16_advice() -> Optional[str]:
    """A warning when bf16 would be slower than fp32 on this CPU, with the
    measured reason; None where bf16 has hardware support."""
    features = cpu_features()
    if features.bf16_units:
        return None
    ratio = bf16_matmul_slowdown()
    if ratio <= 1.0:
        return None
    return (f'bf16 on this CPU ({features.model}) has no hardware units (no avx512_bf16 / '
            f'amx_bf16 in use): a bf16 matrix product measured {ratio:.1f}x the time of the '
            'fp32 one here, so bf16 autocast makes the model slower, not faster; use fp32 '
            'on this machine')
