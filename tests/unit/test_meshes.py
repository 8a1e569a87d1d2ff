"""Meshes: builders and their groups, readers keep tags, checks reject bad meshes, the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import femgp.fem._backend  # noqa: F401

import meshio
import numpy as np
import pytest
from mpi4py import MPI

from femgp.errors import InputError
from femgp.fem.meshes import (
    GEOMETRIES,
    build,
    check_mesh,
    mesh_report,
    read_mesh,
    read_msh,
    rectangle,
    require_groups,
    write_mesh,
)
from femgp.fem.meshes.fracture import notched_plate
from femgp.fem.meshes.fracture3d import notched_slab
from femgp.fem.meshes.panels import lpanel, plate_with_holes
from femgp.fem.meshes.twinning import box

ROOT = Path(__file__).resolve().parents[2]
MESHES = ROOT / "meshes"
SELF = MPI.COMM_SELF

# coarse sizes that keep every build under a second
COARSE = {
    "bar": 0.05,
    "sent": 0.05,
    "sens": 0.05,
    "strip": 0.05,
    "lpanel": 25.0,
    "plate_with_holes": 5.0,
    "pfhub_tshape": 10.0,
}
AREAS = {
    "bar": 0.05,
    "sent": 1.0 - 0.5 * 0.1 * 0.5,  # notch opening 2 h_band, depth 0.5
    "sens": 1.0 - 0.5 * 0.1 * 0.5,
    "strip": 0.5,
    "lpanel": 500.0**2 - 250.0**2,
    "pfhub_tshape": 20 * 100 + 100 * 20,
}


def _counts(report: dict, kind: str) -> dict[int, int]:
    return {t["tag"]: t["count"] for t in report["tags"][kind]}


def _names(report: dict, kind: str) -> dict[str, int]:
    return {t["name"]: t["count"] for t in report["tags"][kind] if t["name"]}


def test_every_geometry_is_listed():
    assert set(COARSE) == set(GEOMETRIES)


def test_h_far_is_refused_where_it_would_be_ignored_or_finer_than_h():
    """The bar and the T-shape have one size: h_far was dropped without a word. An h_far
    below h (the far field finer than the band) wrote a 924,081-cell file for SENS."""
    for name in ("bar", "pfhub_tshape"):
        with pytest.raises(InputError, match=rf"geometry '{name}' has one mesh size"):
            build(name, SELF, h=COARSE[name], h_far=1.0)
    with pytest.raises(InputError, match=r"h_far = 0.001 must be >= h = 0.05"):
        build("sens", SELF, h=0.05, h_far=0.001)
    assert mesh_report(build("sent", SELF, h=0.05, h_far=0.1))["cells"] > 0  # the control


@pytest.mark.parametrize("name", sorted(COARSE))
def test_builder_has_its_named_groups(name):
    tm = build(name, SELF, h=COARSE[name])
    require_groups(tm, GEOMETRIES[name].groups)
    check_mesh(tm, tdim=2, gdim=2)
    report = mesh_report(tm)
    tdim = tm.mesh.topology.dim
    for group in GEOMETRIES[name].groups:
        dim, tag = tm.groups[group]
        kind = "cells" if dim == tdim else "facets"
        assert _counts(report, kind).get(tag, 0) > 0, group
    if name in AREAS:
        assert report["volume"] == pytest.approx(AREAS[name], rel=1e-9)
    assert report["quality"]["min"] > 0.3


def test_plate_with_holes_area_and_hole_boundary():
    tm = plate_with_holes(SELF, h=3.0)
    report = mesh_report(tm)
    exact = 65 * 120 - 2 * math.pi * 10**2
    # the polygonal holes miss at most a few segments' sagitta: area within 0.5 %
    assert report["volume"] > exact
    assert report["volume"] == pytest.approx(exact, rel=5e-3)
    hole_facets = tm.facets("holes")
    x = tm.mesh.geometry.x
    msh = tm.mesh
    from dolfinx.mesh import entities_to_geometry

    msh.topology.create_connectivity(1, 2)
    nodes = entities_to_geometry(msh, 1, hole_facets.astype(np.int32)).ravel()
    r = np.minimum(
        np.hypot(x[nodes, 0] - 20, x[nodes, 1] - 51), np.hypot(x[nodes, 0] - 45, x[nodes, 1] - 69)
    )
    np.testing.assert_allclose(r, 10.0, rtol=1e-9)


# h_far is 5 h on both (the panel caps it at 25 mm: at h = 10 it would be 2.5 h, the bound)
@pytest.mark.parametrize("name, h", [("lpanel", 5.0), ("sent", 0.02)])
def test_refinement_band_is_finer(name, h):
    tm = build(name, SELF, h=h)
    msh = tm.mesh
    n = msh.topology.index_map(2).size_local
    cells = np.arange(n, dtype=np.int32)
    diam = msh.h(2, cells)
    mid = msh.geometry.x[msh.geometry.dofmaps[0][:n, :3]].mean(axis=1)
    if name == "lpanel":  # the band left of the re-entrant corner (250, 250)
        band = (mid[:, 0] < 240) & (np.abs(mid[:, 1] - 260) < 15)
        far = mid[:, 1] > 400
    else:  # ahead of the notch tip (0.5, 0.5)
        band = (mid[:, 0] > 0.55) & (np.abs(mid[:, 1] - 0.5) < 0.03)
        far = mid[:, 1] < 0.2
    assert band.sum() > 10 and far.sum() > 10
    assert diam[band].max() <= 2.0 * h
    assert np.median(diam[far]) > 2.5 * np.median(diam[band])


def test_report_of_known_meshes():
    quads = mesh_report(rectangle(SELF, ((0, 0), (2, 1)), (4, 2)))
    assert quads["cells"] == 8 and quads["vertices"] == 15 and quads["cell_type"] == "quadrilateral"
    assert quads["quality"] == {"measure": "scaled Jacobian", "min": 1.0, "max": 1.0, "mean": 1.0}
    assert quads["h_min"] == pytest.approx(math.sqrt(0.5)) and quads["volume"] == pytest.approx(2)
    assert _names(quads, "facets") == {"left": 2, "right": 2, "bottom": 4, "top": 4}
    tris = mesh_report(rectangle(SELF, ((0, 0), (1, 1)), (2, 2), quadrilateral=False))
    assert tris["quality"]["min"] == pytest.approx(2 * (math.sqrt(2) - 1))  # right isosceles
    tets = mesh_report(box(SELF, ((0, 0, 0), (1, 1, 1)), (2, 2, 2)))
    assert tets["tdim"] == tets["gdim"] == 3 and tets["volume"] == pytest.approx(1.0)
    assert 0 < tets["quality"]["min"] < 1 and tets["h_max"] == pytest.approx(math.sqrt(0.75))


def test_rectangle_sides_hold_only_their_facets():
    """An offset, finely divided rectangle: no corner facet of the bottom or top in a side.

    (A relative tolerance of 1e-5 |x0| = 0.01 took the 0.005 wide corner facets
    into ``left`` and ``right`` as well.)
    """
    tm = rectangle(SELF, ((1000.0, 0.0), (1001.0, 1.0)), (200, 2))
    assert _names(mesh_report(tm), "facets") == {"left": 2, "right": 2, "bottom": 200, "top": 200}
    assert np.unique(tm.facet_tags.indices).size == tm.facet_tags.indices.size == 404


@pytest.mark.parametrize("h", [10.0, 5.0])
def test_lpanel_over_its_cap_is_refused_before_meshing(h):
    """The L-panel's estimate counts the band's transition ring, so a cap just below the
    meshed count is refused (estimate / actual 1.25 and 1.14 at h = 10 and 5 mm; without
    the ring 0.79 and 0.78, and a mesh up to 1.28x over the cap was made)."""
    n = lpanel(SELF, h=h).mesh.topology.index_map(2).size_global
    with pytest.raises(InputError, match="max_cells"):
        lpanel(SELF, h=h, max_cells=n - 1)


def test_every_generator_takes_a_numpy_max_cells():
    """``max_cells`` as NumPy's integer is a limit like ``int`` (check_cell_count's rule)."""
    limit = np.int64(1_000_000)
    for make in (notched_plate, notched_slab):
        tm = make(SELF, h_band=0.05, max_cells=limit)
        assert tm.mesh.topology.index_map(tm.mesh.topology.dim).size_global > 0


@pytest.mark.parametrize("make", [notched_plate, notched_slab])
def test_default_notch_opening_has_the_bound_of_an_explicit_one(make):
    """The default opening 2 h_band is refused from 0.2 mm, as ``notch_width`` is.

    (h_band = 0.6 put the notch's mouth at y = 1.1 and -0.1: a self-intersecting
    outline, meshed without a word into 4.8 mm² for the 1 mm² plate.)
    """
    opening = r"h_band = 0.6 would open the notch of the (plate|slab) by 2 h_band = 1.2"
    with pytest.raises(InputError, match=opening):
        make(SELF, h_band=0.6)
    with pytest.raises(InputError, match=r"notch_width must be in \(0, 0.2\) mm"):
        make(SELF, h_band=0.05, notch_width=0.2)
    tm = make(SELF, h_band=0.6, notch_width=0.1)  # a coarse mesh with a valid notch is fine
    thickness = 0.1 if make is notched_slab else 1.0
    assert mesh_report(tm)["volume"] == pytest.approx((1 - 0.5 * 0.1 * 0.5) * thickness, rel=1e-9)


def test_read_msh_keeps_tags():
    ref = mesh_report(lpanel(SELF, h=10.0))
    got = mesh_report(read_mesh(MESHES / "lpanel.msh", SELF))
    assert got["cells"] == ref["cells"] and got["groups"] == ref["groups"]
    assert _counts(got, "facets") == _counts(ref, "facets")
    assert _names(got, "facets") == {"bottom": 10, "load": 1, "boundary": 95}
    tshape = read_mesh(MESHES / "pfhub_tshape.msh", SELF)
    assert mesh_report(tshape) == mesh_report(read_msh(MESHES / "pfhub_tshape.msh", SELF))


@pytest.mark.parametrize("suffix", [".vtu", ".inp"])
def test_read_meshio_files_keep_tags(suffix):
    tm = read_mesh(MESHES / f"square_tagged{suffix}", SELF)
    report = mesh_report(tm)
    assert report["cells"] == 32 and report["gdim"] == 2  # zero z column dropped
    assert sorted(_counts(report, "facets").values()) == [4, 4, 4, 4]
    if suffix == ".inp":  # element sets carry the names
        assert _names(report, "facets") == {"left": 4, "right": 4, "bottom": 4, "top": 4}
        assert tm.facets("left").size == 4


def _facet_midpoints(tm, by_name: bool) -> dict:
    """Tag (or group name) -> the sorted midpoints of the facets tagged with it."""
    from dolfinx.mesh import compute_midpoints

    msh, ft = tm.mesh, tm.facet_tags
    fdim = msh.topology.dim - 1
    msh.topology.create_connectivity(fdim, fdim + 1)
    mid = compute_midpoints(msh, fdim, ft.indices.astype(np.int32))
    names = {t: n for n, (d, t) in tm.groups.items() if d == fdim}
    out = {}
    for t in np.unique(ft.values):
        points = mid[ft.values == t]
        out[names[int(t)] if by_name else int(t)] = points[np.lexsort(points.T[::-1])]
    return out


@pytest.mark.parametrize("suffix", [".msh", ".xdmf", ".vtu", ".inp", ".mesh"])
@pytest.mark.parametrize("quadrilateral", [False, True])
def test_write_read_round_trip(tmp_path, suffix, quadrilateral):
    tm = rectangle(SELF, ((0, 0), (2, 1)), (4, 2), quadrilateral=quadrilateral)
    ref = mesh_report(tm)
    path = write_mesh(tm, tmp_path / f"m{suffix}")
    got = mesh_report(read_mesh(path, SELF))
    for key in ("cells", "vertices", "cell_type", "h_min", "h_max", "volume", "quality"):
        assert got[key] == pytest.approx(ref[key]), key
    assert _counts(got, "facets") == _counts(ref, "facets")
    if suffix in (".msh", ".xdmf", ".inp"):
        assert _names(got, "facets") == _names(ref, "facets")
    # each group on the same facets (.inp renumbers the tags: compare by name)
    by_name = suffix == ".inp"
    back = _facet_midpoints(read_mesh(path, SELF), by_name)
    want = _facet_midpoints(tm, by_name)
    assert back.keys() == want.keys()
    for key, points in want.items():
        np.testing.assert_allclose(back[key], points, atol=1e-12, err_msg=str(key))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(InputError, match="exists"):
        write_mesh(tm, path)


def test_write_xdmf_keeps_an_existing_h5(tmp_path):
    """An XDMF file's data goes to its .h5: write_mesh keeps one there unless overwrite."""
    tm = rectangle(SELF, ((0, 0), (1, 1)), (2, 2))
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"someone else's data")
    with pytest.raises(InputError, match=r"m\.h5' exists; pass overwrite"):
        write_mesh(tm, tmp_path / "m.xdmf")
    assert h5.read_bytes() == b"someone else's data" and not (tmp_path / "m.xdmf").exists()
    write_mesh(tm, tmp_path / "m.xdmf", overwrite=True)
    assert mesh_report(read_mesh(tmp_path / "m.xdmf", SELF))["cells"] == 4


