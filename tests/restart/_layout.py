"""Helper of test_checkpoint_layout: write (or read and compare) a checkpoint of some spaces.

Run as ``python _layout.py write|read FOLDER`` (serially or under mpirun).
"""

from __future__ import annotations

import sys

import femgp.fem._backend  # noqa: F401

import basix.ufl
import numpy as np
from dolfinx import fem, mesh
from mpi4py import MPI

from femgp.fem.checkpoint import Checkpointer


def fields(domain: mesh.Mesh) -> dict[str, fem.Function]:
    """Functions of x on P1, vector P2, mixed P1xP1 and DG0."""
    out = {}
    V1 = fem.functionspace(domain, ("Lagrange", 1))
    out["p1"] = fem.Function(V1)
    out["p1"].interpolate(lambda x: np.sin(3 * x[0]) + x[1] ** 2)
    V2 = fem.functionspace(domain, ("Lagrange", 2, (2,)))
    out["p2v"] = fem.Function(V2)
    out["p2v"].interpolate(lambda x: np.vstack([x[0] * x[1], np.cos(x[0] - 2 * x[1])]))
    P1 = basix.ufl.element("Lagrange", domain.basix_cell(), 1)
    W = fem.functionspace(domain, basix.ufl.mixed_element([P1, P1]))
    out["mixed"] = fem.Function(W)
    out["mixed"].sub(0).interpolate(lambda x: 1 + x[0] ** 3)
    out["mixed"].sub(1).interpolate(lambda x: np.exp(x[1]) - x[0])
    D = fem.functionspace(domain, ("DG", 0))
    out["dg0"] = fem.Function(D)
    out["dg0"].interpolate(lambda x: x[0] + 10 * x[1])
    return out


def main() -> int:
    mode, folder = sys.argv[1], sys.argv[2]
    comm = MPI.COMM_WORLD
    results = {}
    for cell in ("triangle", "quadrilateral"):
        ct = mesh.CellType[cell]
        domain = mesh.create_unit_square(comm, 7, 5, cell_type=ct)
        ck = Checkpointer(f"{folder}/{cell}", domain, model="layout")
        ref = fields(domain)
        if mode == "write":
            ck.save(3, ref, {"hello": 1})
            continue
        path = ck.latest_complete()
        body = ck.read_state(path)
        assert body["state"]["hello"] == 1
        for name, fn in ref.items():
            got = fem.Function(fn.function_space)
            ck.load_function(path, body, name, got)
            err = comm.allreduce(float(np.max(np.abs(got.x.array - fn.x.array))), op=MPI.MAX)
            results[f"{cell}/{name}"] = err
    if comm.rank == 0 and mode == "read":
        print("ERRORS", results)
        bad = {k: v for k, v in results.items() if not v <= 1e-14}
        if bad:
            print("MISMATCH", bad)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
