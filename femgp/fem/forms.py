"""Render :mod:`femgp.energy` terms into UFL.

An :class:`~femgp.energy.Energy` over named fields becomes a rank-0 UFL form;
residuals and Jacobians then follow from ``ufl.derivative`` (energy first,
equations derived), so no model hand-writes a weak form that could drift from
its energy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ufl

from femgp.energy import Energy, FieldValue, Term

__all__ = ["UFL_OPS", "UFLOps", "energy_form", "field_values", "scalar"]


class UFLOps:
    """UFL implementation of the ops namespace (see :mod:`femgp.energy.ops`)."""

    name = "ufl"
    points = False

    sqrt = staticmethod(ufl.sqrt)
    exp = staticmethod(ufl.exp)
    log = staticmethod(ufl.ln)
    cos = staticmethod(ufl.cos)
    atan2 = staticmethod(ufl.atan2)
    inner = staticmethod(ufl.inner)
    dot = staticmethod(ufl.dot)
    transpose = staticmethod(ufl.transpose)
    tr = staticmethod(ufl.tr)
    sym = staticmethod(ufl.sym)
    dev = staticmethod(ufl.dev)
    det = staticmethod(ufl.det)
    max = staticmethod(ufl.max_value)
    min = staticmethod(ufl.min_value)

    @staticmethod
    def abs(x: Any) -> Any:
        return abs(x)

    @staticmethod
    def norm(a: Any) -> Any:
        return ufl.sqrt(ufl.inner(a, a))

    @staticmethod
    def identity(d: int) -> Any:
        return ufl.Identity(d)

    @staticmethod
    def as_tensor(values: Any) -> Any:
        """A constant vector or matrix (nested sequences of numbers)."""
        return ufl.as_tensor(values)

    @staticmethod
    def pos(x: Any) -> Any:
        return 0.5 * (x + abs(x))

    @staticmethod
    def neg(x: Any) -> Any:
        return 0.5 * (x - abs(x))


#: The UFL ops namespace.
UFL_OPS = UFLOps()


def field_values(fields: Mapping[str, Any]) -> dict[str, FieldValue]:
    """Wrap UFL expressions (Functions, split components) with their gradients."""
    return {name: FieldValue(value=f, grad=ufl.grad(f)) for name, f in fields.items()}


def energy_form(
    energy: Energy | Term,
    fields: Mapping[str, Any],
    dx: ufl.Measure | None = None,
) -> ufl.Form:
    """The rank-0 form ``∫ density dx`` of ``energy`` over the named UFL ``fields``."""
    if isinstance(energy, Term):
        energy = Energy((energy,))
    if dx is None:
        first = next(iter(fields.values()))
        dx = ufl.dx(domain=ufl.domain.extract_unique_domain(first))
    return energy.density(UFL_OPS, field_values(fields)) * dx


def scalar(form: Any, comm: Any) -> float:
    """Assemble a compiled or UFL rank-0 form and allreduce it over ``comm``."""
    from dolfinx import fem
    from mpi4py import MPI

    compiled = form if isinstance(form, fem.Form) else fem.form(form)
    return comm.allreduce(fem.assemble_scalar(compiled), op=MPI.SUM)
