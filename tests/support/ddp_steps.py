"""Two-process DDP training steps on CPU (gloo), for the tests: every rank
builds the same backbone, wraps it in mmengine's ``MMDistributedDataParallel``
with ``find_unused_parameters=False`` (mmengine's default) and takes two
optimizer steps per input size. DDP fails on the second step of any size
where a trainable parameter got no gradient in the first."""
from __future__ import annotations

import os
import socket
from typing import Sequence, Tuple

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _steps(rank: int, world: int, port: int, backbone: dict,
           sizes: Sequence[Tuple[int, int]], queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        from mmdet.registry import MODELS
        from mmengine.model import MMDistributedDataParallel

        import mmfastervit  # noqa: F401  (registers the backbones)

        torch.manual_seed(0)  # the same weights on every rank
        model = MODELS.build(backbone)
        model.init_weights()
        ddp = MMDistributedDataParallel(module=model, find_unused_parameters=False)
        optim = torch.optim.SGD(ddp.parameters(), lr=1e-3)
        torch.manual_seed(rank)  # different data per rank
        report = []
        for size in sizes:
            for _ in range(2):
                optim.zero_grad()
                loss = sum(f.float().pow(2).mean() for f in ddp(torch.randn(2, 3, *size)))
                loss.backward()
                optim.step()
            report.append((tuple(size), float(loss)))
        # the step averaged gradients: every rank holds the same weights
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(world)]
        dist.all_gather(gathered, flat)
        same = all(torch.equal(gathered[0], g) for g in gathered)
        queue.put((rank, report, same, None))
    except Exception as e:  # the parent reports it
        queue.put((rank, None, None, f'{type(e).__name__}: {e}'))
    finally:
        dist.destroy_process_group()


def ddp_train_steps(backbone: dict, sizes: Sequence[Tuple[int, int]],
                    world: int = 2, timeout: float = 600) -> list:
    """Runs :func:`_steps` on ``world`` processes; returns one
    ``(rank, [(size, loss), ...], weights_equal_across_ranks, error)`` per rank."""
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_steps, args=(r, world, port, backbone, sizes, queue))
             for r in range(world)]
    for p in procs:
        p.start()
    results = []
    try:
        for _ in procs:
            results.append(queue.get(timeout=timeout))
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return sorted(results, key=lambda r: r[0])
