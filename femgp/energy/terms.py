"""Energy terms: frozen, validated dataclasses with a density written once.

A term's :meth:`Term.density` takes an ops namespace (numpy, UFL or torch) and a
mapping from field names to :class:`FieldValue` (the value and, where the term
needs it, the gradient) and returns the energy density at each point. Terms add
into an :class:`Energy`::

    energy = DoubleWell(rho=5.0, c_alpha=0.3, c_beta=0.7) + GradientPenalty(kappa=2.0, field="c")

The same energy is rendered into UFL by :func:`femgp.fem.forms.energy_form` and
into torch by :mod:`femgp.ml`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from femgp.errors import InputError
from femgp.validation import check_choice, check_finite, check_nonnegative, check_positive

__all__ = [
    "DoubleWell",
    "Energy",
    "FieldValue",
    "GradientPenalty",
    "SplitPart",
    "Term",
]


@dataclass(frozen=True)
class FieldValue:
    """The value of a field at the evaluation points, and its gradient when needed."""

    value: Any
    grad: Any = None


Fields = Mapping[str, FieldValue]


def _get(fields: Fields, name: str, what: str = "value") -> Any:
    try:
        fv = fields[name]
    except KeyError:
        raise InputError(
            f"field {name!r} is not among the fields given: {', '.join(map(repr, fields))}"
        ) from None
    out = getattr(fv, what)
    if out is None:
        raise InputError(f"the {what} of field {name!r} is needed but was not given")
    return out


class Term:
    """Base class of energy terms.

    Subclasses are frozen dataclasses that validate their parameters in
    ``__post_init__`` and implement :meth:`density`. Terms are convex unless
    they override :meth:`split`.
    """

    #: A short label used for per-term energies in histories ("chemical", "gradient", ...).
    label: ClassVar[str] = "term"

    def density(self, ops: Any, fields: Fields) -> Any:
        """The energy density at each point, in the backend of ``ops``."""
        raise NotImplementedError

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the fields this term depends on."""
        raise NotImplementedError

    def split(self) -> tuple[Term | None, Term | None]:
        """A convex-concave split ``(convex, concave)``; either may be ``None``."""
        return self, None

    def __add__(self, other: Term | Energy) -> Energy:
        return Energy((self,)) + other

    def __mul__(self, factor: float) -> Term:
        raise TypeError(f"scale a {type(self).__name__} through its parameters, not with '*'")


@dataclass(frozen=True)
class GradientPenalty(Term):
    """The gradient penalty ``kappa/2 (|grad phi| - target)^2``.

    With ``target = 0`` (the default) this is the ``kappa/2 |grad phi|^2`` cost of
    an edge in a phase field. With ``target = 1`` it is the WGAN-GP critic penalty
    ``lambda (||grad_x D|| - 1)^2`` with ``lambda = kappa / 2``; ``one_sided``
    penalises only ``|grad| > target`` (WGAN-LP).

    Args:
        kappa: the gradient-energy coefficient (> 0).
        field: name of the field whose gradient is penalised.
        target: the gradient norm that costs nothing (>= 0).
        one_sided: penalise only norms above ``target``.
    """

    kappa: float
    field: str = "phi"
    target: float = 0.0
    one_sided: bool = False

    label: ClassVar[str] = "gradient"

    def __post_init__(self) -> None:
        check_positive("GradientPenalty.kappa", self.kappa)
        check_nonnegative("GradientPenalty.target", self.target)
        if not isinstance(self.field, str) or not self.field:
            raise InputError(f"GradientPenalty.field must be a non-empty name, got {self.field!r}")

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,)

    def density(self, ops: Any, fields: Fields) -> Any:
        g = _get(fields, self.field, "grad")
        if self.target == 0.0:
            return self.kappa / 2 * ops.inner(g, g)
        excess = ops.norm(g) - self.target
        if self.one_sided:
            excess = ops.pos(excess)
        return self.kappa / 2 * excess * excess


