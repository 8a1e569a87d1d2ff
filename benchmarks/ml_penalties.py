"""Cost of the torch gradient penalties, as multiples of a plain critic step.

For a realistically sized critic (an MLP on 784 inputs and a DCGAN-style
convolutional critic on 3x32x32 images) this times one optimiser step of:

* ``plain``: the WGAN critic loss ``E D(fake) - E D(real)``, backward, Adam;
* ``exact GP``: plus the WGAN-GP penalty (double backward);
* ``lazy GP (k=16)``: the penalty every 16 steps with weight 16;
* ``FD input-gradient``: the input-gradient penalty ``lam mean ||grad_x l_i||``
  in its finite-difference form (one extra forward and backward);
* ``FD gradient-norm``: ``L + lam ||grad_theta L||`` in the Hessian-free form
  of Zhao et al. 2022 (two gradient evaluations);
* for reference, without targets: the exact (double-backward) forms of the
  last two.

Each variant is timed right after the plain step of the same model, device
and run, over the same number of steps, and its ratio is the median over
repeats of these paired ratios (after warm-up): on a machine whose load
drifts, paired ratios are far steadier than ratios of separate medians. The
ratio of the fastest repeats is given beside it. The
targets are exact GP <= 3x, lazy GP <= 1.2x, finite-difference forms <= 2.2x.
Runs on the CPU with a fixed, printed ``torch.set_num_threads``, and on the
GPU as well when ``torch.cuda.is_available()``.

    python benchmarks/ml_penalties.py          # writes results/ml_penalties.{json,md}
    python benchmarks/ml_penalties.py --quick  # a smoke run
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from femgp.ml.gradnorm import GradientNormPenalty
from femgp.ml.penalties import LazyRegularizer
from femgp.ml.robust import input_gradient_backward
from femgp.ml.scripts import write_json, write_text
from femgp.ml.training import critic_step, wasserstein_loss

TARGETS: dict[str, float] = {
    "exact GP": 3.0,
    "lazy GP (k=16)": 1.2,
    "FD input-gradient": 2.2,
    "FD gradient-norm": 2.2,
}
LAZY_K = 16
EAGER_STEPS = 4


def mlp_critic() -> nn.Module:
    """784 -> 512 -> 512 -> 512 -> 1, LeakyReLU(0.2), no normalisation."""
    layers: list[nn.Module] = []
    sizes = [784, 512, 512, 512]
    for a, b in itertools.pairwise(sizes):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Linear(512, 1))


def conv_critic() -> nn.Module:
    """DCGAN-style critic on 3x32x32: 32-64-128 channels, stride 2, LeakyReLU, no BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 4 * 4, 1),
    )


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], int]] = {
    "mlp-784x512x3": (mlp_critic, (784,), 128),
    "dcgan-conv-32x32": (conv_critic, (3, 32, 32), 64),
}


