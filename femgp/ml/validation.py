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

from femgp.errors import InputError
from femgp.validation import check_nonnegative, check_positive

__all__ = [
    "batch_statistics_layers",
    "check_batch",
    "check_finite_loss",
    "check_float_tensor",
    "check_interval",
    "check_labels",
    "check_lambda",
    "check_per_sample_model",
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


def check_batch(
    name: str,
    value: Any,
    batch: int,
    *,
    of: str = "the data",
    shape: tuple[int, ...] | torch.Size | None = None,
) -> None:
    """Raise ``InputError`` unless ``value`` is a tensor whose batch size is ``batch``.

    With ``shape`` (the shape of ``of``) the message names both shapes.
    """
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.ndim < 1 or value.shape[0] != batch:
        got = value.shape[0] if value.ndim >= 1 else "no batch axis"
        both = "" if shape is None else f" (shapes {tuple(value.shape)} and {tuple(shape)})"
        raise InputError(f"{name} has batch size {got} but {of} has batch size {batch}{both}")


def check_labels(
    name: str,
    labels: Any,
    data: torch.Tensor,
    *,
    of: str = "the data",
    n_classes: int | None = None,
) -> torch.Tensor:
    """Return class labels ``(B,)`` of an integer dtype matching ``data``'s batch, else raise.

    The message names the labels' shape and dtype and the data's shape.
    """
    if not isinstance(labels, torch.Tensor):
        raise InputError(
            f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}"
        )
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputError(
            f"{name} must be integer class indices (torch.long), got dtype {labels.dtype} "
            f"(shape {tuple(labels.shape)}; {of} has shape {tuple(data.shape)})"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise InputError(
            f"{name} must have shape ({data.shape[0]},), one label per sample of {of}, got "
            f"shape {tuple(labels.shape)} ({of} has shape {tuple(data.shape)})"
        )
    if n_classes is not None and labels.numel() and (
        int(labels.min()) < 0 or int(labels.max()) >= n_classes
    ):
        raise InputError(
            f"{name} must lie in [0, {n_classes - 1}], got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )
    return labels


def batch_statistics_layers(model: Any) -> list[tuple[str, str]]:
    """``(name, type)`` of every layer of ``model`` that normalises over the batch now.

    A ``BatchNorm``/``SyncBatchNorm`` layer uses batch statistics in training
    mode, and always when it tracks no running statistics; it then couples the
    samples of a batch. Wrappers (``DistributedDataParallel``, ``torch.compile``)
    are looked through. Non-modules (plain functions) give ``[]``.
    """
    if not isinstance(model, torch.nn.Module):
        return []
    found = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and (
            m.training or not m.track_running_stats
        ):
            found.append((name or "(the model itself)", type(m).__name__))
    return found


def check_per_sample_model(name: str, model: Any, *, penalty: str) -> None:
    """Refuse a ``model`` with a layer that mixes the samples of a batch (BatchNorm).

    A per-sample penalty differentiates ``sum_i f(x_i)``, which gives each
    sample its own gradient only if ``f`` treats samples independently.
    """
    bad = batch_statistics_layers(model)
    if bad:
        layer, kind = bad[0]
        raise InputError(
            f"{name} layer {layer!r} is a {kind} that normalises over the batch, so the "
            f"per-sample {penalty} penalty would be wrong; use LayerNorm, GroupNorm or no "
            "normalisation (or put the layer in eval mode with running statistics)"
        )


def check_finite_loss(name: str, value: torch.Tensor) -> None:
    """Raise ``FloatingPointError`` if a scalar loss is NaN or infinite (one device sync)."""
    v = float(value.detach())
    if not math.isfinite(v):
        raise FloatingPointError(f"{name} is not finite ({v}); stopping instead of training on it")

