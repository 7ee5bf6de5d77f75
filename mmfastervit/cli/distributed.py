"""Distributed training and testing on CPUs (gloo), for machines without GPUs.

mmengine's ``launcher='pytorch'`` path calls ``torch.cuda.set_device`` and
wraps the model in DDP with ``device_ids=[local_rank]``; both fail without a
GPU. When no GPU is visible we start the gloo process group ourselves (mmengine
then finds it initialised and skips its own start) and let DDP run on CPU.
With a GPU nothing changes.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup(cfg: Config, launcher: str) -> None:
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'launcher {launcher!r} needs GPUs; on CPUs use torchrun '
                         '(tools/dist_train.sh) with --launcher pytorch')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
