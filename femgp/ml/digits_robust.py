"""Input-gradient penalty against plain training on the 8x8 digits, under PGD attacks.

Both classifiers are :class:`femgp.ml.digits.DigitClassifier` networks trained
from the same initial weights on the same split with the same minibatches;
the penalised one minimises ``mean l + lam mean ||grad_x l_i||``
(:func:`femgp.ml.robust.input_gradient_backward`). :func:`attack_report`
gives the clean accuracy, the accuracy under PGD in l2 and in l-infinity at
two radii each, and the first-order loss-change bound ``epsilon ||grad_x l||``
(:func:`femgp.ml.robust.loss_change_bound`; ``epsilon = sqrt(64) eps_inf``
for the l-infinity ball) beside the loss increase PGD achieves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from femgp.ml.attacks import pgd
from femgp.ml.digits import DigitClassifier, DigitsSplit, check_digits
from femgp.ml.robust import FORMS, input_gradient_backward, loss_change_bound
from femgp.ml.robust import per_sample_loss_and_input_grad as loss_and_grad
from femgp.ml.validation import check_interval, check_lambda
from femgp.validation import check_choice

__all__ = ["RobustConfig", "attack_report", "per_sample_ce", "train_robust"]


def per_sample_ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per sample (``reduction="none"``)."""
    return nn.functional.cross_entropy(out, y, reduction="none")


@dataclass(frozen=True)
class RobustConfig:
    """Settings of the comparison.

    Attributes:
        epochs, batch, lr: Adam training of both classifiers.
        lam: the input-gradient penalty weight.
        form: ``"exact"`` (double backprop) or ``"finite_difference"``.
        h: the finite-difference step.
        eps_l2, eps_linf: the two attack radii of each norm (pixels in [0, 1]).
        pgd_steps: PGD iterations (step ``2.5 eps / steps``, random start).
        seed: the seed of the weights, the minibatches and the attacks.
    """

    epochs: int = 20
    batch: int = 64
    lr: float = 1e-3
    lam: float = 1.0
    form: str = "exact"
    h: float = 1e-2
    eps_l2: tuple[float, ...] = (0.5, 0.75)
    eps_linf: tuple[float, ...] = (0.05, 0.1)
    pgd_steps: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch", "pgd_steps"):
            check_interval(name, getattr(self, name))
        for name in ("lr", "lam", "h"):
            check_lambda(name, getattr(self, name))
        check_choice("form", self.form, FORMS)
        for name in ("eps_l2", "eps_linf"):
            for v in getattr(self, name):
                check_lambda(name, v)


def train_robust(
    split: DigitsSplit, config: RobustConfig, *, lam: float
) -> tuple[DigitClassifier, float]:
    """A classifier trained with penalty weight ``lam`` (0: plain); eval mode, and ms per step."""
    x, y = split.x_train, split.y_train
    check_digits(x, y, name="x_train", labels_name="y_train")
    lam = check_lambda("lam", lam)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = DigitClassifier().to(x.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps, t0 = 0, time.perf_counter()
    for _ in range(config.epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], config.batch):
            idx = perm[i : i + config.batch]
            opt.zero_grad(set_to_none=True)
            if lam == 0.0:
                per_sample_ce(model(x[idx]), y[idx]).mean().backward()
            else:
                input_gradient_backward(
                    model, per_sample_ce, x[idx], y[idx], lam=lam, form=config.form, h=config.h
                )
            opt.step()
            steps += 1
    return model.eval(), 1e3 * (time.perf_counter() - t0) / steps


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def attack_report(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: RobustConfig
) -> dict:
    """Clean and PGD accuracies per radius; the first-order bound beside the PGD loss change.

    Keys: ``clean``; ``pgd_l2@eps`` and ``pgd_linf@eps`` (accuracies);
    ``mean_grad_norm``; ``bound_l2@eps`` / ``bound_linf@eps`` (the mean of
    ``loss_change_bound(epsilon, ||g_i||)``) and ``dloss_l2@eps`` /
    ``dloss_linf@eps`` (the mean loss increase PGD achieves).
    """
    check_digits(x, y, name="x", labels_name="y")
    losses, g = loss_and_grad(model, per_sample_ce, x, y)
    gnorm = g.flatten(1).norm(dim=1)
    n_inputs = g[0].numel()
    out: dict[str, float] = {"clean": _accuracy(model, x, y), "mean_grad_norm": float(gnorm.mean())}
    for norm, radii in (("l2", config.eps_l2), ("linf", config.eps_linf)):
        for eps in radii:
            gen = torch.Generator().manual_seed(config.seed + 1)
            adv = pgd(model, per_sample_ce, x, y, epsilon=eps, norm=norm,
                      steps=config.pgd_steps, generator=gen)
            key = f"{norm}@{eps:g}"
            out[f"pgd_{key}"] = _accuracy(model, adv, y)
            radius_l2 = eps if norm == "l2" else math.sqrt(n_inputs) * eps
            out[f"bound_{key}"] = float(loss_change_bound(radius_l2, gnorm).mean())
            with torch.no_grad():
                out[f"dloss_{key}"] = float((per_sample_ce(model(adv), y) - losses.detach()).mean())
    return out
