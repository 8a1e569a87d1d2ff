"""ParaView helpers shipped with femgp.

:func:`script_path` is the path of ``render_damage.py``, a plain pvbatch script
(it runs in ParaView's own Python and imports nothing from femgp) that renders
a field of a results folder to PNG or prints, as JSON, its number of time steps
and the field's range::

    pvbatch $(python -c 'import femgp.paraview as p; print(p.script_path())') results/demo
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["script_path"]


def script_path(name: str = "render_damage.py") -> Path:
    """The path of the pvbatch script ``name`` shipped in this package."""
    path = Path(__file__).with_name(name)
    if path.suffix != ".py" or not path.is_file():
        from femgp.errors import InputError

        available = sorted(p.name for p in Path(__file__).parent.glob("*.py") if p.stem[0] != "_")
        raise InputError(f"no pvbatch script {name!r} in femgp.paraview; available: {available}")
    return path
