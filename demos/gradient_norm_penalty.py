# # Penalising the gradient norm versus clipping it
#
# Both act on ``g = grad_theta L``, in opposite spirits. *Clipping* rescales
# ``g`` to at most ``max_norm`` before the step: it changes the step, not the
# objective. The *gradient-norm penalty* changes the objective,
#
#     J(theta) = L(theta) + lam ||grad_theta L(theta)||_2,
#
# the parameter-space cousin of the phase field's ``kappa/2 |grad phi|^2``: it
# prefers flat minima, where the loss changes slowly. Its gradient
# ``g + lam H g / ||g||`` needs a Hessian-vector product; Zhao, Zhang & Hu
# (ICML 2022) replace it by a finite difference along ``g``:
#
#     grad J ~ (1 - alpha) g(theta) + alpha g(theta + r g/||g||),   alpha = lam / r,
#
# two gradient evaluations and no second derivatives; sharpness-aware
# minimisation (SAM) is the case ``alpha = 1``. :class:`femgp.ml.GradientNormPenalty`
# wraps any optimiser this way (``form="exact"`` uses the double backward).
#
# The problem: four Gaussian classes in 10 dimensions with 20% of the
# training labels flipped, fitted by a small MLP with SGD. We report the
# training loss, the test accuracy, the final gradient norm, a sharpness
# estimate ``L(theta + rho g/||g||) - L(theta)`` and the time per step.
#
#     python demos/gradient_norm_penalty.py
#     python demos/gradient_norm_penalty.py --dry-run

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from femgp.cli import args as cli
from femgp.cli.ml import samples
from femgp.ml.gradnorm import GradientClipping, GradientNormPenalty, global_grad_norm
from femgp.ml.scripts import write_json, write_text
from femgp.ml.training import mlp


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = cli.TorchDemoParser(description="Gradient-norm penalty versus clipping",
                        default_output="results/gradient_norm_penalty")
    p.add_argument("--lam", type=cli.nonnegative_float, default=0.04, help="penalty weight")
    p.add_argument("--radius", type=cli.positive_float, default=0.05,
                   help="finite-difference radius r (alpha = lam / r)")
    p.add_argument("--max-norm", type=cli.positive_float, default=1.0, help="clipping threshold")
    p.add_argument("--epochs", type=cli.positive_int, default=60)
    p.add_argument("--n-train", type=samples, default=512)
    p.add_argument("--n-test", type=samples, default=4000)
    p.add_argument("--lr", type=cli.positive_float, default=0.05)
    args = p.parse_args(argv)
    if args.dry_run:
        args.epochs, args.n_test = min(args.epochs, 2), min(args.n_test, 500)
    return args


def gaussians(n: int, gen: torch.Generator, *, flip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes with means ``+-2`` on the first two axes in 10-D; a fraction ``flip``
    of the labels replaced by random ones."""
    y = torch.randint(4, (n,), generator=gen)
    means = torch.zeros(4, 10)
    means[0, 0], means[1, 0], means[2, 1], means[3, 1] = 2.0, -2.0, 2.0, -2.0
    x = means[y] + torch.randn(n, 10, generator=gen)
    noisy = torch.rand(n, generator=gen) < flip
    y = torch.where(noisy, torch.randint(4, (n,), generator=gen), y)
    return x, y


def make(
    method: str, model: nn.Module, args: argparse.Namespace
) -> torch.optim.Optimizer | GradientClipping | GradientNormPenalty:
    sgd = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    if method == "plain":
        return sgd
    if method == "clipping":
        return GradientClipping(sgd, max_norm=args.max_norm)
    if method == "penalty (exact)":
        return GradientNormPenalty(sgd, lam=args.lam, form="exact")
    if method == "penalty (finite difference)":
        return GradientNormPenalty(sgd, lam=args.lam, radius=args.radius)
    return GradientNormPenalty.sam(sgd, rho=args.radius)


def full_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x), y)


def sharpness(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float
) -> tuple[float, float]:
    """``||g||`` and ``L(theta + rho g/||g||) - L(theta)`` on the full training set."""
    params = list(model.parameters())
    loss = full_loss(model, x, y)
    grads = torch.autograd.grad(loss, params)
    gn = global_grad_norm(grads)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.add_(g, alpha=rho / float(gn))
        up = full_loss(model, x, y)
        for p, g in zip(params, grads, strict=True):
            p.sub_(g, alpha=rho / float(gn))
    return float(gn), float(up - loss.detach())


METHODS = ("plain", "clipping", "penalty (exact)", "penalty (finite difference)", "SAM")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    gen = torch.Generator().manual_seed(args.seed)
    x, y = gaussians(args.n_train, gen, flip=0.2)
    xt, yt = gaussians(args.n_test, gen, flip=0.0)
    rows = []
    for method in METHODS:
        torch.manual_seed(args.seed)
        model = mlp([10, 128, 128, 4], activation=nn.SiLU)
        opt = make(method, model, args)
        order = torch.Generator().manual_seed(args.seed)
        steps, t0 = 0, time.perf_counter()

        # ## Training loop
        #
        # The wrappers take a closure that *returns the loss* and do the
        # backward passes themselves; the plain optimiser gets a closure that
        # also calls ``backward``.
        for _ in range(args.epochs):
            perm = torch.randperm(args.n_train, generator=order)
            for i in range(0, args.n_train, 64):
                idx = perm[i : i + 64]

                def closure(idx: torch.Tensor = idx, model: nn.Module = model) -> torch.Tensor:
                    return full_loss(model, x[idx], y[idx])

                if isinstance(opt, torch.optim.Optimizer):
                    opt.zero_grad(set_to_none=True)
                    loss = closure()
                    if not torch.isfinite(loss):
                        raise FloatingPointError("training loss is not finite")
                    loss.backward()
                    opt.step()
                else:
                    opt.step(closure)
                steps += 1
        ms = 1e3 * (time.perf_counter() - t0) / steps
        gn, sharp = sharpness(model, x, y, args.radius)
        with torch.no_grad():
            acc = float((model(xt).argmax(1) == yt).float().mean())
            train_loss = float(full_loss(model, x, y))
        rows.append({"method": method, "train_loss": train_loss, "test_accuracy": acc,
                     "grad_norm": gn, "sharpness": sharp, "ms_per_step": ms})

    lines = [
        f"lam = {args.lam}, r = {args.radius} (alpha = {args.lam / args.radius:g}), "
        f"max_norm = {args.max_norm}, {args.epochs} epochs",
        f"{'method':<28} {'train loss':>10} {'test acc':>9} {'|grad L|':>9} "
        f"{'sharpness':>10} {'ms/step':>8}",
    ]
    for r in rows:
        lines.append(f"{r['method']:<28} {r['train_loss']:>10.4f} {r['test_accuracy']:>9.3f} "
                     f"{r['grad_norm']:>9.4f} {r['sharpness']:>10.5f} {r['ms_per_step']:>8.2f}")
    text = "\n".join(lines)
    print(text)
    write_text(args.output / "results.txt", text + "\n")
    write_json(args.output / "summary.json", {
        "args": cli.recorded(args),
        "results": rows,
    })
    print(f"results in {args.output}/")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main, serial=True))
