"""Sample quality of a conditional generator, measured with a classifier trained on real data.

* **accuracy given the condition**: the fraction of samples generated for
  class ``c`` that the classifier assigns to ``c`` (overall and per class);
* **per-class coverage** (Naeem et al. 2020, "Reliable fidelity and diversity
  metrics"): for each class, the fraction of real samples whose ``k``-nearest-
  neighbour ball (among the real samples of that class, in the classifier's
  feature space) holds at least one generated sample of that class. A
  generator that collapses onto a few prototypes of a class covers little of it;
* **Fréchet distance** in the classifier's feature space (the FID recipe of
  Heusel et al. 2017 with a domain classifier in place of Inception):
  ``|mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from femgp.errors import InputError
from femgp.ml.validation import check_interval, check_labels

__all__ = ["ConditionalQuality", "conditional_quality", "coverage", "frechet_distance"]


def _check_features(name: str, f: object) -> torch.Tensor:
    if not isinstance(f, torch.Tensor) or not f.is_floating_point() or f.ndim != 2:
        what = (f"dtype {f.dtype}, shape {tuple(f.shape)}" if isinstance(f, torch.Tensor)
                else type(f).__name__)
        raise InputError(f"{name} must be floating features of shape (n, d), got {what}")
    if f.shape[0] < 2:
        raise InputError(f"{name} needs at least 2 samples, got shape {tuple(f.shape)}")
    return f


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to feature sets ``a`` and ``b`` ``(n, d)``.

    Computed in float64 with symmetric eigendecompositions:
    ``tr (S_a S_b)^(1/2) = sum sqrt(eig(S_a^(1/2) S_b S_a^(1/2)))``.
    """
    a, b = _check_features("a", a).double(), _check_features("b", b).double()
    if a.shape[1] != b.shape[1]:
        raise InputError(
            "feature sets must have the same width, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)
    w, v = torch.linalg.eigh(s_a)
    root_a = (v * w.clamp(min=0).sqrt()) @ v.T
    m = root_a @ s_b @ root_a
    tr_sqrt = torch.linalg.eigvalsh(0.5 * (m + m.T)).clamp(min=0).sqrt().sum()
    fd = (mu_a - mu_b).square().sum() + torch.trace(s_a) + torch.trace(s_b) - 2 * tr_sqrt
    return max(float(fd), 0.0)


def coverage(real: torch.Tensor, fake: torch.Tensor, *, k: int = 5) -> float:
    """Naeem et al.'s coverage: the fraction of real samples with a fake one in their k-NN ball."""
    real, fake = _check_features("real", real).double(), _check_features("fake", fake).double()
    k = check_interval("k", k)
    if real.shape[0] <= k:
        raise InputError(
            f"coverage with k={k} needs more than {k} real samples, got {real.shape[0]}"
        )
    d_rr = torch.cdist(real, real)
    radius = d_rr.kthvalue(k + 1, dim=1).values  # the 1st neighbour is the sample itself
    nearest_fake = torch.cdist(real, fake).min(dim=1).values
    return float((nearest_fake <= radius).double().mean())


@dataclass(frozen=True)
class ConditionalQuality:
    """Quality of class-conditional samples (see the module docstring).

    Attributes:
        accuracy: fraction of samples classified as their condition.
        per_class_accuracy: the same for each class.
        per_class_coverage: Naeem coverage of each class's real samples.
        classes_covered: classes whose samples are recognised at least
            ``min_accuracy`` of the time.
        frechet: Fréchet distance in the classifier's features (all classes).
    """

    accuracy: float
    per_class_accuracy: list[float]
    per_class_coverage: list[float]
    classes_covered: int
    frechet: float

    @property
    def mean_coverage(self) -> float:
        """The mean of the per-class coverages."""
        return sum(self.per_class_coverage) / len(self.per_class_coverage)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary (with ``mean_coverage``)."""
        return {
            "accuracy": self.accuracy, "classes_covered": self.classes_covered,
            "mean_coverage": self.mean_coverage, "frechet": self.frechet,
            "per_class_accuracy": self.per_class_accuracy,
            "per_class_coverage": self.per_class_coverage,
        }


@torch.no_grad()
def conditional_quality(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    features_fn: Callable[[torch.Tensor], torch.Tensor],
    fake: torch.Tensor,
    fake_labels: torch.Tensor,
    real: torch.Tensor,
    real_labels: torch.Tensor,
    *,
    n_classes: int,
    k: int = 5,
    min_accuracy: float = 0.5,
) -> ConditionalQuality:
    """Accuracy given the condition, per-class coverage and Fréchet distance of ``fake``.

    Args:
        logits_fn, features_fn: the classifier's logits and features.
        fake, fake_labels: generated samples and the conditions they were generated for.
        real, real_labels: held-out real samples and their classes.
        n_classes: the number of classes.
        k: the neighbourhood size of the coverage.
        min_accuracy: the per-class accuracy from which a class counts as covered.
    """
    check_labels("fake_labels", fake_labels, fake, of="fake", n_classes=n_classes)
    check_labels("real_labels", real_labels, real, of="real", n_classes=n_classes)
    if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
        raise InputError(
            f"fake and real samples differ in shape: {tuple(fake.shape)} and {tuple(real.shape)}"
        )
    if not bool(torch.isfinite(fake).all()):
        raise FloatingPointError("the generator produced NaN or infinite samples")
    pred = logits_fn(fake).argmax(dim=1)
    f_fake, f_real = features_fn(fake), features_fn(real)
    acc, cov = [], []
    for c in range(n_classes):
        mf, mr = fake_labels == c, real_labels == c
        if not bool(mf.any()) or int(mr.sum()) <= k:
            raise InputError(f"class {c} needs generated samples and more than {k} real ones")
        acc.append(float((pred[mf] == c).double().mean()))
        cov.append(coverage(f_real[mr], f_fake[mf], k=k))
    return ConditionalQuality(
        accuracy=float((pred == fake_labels).double().mean()),
        per_class_accuracy=acc, per_class_coverage=cov,
        classes_covered=sum(a >= min_accuracy for a in acc),
        frechet=frechet_distance(f_real, f_fake),
    )
