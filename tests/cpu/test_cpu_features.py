"""CPU capability detection, the ISA caps that emulate other CPUs, and the
bf16 advice that follows from them."""
import os
import warnings

import pytest
import torch

import mmfastervit.cpu.features as cf
from mmfastervit import FasterViT

TINY = FasterViT.tiny_arch
AVX2_CAPS = dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2',
                 MKL_ENABLE_INSTRUCTIONS='AVX2')


def features_in_subprocess(run_tool, **env):
    code = ('from mmfastervit.cpu.features import cpu_features as f\n'
            'x = f(); print(x.isa, x.aten, x.onednn_cap, x.bf16_units)\n')
    res = run_tool('-c', code, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_this_machine_is_read_from_cpuinfo():
    f = cf.cpu_features()
    if not os.path.exists('/proc/cpuinfo'):
        pytest.skip('no /proc/cpuinfo on this system')
    assert f.flags and f.model and f.cores == os.cpu_count()
    assert f.aten == torch.backends.cpu.get_cpu_capability()
    assert f.isa in ('avx512', 'avx2', 'other') and f.model in f.describe()


def test_isa_caps_take_effect(run_tool):
    """The caps tools/analysis_tools/benchmark.py --isa avx2 sets turn an AVX-512 machine
    into an AVX2 one for PyTorch and oneDNN (and so for our dispatch)."""
    if 'avx2' not in cf.cpu_features().flags:
        pytest.skip('this CPU has no AVX2 to emulate')
    isa, aten, onednn, bf16 = features_in_subprocess(run_tool, **AVX2_CAPS)
    assert (isa, aten, onednn, bf16) == ('avx2', 'AVX2', 'AVX2', 'False')


def _cpu(flags, aten='AVX512', onednn='ALL'):
    base = {'avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'}
    return cf.CPUFeatures('test CPU', 2, frozenset(base | set(flags)), aten, onednn, None)


@pytest.mark.parametrize('flags, onednn, units', [
    ({'amx_bf16'}, 'ALL', True), ({'avx512_bf16'}, 'ALL', True), (set(), 'ALL', False),
    ({'amx_bf16'}, 'AVX512_CORE', False), ({'amx_bf16'}, 'AVX512_CORE_AMX', True),
])
def test_bf16_units_need_hardware_and_the_oneDNN_cap(flags, onednn, units):
    assert _cpu(flags, onednn=onednn).bf16_units is units


def test_bf16_advice_where_it_is_slower_and_not_from_forward(monkeypatch):
    """Without bf16 units the advice quotes the measured slowdown (what
    tools/analysis_tools/benchmark.py prints before a bf16 run); with them there is none. The
    backbone's forward gives no hardware advice, whatever the CPU."""
    model = FasterViT(TINY).eval()

    def forward_warnings():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
                model(torch.randn(1, 3, 64, 64))
        return [str(w.message) for w in caught if 'bf16' in str(w.message)]

    monkeypatch.setattr(cf, 'bf16_matmul_slowdown', lambda: 23.5)
    monkeypatch.setattr(cf, 'cpu_features', lambda: _cpu(set(), aten='AVX2', onednn='AVX2'))
    advice = cf.bf16_advice()
    assert advice and '23.5x the time of the fp32' in advice
    assert forward_warnings() == []
    monkeypatch.setattr(cf, 'cpu_features', lambda: _cpu({'amx_bf16'}))
    assert cf.bf16_advice() is None
