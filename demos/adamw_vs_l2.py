# # Weight decay under Adam: an L2 term versus decoupled decay (AdamW)
#
# With plain SGD, adding ``wd/2 ||theta||^2`` to the loss and shrinking the
# weights by ``1 - lr wd`` each step are the same thing. Under Adam they are
# not (Loshchilov & Hutter 2019). The L2 term's gradient ``wd theta`` joins the
# loss gradient and is divided, like it, by Adam's running RMS
# ``sqrt(v_hat) + eps``:
#
# * a parameter with a large gradient history is hardly decayed at all;
# * a parameter whose loss gradient is tiny is decayed by about ``lr`` per step
#   *whatever* ``wd`` is: the decay gradient is its whole gradient, and Adam
#   turns any gradient into a step of size ``lr`` (a sign-like step).
#
# Decoupled decay (AdamW) multiplies ``theta`` by ``1 - lr wd`` outside the
# adaptive update, so every parameter decays at the same rate ``lr wd``.
#
# :func:`femgp.ml.effective_weight_decay` shows this on one parameter vector:
# each coordinate gets loss gradients of its own scale (from ``1e-4`` to
# ``10``); both optimisers run on the same gradients; and we report the
# effective per-step decay each produces. A second run with *zero* loss
# gradient shows AdamW's exact geometric decay ``(1 - lr wd)^t`` beside
# Adam+L2's constant-size steps.
#
#     python demos/adamw_vs_l2.py
#     python demos/adamw_vs_l2.py --dry-run

from __future__ import annotations

import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from femgp.cli import args as cli
from femgp.ml.scripts import save_figure, write_json, write_text
from femgp.ml.weight_decay import effective_weight_decay


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = cli.TorchDemoParser(description="Adam+L2 versus AdamW: effective per-parameter decay",
                        default_output="results/adamw_vs_l2")
    p.add_argument("--lr", type=cli.positive_float, default=1e-3)
    p.add_argument("--wd", type=cli.positive_float, default=1e-2, help="weight decay (> 0)")
    p.add_argument("--steps", type=cli.positive_int, default=2000)
    args = p.parse_args(argv)
    if args.dry_run:
        args.steps = min(args.steps, 100)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    gen = torch.Generator().manual_seed(args.seed)
    scales = torch.logspace(-4, 1, 6, dtype=torch.float64)
    theta0 = torch.ones(scales.shape[0], dtype=torch.float64)

    # ## Noisy gradients of six scales
    grads = torch.randn(args.steps, scales.shape[0], generator=gen, dtype=torch.float64) * scales
    res = effective_weight_decay(theta0, grads, lr=args.lr, weight_decay=args.wd)
    lines = [
        f"lr = {args.lr:g}, wd = {args.wd:g}, {args.steps} steps; decay per step "
        f"(fraction of the parameter removed by the decay term)",
        f"{'grad scale':>10} {'AdamW':>10} {'Adam+L2':>10} {'L2/AdamW':>9}",
    ]
    for s, a, b in zip(scales.tolist(), res.adamw.tolist(), res.adam_l2.tolist(), strict=True):
        lines.append(f"{s:>10.0e} {a:>10.2e} {b:>10.2e} {b / a if a else float('nan'):>9.3g}")

    # ## Zero loss gradient
    #
    # Only the decay acts. AdamW follows ``(1 - lr wd)^t`` exactly; Adam+L2
    # moves every parameter by about ``lr`` per step towards zero, the same
    # for ``wd`` ten times larger.
    zero = torch.zeros(args.steps, 3, dtype=torch.float64)
    start = torch.tensor([1.0, 0.5, -2.0], dtype=torch.float64)
    z1 = effective_weight_decay(start, zero, lr=args.lr, weight_decay=args.wd)
    z10 = effective_weight_decay(start, zero, lr=args.lr, weight_decay=10 * args.wd)
    t = torch.arange(args.steps + 1, dtype=torch.float64)
    geometric = start * (1 - args.lr * args.wd) ** t[:, None]
    err = float((z1.trajectory_adamw - geometric).abs().max())
    spread = float((z10.trajectory_adam_l2 - z1.trajectory_adam_l2).abs().max())
    lines += [
        "",
        f"zero loss gradient: max |AdamW - theta0 (1 - lr wd)^t| = {err:.1e}",
        f"zero loss gradient: Adam+L2 paths for wd and 10 wd differ by at most {spread:.1e} "
        f"(a step is {args.lr:g})",
    ]
    text = "\n".join(lines)
    print(text)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].loglog(scales, res.adamw, "o-", label="AdamW (decoupled)")
    axes[0].loglog(scales, res.adam_l2, "s-", label="Adam + L2 in the loss")
    axes[0].set_xlabel("scale of the parameter's loss gradient")
    axes[0].set_ylabel("effective decay per step")
    axes[0].legend()
    axes[1].plot(t, z1.trajectory_adamw[:, 0], label=f"AdamW, wd={args.wd:g}")
    axes[1].plot(t, z10.trajectory_adamw[:, 0], label=f"AdamW, wd={10 * args.wd:g}")
    axes[1].plot(t, z1.trajectory_adam_l2[:, 0], "--", label=f"Adam+L2, wd={args.wd:g}")
    axes[1].plot(t, z10.trajectory_adam_l2[:, 0], ":", label=f"Adam+L2, wd={10 * args.wd:g}")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("theta (zero loss gradient)")
    axes[1].legend()
    plot = save_figure(fig, args.output / "decay.png")
    write_text(args.output / "results.txt", text + "\n")
    write_json(args.output / "summary.json", {
        "args": cli.recorded(args),
        "grad_scales": scales.tolist(), "adamw": res.adamw.tolist(),
        "adam_l2": res.adam_l2.tolist(), "zero_grad_adamw_error": err,
        "zero_grad_l2_wd_spread": spread, "plots": [str(plot)],
    })
    print(f"results in {args.output}/")
    return 0


if __name__ == "__main__":
    sys.exit(cli.script_main(main, serial=True))
