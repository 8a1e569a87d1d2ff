"""Parameter validation for every layer: energy terms, model parameters, meshes, torch.

Each check raises :class:`femgp.errors.InputError` naming the value and what is allowed."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from femgp.errors import InputError

__all__ = [
    "check_bool",
    "check_choice",
    "check_finite",
    "check_int",
    "check_nonnegative",
    "check_positive",
]


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``InputError`` if it is not a finite real."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``InputError`` unless it is finite and > 0."""
    v = check_finite(name, value)
    if v <= 0.0:
        raise InputError(f"{name} must be > 0, got {value!r}")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``InputError`` unless it is finite and >= 0."""
    v = check_finite(name, value)
    if v < 0.0:
        raise InputError(f"{name} must be >= 0, got {value!r}")
    return v


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the allowed values."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` if it is an int (not a bool) ``>= minimum``, else raise ``InputError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is ``True`` or ``False``, else raise ``InputError``."""
    if not isinstance(value, bool):
        raise InputError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value
