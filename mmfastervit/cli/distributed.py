"""Distributed training and testing on CPUs (gloo), for machines without GPUs.

mmengine's ``launcher='pytorch'`` and ``'slurm'`` paths call
``torch.cuda.set_device`` and wrap the model in DDP with
``device_ids=[local_rank]``; both fail without a GPU. When no GPU is visible we
start the gloo process group ourselves (mmengine then finds it initialised and
skips its own start) and let DDP run on CPU. Under Slurm the rendezvous comes
from srun's variables, read as mmengine reads them. With a GPU nothing changes.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import torch
import torch.distributed as dist
from mmengine.config import Config

from ..errors import ConfigError

CPU_LAUNCHERS = ('pytorch', 'slurm')


def setup(cfg: Config, launcher: str) -> None:
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher not in CPU_LAUNCHERS:
        raise ValueError(f'launcher {launcher!r} needs GPUs; on CPUs use torchrun '
                         '(tools/dist_train.sh) with --launcher pytorch, or srun '
                         '(tools/slurm_train.sh) with --launcher slurm')
    if launcher == 'slurm':
        slurm_environment()
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def slurm_environment() -> None:
    """torch's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` from the task's Slurm variables (``MASTER_*`` only where
    not set already; the port defaults to 29500, the address is the first
    node of ``SLURM_NODELIST``)."""
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
               if k not in os.environ]
    if missing:
        raise ConfigError(f'--launcher slurm, but {", ".join(missing)} is not set: start the '
                          'tool with srun (tools/slurm_train.sh, tools/slurm_test.sh)')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = first_node(os.environ['SLURM_NODELIST'])


def first_node(node_list: str) -> str:
    """The first host of a Slurm node list (``node[01-04],gpu7`` -> ``node01``),
    expanded by ``scontrol`` as on the cluster; a single plain name as is."""
    if shutil.which('scontrol'):
        out = subprocess.run(['scontrol', 'show', 'hostnames', node_list],
                             capture_output=True, text=True, check=False).stdout.split()
        if out:
            return out[0]
    if not any(c in node_list for c in '[],'):
        return node_list
    raise ConfigError(f'cannot expand SLURM_NODELIST={node_list!r} without scontrol: '
                      'set MASTER_ADDR to the first node\'s address')
