"""Forcing of the displacement solves inside alternate minimisation.

Where a load step ends with a displacement solve at the problem's own
tolerances (the iterative solver), the displacement solves inside the
iteration stop at Newton and CG tolerances loosened in proportion to the last
damage change (:class:`femgp.models.fracture.solvers.InnerForcing`). The path
must not change beyond the solver tolerances, the inner solves must be the
looser ones, and the tolerances must be the problem's own again after every
step. What it saves is measured in ``benchmarks/fracture_sent.py`` (SENT's
breaking step), not here.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from femgp.models.fracture import FractureModel
from femgp.models.fracture.setups import bar
from femgp.models.fracture.solvers import U_FORCING_MAX, InnerForcing

HEIGHT = 0.02
H_CELL = 1.0 / 101


def test_inner_forcing_scales_and_restores_the_tolerances():
    snes = PETSc.SNES().create(MPI.COMM_SELF)
    snes.setTolerances(rtol=1e-3)
    snes.getKSP().setTolerances(rtol=1e-4)
    assert InnerForcing(snes).cap == U_FORCING_MAX
    forcing = InnerForcing(snes, cap=100.0)

    def tolerances() -> tuple[float, float]:
        return snes.getTolerances()[0], snes.getKSP().getTolerances()[0]

    forcing.set(0.05)  # 50 times the Newton tolerance
    assert tolerances() == pytest.approx((0.05, 5e-3), rel=1e-12)
    forcing.set(1.0)  # capped
    assert tolerances() == pytest.approx((0.1, 1e-2), rel=1e-12)
    forcing.set(1e-6)  # never tighter than the problem's own
    assert tolerances() == pytest.approx((1e-3, 1e-4), rel=1e-12)
    forcing.set(0.5)
    forcing.reset()
    assert tolerances() == pytest.approx((1e-3, 1e-4), rel=1e-12)
    assert forcing.factor(np.inf) == 1.0 and forcing.factor(np.nan) == 1.0
    snes.destroy()


def _localise(forced: bool) -> tuple[np.ndarray, float, list[list[float]], tuple[float, float]]:
    """The AT1 bar with clamped damage and the spectral split through its localisation (AM only).

    Returns the reactions, the dissipated energy, the Newton tolerance of every
    displacement solve (a list per step) and the problem's own tolerances.
    """
    s = bar(
        MPI.COMM_SELF,
        model="AT1",
        h=H_CELL,
        height=HEIGHT,
        clamp_damage=True,
        load_max=1.6,
        steps=16,
        solver="am",
        split="spectral",
        nu=0.3,
    )
    model = FractureModel(s.mesh, s.params, s.loading, prefix=f"forcing_{forced}_")
    if not forced:
        model.u_forcing = None
    snes = model.u_problem.snes
    base = snes.getTolerances()[0], snes.getKSP().getTolerances()[0]
    seen: list[list[float]] = []
    solve = model.u_problem.solve

    def recording_solve(**kwargs):
        seen[-1].append(snes.getTolerances()[0])
        return solve(**kwargs)

    model.u_problem.solve = recording_solve
    reactions = []
    for i, t in enumerate(s.loading.loads, start=1):
        seen.append([])
        model.solve_step(t, step=i)
        model.commit()
        reactions.append(model.reaction())
        assert (snes.getTolerances()[0], snes.getKSP().getTolerances()[0]) == base
    assert model.max_damage() > 0.99  # the crack formed
    return np.array(reactions), model.energies()["surface"], seen, base


def test_forcing_loosens_the_inner_solves_and_keeps_the_path():
    """Loose displacement solves inside the localisation step, the same path as without.

    The first and the final displacement solve of every step have the problem's
    own tolerance; the solves in between follow the damage change, and in the
    step where the crack forms (changes near 1) they reach the cap. Reactions
    and the dissipated energy are those of the run without forcing (measured:
    7.5e-9 of the largest reaction, 2.4e-12 of the energy; the final solve is
    what keeps them that close).
    """
    r_forced, e_forced, seen, (rtol, _) = _localise(True)
    r_plain, e_plain, seen_plain, _ = _localise(False)
    assert all(step[0] == rtol and step[-1] == rtol for step in seen), seen
    assert max(max(step) for step in seen) == pytest.approx(rtol * U_FORCING_MAX, rel=1e-12)
    assert all(x == rtol for step in seen_plain for x in step)  # the control: no forcing
    assert np.max(np.abs(r_forced - r_plain)) < 5e-8 * np.max(np.abs(r_plain)), (r_forced, r_plain)
    assert abs(e_forced / e_plain - 1) < 1e-10, (e_forced, e_plain)
