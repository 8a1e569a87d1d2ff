"""Options shared by the torch demos beyond :class:`~femgp.cli.args.TorchDemoParser`'s.

Pure Python: imports neither torch, dolfinx nor petsc4py.
"""

from __future__ import annotations

import argparse

from femgp.cli.args import nonnegative_float, positive_float, positive_int

__all__ = ["add_wgan_options", "shrink_wgan"]


def add_wgan_options(
    p: argparse.ArgumentParser,
    *,
    iters: int,
    dim: int,
    n_critic: int = 5,
    batch: int = 256,
    lr: float = 1e-4,
) -> None:
    """The WGAN-GP training options: ``--iters --n-critic --lam --batch --dim --lr``."""
    p.add_argument("--iters", type=positive_int, default=iters, help="generator iterations")
    p.add_argument(
        "--n-critic", type=positive_int, default=n_critic, help="critic steps per iteration"
    )
    p.add_argument("--lam", type=nonnegative_float, default=10.0, help="penalty weight")
    p.add_argument("--batch", type=positive_int, default=batch, help="batch size")
    p.add_argument("--dim", type=positive_int, default=dim, help="hidden width of both networks")
    p.add_argument("--lr", type=positive_float, default=lr, help="Adam learning rate")


def shrink_wgan(args: argparse.Namespace) -> argparse.Namespace:
    """With ``--dry-run``: 15 iterations of narrow networks on batches of 64."""
    if args.dry_run:
        args.iters, args.dim, args.batch = min(args.iters, 15), min(args.dim, 64), 64
    return args
