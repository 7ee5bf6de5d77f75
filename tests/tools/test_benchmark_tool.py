"""tools/analysis_tools/benchmark.py runs its three modes and writes its reports (tiny sizes;
this checks the tool, not the speed)."""
import json

from support.tool_runs import run_tool


def bench(tmp_path, *args):
    res = run_tool('tools/analysis_tools/benchmark.py', '--warmup', '0', '--repeat', '2',
                   '--out-dir', str(tmp_path), *args, timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout


def test_inference_mode_compares_with_the_reference(tmp_path):
    out = bench(tmp_path, '--models', 'fastervit-0', 'reference-0', 'litv2-s', 'swin-t',
                'convnext-t', 'litv2-s-ort-int8', '--sizes', '224x224', '256x320',
                '--share', 'DeformableTokenMerging', 'HiLo', '--int8-calib', '1')
    results = json.load(open(tmp_path / 'results.json'))
    int8 = [r for r in results if r['model'] == 'litv2-s-ort-int8']
    results = [r for r in results if r not in int8]
    assert {r['model'] for r in results} == {'fastervit-0', 'reference-0', 'litv2-s', 'swin-t',
                                             'convnext-t'}
    assert all(r['median_ms'] > 0 and r['peak_mb'] > 0 for r in results)
    # -ort-int8: the exported backbone quantized, timed, compared with eager,
    # after ORT's GEMM ceiling line (1 calibration picture, randn inputs)
    assert '# ONNX Runtime GEMM ceiling' in out and (tmp_path / 'litv2-s.int8.onnx').is_file()
    assert len(int8) == 2 and all(r['median_ms'] > 0 and r['peak_mb'] is None for r in int8)
    assert all(float(r['notes']['cosine_vs_eager']) > 0.95 for r in int8)
    ref = [r for r in results if r['model'] == 'reference-0' and r['size'] == [224, 224]][0]
    assert float(ref['notes']['max_abs_diff_vs_ours']) <= 1e-4  # same weights, no padding
    assert (tmp_path / 'latency.png').stat().st_size > 1000
    assert '| fastervit-0 | 224x224 |' in open(tmp_path / 'results.md').read()
    assert 'Machine:' in out
    for r in results:  # --share: only LITv2 has these modules
        shares = [float(v.rstrip('%')) for k, v in r['notes'].items() if k.startswith('share_')]
        assert len(shares) == (2 if r['model'] == 'litv2-s' else 0), r
        assert all(s > 0 for s in shares) and sum(shares) < 100, r


def test_openvino_rows_give_each_stages_error_and_the_precision_run(tmp_path):
    """-ov (f32), -ov-bf16 (where the CPU has bf16 units) and -ov-int8 (NNCF,
    1 calibration picture): timed, each stage's relative error against eager
    fp32 and OpenVINO's precision in the notes."""
    from mmfastervit.cpu.features import cpu_features

    bf16 = bool({'avx512_bf16', 'amx_bf16'} & cpu_features().flags)
    rows = ['fastervit-0-ov', 'fastervit-0-ov-int8'] + (['fastervit-0-ov-bf16'] if bf16 else [])
    bench(tmp_path, '--models', 'fastervit-0', *rows, '--sizes', '224x224', '--int8-calib', '1')
    results = {r['model']: r for r in json.load(open(tmp_path / 'results.json'))}
    assert set(results) == {'fastervit-0', *rows}
    assert (tmp_path / 'fastervit-0.ov-int8.xml').is_file()
    float_precision = 'bf16' if bf16 else 'f32'
    for name, precision, tol in [('fastervit-0-ov', 'f32', 1e-4),
                                 ('fastervit-0-ov-bf16', 'bf16', 2e-2),
                                 ('fastervit-0-ov-int8', float_precision, 1.0)]:
        if name not in results:
            continue
        r = results[name]
        errors = [float(e) for e in r['notes']['maxabs_rel_err_vs_eager'].split('/')]
        assert len(errors) == 4 and max(errors) <= tol, (name, errors)
        assert r['notes']['openvino_precision'] == precision and r['median_ms'] > 0


def test_module_share_times_what_runs_inside_the_modules():
    """Half of each call sleeps inside a child module: its share is one half."""
    import time

    import torch
    from torch import nn

    from benchmarks.harness import module_share

    class Sleeps(nn.Module):
        def forward(self, x):
            time.sleep(0.05)
            return x

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Sleeps()

        def forward(self, x):
            time.sleep(0.05)
            return self.inner(x)

    model, cpu = Outer(), torch.device('cpu')
    share = module_share(lambda: model(torch.zeros(1)), model, 'Sleeps', cpu, repeat=3)
    assert abs(share - 0.5) < 0.05
    assert module_share(lambda: model(torch.zeros(1)), model, 'HiLo', cpu, repeat=1) is None
    assert not model.inner._forward_hooks and not model.inner._forward_pre_hooks


def test_train_mode_checks_with_cp(tmp_path):
    bench(tmp_path, '--mode', 'train', '--models', 'fastervit-0', 'litv2-s', '--sizes', '128x160')
    results = {r['model']: r for r in json.load(open(tmp_path / 'results.json'))}
    for name in ('fastervit-0', 'litv2-s'):
        cp = results[f'{name} with_cp']
        assert float(cp['notes']['max_grad_diff']) == 0.0
        assert cp['peak_mb'] < results[name]['peak_mb']


def test_flops_mode(tmp_path):
    out = bench(tmp_path, '--mode', 'flops', '--models', 'fastervit-0', 'reference-0', 'swin-t',
                '--sizes', '224x224', '448x448')
    rows = {(r['model'], r['size']): r for r in json.load(open(tmp_path / 'flops.json'))}
    assert len(rows) == 6   # every model at every size
    ours = rows['fastervit-0', '224x224']
    # FasterViT-0: 31.4M parameters with the ImageNet head (0.5M) -> ~30.9M backbone
    assert abs(ours['params_m'] - 30.9) < 0.3
    assert 2.5 < ours['gmacs'] < 4.5   # paper: 3.3 GFLOPs (MACs) at 224
    # no padding at 224: the reference does the same work
    assert abs(rows['reference-0', '224x224']['gmacs'] / ours['gmacs'] - 1) < 0.02
    # 4x the pixels: about 4x the work (attention is windowed)
    assert 3.8 < rows['fastervit-0', '448x448']['gmacs'] / ours['gmacs'] < 4.4
    assert 'GMACs' in out


def test_isa_emulation_kernel_modes_and_a_quiet_log(tmp_path):
    """--isa avx2 restarts with the AVX2 caps (the machine line says so and
    the automatic kernel choice follows); forced kernel modes run; the output
    holds only the tool's own lines (no profiler or library chatter)."""
    res = run_tool('tools/analysis_tools/benchmark.py', '--isa', 'avx2', '--warmup', '0',
                   '--repeat', '1', '--out-dir', str(tmp_path), '--models', 'fastervit-0',
                   'fastervit-0-fused', 'fastervit-0-plain', '--sizes', '64x64', timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    machine = res.stdout.splitlines()[0]
    assert 'in use: AVX2 (ATen AVX2, oneDNN AVX2, MKL AVX2)' in machine
    assert 'CPU kernels auto: plain' in machine
    models = {r['model'] for r in json.load(open(tmp_path / 'results.json'))}
    assert models == {'fastervit-0', 'fastervit-0-fused', 'fastervit-0-plain'}
    assert res.stderr.strip() == '', res.stderr[-2000:]
    for line in res.stdout.splitlines():
        assert line.startswith(('#', 'fastervit-0', '|', 'Machine:')) or not line.strip(), line


def test_flops_mode_counts_litv2(tmp_path):
    """HiLo's attention and the deformable conv are counted: LITv2's paper
    numbers come out, and both DTM samplers count the same."""
    bench(tmp_path, '--mode', 'flops', '--models', 'litv2-s', 'litv2-s-dcn', 'litv2-m',
          '--sizes', '224x224', '448x448')
    rows = {(r['model'], r['size']): r for r in json.load(open(tmp_path / 'flops.json'))}
    # paper: 3.7 / 7.5 GFLOPs (MACs) at 224; 27.8 / 48.8M parameters with the
    # ImageNet classifier (final norm + 1000-class head: 0.77M)
    for name, gmacs, params in (('litv2-s', 3.7, 27.8), ('litv2-m', 7.5, 48.8)):
        row = rows[name, '224x224']
        assert abs(row['gmacs'] - gmacs) < 0.1, row
        assert abs(row['params_m'] + 0.77 - params) < 0.1, row
    assert rows['litv2-s-dcn', '448x448']['gmacs'] == rows['litv2-s', '448x448']['gmacs']
    # the Lo-Fi attention is global: 4x the pixels costs more than 4x
    assert rows['litv2-s', '448x448']['gmacs'] / rows['litv2-s', '224x224']['gmacs'] > 4.05



def test_compiled_for_inference_matches_eager_and_leaves_inductor_config_alone():
    """``-compiled`` rows: inductor with freezing on around the call only
    (the process's inductor settings are unchanged afterwards), the eager
    module's outputs, in fp32 and under bf16 autocast."""
    import torch
    import torch._inductor.config as inductor_config
    from torch import nn

    from benchmarks.harness import CompiledForInference
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.GELU(),
                          nn.Flatten(2), nn.Linear(64, 16)).eval()
    x = torch.randn(2, 3, 8, 8)
    torch._dynamo.reset()
    try:
        compiled = CompiledForInference(model)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
            with torch.autocast('cpu', dtype=torch.bfloat16):
                got, want = compiled(x), model(x)
        assert got.dtype == want.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), want.float(), rtol=3e-2, atol=3e-2)
    finally:
        torch._dynamo.reset()
    assert inductor_config.freezing is False


