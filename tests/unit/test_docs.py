"""The repository is self-contained and ``docs/architecture.md`` stays true to the code.

- No tracked (or new, not ignored) text file points outside the repository: no
  relative path to the developers' shared folder and no absolute path of a
  development machine (the patterns are in ``OUTSIDE_POINTERS``).
- Imports point down only: every module under ``femgp/`` is parsed with ``ast``
  (nothing is imported, so no backend is needed) and checked against the layer
  rules that ``docs/architecture.md`` states.
- Every ``femgp.xxx`` name in ``docs/architecture.md`` and ``docs/benchmarks.md``
  exists (a module, or a name bound at the top level of one), and every
  repository path and ``file.py::test_name`` they cite exists.

Each check is a pure function of its input, and the controls at the end feed
each one a broken input to show that it fails.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "femgp"
DOCS = {name: ROOT / "docs" / name for name in ("architecture.md", "benchmarks.md")}

# Written in pieces so that this file does not match itself.
OUTSIDE_POINTERS = (".." + "/shared", "/" + "work/", "/" + "home/", "/" + "root/")

# ``package: forbidden imports``, anywhere in a module (module level or inside a
# function), except where the rule says "module level". A forbidden name also
# forbids its submodules (``dolfinx`` forbids ``dolfinx.fem``).
_BACKENDS = ("dolfinx", "ufl", "basix", "petsc4py", "mpi4py")
LAYER_RULES: dict[str, tuple[str, ...]] = {
    # the vocabulary: pure Python and numpy, below everything else
    "femgp.energy": (
        "femgp.fem",
        "femgp.models",
        "femgp.ml",
        "femgp.cli",
        *_BACKENDS,
        "torch",
    ),
    # the torch layer never needs DOLFINx, PETSc or MPI
    "femgp.ml": ("femgp.fem", "femgp.models", *_BACKENDS),
    # the DOLFINx layer knows no model, no command line and no torch
    "femgp.fem": ("femgp.models", "femgp.cli", "femgp.ml", "torch"),
    # models are driven by the command line, never the other way round
    "femgp.models": ("femgp.cli", "femgp.ml", "torch"),
}
#: ``import femgp`` needs neither DOLFINx nor torch (module-level imports of the package).
TOP_LEVEL_FORBIDDEN = ("femgp.fem", "femgp.models", "femgp.ml", *_BACKENDS, "torch")


# -- (a) nothing points outside the repository ----------------------------------------
def repository_files(root: Path = ROOT) -> list[Path]:
    """Tracked files plus new files that git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return [root / name for name in sorted(set(out.decode().split("\0"))) if name]


def outside_pointers(files: Iterable[Path], root: Path = ROOT) -> list[str]:
    """``path:line: pointer`` for every text line that points outside the repository."""
    hits = []
    for path in files:
        if not path.is_file():  # deleted in the work tree, not yet in the index
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary (images, meshes in binary formats)
            continue
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            for pointer in OUTSIDE_POINTERS:
                if pointer in line:
                    hits.append(f"{path.relative_to(root)}:{n}: {pointer}")
    return hits


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout (no file list)")
def test_nothing_points_outside_the_repository():
    files = repository_files()
    assert len(files) > 50 and ROOT / "README.md" in files
    hits = outside_pointers(files)
    assert not hits, "pointers outside the repository:\n" + "\n".join(hits)


