"""A training run stopped by SIGTERM / SIGINT resumes to the same weights as
an uninterrupted one; a second signal stops at once."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from support.tool_runs import DEMO_COCO, ROOT, run_command

# ------------------------------------------------------------ stop and resume
TINY_RUN = ['train_dataloader.batch_size=1', 'train_dataloader.num_workers=1',
            'train_dataloader.persistent_workers=False',
            'train_dataloader.dataset.pipeline.2.scale=(160,160)',
            'val_dataloader.batch_size=4', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'val_dataloader.dataset.pipeline.1.scale=(160,160)',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=9',
            'custom_hooks=[]', 'randomness.seed=0', 'randomness.deterministic=True']
#: 6 iterations, validation after 3 and 6, checkpoints every 4: the stop (after
#: iteration 2 or 3) is never a checkpoint iteration, and at 3 a validation is due
ITER_RUN = TINY_RUN + ['train_cfg.max_iters=6', 'train_cfg.val_interval=3',
                       'default_hooks.checkpoint.interval=4']


def train_cmd(config, data, work, options):
    return [sys.executable, 'tools/train.py', str(config), '--data-root', str(data),
            '--work-dir', str(work), '--cfg-options', *options]


def stopped_run(cmd, marker, signum, whole_group):
    """Start ``cmd``, send ``signum`` once ``marker`` is printed (to the whole
    process group, data workers included, as Ctrl-C does), return the exit
    code and the output."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    seen, deadline = [], time.time() + 900
    for line in proc.stdout:
        seen.append(line)
        if marker in line or time.time() > deadline:
            break
    (os.killpg if whole_group else os.kill)(proc.pid, signum)
    rest, _ = proc.communicate(timeout=900)
    return proc.returncode, ''.join(seen) + rest


def resume_printed(log):
    """Run the resume command the stopped run printed, exactly."""
    import shlex

    command = log[log.index('To resume:'):].splitlines()[1].strip()
    res = run_command(shlex.split(command), timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return res.stdout


def assert_same_training_state(a, b):
    """Weights, buffers and optimizer state equal bit for bit."""
    a, b = (torch.load(p, map_location='cpu', weights_only=True) for p in (a, b))
    assert a['meta']['iter'] == b['meta']['iter']
    diff = max((a['state_dict'][k].double() - b['state_dict'][k].double()).abs().max().item()
               for k in a['state_dict'])
    assert diff == 0, f'weights differ by up to {diff}'
    for i, state in a['optimizer']['state'].items():
        for name, value in state.items():
            assert torch.equal(value, b['optimizer']['state'][i][name]), (i, name)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, tiny_coco):
    work = tmp_path_factory.mktemp('uninterrupted')
    res = run_command(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN), timeout=1200)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    return work, res.stdout


@pytest.mark.slow
def test_sigterm_saves_the_iteration_and_resume_reaches_the_same_weights(
        tmp_path, tiny_coco, uninterrupted):
    work = tmp_path / 'w'
    code, log = stopped_run(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN),
                            'Iter(train) [2/6]', signal.SIGTERM, whole_group=False)
    assert code == 128 + signal.SIGTERM, log[-3000:]
    assert 'SIGTERM received: finishing iteration' in log
    stop = int(re.search(r'Stopped by SIGTERM after iteration (\d) of 6; saved (\S+) \(', log)[1])
    assert stop in (2, 3) and 'Traceback' not in log
    assert [p.name for p in work.glob('*.pth')] == [f'iter_{stop}.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / f'iter_{stop}.pth')
    resumed = resume_printed(log)
    first = re.search(r'Iter\(train\) \[(\d)/6\]', resumed)
    assert first and int(first[1]) == stop + 1  # continued, not restarted
    if stop == 3:  # the validation due after iteration 3 ran on resume
        assert 'val results after iteration 3' in resumed
    assert_same_training_state(uninterrupted[0] / 'iter_6.pth', work / 'iter_6.pth')


@pytest.mark.slow
def test_second_signal_stops_at_once_without_saving(tmp_path, tiny_coco):
    work = tmp_path / 'w'
    proc = subprocess.Popen(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if 'Iter(train) [1/6]' in line:
            proc.send_signal(signal.SIGTERM)
        # the second signal goes as soon as the first is acknowledged, while
        # that iteration (seconds long) still runs
        finishing = re.search(r'SIGTERM received: finishing iteration (\d)', line)
        if finishing:
            proc.send_signal(signal.SIGTERM)
            break
    log, _ = proc.communicate(timeout=600)
    log = ''.join(seen) + log
    assert finishing, log[-3000:]
    assert proc.returncode == 128 + signal.SIGTERM, log[-3000:]
    assert 'SIGTERM received again: stopping now without saving' in log
    assert not (work / f'iter_{finishing[1]}.pth').exists() and 'Stopped by' not in log
    assert 'Traceback' not in log


EPOCH_CONFIG = '''_base_ = {base!r}
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2, val_interval=2)
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1, save_last=True))
'''


@pytest.mark.slow
def test_ctrl_c_mid_epoch_resumes_to_the_same_weights(tmp_path, tiny_coco):
    """Epoch-based loop, Ctrl-C (SIGINT to every process, data workers
    included) in the middle of the second epoch: the resumed run continues
    at the next batch of that epoch and ends with the same weights."""
    config = tmp_path / 'epoch_cfg.py'
    config.write_text(EPOCH_CONFIG.format(base=DEMO_COCO))
    options = [o for o in TINY_RUN if 'train_dataloader.batch_size' not in o]
    options += ['train_dataloader.batch_size=2']  # 8 images: 4 iterations per epoch
    reference = run_command(train_cmd(config, tiny_coco, tmp_path / 'ref', options),
                            timeout=1200)
    assert reference.returncode == 0, (reference.stdout + reference.stderr)[-3000:]
    work = tmp_path / 'w'
    code, log = stopped_run(train_cmd(config, tiny_coco, work, options), 'Iter(train) [5/8]',
                            signal.SIGINT, whole_group=True)
    assert code == 128 + signal.SIGINT, log[-3000:]
    stop = int(re.search(r'Stopped by SIGINT after iteration (\d) of 8', log)[1])
    assert stop in (5, 6, 7) and 'Traceback' not in log
    resumed = resume_printed(log)
    assert re.search(rf'resumed epoch: 1, iter: {stop}', resumed)
    assert re.search(rf'Iter\(train\) \[{stop + 1}/8\]', resumed)
    assert_same_training_state(tmp_path / 'ref' / 'epoch_2.pth', work / 'epoch_2.pth')
