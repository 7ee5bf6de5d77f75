"""tools/train.py, tools/test.py and tools/dist_train.sh on real runs."""
import os
import re
import signal
import subprocess
import sys
import time

import torch

from support.ddp_steps import free_port
from support.tool_runs import ROOT, run_command, run_tool

DEMO = 'configs/demo/cascade_fastervit_synthetic_coco.py'


def short_run_options(data_root, max_iters, interval):
    """A few iterations of the demo config on the tiny dataset, logging every step."""
    return [f'train_dataloader.dataset.data_root={data_root}/',
            f'val_dataloader.dataset.data_root={data_root}/',
            f'test_dataloader.dataset.data_root={data_root}/',
            f'val_evaluator.ann_file={data_root}/annotations/instances_val2017.json',
            f'test_evaluator.ann_file={data_root}/annotations/instances_val2017.json',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={max_iters}',
            f'default_hooks.checkpoint.interval={interval}',
            'default_hooks.checkpoint.max_keep_ckpts=10', 'default_hooks.logger.interval=1',
            'custom_hooks=[]']


def test_two_process_distributed_training_on_cpu(tmp_path, tiny_coco):
    """torchrun with 2 gloo workers: both ranks train, gradients are averaged
    (the saved weights are the single synchronised copy), checkpoint written."""
    env = dict(PORT=str(free_port()), OMP_NUM_THREADS='1')
    work = tmp_path / 'dist'
    res = run_command(['bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir', str(work),
                       '--cfg-options', *short_run_options(tiny_coco, 2, 2)],
                      env=env, timeout=900)
    log = res.stdout + res.stderr
    rank0 = '\n'.join(line for line in log.splitlines() if line.startswith('[rank0]'))
    assert res.returncode == 0, rank0[-3000:] + '\n...\n' + log[-2000:]  # the first to fail
    # mmengine reports the world size as 'GPU number' whatever the device
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    config = open(re.search(r'config: full text in (\S+)', log)[1]).read()  # the log file
    assert "type='MMDistributedDataParallel'" in config and 'device_ids=None' in config
    assert len(re.findall(r'Iter\(train\) \[2/2\]', log)) >= 1
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])


def test_resume_continues_an_interrupted_run(tmp_path, tiny_coco):
    work = tmp_path / 'resume'
    options = short_run_options(tiny_coco, 8, 2)
    cmd = [sys.executable, 'tools/train.py', DEMO, '--work-dir', str(work), '--cfg-options',
           *options]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    deadline, seen = time.time() + 600, []
    for line in proc.stdout:  # interrupt once iteration 4 is checkpointed
        seen.append(line)
        if 'Saving checkpoint at 4 iterations' in line or time.time() > deadline:
            break
    time.sleep(2)  # let the save finish
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (work / 'iter_4.pth').exists() and not (work / 'iter_8.pth').exists(), \
        ''.join(seen)[-3000:]

    res = run_command(cmd + ['--resume'], timeout=900)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-3000:]
    assert re.search(r'resumed epoch: \d+, iter: [46]', log), log[-3000:]
    first = re.search(r'Iter\(train\) \[\s*(\d+)/8\]', log)
    assert first and int(first[1]) in (5, 7)  # continued, not restarted at 1
    assert (work / 'iter_8.pth').exists()
    resumed = torch.load(work / 'iter_8.pth', map_location='cpu')
    assert resumed['meta']['iter'] == 8 and 'optimizer' in resumed


def test_resume_from_a_missing_checkpoint_says_so(tmp_path, tiny_coco):
    res = run_tool('tools/train.py', DEMO, '--resume', str(tmp_path / 'none.pth'),
                   '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                   *short_run_options(tiny_coco, 2, 2), timeout=300)
    assert res.returncode == 2 and 'does not exist' in res.stderr
