"""The 8x8 digits bundled with scikit-learn, as torch tensors, and a reference classifier.

``sklearn.datasets.load_digits`` is bundled with scikit-learn (1797 images of
8x8 pixels with values 0..16, 10 classes; no download). :func:`load_split`
scales the pixels to ``[0, 1]``, shapes the images ``(N, 1, 8, 8)`` and splits
them per class, reproducibly from a seed. :class:`DigitClassifier` is the
small network whose accuracy and features measure generated digits
(:mod:`femgp.ml.sample_metrics`) and that the robustness demo attacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from femgp.errors import InputError
from femgp.ml.validation import check_interval, check_labels

__all__ = [
    "IMAGE_SHAPE",
    "N_CLASSES",
    "DigitClassifier",
    "DigitsSplit",
    "check_digits",
    "load_split",
    "train_classifier",
]

#: The shape of one image: one channel of 8x8 pixels.
IMAGE_SHAPE: tuple[int, int, int] = (1, 8, 8)
#: The ten digits.
N_CLASSES = 10


@dataclass(frozen=True)
class DigitsSplit:
    """A train/test split of the digits: images ``(N, 1, 8, 8)`` in ``[0, 1]``, labels ``(N,)``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def check_digits(
    x: object, labels: object = None, *, name: str = "digits", labels_name: str = "labels"
) -> torch.Tensor:
    """Return ``x`` if it is a floating batch of digit images ``(B, 1, 8, 8)``, else raise.

    With ``labels``, also require integer labels ``(B,)`` in ``0..9``; every
    message names both shapes (and the dtype when that is what is wrong).
    """
    want = "(B, " + ", ".join(map(str, IMAGE_SHAPE)) + ")"
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape {want}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InputError(
            f"{name} must be a floating-point tensor of shape {want}, got dtype {x.dtype} "
            f"and shape {tuple(x.shape)}"
        )
    if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE or x.shape[0] == 0:
        raise InputError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if labels is not None:
        check_labels(labels_name, labels, x, of=name, n_classes=N_CLASSES)
    return x


def load_split(
    *, test_fraction: float = 0.3, seed: int = 0, dtype: torch.dtype = torch.float32
) -> DigitsSplit:
    """The scikit-learn digits, scaled to ``[0, 1]`` and split per class (stratified).

    Raises:
        InputError: scikit-learn is missing (``pip install 'femgp[ml]'``) or
            ``test_fraction`` is not in ``(0, 1)``.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise InputError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise InputError(
            "the digits need scikit-learn (bundled data, no download): pip install 'femgp[ml]'"
        ) from exc
    data = load_digits()
    x = torch.as_tensor(data.images, dtype=dtype).reshape(-1, *IMAGE_SHAPE) / 16.0
    y = torch.as_tensor(data.target, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in range(N_CLASSES):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(idx.numel(), generator=gen)]
        n_test = round(test_fraction * idx.numel())
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    tr, te = torch.cat(train).sort().values, torch.cat(test).sort().values
    return DigitsSplit(x_train=x[tr], y_train=y[tr], x_test=x[te], y_test=y[te])


class DigitClassifier(nn.Module):
    """An MLP on the 64 pixels: ``64 -> hidden -> features -> 10``, ReLU.

    :meth:`features` is the penultimate activation, the space in which
    :func:`femgp.ml.sample_metrics.frechet_distance` compares real and
    generated digits. No normalisation layer, so input gradients are per sample.
    """

    def __init__(self, hidden: int = 256, n_features: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, n_features),
            nn.ReLU(),
        )
        self.head = nn.Linear(n_features, N_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations ``(B, n_features)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 10)``."""
        return self.head(self.body(x))


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 60,
    batch: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> DigitClassifier:
    """A :class:`DigitClassifier` trained with Adam on cross-entropy (eval mode on return)."""
    check_digits(x, y, name="x", labels_name="y")
    epochs, batch = check_interval("epochs", epochs), check_interval("batch", batch)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = DigitClassifier().to(dtype=x.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=gen)
        for i in range(0, x.shape[0], batch):
            idx = perm[i : i + batch]
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()
