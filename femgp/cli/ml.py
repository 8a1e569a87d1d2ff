"""Options shared by the torch demos beyond :class:`~femgp.cli.args.TorchDemoParser`'s.

Pure Python: imports neither torch, dolfinx nor petsc4py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from femgp.cli.args import nonnegative_float, number, positive_float, positive_int

__all__ = [
    "MAX_BATCH",
    "MAX_DIM",
    "MAX_N_CRITIC",
    "MAX_SAMPLES",
    "add_wgan_options",
    "samples",
    "shrink_wgan",
    "width",
]

#: The largest ``--batch``: samples per critic or generator step. A batch of
#: ``MAX_BATCH`` through networks of width ``MAX_DIM`` keeps each layer's
#: activations at 256 MiB (float32); larger values only run out of memory.
MAX_BATCH = 16_384
#: The largest ``--dim``: the hidden width of both networks (a 4096 x 4096 layer
#: holds 64 MiB of weights, plus as much again per gradient and Adam moment).
MAX_DIM = 4_096


#: The largest sample count of a torch demo's data options (``--n-train``,
#: ``--n-test``, ``--per-class``): a million samples of the digits' 64 pixels
#: are 256 MiB in float32; larger values only run out of memory.
MAX_SAMPLES = 1_000_000
#: The largest ``--n-critic``: critic steps per generator step (5 in the WGAN papers).
MAX_N_CRITIC = 1_000


def _bounded_int(high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[1, high]``."""
    return number(int, lambda v: 1 <= v <= high, f"an integer in [1, {high}]")


#: argparse type of a network width or a feature count: an integer in [1, MAX_DIM].
width = _bounded_int(MAX_DIM)
#: argparse type of a sample count: an integer in [1, MAX_SAMPLES].
samples = _bounded_int(MAX_SAMPLES)


def add_wgan_options(
    p: argparse.ArgumentParser,
    *,
    iters: int,
    dim: int,
    n_critic: int = 5,
    batch: int = 256,
    lr: float = 1e-4,
) -> None:
    """The WGAN-GP training options: ``--iters --n-critic --lam --batch --dim --lr``.

    ``--batch`` is at most :data:`MAX_BATCH`, ``--dim`` at most :data:`MAX_DIM`.
    """
    p.add_argument("--iters", type=positive_int, default=iters, help="generator iterations")
    p.add_argument(
        "--n-critic",
        type=_bounded_int(MAX_N_CRITIC),
        default=n_critic,
        help=f"critic steps per iteration (1 to {MAX_N_CRITIC})",
    )
    p.add_argument("--lam", type=nonnegative_float, default=10.0, help="penalty weight")
    p.add_argument(
        "--batch",
        type=_bounded_int(MAX_BATCH),
        default=batch,
        help=f"batch size (1 to {MAX_BATCH})",
    )
    p.add_argument(
        "--dim",
        type=_bounded_int(MAX_DIM),
        default=dim,
        help=f"hidden width of both networks (1 to {MAX_DIM})",
    )
    p.add_argument("--lr", type=positive_float, default=lr, help="Adam learning rate")


def shrink_wgan(args: argparse.Namespace) -> argparse.Namespace:
    """With ``--dry-run``: at most 15 iterations of 5 critic steps, networks at most
    64 wide, batches of at most 64 (a smaller value given is kept)."""
    if args.dry_run:
        args.iters, args.dim, args.batch = (
            min(args.iters, 15),
            min(args.dim, 64),
            min(args.batch, 64),
        )
        args.n_critic = min(args.n_critic, 5)
    return args
