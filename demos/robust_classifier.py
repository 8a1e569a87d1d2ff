# # Robustness from an input-gradient penalty
#
# A classifier whose loss changes fast as the *input* moves is easy to fool:
# to first order, an l2 perturbation ``delta`` changes the loss by at most
# ``||delta|| ||grad_x loss||``. Penalising that gradient norm,
#
#     J = mean_i loss_i + lam mean_i ||grad_{x_i} loss_i||_2,
#
# (per sample, so the penalty does not depend on the batch size) is the same
# gradient-penalty idea as the phase field's ``kappa/2 |grad phi|^2``, now on
# the map from inputs to loss. femgp offers two ways to train with it:
#
# * ``exact``: double backpropagation (``create_graph=True``);
# * ``finite_difference``: no second derivatives, one extra forward and
#   backward at the inputs moved by ``h`` along each sample's gradient
#   direction (see :mod:`femgp.ml.robust`).
#
# The data: two classes told apart by two kinds of features (Tsipras et
# al.'s "robustness may be at odds with accuracy" in miniature). *Robust*
# features sit far from the decision boundary but are noisy; *fragile*
# features are clean and, together, predict the class almost perfectly, but
# each lies only 0.1 from the boundary. A plain classifier leans on the
# fragile features, which needs large weights, hence a large input gradient;
# an adversary moves every fragile feature a little and flips the decision.
# The penalty makes large input gradients expensive and moves the classifier
# onto the robust features: a little clean accuracy for much adversarial
# accuracy. We report the accuracy on clean test data and under FGSM
# (l-infinity, one step) and PGD (l2 and l-infinity, ``--pgd-steps`` steps),
# with and without the penalty, and the certified first-order bound
# ``epsilon ||grad_x loss||`` on the loss change (see
# :func:`femgp.ml.robust.loss_change_bound` for its assumptions).
#
#     python demos/robust_classifier.py
#     python demos/robust_classifier.py --dry-run

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from femgp.cli import args as cli
from femgp.cli.ml import samples, width
from femgp.ml.attacks import fgsm, pgd
from femgp.ml.robust import (
    input_gradient_backward,
    loss_change_bound,
    per_sample_loss_and_input_grad,
)
from femgp.ml.scripts import write_json, write_text
from femgp.ml.training import mlp


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = cli.TorchDemoParser(
        description="Input-gradient penalty against FGSM/PGD on synthetic data",
        default_output="results/robust_classifier",
    )
    p.add_argument("--lam", type=cli.nonnegative_float, default=1.0, help="penalty weight")
    p.add_argument("--h", type=cli.positive_float, default=0.01, help="finite-difference step")
    p.add_argument("--robust-dims", type=width, default=1, help="robust features")
    p.add_argument("--fragile-dims", type=width, default=10, help="fragile features")
    p.add_argument("--n-train", type=samples, default=1000, help="training samples")
    p.add_argument("--n-test", type=samples, default=2000, help="test samples")
    p.add_argument("--steps", type=cli.positive_int, default=600, help="full-batch Adam steps")
    p.add_argument("--eps-l2", type=cli.positive_float, default=0.5)
    p.add_argument("--eps-linf", type=cli.positive_float, default=0.1)
    p.add_argument("--pgd-steps", type=cli.positive_int, default=20)
    args = p.parse_args(argv)
    if args.dry_run:
        args.steps, args.n_test = min(args.steps, 60), min(args.n_test, 400)
        args.pgd_steps = min(args.pgd_steps, 5)
    return args


