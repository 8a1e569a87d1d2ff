"""Input checks for the torch layer: clear ``InputError`` messages naming the bad value.

``InputError`` is a ``ValueError``. Checks that would need a device
synchronisation (looking at tensor *values*) are kept to explicit user inputs
such as given interpolation weights; the NaN guard on losses is
:func:`check_finite_loss`.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from femgp.energy.validation import check_nonnegative, check_positive
from femgp.errors import InputError

__all__ = [
    "check_batch",
    "check_finite_loss",
    "check_float_tensor",
    "check_interval",
    "check_lambda",
    "check_positive",
    "check_same_shape",
]


def check_lambda(name: str, value: Any) -> float:
    """Return a penalty weight as a float; raise ``InputError`` unless finite and ``>= 0``."""
    return check_nonnegative(name, value)


def check_interval(name: str, value: Any) -> int:
    """Return a step interval; raise ``InputError`` unless it is an integer ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_float_tensor(name: str, value: Any) -> torch.Tensor:
    """Return ``value`` if it is a floating-point tensor with a batch axis, else raise."""
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.ndim < 1 or value.shape[0] == 0:
        raise InputError(f"{name} needs a non-empty batch axis, got shape {tuple(value.shape)}")
    return value


def check_same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    """Raise ``InputError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise InputError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} "
            f"and {tuple(b.shape)}"
        )


def check_batch(name: str, value: Any, batch: int, *, of: str = "the data") -> None:
    """Raise ``InputError`` unless ``value`` is a tensor whose batch size is ``batch``."""
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim < 1 or value.shape[0] != batch:
        got = value.shape[0] if value.ndim >= 1 else "no batch axis"
        raise InputError(f"{name} has batch size {got} but {of} has batch size {batch}")


def check_finite_loss(name: str, value: torch.Tensor) -> None:
    """Raise ``FloatingPointError`` if a scalar loss is NaN or infinite (one device sync)."""
    v = float(value.detach())
    if not math.isfinite(v):
        raise FloatingPointError(f"{name} is not finite ({v}); stopping instead of training on it")
