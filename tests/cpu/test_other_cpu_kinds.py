"""The tests whose results depend on the CPU's kernels, run again as other
CPU kinds run them: the suite runs on one CPU kind at a time, and a kernel
path that only another kind takes (AVX512-BF16's brgemm convolutions
carried NaN one column further than fp32) once failed only there. Each kind
is a pytest subprocess with the libraries capped before torch loads:

* ``avx2``: PyTorch, oneDNN and MKL at AVX2 (our fused kernels off, bf16
  without hardware units: PyTorch's autocast path);
* ``avx512-no-bf16``: oneDNN at AVX512_CORE (fused fp32 kernels, no bf16
  units: autocast's path);
* ``avx512-bf16-no-amx``: oneDNN at AVX512_CORE_BF16, as AMD Zen 4/5 and
  Intel Cooper Lake run (on an AMX machine: AMX left out).

An AMX machine's own kernels run only there (no cap adds hardware): a kind
this CPU cannot take is skipped, saying what it lacks."""
import re

import pytest

from mmfastervit.cpu.features import cpu_features

KINDS = {
    'avx2': dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2',
                 MKL_ENABLE_INSTRUCTIONS='AVX2'),
    'avx512-no-bf16': dict(ONEDNN_MAX_CPU_ISA='AVX512_CORE'),
    'avx512-bf16-no-amx': dict(ONEDNN_MAX_CPU_ISA='AVX512_CORE_BF16'),
}
NEEDS = {'avx2': {'avx2'}, 'avx512-no-bf16': {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'},
         'avx512-bf16-no-amx': {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_bf16'}}
#: what the kind must look like to our dispatch: (isa, bf16 units)
SEEN_AS = {'avx2': ('avx2', False), 'avx512-no-bf16': ('avx512', False),
           'avx512-bf16-no-amx': ('avx512', True)}
#: the tests whose outcome depends on the kernels: non-finite propagation,
#: fused vs plain, bf16 vs fp32, caches on every path
NUMERICS = [
    'tests/models/common/test_backbone_inputs.py::'
    'test_non_finite_input_stays_non_finite_in_its_image_on_every_eager_path',
    'tests/models/common/test_backbone_contract.py::'
    'test_eval_forward_sees_weights_written_through_data',
    'tests/cpu/test_onednn_kernels.py::test_onednn_linear_matches_pytorch',
    'tests/cpu/test_onednn_kernels.py::test_fused_conv_path_matches_the_plain_one',
    'tests/cpu/test_bf16_inference.py::test_bf16_end_to_end_is_as_close_to_fp32_as_plain_autocast',
]
SHOW_KIND = ('from mmfastervit.cpu.features import cpu_features as f; '
             'print("KIND", f().isa, f().bf16_units)')


@pytest.mark.parametrize('kind', KINDS)
def test_kernel_dependent_tests_pass_as_another_cpu_kind(run_tool, kind):
    missing = NEEDS[kind] - cpu_features().flags
    if missing:
        pytest.skip(f'this CPU has no {", ".join(sorted(missing))}: it cannot run as {kind}')
    seen = run_tool('-c', SHOW_KIND, env=KINDS[kind], timeout=120)
    isa, units = SEEN_AS[kind]
    assert f'KIND {isa} {units}' in seen.stdout, seen.stdout + seen.stderr[-2000:]
    res = run_tool('-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-n', '0', *NUMERICS,
                   env=KINDS[kind], timeout=600)
    summary = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ''
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert re.search(r'\d+ passed', summary) and 'skipped' not in summary, summary
