"""Small helpers for DistributedDataParallel runs on one machine.

A WGAN-GP step under DDP equals the single-process step on the whole batch
when every rank gets an equal, contiguous shard of the batch *and of the
per-sample interpolation weights* (draw ``alpha`` for the global batch from a
seeded generator, then shard it): the loss and the penalty are batch means,
and DDP averages the ranks' gradients.
"""

from __future__ import annotations

import socket

import torch

from femgp.errors import InputError

__all__ = ["free_port", "shard"]


def free_port() -> int:
    """A TCP port on localhost that is free now (for ``MASTER_PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous shard of ``batch`` (batch first), equal sizes required."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise InputError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    n = batch.shape[0]
    if n % world_size:
        raise InputError(f"batch size {n} is not divisible by world_size {world_size}")
    m = n // world_size
    return batch[rank * m : (rank + 1) * m]