def _signed_loss(out: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """Per-sample critic loss ``-sign * D(x)`` (sign +1 real, -1 fake)."""
    return -sign * out.reshape(-1)


def make_steps(model_name: str, device: torch.device) -> dict[str, Callable[[], None]]:
    """One closure per variant that performs one optimiser step on its own critic copy."""
    build, shape, batch = MODELS[model_name]
    g = torch.Generator().manual_seed(0)
    real = torch.randn(batch, *shape, generator=g).to(device)
    fake = torch.randn(batch, *shape, generator=g).to(device)
    x = torch.cat([real, fake])
    sign = torch.cat([torch.ones(batch), -torch.ones(batch)]).to(device)
    alpha_gen = torch.Generator(device=device).manual_seed(1)
    steps: dict[str, Callable[[], None]] = {}

    def fresh() -> tuple[nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        critic = build().to(device)
        return critic, torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))

    def critic_variant(lam: float, lazy: LazyRegularizer | None) -> Callable[[], None]:
        critic, opt = fresh()
        counter = [0]

        def step() -> None:
            critic_step(critic, opt, real, fake, lam=lam, lazy=lazy, step=counter[0],
                        generator=alpha_gen)
            counter[0] += 1

        return step

    steps["plain"] = critic_variant(0.0, None)
    steps["exact GP"] = critic_variant(10.0, None)
    steps["lazy GP (k=16)"] = critic_variant(10.0, LazyRegularizer(interval=LAZY_K))

    def input_variant(form: str) -> Callable[[], None]:
        critic, opt = fresh()

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            input_gradient_backward(critic, _signed_loss, x, sign, lam=0.1, form=form, h=1e-2)
            opt.step()

        return step

    steps["FD input-gradient"] = input_variant("finite_difference")
    steps["exact input-gradient"] = input_variant("exact")

    def gradnorm_variant(form: str) -> Callable[[], None]:
        critic, opt = fresh()
        wrapped = GradientNormPenalty(opt, lam=0.04, radius=0.05, form=form)

        def step() -> None:
            wrapped.step(lambda: wasserstein_loss(critic, real, fake)[0])

        return step

    steps["FD gradient-norm"] = gradnorm_variant("finite_difference")
    steps["exact gradient-norm"] = gradnorm_variant("exact")
    return steps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(step: Callable[[], None], n: int, device: torch.device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    _sync(device)
    return (time.perf_counter() - t0) / n


def time_steps(
    steps: dict[str, Callable[[], None]], device: torch.device, *, repeats: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds per step of each variant, and its paired ratios to the plain step, per repeat.

    In every repeat each variant is timed right after a timing of the plain step
    over the same number of steps, and the ratio of the pair is recorded: on a
    machine whose load drifts, paired ratios are far steadier than ratios of
    separately taken medians. Each timing covers ``LAZY_K`` consecutive steps for
    the lazy variant (so that its average holds exactly one penalised step) and
    ``EAGER_STEPS`` otherwise.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    ratios: dict[str, list[float]] = {name: [] for name in steps}
    plain = steps["plain"]
    for r in range(warmup + repeats):
        for name, step in steps.items():
            if name == "plain":
                continue
            n = LAZY_K if name.startswith("lazy") else EAGER_STEPS
            t_plain = _time(plain, n, device)
            t = _time(step, n, device)
            if r >= warmup:
                times["plain"].append(t_plain)
                times[name].append(t)
                ratios[name].append(t / t_plain)
    ratios["plain"] = [1.0]
    return times, ratios


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    report: dict = {
        "torch": torch.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "processor": platform.processor(),
        "threads": torch.get_num_threads(), "repeats": args.repeats, "warmup": args.warmup,
        "steps_per_repeat": {"lazy": LAZY_K, "others": EAGER_STEPS}, "targets": TARGETS, "runs": [],
    }
    print(f"torch {torch.__version__}, torch.set_num_threads({torch.get_num_threads()}), "
          f"median of {args.repeats} repeats ({EAGER_STEPS} steps each, {LAZY_K} for lazy GP) "
          f"after {args.warmup} warm-up")
    for device in devices:
        gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
        for model_name in args.models:
            steps = make_steps(model_name, device)
            times, ratios = time_steps(steps, device, repeats=args.repeats, warmup=args.warmup)
            rows = []
            for name in steps:
                t = statistics.median(times[name])
                ratio = statistics.median(ratios[name])
                target = TARGETS.get(name)
                rows.append({
                    "variant": name, "ms_per_step": 1e3 * t, "ratio": ratio,
                    "min_ratio": min(times[name]) / min(times["plain"]),
                    "target": target,
                    "pass": None if target is None else bool(ratio <= target),
                })
            report["runs"].append({"device": str(device), "gpu": gpu, "model": model_name,
                                   "batch": MODELS[model_name][2], "rows": rows})
            print(format_run(report["runs"][-1]))
    return report


def format_run(run_: dict) -> str:
    where = run_["gpu"] or run_["device"]
    lines = [
        f"\n### {run_['model']} (batch {run_['batch']}), {where}\n",
        "| variant | ms/step (median) | ratio to plain (median of pairs) | ratio of fastest "
        "| target | result (median) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in run_["rows"]:
        target = f"<= {r['target']:g}x" if r["target"] is not None else "-"
        verdict = "-" if r["pass"] is None else ("pass" if r["pass"] else "FAIL")
        lines.append(f"| {r['variant']} | {r['ms_per_step']:.2f} | {r['ratio']:.2f}x | "
                     f"{r['min_ratio']:.2f}x | {target} | {verdict} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    head = [
        "# femgp.ml penalty benchmark",
        "",
        f"torch {report['torch']}, Python {report['python']}, {report['machine']}, "
        f"torch.set_num_threads({report['threads']}); median of {report['repeats']} repeats "
        f"({EAGER_STEPS} steps each, {LAZY_K} for lazy GP) after {report['warmup']} warm-up "
        "repeats. Each variant is timed right after the plain critic step of the same model, "
        "device and run; the ratio is the median of these paired ratios.",
        "Generated by `python benchmarks/ml_penalties.py`.",
    ]
    return "\n".join(head + [format_run(r) for r in report["runs"]]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--output", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--quick", action="store_true", help="a smoke run (1 repeat, no warm-up)")
    args = p.parse_args(argv)
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--threads and --repeats must be >= 1 and --warmup >= 0")
    if args.quick:
        args.repeats, args.warmup = 1, 0
    report = run(args)
    write_json(args.output / "ml_penalties.json", report)
    write_text(args.output / "ml_penalties.md", markdown(report))
    failed = [(r["model"], row["variant"]) for r in report["runs"] for row in r["rows"]
              if row["pass"] is False]
    print(f"\nwrote {args.output / 'ml_penalties.json'} and {args.output / 'ml_penalties.md'}")
    print("all targets met" if not failed else f"targets missed: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