def test_a_whole_detector_per_dtype_and_where_its_predict_time_goes(tmp_path):
    """--config: a whole-model row per dtype (bf16: tools/test.py --bf16's
    parts) and per --runtimes (the whole model exported, in ONNX Runtime and
    OpenVINO int8), and with --mode profile the predict time by part, RoI
    extraction, box / mask heads and NMS included, adding up to the whole."""
    config = 'configs/demo/cascade_fastervit_synthetic_coco.py'
    bench(tmp_path, '--models', 'fastervit-0', '--config', config, '--sizes', '128x160',
          '--dtypes', 'fp32', 'bf16', '--no-memory', '--runtimes', 'ort', 'ov-int8',
          '--int8-calib', '1')
    rows = {(r['model'], r['dtype']): r for r in json.load(open(tmp_path / 'results.json'))
            if r['model'].startswith('cascade_fastervit_synthetic_coco.py')}
    name = 'cascade_fastervit_synthetic_coco.py'
    assert set(rows) == {(name, 'fp32'), (name, 'bf16'), (f'{name}-ort', 'fp32'),
                         (f'{name}-ov-int8', 'int8')}
    assert all(r['median_ms'] > 0 for r in rows.values())
    assert rows[f'{name}-ov-int8', 'int8']['notes']['openvino_precision'] in ('f32', 'bf16')
    assert (tmp_path / 'cascade_fastervit_synthetic_coco.onnx').is_file()
    assert (tmp_path / 'cascade_fastervit_synthetic_coco.ov-int8.xml').is_file()
    out = bench(tmp_path, '--mode', 'profile', '--models', 'fastervit-0', '--config', config,
                '--sizes', '128x160', '--dtypes', 'fp32', 'bf16')
    tables = open(tmp_path / 'profile.md').read().split('cascade_fastervit_synthetic_coco.py, ')[1:]
    assert [t.split(':')[0] for t in tables] == ['128x160, fp32', '128x160, bf16'], out
    for table in tables:
        shares = {line.split(' | ')[0].strip('| '): float(line.split(' | ')[2].rstrip('%| '))
                  for line in table.splitlines() if line.startswith('| ') and '%' in line}
        assert {'backbone', 'neck', 'rpn_head', 'roi_head.bbox_roi_extractor',
                'roi_head.bbox_head', 'roi_head.mask_head', "NMS (mmcv's nms)"} <= set(shares)
        assert all(s > 0 for k, s in shares.items() if not k.startswith('other')), shares
        assert abs(sum(shares.values()) - 100) < 0.5, shares
