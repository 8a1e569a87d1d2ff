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
* ``R1+R2 exact``: an R3GAN discriminator step (relativistic loss) with R1 and
  R2 on every step, from one forward and one double backward
  (:func:`femgp.ml.training.r1_r2_step`);
* ``R1+R2 lazy (k=8)``: the same, the penalty every 8 steps with weight 8;
* for reference, without targets: the exact (double-backward) forms of the
  input-gradient and gradient-norm penalties, and the plain relativistic step.

Each variant is timed right after the plain step of the same model, device
and run, over the same number of steps, and its ratio is the median over
repeats of these paired ratios (after warm-up): on a machine whose load
drifts, paired ratios are far steadier than ratios of separate medians. The
ratio of the fastest repeats is given beside it. The
targets are exact GP <= 3x, lazy GP <= 1.2x, finite-difference forms <= 2.2x,
R1+R2 exact <= 2.5x, R1+R2 lazy (k=8) <= 1.25x.
Runs on the CPU with a fixed, printed ``torch.set_num_threads``, and on the
GPU as well when ``torch.cuda.is_available()`` (that branch is not exercised
by CI, which is CPU-only).

Then, on scikit-learn's 8x8 digits (CPU), the sample-quality and robustness
targets (skip with ``--skip-digits``):

* conditional WGAN-GP (:mod:`femgp.ml.digits_gan`): the classifier's accuracy
  on generated digits >= 0.8, all 10 classes covered, and better than the
  weight-clipped critic of the same run on every measure (accuracy, classes
  covered (>=), mean per-class coverage, Fréchet distance); the samples are
  drawn to ``results/ml_digits_samples.png`` (``ml_digits_samples_quick.png``
  with ``--quick``), one row per class;
* robust training (:mod:`femgp.ml.digits_robust`): accuracy under PGD at the
  larger radius >= 15 points above plain training, in l2 and in l-infinity;
  clean accuracy within 3 points.

    python benchmarks/ml_penalties.py          # writes results/ml_penalties.{json,md}
    python benchmarks/ml_penalties.py --quick  # a smoke run: results/ml_penalties_quick.*
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from femgp.cli.args import check_output_folder
from femgp.errors import InputError
from femgp.ml.gradnorm import GradientNormPenalty
from femgp.ml.penalties import LazyRegularizer
from femgp.ml.robust import input_gradient_backward
from femgp.ml.scripts import save_figure, write_json, write_text
from femgp.ml.training import critic_step, r1_r2_step, wasserstein_loss