def _write_vtu(path: Path, points, cells, cell_type: str = "triangle") -> Path:
    meshio.write_points_cells(str(path), np.asarray(points, float), [(cell_type, cells)])
    return path


FAN = [[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]]
FAN_CELLS = [[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_coordinates_rejected(tmp_path, bad):
    """A point of a cell at nan or inf: refused naming the point (mesh info reported
    h_min nan and wrote NaN into its JSON; convert wrote the file; with check=False too)."""
    points = [list(p) for p in FAN]
    points[4] = [0.5, bad]
    path = _write_vtu(tmp_path / "nan.vtu", points, FAN_CELLS)
    for check in (True, False):
        with pytest.raises(InputError, match=r"non-finite coordinates .* point 4 at \(0\.5, "):
            read_mesh(path, SELF, check=check)
    unused = [*FAN, [bad, 0.0]]  # a point of no cell is left alone (it is dropped)
    report = mesh_report(read_mesh(_write_vtu(tmp_path / "spare.vtu", unused, FAN_CELLS), SELF))
    assert report["cells"] == 4


def test_consistent_fan_accepted_reversed_node_order_rejected(tmp_path):
    report = mesh_report(read_mesh(_write_vtu(tmp_path / "fan.vtu", FAN, FAN_CELLS), SELF))
    assert report["cells"] == 4 and report["volume"] == pytest.approx(1.0)
    cells = [list(c) for c in FAN_CELLS]
    cells[1] = cells[1][::-1]  # clockwise among counter-clockwise cells
    path = _write_vtu(tmp_path / "reversed.vtu", FAN, cells)
    with pytest.raises(InputError, match=r"inverted cells \(node order reversed .* input cell 1"):
        read_mesh(path, SELF)
    assert mesh_report(read_mesh(path, SELF, check=False))["cells"] == 4


def test_meshes_dolfinx_made_read_back(tmp_path):
    """create_rectangle mixes orientations; write_mesh orients every cell the same way."""
    tm = rectangle(SELF, ((0, 0), (1, 1)), (3, 3), quadrilateral=False)
    msh = tm.mesh
    x = msh.geometry.x[msh.geometry.dofmaps[0]][:, :, :2]
    det = np.linalg.det(np.stack([x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]], axis=1))
    assert (det > 0).any() and (det < 0).any()
    check_mesh(tm)  # mixed orientation is no error on a DOLFINx mesh
    for suffix in (".vtu", ".msh"):
        back = read_mesh(write_mesh(tm, tmp_path / f"m{suffix}"), SELF)
        assert mesh_report(back)["cells"] == 18


def test_inverted_cell_rejected(tmp_path):
    pts = [list(p) for p in FAN]
    pts[4] = [0.5, -0.2]  # the centre node pushed past the bottom edge folds cell 0
    path = _write_vtu(tmp_path / "inverted.vtu", pts, FAN_CELLS)
    with pytest.raises(InputError, match=r"inverted cells .*input cell 0 with vertices"):
        read_mesh(path, SELF)
    bow = [[0, 0], [1, 0], [1, 1], [0, 1]]
    path = _write_vtu(tmp_path / "bowtie.vtu", bow, [[0, 1, 3, 2]], "quad")  # crossed quad
    with pytest.raises(InputError, match=r"inverted cells .*: 1 cell\(s\), e.g. input cell 0"):
        read_mesh(path, SELF)


def test_degenerate_cells_rejected(tmp_path):
    pts = [[0, 0], [1, 0], [0, 1], [0.5, 0.5]]
    path = _write_vtu(tmp_path / "flat.vtu", pts, [[0, 1, 2], [1, 3, 2]])
    with pytest.raises(InputError, match=r"degenerate cells .*1 cell\(s\), e.g. input cell 1"):
        read_mesh(path, SELF)
    path = _write_vtu(tmp_path / "repeat.vtu", pts, [[0, 1, 2], [1, 1, 2]])
    with pytest.raises(InputError, match="repeated vertex"):
        read_mesh(path, SELF)


def test_tags_of_the_wrong_length_rejected(tmp_path):
    """Two tag values per cell (a vector cell datum) is an InputError, not an IndexError."""
    path = tmp_path / "vector_tags.vtu"
    pts = np.array(FAN, float)
    cells = [("triangle", np.array(FAN_CELLS)), ("line", np.array([[0, 1], [1, 2]]))]
    tags = {"tags": [np.ones((4, 2)), np.ones((2, 2))]}
    meshio.write(str(path), meshio.Mesh(pts, cells, cell_data=tags))
    with pytest.raises(InputError, match=r"8 values of its cell data 'tags' for 4 triangle"):
        read_mesh(path, SELF)


def test_malformed_unknown_and_missing_files(tmp_path):
    bad = tmp_path / "bad.msh"
    bad.write_text("$MeshFormat\nnot a mesh\n")
    with pytest.raises(InputError, match="cannot read mesh file"):
        read_mesh(bad, SELF)
    with pytest.raises(InputError, match=r"unknown suffix '\.foo'; supported: \.msh, \.xdmf"):
        read_mesh(tmp_path / "m.foo", SELF)
    with pytest.raises(InputError, match="does not exist"):
        read_mesh(tmp_path / "none.vtu", SELF)
    garbage = tmp_path / "garbage.vtu"
    garbage.write_text("<VTKFile> nope")
    with pytest.raises(InputError, match="cannot read mesh file"):
        read_mesh(garbage, SELF)


def test_curved_and_mixed_meshio_cells_rejected(tmp_path):
    pts = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5]], float)
    path = tmp_path / "curved.vtu"
    curved = [("triangle6", [[0, 1, 2, 3, 4, 5]]), ("line", [[0, 1]])]
    meshio.write_points_cells(str(path), pts, curved)
    with pytest.raises(InputError, match=r"triangle6 .*use \.msh for curved cells"):
        read_mesh(path, SELF)
    path = tmp_path / "mixed.vtu"
    meshio.write_points_cells(str(path), pts, [("quad", [[0, 3, 4, 5]]), ("triangle", [[3, 1, 4]])])
    with pytest.raises(InputError, match="mixes cell types quad, triangle"):
        read_mesh(path, SELF)


