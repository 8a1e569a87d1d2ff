"""A DistributedDataParallel WGAN-GP critic step equals the single-process step on the full batch.

Two CPU processes (gloo, torch.multiprocessing spawn, a free localhost port)
each take half of the batch *and* the matching half of the per-sample
interpolation weights, drawn once for the global batch. The penalty's input
gradient is taken out of place with ``autograd.grad``; the one backward of
loss plus penalty all-reduces (averages) the gradients, which equals the
gradient of the full-batch means.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from femgp.ml.distributed import free_port, shard
from femgp.ml.training import critic_step, mlp

pytestmark = pytest.mark.torch

WORLD = 2
BATCH = 32


def _problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    critic = mlp([3, 16, 16, 1], activation=nn.Softplus, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    real = torch.randn(BATCH, 3, generator=g, dtype=torch.float64)
    fake = torch.randn(BATCH, 3, generator=g, dtype=torch.float64) + 0.7
    alpha = torch.rand(BATCH, generator=g, dtype=torch.float64)  # global draw
    return critic, real, fake, alpha


def _step(critic: nn.Module, real, fake, alpha) -> dict[str, list[torch.Tensor]]:
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    critic_step(critic, opt, real, fake, lam=10.0, alpha=alpha)
    params = [p.detach().clone() for p in critic.parameters()]
    grads = [p.grad.detach().clone() for p in critic.parameters()]
    return {"params": params, "grads": grads}


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        critic, real, fake, alpha = _problem()
        ddp = nn.parallel.DistributedDataParallel(critic)
        res = _step(
            ddp, shard(real, rank, WORLD), shard(fake, rank, WORLD), shard(alpha, rank, WORLD)
        )
        torch.save(res, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_wgan_gp_step_equals_single_process(tmp_path: Path) -> None:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    want = _step(*_problem())
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for key in ("grads", "params"):
            for a, b in zip(got[key], want[key], strict=True):
                torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    # the shards alone would not do: each rank's local gradient differs from the full one
    critic, real, fake, alpha = _problem()
    half = _step(critic, real[: BATCH // 2], fake[: BATCH // 2], alpha[: BATCH // 2])
    assert not all(
        torch.allclose(a, b, rtol=1e-6, atol=1e-6)
        for a, b in zip(half["grads"], want["grads"], strict=True)
    )