TARGETS: dict[str, float] = {
    "exact GP": 3.0,
    "lazy GP (k=16)": 1.2,
    "FD input-gradient": 2.2,
    "FD gradient-norm": 2.2,
    "R1+R2 exact": 2.5,
    "R1+R2 lazy (k=8)": 1.25,
}
LAZY_K = 16
R_LAZY_K = 8
EAGER_STEPS = 4
#: Digits targets: sample quality of the conditional WGAN-GP, robustness gains.
DIGITS_TARGETS: dict[str, float] = {
    "gan_accuracy": 0.8,
    "gan_classes_covered": 10,
    "robust_gain_points": 15.0,
    "robust_clean_drop_points": 3.0,
}


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

    def r1_r2_variant(gamma: float, lazy: LazyRegularizer | None) -> Callable[[], None]:
        critic, opt = fresh()
        counter = [0]

        def step() -> None:
            r1_r2_step(critic, opt, real, fake, gamma=gamma, lazy=lazy, step=counter[0])
            counter[0] += 1

        return step

    steps["plain relativistic"] = r1_r2_variant(0.0, None)
    steps["R1+R2 exact"] = r1_r2_variant(1.0, None)
    steps["R1+R2 lazy (k=8)"] = r1_r2_variant(1.0, LazyRegularizer(interval=R_LAZY_K))
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
    the lazy variants (a whole number of penalised steps: one for k=16, two for
    k=8) and ``EAGER_STEPS`` otherwise.
    """
    times: dict[str, list[float]] = {name: [] for name in steps}
    ratios: dict[str, list[float]] = {name: [] for name in steps}
    plain = steps["plain"]
    for r in range(warmup + repeats):
        for name, step in steps.items():
            if name == "plain":
                continue
            n = LAZY_K if "lazy" in name else EAGER_STEPS
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
            load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
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
                                   "batch": MODELS[model_name][2], "rows": rows,
                                   "load_average": load})
            print(format_run(report["runs"][-1]))
    return report


def run_digits(args: argparse.Namespace) -> tuple[dict, object]:
    """The digits experiments (CPU): GP against clipping, robust against plain; report, figure."""
    from femgp.ml.digits import load_split, train_classifier
    from femgp.ml.digits_gan import GanConfig, compare, grid_figure
    from femgp.ml.digits_robust import RobustConfig, attack_report, train_robust

    quick = args.quick
    split = load_split(seed=0)
    clf = train_classifier(split.x_train, split.y_train, epochs=3 if quick else 30)
    clf_acc = float((clf(split.x_test).argmax(1) == split.y_test).float().mean())
    gan_cfg = GanConfig(iters=5) if quick else GanConfig()
    runs = compare(split, gan_cfg, clf, per_class=20 if quick else 200)
    gp, clip = runs["gp"]["quality"], runs["clip"]["quality"]
    gan = {
        "config": vars(gan_cfg) | {}, "classifier_accuracy": clf_acc,
        "gp": {**gp.as_dict(), "seconds": runs["gp"]["seconds"]},
        "clip": {**clip.as_dict(), "seconds": runs["clip"]["seconds"]},
        "checks": {
            f"accuracy >= {DIGITS_TARGETS['gan_accuracy']}": gp.accuracy
            >= DIGITS_TARGETS["gan_accuracy"],
            "all 10 classes covered": gp.classes_covered >= DIGITS_TARGETS["gan_classes_covered"],
            "accuracy above clipping": gp.accuracy > clip.accuracy,
            "classes covered >= clipping": gp.classes_covered >= clip.classes_covered,
            "coverage above clipping": gp.mean_coverage > clip.mean_coverage,
            "Frechet below clipping": gp.frechet < clip.frechet,
        },
    }
    fig = grid_figure({"gradient penalty": runs["gp"]["generator"],
                       "weight clipping": runs["clip"]["generator"]})
    rob_cfg = RobustConfig(epochs=1, pgd_steps=3) if quick else RobustConfig()
    rows = {}
    for name, lam in (("plain", 0.0), ("penalty", rob_cfg.lam)):
        model, ms = train_robust(split, rob_cfg, lam=lam)
        rows[name] = {**attack_report(model, split.x_test, split.y_test, rob_cfg),
                      "ms_per_step": ms}
    checks = {}
    for norm, radii in (("l2", rob_cfg.eps_l2), ("linf", rob_cfg.eps_linf)):
        key = f"pgd_{norm}@{max(radii):g}"
        gain = 100 * (rows["penalty"][key] - rows["plain"][key])
        checks[f"{key}: gain >= {DIGITS_TARGETS['robust_gain_points']:g} points"] = (
            gain >= DIGITS_TARGETS["robust_gain_points"])
    drop = 100 * (rows["plain"]["clean"] - rows["penalty"]["clean"])
    checks[f"clean accuracy within {DIGITS_TARGETS['robust_clean_drop_points']:g} points"] = (
        abs(drop) <= DIGITS_TARGETS["robust_clean_drop_points"])
    robust = {"config": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in vars(rob_cfg).items()},
              "rows": rows, "checks": checks}
    return {"quick": quick, "gan": gan, "robust": robust}, fig


def _samples_name(quick: bool) -> str:
    """The file of the digit samples (a smoke run's has its own name)."""
    return "ml_digits_samples_quick.png" if quick else "ml_digits_samples.png"


def format_digits(d: dict) -> str:
    gan, rob = d["gan"], d["robust"]
    c = gan["config"]
    lines = [
        "\n## Digits (scikit-learn 8x8, CPU)\n",
        f"torch.set_num_threads({d.get('threads')}); load average at the start "
        f"{d.get('load_average')}.\n",
        f"Conditional WGAN, {c['iters']} generator iterations, n_critic {c['n_critic']}, batch "
        f"{c['batch']}, width {c['dim']}; gradient penalty (lam {c['lam']:g}, Adam "
        f"{c['lr']:g}, betas (0.5, 0.9)) against weight clipping ({c['clip']:g}, RMSprop "
        f"{c['clip_lr']:g}), same seed. Measured with a classifier of test accuracy "
        f"{gan['classifier_accuracy']:.3f}. Samples: `{_samples_name(d.get('quick', False))}`.\n",
        "| critic | accuracy given the condition | classes covered | mean per-class coverage "
        "| Fréchet distance | train seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, label in (("gp", "gradient penalty"), ("clip", "weight clipping")):
        q = gan[mode]
        lines.append(f"| {label} | {q['accuracy']:.3f} | {q['classes_covered']}/10 | "
                     f"{q['mean_coverage']:.3f} | {q['frechet']:.2f} | {q['seconds']:.0f} |")
    lines.append("")
    lines += [f"- {name}: {'pass' if ok else 'FAIL'}" for name, ok in gan["checks"].items()]
    rc = rob["config"]
    keys = [k for k in rob["rows"]["plain"] if k.startswith("pgd_")]
    lines += [
        "",
        f"Robust training: input-gradient penalty ({rc['form']}, lam {rc['lam']:g}) against "
        f"plain training, {rc['epochs']} epochs, PGD {rc['pgd_steps']} steps. Accuracy on "
        "the test digits:\n",
        "| model | clean | " + " | ".join(k[4:] for k in keys) + " | ms/step |",
        "|---|---:|" + "---:|" * len(keys) + "---:|",
    ]
    for name, r in rob["rows"].items():
        lines.append(f"| {name} | {r['clean']:.3f} | "
                     + " | ".join(f"{r[k]:.3f}" for k in keys) + f" | {r['ms_per_step']:.1f} |")
    lines += ["", "First-order loss-change bound `eps |grad l|` (mean, from "
              "`loss_change_bound`) / mean loss increase achieved by PGD:\n",
              "| model | " + " | ".join(k[4:] for k in keys) + " |",
              "|---|" + "---:|" * len(keys)]
    for name, r in rob["rows"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['bound_' + k[4:]]:.3f} / {r['dloss_' + k[4:]]:.3f}" for k in keys) + " |")
    lines.append("")
    lines += [f"- {name}: {'pass' if ok else 'FAIL'}" for name, ok in rob["checks"].items()]
    return "\n".join(lines)


def format_run(run_: dict) -> str:
    where = run_["gpu"] or run_["device"]
    lines = [
        f"\n### {run_['model']} (batch {run_['batch']}), {where}\n",
        *([f"Load average (1, 5, 15 min) when this model's timing started: "
           f"{run_['load_average']}.\n"] if run_.get("load_average") else []),
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
    if "torch" not in report:  # digits only, no timings yet
        return "# femgp.ml penalty benchmark\n" + format_digits(report["digits"]) + "\n"
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
    if report.get("load_average"):
        head.append(f"Load average (1, 5, 15 min) at the start: {report['load_average']}.")
    body = [format_run(r) for r in report["runs"]]
    if report.get("digits"):
        body.append(format_digits(report["digits"]))
    return "\n".join(head + body) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--output", type=Path, default=Path(__file__).parent / "results")
    p.add_argument("--quick", action="store_true", help="a smoke run (1 repeat, no warm-up)")
    p.add_argument("--skip-digits", action="store_true", help="only the timings")
    p.add_argument("--skip-timings", action="store_true",
                   help="only the digits; the timings already in --output are kept")
    args = p.parse_args(argv)
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0:
        p.error("--threads and --repeats must be >= 1 and --warmup >= 0")
    try:
        check_output_folder(args.output)  # before the work
    except InputError as exc:
        p.error(str(exc))
    if args.quick:
        args.repeats, args.warmup = 1, 0
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    load = None if load is None else [round(v, 2) for v in load]
    report: dict = {}
    failed: list = []
    if not args.skip_timings:
        report = run(args)
        report["load_average"] = load
        failed = [(r["model"], row["variant"]) for r in report["runs"] for row in r["rows"]
                  if row["pass"] is False]
    if not args.skip_digits:
        torch.set_num_threads(args.threads)
        digits, fig = run_digits(args)
        digits["threads"], digits["load_average"] = torch.get_num_threads(), load
        save_figure(fig, args.output / _samples_name(args.quick))
        print(format_digits(digits))
        failed += [name for part in ("gan", "robust")
                   for name, ok in digits[part]["checks"].items() if not ok]
    # a part that was skipped keeps its figures from the last run (read now, at the end)
    # a smoke run (--quick) has its own files: it never replaces the full run's figures
    stem = "ml_penalties_quick" if args.quick else "ml_penalties"
    previous_path = args.output / f"{stem}.json"
    previous = json.loads(previous_path.read_text()) if previous_path.exists() else {}
    if args.skip_timings:
        report = {k: v for k, v in previous.items() if k != "digits"}
    else:  # a model that was not timed now keeps its last timings
        timed = {(r["device"], r["model"]) for r in report["runs"]}
        kept = [r for r in previous.get("runs", []) if (r["device"], r["model"]) not in timed]
        report["runs"] = kept + report["runs"]
    report["digits"] = digits if not args.skip_digits else previous.get("digits")
    if not report.get("runs"):
        report.setdefault("runs", [])
    write_json(args.output / f"{stem}.json", report)
    write_text(args.output / f"{stem}.md", markdown(report))
    print(f"\nwrote {args.output / f'{stem}.json'} and {args.output / f'{stem}.md'}")
    print("all targets met" if not failed else f"targets missed: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
