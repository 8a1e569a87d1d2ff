"""The 2-D toy distributions of the WGAN-GP paper, and a sample-quality measure.

As in Gulrajani et al.'s ``gan_toy.py``:

* **8 Gaussians**: centres ``2 (cos t, sin t)`` at the 8 angles ``t = k pi/4``,
  standard deviation 0.02, then every point divided by 1.414;
* **25 Gaussians**: centres ``(2i, 2j)`` for ``i, j in -2..2``, standard
  deviation 0.05, then divided by 2.828.

:func:`sample_quality` reports the modes covered and the fraction of
high-quality samples, those within 3 standard deviations of a mode (the
measure of Srivastava et al.'s VEEGAN and of PacGAN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from femgp.errors import InputError
from femgp.validation import check_choice

__all__ = ["DATASETS", "SampleQuality", "ToyMixture", "mixture", "sample_quality"]

#: The toy data sets.
DATASETS: tuple[str, ...] = ("8gaussians", "25gaussians")


@dataclass(frozen=True)
class ToyMixture:
    """A mixture of isotropic Gaussians with equal weights.

    Attributes:
        centers: ``(K, 2)`` mode centres (after the data set's scaling).
        std: the standard deviation of every mode (after scaling).
    """

    centers: torch.Tensor
    std: float

    @property
    def n_modes(self) -> int:
        """Number of modes ``K``."""
        return self.centers.shape[0]

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples and their mode labels; modes drawn uniformly unless ``labels`` given."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"n must be an integer >= 1, got {n!r}")
        if labels is None:
            labels = torch.randint(self.n_modes, (n,), generator=generator)
        elif labels.shape != (n,):
            raise InputError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        noise = torch.randn(n, 2, generator=generator, dtype=self.centers.dtype)
        return self.centers[labels] + self.std * noise, labels


def mixture(name: str, *, dtype: torch.dtype = torch.float32) -> ToyMixture:
    """The named toy mixture (``"8gaussians"`` or ``"25gaussians"``), scaled as in gan_toy.py."""
    check_choice("dataset", name, DATASETS)
    if name == "8gaussians":
        r = 1.0 / math.sqrt(2.0)
        unit = [(1, 0), (-1, 0), (0, 1), (0, -1), (r, r), (r, -r), (-r, r), (-r, -r)]
        centers = torch.tensor([(2.0 * a, 2.0 * b) for a, b in unit], dtype=dtype) / 1.414
        return ToyMixture(centers=centers, std=0.02 / 1.414)
    grid = [(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)]
    return ToyMixture(centers=torch.tensor(grid, dtype=dtype) / 2.828, std=0.05 / 2.828)


@dataclass(frozen=True)
class SampleQuality:
    """Sample quality of a generator on a toy mixture.

    Attributes:
        modes_covered: modes with at least ``min_count`` high-quality samples.
        n_modes: the number of modes.
        high_quality: fraction of samples within ``3 std`` of their nearest mode.
    """

    modes_covered: int
    n_modes: int
    high_quality: float


def sample_quality(
    samples: torch.Tensor, data: ToyMixture, *, n_std: float = 3.0, min_count: int = 1
) -> SampleQuality:
    """Modes covered and the fraction of high-quality samples (within ``n_std`` std of a mode)."""
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise InputError(f"samples must have shape (n, 2), got {tuple(samples.shape)}")
    s = samples.detach().to(data.centers.dtype).cpu()
    if not bool(torch.isfinite(s).all()):
        raise FloatingPointError("the generator produced NaN or infinite samples")
    d = torch.cdist(s, data.centers)
    dist, nearest = d.min(dim=1)
    good = dist <= n_std * data.std
    counts = torch.bincount(nearest[good], minlength=data.n_modes)
    return SampleQuality(
        modes_covered=int((counts >= min_count).sum()),
        n_modes=data.n_modes,
        high_quality=float(good.float().mean()),
    )
