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


HOLD_HOOK = '''"""Test-only: fixes when the stop signals come. Before iteration 2 it
prints a marker and waits for the first signal; with ``hold_end``, after
iteration 2 (before the stop hook would save it) it waits for the second.
An exit callback prints a marker and takes 3 s, as slow ones do on a busy
machine (torch._dynamo's imports modules). Each wait is at most 5 min."""
import atexit
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def wait(condition, seconds=300):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.05)


@atexit.register
def slow_exit_callback():
    print('EXIT CALLBACK: running', flush=True)
    wait(lambda: False, 3)


@HOOKS.register_module()
class HoldForStopSignals(Hook):
    priority = 'VERY_LOW'  # after the logger, right before StopOnSignalHook (LOWEST)

    def __init__(self, hold_end=True):
        self.hold_end = hold_end

    def _stop(self, runner):
        stop, = [h for h in runner.hooks if type(h).__name__ == 'StopOnSignalHook']
        return stop

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == 1:
            print('HOLD: waiting for the first signal', flush=True)
            wait(lambda: self._stop(runner)._signal is not None)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.hold_end and self._stop(runner)._signal is not None:
            wait(lambda: False)  # the second signal ends the process
'''
HOLD_CONFIG = '''_base_ = {base!r}
custom_imports = dict(imports=['hold_for_stop_signals'], allow_failed_imports=False)
custom_hooks = [dict(type='HoldForStopSignals', hold_end={hold_end})]
'''


def held_run(tmp_path, tiny_coco, hold_end, second_after):
    """A run whose first stop signal comes before iteration 2 (held by the
    test-only hook) and whose second comes once ``second_after`` is printed."""
    (tmp_path / 'hold_for_stop_signals.py').write_text(HOLD_HOOK)
    config = tmp_path / 'hold_cfg.py'
    config.write_text(HOLD_CONFIG.format(base=DEMO_COCO, hold_end=hold_end))
    options = [o for o in ITER_RUN if not o.startswith('custom_hooks=')]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path), ROOT, os.environ.get('PYTHONPATH', '')]))
    work = tmp_path / 'w'
    code, log, finishing = second_signal_run(
        train_cmd(config, tiny_coco, work, options), env,
        first_after='HOLD: waiting for the first signal', second_after=second_after)
    assert finishing == 2, log[-3000:]
    assert code == 128 + signal.SIGTERM, log[-3000:]
    assert 'Traceback' not in log and 'SIGTERM received again' in log, log[-3000:]
    return work, log


def second_signal_run(cmd, env=None, first_after='Iter(train) [1/6]',
                      second_after='SIGTERM received: finishing iteration'):
    """Start ``cmd``; SIGTERM once ``first_after`` is printed, SIGTERM again
    once ``second_after`` is. Returns the exit code, the output and the
    iteration the first signal asked to finish."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env=env)
    seen, rest = [], ''
    try:
        for line in proc.stdout:
            seen.append(line)
            if first_after in line:
                proc.send_signal(signal.SIGTERM)
            if second_after in line:
                proc.send_signal(signal.SIGTERM)
                break
        rest, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = ''.join(seen) + rest
    finishing = re.search(r'SIGTERM received: finishing iteration (\d)', log)
    return proc.returncode, log, finishing and int(finishing[1])


def assert_only_whole_checkpoints(work):
    """Every checkpoint file in ``work`` reads to the end."""
    for path in work.glob('*.pth'):
        assert 'state_dict' in torch.load(path, map_location='cpu', weights_only=True), path


@pytest.mark.slow
def test_second_signal_stops_at_once_without_saving(tmp_path, tiny_coco):
    """Iteration 2 is held until the first signal has come, and its end until
    the second has: the at-once stop, whatever the timing."""
    work, log = held_run(tmp_path, tiny_coco, hold_end=True,
                         second_after='SIGTERM received: finishing iteration')
    assert 'SIGTERM received again: stopping now without saving' in log
    assert not list(work.glob('*.pth')) and 'Stopped by' not in log


@pytest.mark.slow
def test_second_signal_while_the_stopped_run_exits(tmp_path, tiny_coco):
    """The second signal comes during an exit callback, after the first
    stop's checkpoint: the checkpoint is whole, the exit code the signal's.
    (It used to be raised inside the callback and printed with a traceback;
    later in the exit it killed the process: exit code -15.)"""
    work, log = held_run(tmp_path, tiny_coco, hold_end=False,
                         second_after='EXIT CALLBACK: running')
    assert 'Stopped by SIGTERM after iteration 2 of 6' in log
    assert [p.name for p in work.glob('*.pth')] == ['iter_2.pth']
    assert_only_whole_checkpoints(work)


@pytest.mark.slow
def test_second_signal_under_load_ends_with_its_code_and_whole_checkpoints(tmp_path, tiny_coco):
    """With busy processes beside it (as on a shared node) a second signal
    sent once the first is acknowledged lands at any moment: in the
    iteration, in the checkpoint save, while the first stop exits. Whatever
    the moment: exit code 128 + SIGTERM, no traceback, no half-written
    checkpoint."""
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(2)]
    try:
        work = tmp_path / 'w'
        code, log, finishing = second_signal_run(train_cmd(DEMO_COCO, tiny_coco, work, ITER_RUN))
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert finishing, log[-3000:]
    assert code == 128 + signal.SIGTERM, log[-3000:]
    assert 'Traceback' not in log, log[-3000:]
    # stopped by the second signal, or by the first before the second came
    assert 'SIGTERM received again' in log or 'Stopped by SIGTERM' in log, log[-3000:]
    assert_only_whole_checkpoints(work)


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