def test_msh_cells_outside_physical_groups(tmp_path):
    import gmsh

    path = tmp_path / "untagged.msh"
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(1, [1], 1, name="bottom")
        gmsh.model.mesh.generate(2)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    with pytest.raises(InputError, match="no physical group of dimension 2"):
        read_mesh(path, SELF)


def test_missing_groups_name_expected_and_found():
    tm = read_mesh(MESHES / "lpanel.msh", SELF)
    with pytest.raises(InputError) as err:
        require_groups(tm, ["bottom", "top", "notch"], source="lpanel.msh")
    text = str(err.value)
    assert "lacks physical group(s) 'top', 'notch'" in text
    assert "expected 'bottom', 'top', 'notch'" in text
    assert "found: bottom, boundary, domain, load" in text
    bare = read_mesh(MESHES / "square_tagged.vtu", SELF)
    with pytest.raises(InputError, match="found: none"):
        bare.facets("bottom")


def test_dimension_mismatch(tmp_path):
    tilted = [[0, 0, 0], [1, 0, 0.5], [0, 1, 0]]
    path = _write_vtu(tmp_path / "tilted.vtu", tilted, [[0, 1, 2]])
    with pytest.raises(InputError, match=r"coordinates in 3D but gdim 2.*gdim mismatch"):
        read_mesh(path, SELF, gdim=2)
    assert read_mesh(path, SELF).mesh.geometry.dim == 3  # a surface in 3D is fine as such
    tets = tmp_path / "box.vtu"
    write_mesh(box(SELF, ((0, 0, 0), (1, 1, 1)), (1, 1, 1)), tets)
    with pytest.raises(InputError, match=r"gdim 2 was asked for \(gdim mismatch\)"):
        read_mesh(tets, SELF, gdim=2)
    tm = read_mesh(MESHES / "square_tagged.vtu", SELF)
    with pytest.raises(InputError, match=r"topological dimension 2 .* a 3D mesh is needed"):
        check_mesh(tm, tdim=3)
    with pytest.raises(InputError, match=r"geometric dimension 2 \(gdim mismatch\)"):
        check_mesh(tm, gdim=3)
    with pytest.raises(InputError, match="gdim mismatch"):
        read_mesh(MESHES / "lpanel.msh", SELF, gdim=1)


