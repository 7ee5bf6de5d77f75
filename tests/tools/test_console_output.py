"""The tools' console stays readable: one-line summaries, no library noise;
the log file keeps the full reports."""
import re

from support.tool_runs import run_test_tool, run_tool


# ------------------------------------------------------------ readable logs
def test_test_tool_console_is_readable(tmp_path, tiny_coco, checkpoints):
    """No deprecation noise, no pycocotools chatter or 12-line tables, no
    config dump on the console: one-line summaries, progress with an ETA and
    one compact table; the log file keeps the full reports."""
    res = run_test_tool(checkpoints / 'model.pth', '--data-root', tiny_coco, '--work-dir', tmp_path,
                    '--cfg-options', 'test_dataloader.batch_size=1',
                    'test_dataloader.dataset.pipeline.1.scale=(160,160)')
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert res.stderr.strip() == '', res.stderr  # no warnings at all
    for noise in ('pkg_resources', 'deprecated', 'Average Precision', 'loading annotations',
                  'index created', 'System environment', 'Config:', 'copypaste'):
        assert noise not in out, noise
    assert re.search(r'environment: Python: [\d.]+, PyTorch: [\d.]+.*full report in', out)
    assert re.search(r'test: 1/4 batches \(25%\), eta \d:\d\d:\d\d', out)
    table = out[out.index('test results:'):].splitlines()[1:4]
    assert table[0].split() == ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
    assert table[1].split()[0] == 'bbox' and table[2].split()[0] == 'segm'
    log_file = re.search(r'full report in (\S+)\)', out)[1]
    log = open(log_file).read()
    assert 'System environment' in log and 'Average Precision' in log and 'Config:' in log
    assert len(out.splitlines()) < 25, out


def test_backbone_init_from_user_code_is_one_line():
    code = ('import mmfastervit, sys\n'
            'from mmengine.logging import MMLogger\n'
            'if sys.argv[1] == "debug": MMLogger.get_instance("x", log_level="DEBUG")\n'
            'mmfastervit.FasterViT(dict(dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2)))'
            '.init_weights()\n')
    quiet = run_tool('-c', code, 'info', timeout=300)
    lines = (quiet.stdout + quiet.stderr).strip().splitlines()
    assert quiet.returncode == 0 and len(lines) == 1, lines[:5]
    assert re.search(r'FasterViT: initialised \d+ parameter tensors .* log level DEBUG', lines[0])
    full = run_tool('-c', code, 'debug', timeout=300)
    assert full.stdout.count('stem.conv1.weight') == 1 and full.stdout.count('INFO') > 50