def two_feature_kinds(
    n: int, robust_dims: int, fragile_dims: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes ``s = +-1`` told apart by robust and by fragile features.

    Robust coordinates: ``s * 1.0 + N(0, 1)``, noisy but far from the boundary.
    Fragile coordinates: ``s * 0.1 + 0.1 N(0, 1)``, as informative each but only
    0.1 from the decision boundary: a small perturbation flips them all.
    """
    y = torch.randint(2, (n,), generator=gen)
    s = (2 * y - 1).to(torch.float32)[:, None]
    robust = s * 1.0 + torch.randn(n, robust_dims, generator=gen)
    fragile = s * 0.1 + 0.1 * torch.randn(n, fragile_dims, generator=gen)
    return torch.cat([robust, fragile], 1), y


def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y, reduction="none")


# ## Training
#
# Full-batch Adam. The ``plain`` model minimises the mean loss; the two
# penalised ones call :func:`femgp.ml.robust.input_gradient_backward`, which
# accumulates the gradient of ``J`` into ``.grad`` like a ``backward()``.


def train(
    form: str, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace
) -> tuple[nn.Module, float]:
    torch.manual_seed(args.seed)
    model = mlp([x.shape[1], 128, 128, 2], activation=nn.SiLU)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        opt.zero_grad(set_to_none=True)
        if form == "plain":
            loss = loss_fn(model(x), y).mean()
            if not torch.isfinite(loss):
                raise FloatingPointError("training loss is not finite")
            loss.backward()
        else:
            input_gradient_backward(model, loss_fn, x, y, lam=args.lam, form=form, h=args.h)
        opt.step()
    return model, (time.perf_counter() - t0) / args.steps


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    gen = torch.Generator().manual_seed(args.seed)
    x, y = two_feature_kinds(args.n_train, args.robust_dims, args.fragile_dims, gen)
    xt, yt = two_feature_kinds(args.n_test, args.robust_dims, args.fragile_dims, gen)
    rows = []
    for form in ("plain", "exact", "finite_difference"):
        model, sec = train(form, x, y, args)
        model.eval()
        attack_gen = torch.Generator().manual_seed(args.seed + 1)
        adv = {
            "fgsm_linf": fgsm(model, loss_fn, xt, yt, epsilon=args.eps_linf),
            "pgd_linf": pgd(
                model,
                loss_fn,
                xt,
                yt,
                epsilon=args.eps_linf,
                norm="linf",
                steps=args.pgd_steps,
                generator=attack_gen,
            ),
            "pgd_l2": pgd(
                model,
                loss_fn,
                xt,
                yt,
                epsilon=args.eps_l2,
                norm="l2",
                steps=args.pgd_steps,
                generator=attack_gen,
            ),
        }
        losses, g = per_sample_loss_and_input_grad(model, loss_fn, xt, yt)
        gnorm = g.reshape(g.shape[0], -1).norm(dim=1)
        with torch.no_grad():
            change = loss_fn(model(adv["pgd_l2"]), yt) - losses.detach()
        rows.append(
            {
                "model": form if form == "plain" else f"penalty ({form})",
                "clean": accuracy(model, xt, yt),
                **{k: accuracy(model, v, yt) for k, v in adv.items()},
                "mean_grad_norm": float(gnorm.mean()),
                "first_order_bound": float(loss_change_bound(args.eps_l2, gnorm).mean()),
                "pgd_l2_loss_change": float(change.mean()),
                "ms_per_step": 1e3 * sec,
            }
        )

    # ## Results
    #
    # The first-order estimate ``eps ||grad_x loss||`` is a certificate only
    # where the gradient norm is bounded on the whole ball; compare it with
    # the loss change PGD actually achieves.
    head = (
        f"{'model':<30} {'clean':>6} {'FGSM':>6} {'PGD-inf':>8} {'PGD-l2':>7} "
        f"{'|grad|':>7} {'eps|g|':>7} {'dloss':>7} {'ms/step':>8}"
    )
    lines = [f"eps_linf = {args.eps_linf}, eps_l2 = {args.eps_l2}, lam = {args.lam}", head]
    for r in rows:
        lines.append(
            f"{r['model']:<30} {r['clean']:>6.3f} {r['fgsm_linf']:>6.3f} {r['pgd_linf']:>8.3f} "
            f"{r['pgd_l2']:>7.3f} {r['mean_grad_norm']:>7.3f} {r['first_order_bound']:>7.3f} "
            f"{r['pgd_l2_loss_change']:>7.3f} {r['ms_per_step']:>8.2f}"
        )
    text = "\n".join(lines)
    print(text)
    write_text(args.output / "results.txt", text + "\n")
    write_json(
        args.output / "summary.json",
        {
            "args": cli.recorded(args),
            "results": rows,
        },
    )
    print(f"results in {args.output}/")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main, serial=True))
