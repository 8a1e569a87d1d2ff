"""A conditional WGAN on the 8x8 digits: gradient penalty against weight clipping.

Both runs share the data, the networks, the seed and the number of
iterations; they differ only in how the critic is kept (roughly) 1-Lipschitz:

* ``"gp"``: the WGAN-GP penalty on interpolates of pairs that share a
  condition (:func:`femgp.ml.training.critic_step` with ``condition=``),
  Adam ``(lr, betas=(0.5, 0.9))`` as in Gulrajani et al.;
* ``"clip"``: no penalty; every critic weight clipped to ``[-c, c]`` after
  each step, RMSprop ``(5e-5)`` as in Arjovsky et al.'s WGAN.

The networks are MLPs that see the condition as a one-hot vector; the
generator ends in a sigmoid (pixels in ``[0, 1]``). :func:`evaluate` measures
the samples with a classifier trained on the real digits
(:mod:`femgp.ml.sample_metrics`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from femgp.ml.digits import IMAGE_SHAPE, N_CLASSES, DigitClassifier, DigitsSplit, check_digits
from femgp.ml.sample_metrics import ConditionalQuality, conditional_quality
from femgp.ml.training import critic_step, generator_step, mlp
from femgp.ml.validation import check_interval, check_labels, check_lambda
from femgp.validation import check_choice

__all__ = [
    "MODES",
    "ConditionalCritic",
    "ConditionalGenerator",
    "GanConfig",
    "evaluate",
    "generate",
    "train_wgan",
]

#: How the critic is constrained.
MODES: tuple[str, ...] = ("gp", "clip")

_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] * IMAGE_SHAPE[2]


class ConditionalGenerator(nn.Module):
    """``G(z, c)``: an MLP on ``cat(z, one_hot(c))``, sigmoid output, images ``(B, 1, 8, 8)``."""

    def __init__(self, z_dim: int = 32, dim: int = 256) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.net = mlp([z_dim + N_CLASSES, dim, dim, _PIXELS], activation=nn.ReLU)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Images for latent codes ``z`` ``(B, z_dim)`` and classes ``c`` ``(B,)``."""
        check_labels("c", c, z, of="z", n_classes=N_CLASSES)
        onehot = nn.functional.one_hot(c, N_CLASSES).to(z.dtype)
        out = torch.sigmoid(self.net(torch.cat([z, onehot], dim=1)))
        return out.reshape(-1, *IMAGE_SHAPE)


