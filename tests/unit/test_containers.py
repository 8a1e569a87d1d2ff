"""The container files refer to things that exist and pin what pyproject.toml says.

``containers/Dockerfile``, ``containers/femgp.def`` (Apptainer) and
``containers/slurm_job.sh`` are not built or submitted by CI (no Docker daemon,
Apptainer or Slurm there); these checks catch the ways they rot: a COPY source
that moved, a version pin that disagrees with ``pyproject.toml`` or with the
other container file, a ``femgp run`` option or case file that no longer exists.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import femgp

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "containers"


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (CONTAINERS / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    return [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]


def _docker_args() -> dict[str, str]:
    args = {}
    for ln in _dockerfile_lines():
        m = re.fullmatch(r"ARG\s+(\w+)=(\S+)", ln)
        if m:
            args[m.group(1)] = m.group(2)
    return args


def _def_sections() -> dict[str, list[str]]:
    """The Apptainer definition's header (key ``header``) and %sections, as lines."""
    sections: dict[str, list[str]] = {"header": []}
    current = "header"
    for ln in (CONTAINERS / "femgp.def").read_text().splitlines():
        if ln.startswith("%"):
            current = ln[1:].split()[0]
            sections[current] = []
        elif ln.strip() and not ln.lstrip().startswith("#"):
            sections[current].append(ln.strip())
    return sections


def _def_arguments() -> dict[str, str]:
    return dict(ln.split("=", 1) for ln in _def_sections()["arguments"])


def _python_minor(pyproject: dict) -> str:
    spec = pyproject["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+\.\d+)", spec)
    assert m, f"requires-python {spec!r}: expected '>=X.Y'"
    return m.group(1)


def _wheel_requirement(pyproject: dict) -> Requirement:
    (req,) = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["wheels"]]
    assert req.name == "dolfinx-solver-real"
    return req


def test_dockerfile_copy_sources_exist() -> None:
    copies = [ln.split()[1:-1] for ln in _dockerfile_lines() if ln.startswith("COPY ")]
    assert len(copies) >= 4
    ignored = (CONTAINERS / "Dockerfile.dockerignore").read_text().split()
    for sources in copies:
        for src in sources:
            assert not src.startswith("--"), f"unexpected COPY flag {src}"
            assert (ROOT / src).exists(), f"Dockerfile COPY source {src!r} missing in the repo"
            assert src not in ignored, f"{src!r} is copied but excluded by the dockerignore"
    copied = {s for sources in copies for s in sources}
    assert {"pyproject.toml", "femgp", "demos", "configs"} <= copied


def test_apptainer_files_exist_and_match_dockerfile() -> None:
    files = _def_sections()["files"]
    sources = [ln.split()[0] for ln in files]
    for src in sources:
        assert (ROOT / src).exists(), f"femgp.def %files source {src!r} missing in the repo"
    docker_copied = {
        s for ln in _dockerfile_lines() if ln.startswith("COPY ") for s in ln.split()[1:-1]
    }
    assert set(sources) == docker_copied, "Dockerfile COPY and femgp.def %files differ"


def test_python_pins_agree(pyproject: dict) -> None:
    minor = _python_minor(pyproject)
    args = _docker_args()
    assert args["PYTHON_VERSION"] == minor
    assert args["BASE_IMAGE"] == "python:${PYTHON_VERSION}-slim-bookworm"
    header = dict(ln.split(":", 1) for ln in _def_sections()["header"])
    assert header["From"].strip() == f"python:{minor}-slim-bookworm"
    assert header["Bootstrap"].strip() == "docker"
    # The Makefile builds the venv (which CI tests) with the same Python.
    assert f"python{minor}" in (ROOT / "Makefile").read_text()


def test_femgp_and_dolfinx_pins_agree(pyproject: dict) -> None:
    version = pyproject["project"]["version"]
    assert femgp.__version__ == version
    req = _wheel_requirement(pyproject)
    lower = Version(re.search(r">=\s*([\w.]+)", str(req.specifier)).group(1))
    for args in (_docker_args(), _def_arguments()):
        assert args["FEMGP_VERSION"] == version
        pin = Version(args["DOLFINX_WHEEL_VERSION"])
        assert pin in req.specifier, f"{pin} does not satisfy {req}"
        assert pin.release[:2] == lower.release[:2], f"pin {pin} is not the {lower} series"
        extras = args["EXTRAS"].split(",")
        unknown = set(extras) - set(pyproject["project"]["optional-dependencies"])
        assert not unknown, f"container EXTRAS {unknown} not in pyproject extras"
    assert _docker_args()["EXTRAS"] == _def_arguments()["EXTRAS"]
    # The install lines use the pins (not a hard-coded copy of them).
    docker = "\n".join(_dockerfile_lines())
    assert "dolfinx-solver-real==${DOLFINX_WHEEL_VERSION}" in docker
    assert ".[wheels,${EXTRAS}]" in docker
    post = "\n".join(_def_sections()["post"])
    assert "dolfinx-solver-real=={{ DOLFINX_WHEEL_VERSION }}" in post
    assert ".[wheels,{{ EXTRAS }}]" in post