# -- the command line, as subprocesses ----------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "femgp.cli.mesh", "mesh", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_cli_info_build_convert(tmp_path):
    out = _cli("info", str(MESHES / "lpanel.msh"))
    assert out.returncode == 0, out.stderr
    assert "cells                   1742" in out.stdout and "load" in out.stdout
    out = _cli("info", "--json", str(MESHES / "square_tagged.inp"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cells"] == 32
    target = tmp_path / "pwh.msh"
    out = _cli("build", "plate_with_holes", "--output", str(target), "--h", "6")
    assert out.returncode == 0, out.stderr
    before = target.read_bytes()
    again = _cli("build", "plate_with_holes", "--output", str(target), "--h", "4")
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    assert "exists; pass --overwrite" in again.stderr and target.read_bytes() == before
    out = _cli("convert", str(target), str(tmp_path / "pwh.xdmf"))
    assert out.returncode == 0, out.stderr
    info = json.loads(_cli("info", "--json", str(tmp_path / "pwh.xdmf")).stdout)
    assert set(info["groups"]) == set(GEOMETRIES["plate_with_holes"].groups)


@pytest.mark.parametrize(
    "args, message",
    [
        (["info", "nowhere.msh"], "does not exist"),
        (["info", "mesh.foo"], "unknown suffix '.foo'"),
        (["build", "donut", "--output", "x.msh"], "unknown geometry 'donut'; choose from bar"),
        (["build", "bar", "--output", "x.msh", "--h", "-1"], "expected a finite number > 0"),
        (["build", "bar", "--output", "x.stl"], "cannot write mesh file 'x.stl'"),
        (["convert", "meshes/lpanel.msh", "meshes/lpanel.msh"], "exists; pass --overwrite"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_cli_bad_input_one_line_exit_2(args, message):
    out = _cli(*args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr


def test_cli_names_a_folder_where_a_file_belongs(tmp_path):
    """A folder named like a mesh file was "does not exist" (info) or failed after the
    old .h5 beside it had been replaced (build --overwrite), with a temporary name."""
    for name in ("dir.msh", "w.xdmf"):
        (tmp_path / name).mkdir()
    (tmp_path / "w.h5").write_text("old")
    cases = [
        (["info", str(tmp_path / "dir.msh")], "is a folder, not a file"),
        (["build", "bar", "-o", str(tmp_path / "dir.msh")], "is a folder"),  # not "exists"
        (["build", "bar", "-o", str(tmp_path / "dir.msh"), "--overwrite"], "is a folder"),
        (["build", "bar", "-o", str(tmp_path / "w.xdmf"), "--overwrite"], "is a folder"),
        (["build", "bar", "-o", str(tmp_path / "w.h5" / "a.msh")], "w.h5') is a file"),
    ]
    for args, message in cases:
        out = _cli(*args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and message in lines[0], out.stderr
    assert (tmp_path / "w.h5").read_text() == "old"


def test_cli_malformed_msh_exit_2(tmp_path):
    bad = tmp_path / "bad.msh"
    bad.write_text("$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\ngarbage\n")
    out = _cli("info", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot read mesh file" in lines[0], out.stderr


def test_cli_convert_to_xdmf_keeps_an_existing_h5(tmp_path):
    """The XDMF file's data goes to its .h5: an existing one is results too."""
    h5 = tmp_path / "m.h5"
    h5.write_bytes(b"someone else's data")
    out = _cli("convert", str(MESHES / "lpanel.msh"), str(tmp_path / "m.xdmf"))
    assert out.returncode == 2 and "m.h5' exists; pass --overwrite" in out.stderr, out.stderr
    assert h5.read_bytes() == b"someone else's data" and not (tmp_path / "m.xdmf").exists()


def test_cli_build_and_convert_under_mpirun_write_once(tmp_path, mpirun):
    """Serial commands under ``mpirun -n 2``: rank 0 writes, one line; its refusal is
    every rank's (exit 2), once."""

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [mpirun, "-n", "2", sys.executable, "-m", "femgp.cli.mesh", "mesh", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)

    target = tmp_path / "lp.xdmf"
    out = run("convert", str(MESHES / "lpanel.msh"), str(target))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("wrote") == 1 and target.exists()
    again = run("convert", str(MESHES / "lpanel.msh"), str(target))
    assert again.returncode == 2, again.stderr
    assert again.stderr.count("exists; pass --overwrite") == 1, again.stderr