class ConditionalCritic(nn.Module):
    """``D(x, c)``: an MLP on ``cat(flatten(x), one_hot(c))``, LeakyReLU(0.2), no normalisation."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.net = mlp([_PIXELS + N_CLASSES, dim, dim, 1], activation=lambda: nn.LeakyReLU(0.2))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """One score per sample ``(B,)``."""
        check_digits(x, c, name="x", labels_name="c")
        onehot = nn.functional.one_hot(c, N_CLASSES).to(x.dtype)
        return self.net(torch.cat([x.flatten(1), onehot], dim=1)).squeeze(1)


@dataclass(frozen=True)
class GanConfig:
    """Training settings shared by both modes.

    Attributes:
        iters: generator iterations.
        n_critic: critic steps per generator step.
        batch: batch size.
        lr: Adam's learning rate (``gp``).
        lam: the penalty weight (``gp``).
        clip: the weight-clipping bound ``c`` (``clip``).
        clip_lr: RMSprop's learning rate (``clip``).
        dim: hidden width of both networks.
        z_dim: latent dimension.
        seed: the seed of the weights and of every draw.
    """

    iters: int = 600
    n_critic: int = 2
    batch: int = 128
    lr: float = 1e-3
    lam: float = 10.0
    clip: float = 0.01
    clip_lr: float = 5e-5
    dim: int = 128
    z_dim: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("iters", "n_critic", "batch", "dim", "z_dim"):
            check_interval(name, getattr(self, name))
        for name in ("lr", "lam", "clip", "clip_lr"):
            check_lambda(name, getattr(self, name))


def train_wgan(
    split: DigitsSplit, config: GanConfig, mode: str
) -> tuple[ConditionalGenerator, float]:
    """Train a conditional WGAN in ``mode`` (``"gp"`` or ``"clip"``); the generator and seconds.

    Every critic step draws a real batch with its labels and generates the
    fakes *for those labels*, so that each interpolate lies between two
    samples of one class; the generator step draws classes uniformly.
    """
    check_choice("mode", mode, MODES)
    x, y = split.x_train, split.y_train
    check_digits(x, y, name="x_train", labels_name="y_train")
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    G = ConditionalGenerator(config.z_dim, config.dim).to(x.dtype)
    D = ConditionalCritic(config.dim).to(x.dtype)
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    if mode == "gp":
        opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.9))
        opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(0.5, 0.9))
    else:
        opt_g = torch.optim.RMSprop(G.parameters(), lr=config.clip_lr)
        opt_d = torch.optim.RMSprop(D.parameters(), lr=config.clip_lr)
    lam = config.lam if mode == "gp" else 0.0
    t0 = time.perf_counter()
    for _ in range(config.iters):
        for _ in range(config.n_critic):
            idx = torch.randint(x.shape[0], (config.batch,), generator=gen)
            real, labels = x[idx], y[idx]
            with torch.no_grad():
                z = torch.randn(config.batch, config.z_dim, generator=gen, dtype=x.dtype)
                fake = G(z, labels)
            critic_step(D, opt_d, real, fake, lam=lam, condition=labels, generator=gen)
            if mode == "clip":
                with torch.no_grad():
                    for p in D.parameters():
                        p.clamp_(-config.clip, config.clip)
        labels = torch.randint(N_CLASSES, (config.batch,), generator=gen)
        z = torch.randn(config.batch, config.z_dim, generator=gen, dtype=x.dtype)
        generator_step(G, D, opt_g, z, condition=labels)
    return G.eval(), time.perf_counter() - t0


@torch.no_grad()
def generate(
    G: ConditionalGenerator, per_class: int, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` samples of every class ``(10 per_class, 1, 8, 8)`` and their labels."""
    per_class = check_interval("per_class", per_class)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(N_CLASSES).repeat_interleave(per_class)
    dtype = next(G.parameters()).dtype
    z = torch.randn(labels.numel(), G.z_dim, generator=gen, dtype=dtype)
    return G(z, labels), labels


def evaluate(
    G: ConditionalGenerator,
    classifier: DigitClassifier,
    split: DigitsSplit,
    *,
    per_class: int = 200,
    seed: int = 0,
) -> ConditionalQuality:
    """Accuracy given the condition, per-class coverage and Fréchet distance (test set)."""
    fake, labels = generate(G, per_class, seed=seed)
    return conditional_quality(
        classifier, classifier.features, fake, labels, split.x_test, split.y_test,
        n_classes=N_CLASSES,
    )


def compare(
    split: DigitsSplit,
    config: GanConfig,
    classifier: DigitClassifier,
    *,
    per_class: int = 200,
) -> dict[str, dict[str, object]]:
    """Train both modes with ``config`` and evaluate them; per mode: metrics, seconds, generator.

    Returns ``{mode: {"quality": ConditionalQuality, "seconds": float,
    "generator": ConditionalGenerator}}`` for ``"gp"`` and ``"clip"``.
    """
    out: dict[str, dict[str, object]] = {}
    for mode in MODES:
        G, seconds = train_wgan(split, config, mode)
        quality = evaluate(G, classifier, split, per_class=per_class, seed=config.seed + 1)
        out[mode] = {"quality": quality, "seconds": seconds, "generator": G}
    return out


def grid_figure(generators: dict[str, ConditionalGenerator], *, per_class: int = 10) -> object:
    """A matplotlib figure: for each generator, one row of ``per_class`` samples per digit."""
    import matplotlib.pyplot as plt

    n = len(generators)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.6), squeeze=False)
    for ax, (name, G) in zip(axes[0], generators.items(), strict=True):
        x, _ = generate(G, per_class, seed=123)
        rows = x.reshape(N_CLASSES, per_class, 8, 8).permute(0, 2, 1, 3)
        ax.imshow(rows.reshape(N_CLASSES * 8, per_class * 8).cpu().numpy(), cmap="gray_r",
                  vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_yticks([8 * c + 3.5 for c in range(N_CLASSES)], [str(c) for c in range(N_CLASSES)])
        ax.set_xticks([])
        ax.set_title(name)
    fig.suptitle("generated digits, one row per condition")
    return fig