# -- (b) imports point down only ----------------------------------------------------
def module_name(path: Path, package: Path = PACKAGE) -> str:
    """The dotted module name of a file under ``package``."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, *, is_package: bool) -> Iterator[tuple[str, bool]]:
    """``(imported module, at module level)`` for every import in ``source``.

    ``from a import b`` yields ``a`` and ``a.b`` (``b`` may be a submodule);
    relative imports are resolved against ``module``.
    """
    tree = ast.parse(source)
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            yield base, id(node) in top
            for alias in node.names:
                yield f"{base}.{alias.name}", id(node) in top


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_violations(
    sources: Mapping[str, tuple[str, bool]],
    rules: Mapping[str, tuple[str, ...]] = LAYER_RULES,
    top_level_forbidden: tuple[str, ...] = TOP_LEVEL_FORBIDDEN,
) -> list[str]:
    """Broken layer rules in ``{module: (source, is_package)}``."""
    bad = []
    for module, (source, is_package) in sorted(sources.items()):
        for layer, forbidden in rules.items():
            if not _under(module, layer):
                continue
            for name, _ in imports(source, module, is_package=is_package):
                for f in forbidden:
                    if _under(name, f):
                        bad.append(f"{module} imports {name} (the {layer} layer must not use {f})")
        if module == "femgp":
            for name, at_top in imports(source, module, is_package=True):
                if at_top and any(_under(name, f) for f in top_level_forbidden):
                    bad.append(f"femgp imports {name} at module level (import femgp stays light)")
    return sorted(set(bad))


def package_sources(package: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    """``{module: (source, is_package)}`` for every module under ``package``."""
    return {
        module_name(p, package): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(package.rglob("*.py"))
    }


def test_imports_point_down_only():
    sources = package_sources()
    for layer in LAYER_RULES:  # the rules are about layers that exist
        assert any(_under(m, layer) for m in sources), layer
    assert len(sources) > 40
    violations = layer_violations(sources)
    assert not violations, "\n".join(violations)


# -- (c) the pages name what exists ---------------------------------------------------
DOTTED = re.compile(r"\bfemgp(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
REPO_PATH = re.compile(
    r"\b((?:femgp|tests|demos|benchmarks|meshes|configs|containers|docs)/[A-Za-z0-9_./-]*[A-Za-z0-9_])"
    r"(?:::([A-Za-z_][A-Za-z0-9_]*))?"
)


def top_level_names(path: Path) -> set[str]:
    """Names bound at the top level of a module (defs, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _module_file(parts: list[str], root: Path) -> Path | None:
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def missing_names(text: str, root: Path = ROOT) -> list[str]:
    """``femgp.xxx`` names and repository paths in ``text`` that do not exist under ``root``.

    A dotted name is valid if its longest prefix is a module and the next name,
    if any, is bound at the top level of that module (``femgp.fem.forms.energy_form``). A path must
    exist; ``file.py::name`` must name a top-level function or class of the file.
    """
    missing = []
    for name in sorted(set(DOTTED.findall(text))):
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            found = _module_file(parts[:k], root)
            if found is not None:
                break
        rest = parts[k:]
        if found is None or (rest and rest[0] not in top_level_names(found)):
            missing.append(name)
    for path, attr in sorted(set(REPO_PATH.findall(text))):
        target = root / path.rstrip(".")
        if not target.exists():
            missing.append(path)
        elif attr and (target.suffix != ".py" or attr not in top_level_names(target)):
            missing.append(f"{path}::{attr}")
    return missing


@pytest.mark.parametrize("page", sorted(DOCS))
def test_pages_name_what_exists(page):
    text = DOCS[page].read_text(encoding="utf-8")
    assert DOTTED.search(text) and REPO_PATH.search(text)
    missing = missing_names(text)
    assert not missing, f"docs/{page} names what does not exist: {missing}"


def test_readme_links_the_pages():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in DOCS:
        assert f"(docs/{page})" in readme, page


# -- controls: each check fails on a broken input -----------------------------------------
def test_controls_outside_pointers(tmp_path):
    bad = tmp_path / "notes.md"
    good = tmp_path / "image.png"
    pointer = "/" + "home/someone/femgp"
    bad.write_text(f"see {'..' + '/shared'}/DESIGN.md\nand {pointer}\n", encoding="utf-8")
    good.write_bytes(b"\x89PNG\0" + pointer.encode())  # binary files are skipped
    hits = outside_pointers([bad, good], root=tmp_path)
    assert hits == [f"notes.md:1: {'..' + '/shared'}", "notes.md:2: " + "/" + "home/"]


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("femgp.energy.terms", "import torch\n", "femgp.energy"),
        ("femgp.energy.terms", "def f():\n    from dolfinx import fem\n", "femgp.energy"),
        ("femgp.energy.terms", "from femgp import fem\n", "femgp.energy"),
        ("femgp.ml.ops", "import petsc4py.PETSc\n", "femgp.ml"),
        ("femgp.ml.ops", "from femgp.models.fracture import run\n", "femgp.ml"),
        ("femgp.fem.forms", "from femgp.models import cahn_hilliard\n", "femgp.fem"),
        ("femgp.fem.meshes.core", "from ...cli import main\n", "femgp.fem"),
        ("femgp.models.fracture.run", "from femgp.cli import main\n", "femgp.models"),
        ("femgp", "import dolfinx\n", "import femgp"),
    ],
)
def test_controls_layer_rules(module, source, rule):
    is_package = module == "femgp"
    bad = layer_violations({module: (source, is_package)})
    assert bad and all(rule in b for b in bad), bad
    # the same import one layer up is allowed
    assert not layer_violations({"femgp.cli": (source, False)})


def test_controls_missing_names():
    text = (
        "`femgp.fem.problems.NonlinearProblem`, `femgp.fem.no_such_module`, "
        "`femgp.energy.terms.NoSuchTerm`, `tests/unit/test_docs.py::test_no_such_test`, "
        "`demos/no_such_demo.py`, `tests/unit/test_docs.py::test_controls_missing_names`"
    )
    assert missing_names(text) == [
        "femgp.energy.terms.NoSuchTerm",
        "femgp.fem.no_such_module",
        "demos/no_such_demo.py",
        "tests/unit/test_docs.py::test_no_such_test",
    ]