def _slurm_default(name: str) -> str:
    text = (CONTAINERS / "slurm_job.sh").read_text()
    m = re.search(rf"^{name}=\$\{{{name}:-(.*)\}}\s*(#.*)?$", text, re.M)
    assert m, f"no default for {name} in slurm_job.sh"
    return m.group(1).strip()


def test_slurm_job_calls_things_that_exist() -> None:
    script = CONTAINERS / "slurm_job.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert re.search(r"^#SBATCH --signal=B:TERM@\d+$", text, re.M)
    # The case file, relative to the repo (FEMGP_SRC is the repo inside the image).
    case = _slurm_default("CASE").replace("$FEMGP_SRC/", "")
    assert (ROOT / case).is_file(), f"slurm_job.sh case file {case!r} missing"
    assert _slurm_default("FEMGP_SRC") == "/opt/femgp"
    assert "WORKDIR /opt/femgp" in _dockerfile_lines()
    # The `femgp run` command line parses with femgp's own CLI.
    from femgp.cli.command import build_parser

    model = _slurm_default("MODEL")
    argv = [
        "run",
        model,
        "--config",
        str(ROOT / case),
        "--output",
        "out",
        "--quiet",
        "--checkpoint-every",
        _slurm_default("CHECKPOINT_EVERY"),
        "--restart",
    ]
    ns, extra = build_parser().parse_known_args(argv)
    assert not extra and ns.model == model and ns.restart and ns.checkpoint_every > 0
    run_line = re.search(r"^RUN=\((.*?)\)$", text, re.M | re.S).group(1)
    for flag in ("--config", "--output", "--checkpoint-every", "--quiet"):
        assert flag in shlex.split(run_line.replace("\n", " "))


def test_slurm_requeue_status_is_femgp_sigterm_exit() -> None:
    from femgp.fem.checkpoint import INTERRUPTED_EXIT

    text = (CONTAINERS / "slurm_job.sh").read_text()
    assert f'"$status" -eq {INTERRUPTED_EXIT}' in text


#: The PETSc options prefixes the docs name: (model default prefix, sub-problem suffix).
PREFIXES = {
    "femgp_fracture_u_": ("femgp_fracture_", "u_"),
    "femgp_fracture_alpha_": ("femgp_fracture_", "alpha_"),
    "femgp_fracture_coupled_": ("femgp_fracture_", "coupled_"),
    "femgp_ch_": ("femgp_ch_", ""),
    "femgp_twinning_": ("femgp_twinning_", ""),
    "femgp_twinning_u_": ("femgp_twinning_", "u_"),
    "femgp_twinning_eta_": ("femgp_twinning_", "eta_"),
}


def test_petsc_prefixes_exist_in_code() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "femgp" / "models").rglob("*.py"))
    for full, (base, sub) in PREFIXES.items():
        assert f'prefix: str = "{base}"' in code, f"no model defaults to prefix {base!r}"
        if sub:
            assert re.search(r"prefix\}" + sub + '"', code), f"no sub-problem prefix {full!r}"


def test_options_in_cluster_docs_use_real_prefixes() -> None:
    """Every ``-femgp_...`` option the cluster docs and job script show has a real prefix."""
    named = []
    for path in (CONTAINERS / "slurm_job.sh", ROOT / "docs" / "cluster.md"):
        named += re.findall(r"-(femgp_[a-z0-9_]+)", path.read_text())
    assert len(named) >= 5
    for option in named:
        assert any(option.startswith(p) for p in PREFIXES), f"-{option}: unknown prefix"


def test_pvbatch_script_is_package_data(pyproject: dict) -> None:
    data = pyproject["tool"]["setuptools"]["package-data"]
    assert "*.py" in data["femgp.paraview"]
    import femgp.paraview

    path = femgp.paraview.script_path()
    assert path.is_file()
    # pvbatch runs it in ParaView's Python, where femgp is not installed.
    assert not re.search(r"^\s*(import|from)\s+femgp", path.read_text(), re.M)
