"""tools/slurm_train.sh and tools/slurm_test.sh (through tools/srun.sh) with a
stand-in ``srun`` first on PATH: it records its options and starts ``--ntasks``
copies of the command with the variables Slurm gives each task. Two gloo
workers on the CPU train and test as two Slurm tasks (``--launcher slurm``)."""
import os
import re
import stat
import sys

import torch

from support.ddp_steps import free_port
from support.tool_runs import ROOT, run_command

DEMO = 'configs/demo/cascade_fastervit_synthetic_coco.py'

STAND_IN_SRUN = r"""#!/usr/bin/env bash
# stand-in for Slurm's srun: records its arguments, starts --ntasks tasks on this host
printf '%s\n' "$@" > "$SRUN_RECORD"
ntasks=1
while [[ $# -gt 0 ]]; do
    case $1 in
        --ntasks=*) ntasks=${1#*=}; shift ;;
        -p) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
[[ -n "${SRUN_RECORD_ONLY:-}" ]] && exit 0
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_NODELIST=localhost \
        SLURM_JOB_ID=1 "$@" 2>&1 | sed "s/^/[task$i] /" &
    pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
exit $rc
"""


def stand_in_srun(tmp_path, **extra):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(STAND_IN_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / 'srun_args.txt'
    env = {'PATH': f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', 'SRUN_RECORD': str(record),
           'PYTHON': sys.executable, **extra}
    return env, record


def test_slurm_train_passes_mmdet_options_to_srun(tmp_path):
    """The defaults and option names of mmdet's slurm_train.sh; our train.py
    with --launcher slurm."""
    env, record = stand_in_srun(tmp_path, SRUN_RECORD_ONLY='1', SRUN_ARGS='--exclusive -t 60')
    res = run_command(['bash', 'tools/slurm_train.sh', 'gpu', 'fvit', DEMO, 'work_dirs/x',
                       '--amp'], env=env)
    assert res.returncode == 0, res.stderr
    args = record.read_text().splitlines()
    assert args[:8] == ['-p', 'gpu', '--job-name=fvit', '--gres=gpu:8', '--ntasks=8',
                        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1']
    assert args[8:] == ['--exclusive', '-t', '60', sys.executable, '-u',
                        os.path.join(ROOT, 'tools', 'train.py'), '--launcher', 'slurm', DEMO,
                        '--work-dir', 'work_dirs/x', '--amp']
    res = run_command(['bash', 'tools/slurm_test.sh', 'gpu', 'fvit', DEMO], env=env)
    assert res.returncode == 2 and 'usage: bash tools/slurm_test.sh' in res.stderr


def test_two_slurm_tasks_train_and_test_on_cpu(tmp_path, tiny_coco):
    """GPUS=2 tasks on a CPU-only node (GRES empty): both ranks join one gloo
    group from Slurm's variables, train two iterations and save one
    checkpoint; slurm_test.sh evaluates it with two tasks."""
    env, record = stand_in_srun(tmp_path, GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
                                GRES='', MASTER_PORT=str(free_port()), OMP_NUM_THREADS='1')
    work = tmp_path / 'work'
    data = [f'{split}_dataloader.dataset.data_root={tiny_coco}/'
            for split in ('train', 'val', 'test')]
    data += [f'{split}_evaluator.ann_file={tiny_coco}/annotations/instances_val2017.json'
             for split in ('val', 'test')]
    small = ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
             'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
             'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
             'train_dataloader.batch_size=2', 'default_hooks.logger.interval=1']
    res = run_command(['bash', 'tools/slurm_train.sh', 'cpu', 'fvit', DEMO, work,
                       '--cfg-options', *data, *small, 'train_cfg.max_iters=2',
                       'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=2',
                       'custom_hooks=[]'], env=env, timeout=900)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert '--gres' not in record.read_text() and '--ntasks=2' in record.read_text()
    task0 = '\n'.join(line for line in log.splitlines() if line.startswith('[task0]'))
    full_log = open(re.search(r'config: full text in (\S+)', task0)[1]).read()
    # mmengine reports the world size as 'GPU number' whatever the device
    for line in ('Distributed launcher: slurm', 'Distributed training: True', 'GPU number: 2',
                 "launcher = 'slurm'", 'device_ids=None'):
        assert line in full_log, line
    assert re.search(r'Iter\(train\) \[2/2\]', task0), task0[-3000:]
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])

    res = run_command(['bash', 'tools/slurm_test.sh', 'cpu', 'fvit', DEMO, work / 'iter_2.pth',
                       '--work-dir', tmp_path / 'test', '--cfg-options', *data, *small],
                      env=env, timeout=900)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert re.search(r'\[task0\].*coco/bbox_mAP', log), log[-3000:]