@dataclass(frozen=True)
class DoubleWell(Term):
    """The quartic double well ``rho (c - c_alpha)^2 (c_beta - c)^2``.

    PFHub benchmark 1 uses ``rho = 5, c_alpha = 0.3, c_beta = 0.7``; the symmetric
    Ginzburg-Landau well ``a (eta^2 - 1)^2`` is ``DoubleWell.symmetric(a)``
    (``c_alpha = -1, c_beta = 1``).

    Args:
        rho: barrier scale (> 0).
        c_alpha, c_beta: the two minima, ``c_alpha < c_beta``.
        field: name of the order parameter.
    """

    rho: float
    c_alpha: float = -1.0
    c_beta: float = 1.0
    field: str = "c"

    label: ClassVar[str] = "chemical"

    def __post_init__(self) -> None:
        check_positive("DoubleWell.rho", self.rho)
        check_finite("DoubleWell.c_alpha", self.c_alpha)
        check_finite("DoubleWell.c_beta", self.c_beta)
        if not self.c_alpha < self.c_beta:
            raise InputError(
                f"DoubleWell needs c_alpha < c_beta, got c_alpha={self.c_alpha!r}, "
                f"c_beta={self.c_beta!r}"
            )

    @classmethod
    def symmetric(cls, a: float, field: str = "eta") -> DoubleWell:
        """The symmetric well ``a (eta^2 - 1)^2``."""
        return cls(rho=a, c_alpha=-1.0, c_beta=1.0, field=field)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,)

    @property
    def _mid(self) -> float:
        return 0.5 * (self.c_alpha + self.c_beta)

    @property
    def _half(self) -> float:
        return 0.5 * (self.c_beta - self.c_alpha)

    def density(self, ops: Any, fields: Fields) -> Any:
        c = _get(fields, self.field)
        return self.rho * (c - self.c_alpha) ** 2 * (self.c_beta - c) ** 2

    # Closed forms used by linear-stability analysis and the wall energy.
    def df(self, c: float) -> float:
        """f'(c)."""
        a, b = self.c_alpha, self.c_beta
        return 2 * self.rho * (c - a) * (b - c) * (a + b - 2 * c)

    def d2f(self, c: float) -> float:
        """f''(c)."""
        a, b = self.c_alpha, self.c_beta
        return 2 * self.rho * ((b - c) ** 2 - 4 * (c - a) * (b - c) + (c - a) ** 2)

    def split(self) -> tuple[Term | None, Term | None]:
        """Eyre's convex-concave split with the smallest concave part.

        With ``u = (c - c_mid) / h`` and ``h = (c_beta - c_alpha) / 2``,
        ``f = rho h^4 (u^2 - 1)^2 = rho h^4 (u^4 + 1) - 2 rho h^4 u^2``.
        ``f'' >= -4 rho h^2`` (at ``c_mid``), the concave part's ``f''`` everywhere, so
        no smaller concave part keeps the rest convex.
        """
        return SplitPart(self, "convex"), SplitPart(self, "concave")

    def part_density(self, ops: Any, fields: Fields, part: str) -> Any:
        """The convex or concave part of the density (see :meth:`split`)."""
        c = _get(fields, self.field)
        u = (c - self._mid) / self._half
        scale = self.rho * self._half**4
        if part == "convex":
            return scale * (u**4 + 1.0)
        return -2.0 * scale * u**2


@dataclass(frozen=True)
class SplitPart(Term):
    """The convex or concave part of a term that defines ``part_density``."""

    term: Term
    part: str

    def __post_init__(self) -> None:
        check_choice("SplitPart.part", self.part, ("convex", "concave"))
        if not hasattr(self.term, "part_density"):
            raise InputError(f"{type(self.term).__name__} has no convex-concave split")

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.term.label

    @property
    def fields(self) -> tuple[str, ...]:
        return self.term.fields

    def density(self, ops: Any, fields: Fields) -> Any:
        return self.term.part_density(ops, fields, self.part)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Energy:
    """A sum of terms. ``term + term`` and ``energy + term`` build one."""

    terms: tuple[Term, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for t in self.terms:
            if not isinstance(t, Term):
                raise InputError(f"an Energy holds Terms, got {t!r} ({type(t).__name__})")

    def __add__(self, other: Term | Energy) -> Energy:
        if isinstance(other, Energy):
            return Energy(self.terms + other.terms)
        if isinstance(other, Term):
            return Energy((*self.terms, other))
        return NotImplemented

    def __radd__(self, other: Any) -> Energy:
        if other == 0:  # sum([...]) starts from 0
            return self
        return NotImplemented

    def __iter__(self):
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of all fields the energy depends on, in first-use order."""
        seen: dict[str, None] = {}
        for t in self.terms:
            for f in t.fields:
                seen.setdefault(f, None)
        return tuple(seen)

    def density(self, ops: Any, fields: Fields) -> Any:
        """The total energy density."""
        if not self.terms:
            raise InputError("an empty Energy has no density")
        total = self.terms[0].density(ops, fields)
        for t in self.terms[1:]:
            total = total + t.density(ops, fields)
        return total

    def components(self, ops: Any, fields: Fields) -> dict[str, Any]:
        """Densities grouped by term label (terms with equal labels are summed)."""
        out: dict[str, Any] = {}
        for t in self.terms:
            d = t.density(ops, fields)
            out[t.label] = out[t.label] + d if t.label in out else d
        return out

    def split(self) -> tuple[Energy, Energy]:
        """The convex-concave split of every term: ``(convex, concave)``."""
        convex: list[Term] = []
        concave: list[Term] = []
        for t in self.terms:
            cvx, ccv = t.split()
            if cvx is not None:
                convex.append(cvx)
            if ccv is not None:
                concave.append(ccv)
        return Energy(tuple(convex)), Energy(tuple(concave))


def energy(terms: Iterable[Term]) -> Energy:
    """Build an :class:`Energy` from an iterable of terms."""
    return Energy(tuple(terms))
