"""TOML case files for ``femgp run``: schemas per model and case, and validation.

A case file names the model and the case and holds tables::

    model = "fracture"        # optional; must match ``femgp run <model>``
    case = "sent"             # the set-up within the model
    [mesh]   ...              # a mesh file or the built-in generator's parameters
    [params] ...              # the model's Params fields (derived from the dataclass)
    [loading] / [time] ...    # the load path or the time span
    [refinement] ...          # fracture: adaptive refinement (adapt, h_min, threshold, ...)
    [output] ...              # folder, overwrite, checkpoint_every, restart, vtx
    [solver] ...              # PETSc options, e.g. femgp_ch_snes_rtol = 1e-8

The ``[params]`` keys and their types come from the model's frozen ``Params``
dataclass (:func:`dataclasses.fields` and the type hints), so a new scalar
field is accepted without touching this module; the twinning ``[material]``
keys come from the signature of the ``Params`` set-up class method of the case.
A ``[mesh] file`` is relative to the case file; ``[output] folder`` to the
current directory (as a demo's ``--output``). Validation names the file, the
table and the key: an unknown key (with a
close match and the allowed ones), a value of the wrong type, malformed TOML
(with its line), a missing file. Value checks (positivity, choices) stay in
the ``Params`` classes; their messages get the file name as a prefix.

Every ``[mesh]`` table takes ``max_cells``: a generated mesh estimated above
it is refused before meshing (``femgp run --max-cells`` overrides it).

This module imports neither DOLFINx nor PETSc.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from femgp.cli.args import check_option_prefix
from femgp.errors import InputError

__all__ = [
    "CASES",
    "MODELS",
    "REFINEMENT",
    "TWINNING_SETUPS",
    "Config",
    "Key",
    "load_config",
    "parse_override",
    "schema",
]

#: The cases of each model (the first is the default where ``case`` may be left out).
CASES: dict[str, tuple[str, ...]] = {
    "cahn_hilliard": ("spinodal",),
    "fracture": ("sent", "sens", "bar", "surfing", "sent3d", "lpanel"),
    "twinning": ("laminate", "domain_wall", "cubic_tetragonal", "periodic"),
}
#: Models ``femgp run`` knows.
MODELS: tuple[str, ...] = tuple(CASES)

_TYPE_NAMES = {
    "float": "a number",
    "int": "an integer",
    "bool": "a boolean (true or false)",
    "str": "a string",
    "floats": "an array of finite numbers",
    "ranges": "an array of [start, stop, step] arrays of numbers",
    "options": "a table of PETSc options",
}


@dataclass(frozen=True)
class Key:
    """One key of a table: its type (see ``_TYPE_NAMES``), default and allowed values.

    ``default=None`` leaves the key out of the validated table when it is not
    given (the model's own default applies). ``minimum`` and ``maximum`` bound
    the value of an int or float key, or every value of a floats key (inclusive).
    ``excludes`` names the keys of the same table that this one replaces: a
    table that gives it and any of them is refused. A ``path`` key is a file
    relative to the case file; given by ``--set``, relative to the current
    directory (made absolute there).
    """

    type: str
    default: Any = None
    doc: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    excludes: tuple[str, ...] = ()
    path: bool = False

    def bounds(self) -> str:
        """The allowed range as words: ``">= 1"``, ``"in [1, 4096]"`` or ``""``."""
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"in [{lo:g}, {hi:g}]"
        if lo is not None:
            return f">= {lo:g}"
        return f"<= {hi:g}" if hi is not None else ""

    def within(self, value: float) -> bool:
        """Whether ``value`` lies within ``minimum`` and ``maximum``."""
        lo, hi = self.minimum, self.maximum
        return (lo is None or value >= lo) and (hi is None or value <= hi)


#: A schema: table name -> key name -> Key; the table ``""`` holds the top-level keys.
Schema = dict[str, dict[str, Key]]


@dataclass(frozen=True)
class Config:
    """A validated case file.

    Attributes:
        path: the file.
        model, case: the model and the case within it.
        tables: table name -> key -> value (validated; defaults filled where the
            schema has one; every table of the schema is present, maybe empty).
    """

    path: Path
    model: str
    case: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()

    def __getitem__(self, table: str) -> dict[str, Any]:
        return self.tables[table]

    def where(self, table: str = "") -> str:
        """``"case.toml: [table]"``, the prefix of a message about ``table``.

        With ``--set`` overrides they are named too (``"case.toml with --set
        loading.u_max=2e-3: [loading]"``): the value at fault may be one of them.
        """
        source = _label(str(self.path), self.overrides)
        return f"{source}: [{table}]" if table else f"{source}:"

    def to_toml(self) -> str:
        """The validated case (defaults filled) as TOML text that :func:`load_config` reads."""
        top = dict(self.tables.get("", {}))
        lines = [f"model = {_toml_value(self.model)}"]
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in top.items() if k != "model"]
        for name, table in self.tables.items():
            if not name:
                continue
            lines += ["", f"[{name}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
        return "\n".join(lines) + "\n"

    def build(self, table: str, factory: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call ``factory(*args, **kwargs)``; an InputError gets the file and ``table``."""
        try:
            return factory(*args, **kwargs)
        except InputError as exc:
            raise InputError(f"{self.where(table)} {exc}") from None


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string: JSON's escapes, but no ``\\uD83D``-style surrogate
    pairs (TOML refuses them: a title with an emoji made a config.toml that did not load)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_string(name)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise InputError(f"cannot write {v!r} as a TOML value")


# -- deriving keys from dataclasses and signatures ------------------------------------------


def _type_name(hint: Any) -> str | None:
    """The schema type of a type hint, or None for hints a TOML scalar cannot hold."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _type_name(args[0]) if len(args) == 1 else None
    return {float: "float", int: "int", bool: "bool", str: "str"}.get(hint)


def keys_from_dataclass(cls: type, *, exclude: tuple[str, ...] = ()) -> dict[str, Key]:
    """Keys for the scalar fields (float, int, bool, str) of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Key] = {}
    for f in dataclasses.fields(cls):
        kind = _type_name(hints.get(f.name))
        if kind is not None and f.name not in exclude:
            out[f.name] = Key(kind, doc=f"{cls.__name__}.{f.name}")
    return out


def keys_from_signature(fn: Callable[..., Any], *, exclude: tuple[str, ...] = ()) -> dict[str, Key]:
    """Keys for the scalar keyword parameters of ``fn`` (``**kw`` and ``exclude`` left out)."""
    hints = typing.get_type_hints(fn)
    out: dict[str, Key] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or name in exclude or name == "cls":
            continue
        kind = _type_name(hints.get(name))
        if kind is not None:
            out[name] = Key(kind, doc=f"{fn.__qualname__}({name})")
    return out


# -- schemas -------------------------------------------------------------------------------


def _common(model: str) -> Schema:
    return {
        "": {
            "model": Key("str", doc="the model (optional; must match the command line)"),
            "case": Key("str", default=CASES[model][0], choices=CASES[model]),
            "title": Key("str", doc="a title for plots"),
        },
        "output": {
            "folder": Key("str", doc="results folder (--output overrides it)"),
            "overwrite": Key("bool", default=False),
            "checkpoint_every": Key("int", doc="write a checkpoint every N steps"),
            "restart": Key("bool", default=False, doc="continue from the folder's checkpoint"),
            "vtx": Key("bool", default=False, doc="also write the fields as ADIOS2 VTX (.bp)"),
            "quiet": Key("bool", default=False, doc="no progress bar"),
            "plots": Key("bool", default=True, doc="write the PNG plots"),
        },
        "solver": {},  # free-form: PETSc options (checked in _check_options)
    }


#: The ``[mesh] max_cells`` key of every case: a positive integer.
MAX_CELLS = Key("int", doc="refuse a generated mesh estimated above this many cells", minimum=1)

#: The ``[time] field_times`` key: finite times >= 0 (those at or past ``t_end`` are left out).
FIELD_TIMES = Key(
    "floats", doc="times at which fields are written (besides 0 and t_end)", minimum=0
)

#: The ``[refinement]`` table of the fracture cases: the fields of
#: :class:`femgp.fem.adapt.Refinement` (which validates the values; this module
#: may not import it, a test keeps the two equal).
REFINEMENT: dict[str, Key] = {
    "adapt": Key("bool", default=False, doc="refine adaptively where a crack is or is coming"),
    "h_min": Key("float", doc="cell size to reach (default ell / 4)"),
    "threshold": Key("float", doc="damage that marks a cell (default 0.01 for AT1, 0.25 for AT2)"),
    "driving_ratio": Key(
        "float", doc="refine where psi_+ reaches this fraction of psi_c (default 0.9; 0: off)"
    ),
    "zone": Key("float", doc="refine within this distance of marked cells (default ell/2)"),
    "lookahead": Key("float", doc="when refining, refine this much farther (default 2 ell)"),
    "max_cells": Key("int", doc="cap on the cell count (a warning names it when reached)"),
    "max_passes": Key("int", doc="refinement passes per step"),
}


def _fracture(case: str) -> Schema:
    from femgp.models.fracture.params import Params

    s = _common("fracture")
    s["params"] = keys_from_dataclass(Params)
    s["refinement"] = dict(REFINEMENT)

    def loads(*path: str) -> Key:  # explicit steps, which the generated path's keys cannot join
        return Key("floats", doc="explicit load steps (replace the generated path)", excludes=path)

    # the generated SENT path (setups.sent_loads), 2D and 3D
    sent_path = {name: Key("float") for name in ("u_max", "du", "u_fine", "du_fine")}
    if case in ("sent", "sens"):
        s["mesh"] = {
            "file": Key(
                "str", doc="a .msh file with the facet groups the loading needs", path=True
            ),
            "gdim": Key("int", doc="geometric dimension (default: inferred)"),
            "h_band": Key("float", doc="mesh size along the crack path (default ell / 4)"),
            "h_far": Key("float", doc="mesh size away from the crack path"),
            "max_cells": MAX_CELLS,
        }
        if case == "sent":
            s["loading"] = {**sent_path, "loads": loads(*sent_path)}
        else:
            s["loading"] = {"ranges": Key("ranges"), "loads": loads("ranges")}
    elif case == "sent3d":
        s["mesh"] = {
            "h_band": Key("float", doc="mesh size ahead of the notch (default ell / 4)"),
            "thickness": Key("float", doc="slab thickness (mm)"),
            "max_cells": MAX_CELLS,
        }
        s["loading"] = {**sent_path, "loads": loads(*sent_path)}
    elif case == "lpanel":
        s["mesh"] = {
            "file": Key("str", doc="a .msh file with facet groups 'bottom' and 'load'", path=True),
            "gdim": Key("int", doc="geometric dimension (default: inferred)"),
            "h": Key("float", doc="mesh size in the band left of the corner (default ell / 2)"),
            "h_far": Key("float", doc="mesh size elsewhere (default 5 h, at most 25 mm)"),
            "max_cells": MAX_CELLS,
        }
        s["loading"] = {
            "u_max": Key("float", doc="final load-point displacement (mm)"),
            "du": Key("float", doc="load step (mm)"),
            "loads": loads("u_max", "du"),
        }
    elif case == "bar":
        s["mesh"] = {k: Key("float") for k in ("length", "height", "h")} | {"max_cells": MAX_CELLS}
        s["loading"] = {
            "load_max": Key("float"),
            "steps": Key("int"),
            "clamp_damage": Key("bool"),
            "loads": loads("load_max", "steps"),
        }
    else:  # surfing
        sizes = ("length", "height", "h_band")
        s["mesh"] = {k: Key("float") for k in sizes} | {"max_cells": MAX_CELLS}
        s["loading"] = {
            "crack0": Key("float"),
            "advance": Key("float"),
            "steps": Key("int"),
            "load_factor": Key("float"),
        }
        s["analysis"] = {
            "g_theta": Key("bool", default=True, doc="record the tip and G-theta each step"),
            "r1": Key("float", default=2.5, doc="inner radius of theta, in units of ell"),
            "r2": Key("float", default=4.5, doc="outer radius of theta, in units of ell"),
        }
    return s


def _cahn_hilliard(case: str) -> Schema:
    from femgp.models.cahn_hilliard import Params

    s = _common("cahn_hilliard")
    s["params"] = keys_from_dataclass(Params)
    s["mesh"] = {
        "file": Key("str", doc="a .msh file (physical groups 'domain' and 'boundary')", path=True),
        "domain": Key("str", default="square", choices=("square", "tshape", "cube")),
        # Defaults in femgp.cli.cases.CH_MESH_SIZES, for the domain that uses each
        # (config.toml then records only what was given); cell is for the cube only.
        "n": Key("int", doc="cells per side of the square or edge of the cube (default 100)"),
        "size": Key("float", doc="side of the square or the cube (default 200)"),
        "cell": Key(
            "str",
            choices=("hexahedron", "tetrahedron"),
            doc="cells of the cube (default hexahedron)",
        ),
        "h": Key("float", doc="mesh size of the T-shape (default 2)"),
        "max_cells": MAX_CELLS,
    }
    s["time"] = {
        "t_end": Key("float", default=50.0),
        "field_times": dataclasses.replace(FIELD_TIMES, default=[1e3, 1e4, 1e5, 1e6]),
        "max_steps": Key("int"),
    }
    s["initial"] = {"c0": Key("float", default=0.5), "epsilon": Key("float", default=0.01)}
    return s


#: Twinning case name -> the name of its ``Params`` class method.
TWINNING_SETUPS: dict[str, str] = {
    "laminate": "square_to_rectangle",
    "domain_wall": "domain_wall",
    "cubic_tetragonal": "cubic_to_tetragonal",
    "periodic": "square_to_rectangle",
}


def _twinning(case: str) -> Schema:
    from femgp.models.twinning.analysis import MAX_MODES
    from femgp.models.twinning.params import Params

    s = _common("twinning")
    del s[""]["title"]  # the twinning plots have their own titles: a title would be ignored
    s["params"] = keys_from_dataclass(Params)
    s["material"] = keys_from_signature(getattr(Params, TWINNING_SETUPS[case]), exclude=("kappa",))
    mesh: dict[str, Key] = {
        "file": Key("str", doc="a .msh file", path=True),
        "gdim": Key("int"),
        "max_cells": MAX_CELLS,
    }
    if case == "domain_wall":
        mesh["cells_per_delta"] = Key("int", default=4)
        mesh["half_length"] = Key("float", default=12.0, doc="in wall widths delta")
        mesh["height"] = Key("float", default=2.0, doc="in wall widths delta")
        initial = {"width": Key("float", default=2.0, doc="eta = tanh(x / (width * delta))")}
        time = {"t_end": Key("float", default=1e6), "steady_rate": Key("float", default=1e-9)}
    else:
        cube = case == "cubic_tetragonal"
        mesh["cells"] = Key("int", default=12 if cube else 48, doc="cells per side")
        mesh["length"] = Key("float", doc="side length (default: cells)")
        initial = {
            "seed": Key("int", default=7 if cube else 1),
            "amplitude": Key("float", default=0.3 if cube else 0.05),
            "wavelength": Key("floats", default=[3.0, 12.0] if cube else [4.0, 16.0]),
            "modes": Key(
                "int", doc="plane waves of the noise (default 48)", minimum=1, maximum=MAX_MODES
            ),
        }
        time = {
            "t_end": Key("float", default=60.0 if cube else 100.0),
            "steady_rate": Key("float"),
        }
    time["field_times"] = dataclasses.replace(FIELD_TIMES, default=[])
    time["max_steps"] = Key("int")
    s["mesh"], s["initial"], s["time"] = mesh, initial, time
    if case == "periodic":
        s["cell"] = {
            "mean_strain": Key(
                "floats",
                default=[0.0, 0.0, 0.0, 0.0],
                doc="the prescribed mean strain, row by row (xx, xy, yx, yy)",
            )
        }
    return s


_SCHEMAS: dict[str, Callable[[str], Schema]] = {
    "cahn_hilliard": _cahn_hilliard,
    "fracture": _fracture,
    "twinning": _twinning,
}


def _check_model(model: str) -> str:
    if model not in MODELS:
        near = difflib.get_close_matches(str(model), MODELS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise InputError(f"unknown model {model!r} ({hint}allowed: {', '.join(MODELS)})")
    return model


def schema(model: str, case: str | None = None) -> Schema:
    """The schema of ``model`` and ``case`` (default: the model's first case)."""
    _check_model(model)
    case = CASES[model][0] if case is None else case
    if case not in CASES[model]:
        raise InputError(f"unknown {model} case {case!r} (allowed: {', '.join(CASES[model])})")
    return _SCHEMAS[model](case)


# -- validation -----------------------------------------------------------------------------


def _unknown(where: str, what: str, name: str, allowed: list[str]) -> InputError:
    near = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    listed = ", ".join(allowed) if allowed else "none"
    return InputError(f"{where} unknown {what} {name!r} ({hint}allowed: {listed})")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _coerce(where: str, name: str, key: Key, value: Any) -> Any:
    """Check ``value`` against ``key``; return it (ints as floats for float keys)."""

    def bad() -> InputError:
        return InputError(f"{where} {name} must be {_TYPE_NAMES[key.type]}, got {value!r}")

    t = key.type
    if t == "float":
        if not _is_number(value):
            raise bad()
        value = float(value)
    elif t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
    elif t == "bool":
        if not isinstance(value, bool):
            raise bad()
    elif t == "str":
        if not isinstance(value, str):
            raise bad()
    elif t == "floats":
        if not isinstance(value, list) or not all(_is_number(v) for v in value):
            raise bad()
        value = [float(v) for v in value]
        if not all(math.isfinite(v) for v in value):
            raise bad()
    elif t == "ranges":
        ok = isinstance(value, list) and all(
            isinstance(r, list) and len(r) == 3 and all(_is_number(v) for v in r) for r in value
        )
        if not ok:
            raise bad()
        value = [[float(v) for v in r] for r in value]
    if key.choices is not None and value not in key.choices:
        raise InputError(
            f"{where} {name} must be one of {', '.join(map(repr, key.choices))}, got {value!r}"
        )
    if t == "float" and not math.isfinite(value):
        raise InputError(f"{where} {name} must be a finite number, got {value!r}")
    if t in ("int", "float", "floats") and key.bounds():
        values = value if t == "floats" else [value]
        if not all(key.within(v) for v in values):
            raise InputError(
                f"{where} {name} must be {_TYPE_NAMES[t]} {key.bounds()}, got {value!r}"
            )
    return value


def _check_options(where: str, table: Mapping[str, Any], model: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in table.items():
        if name.startswith("-") or not name:
            raise InputError(f"{where} PETSc option names go without the dash, got {name!r}")
        check_option_prefix(where, name, model)
        if isinstance(value, dict | list):
            raise InputError(
                f"{where} PETSc option {name} must be a string, number or boolean, got {value!r}"
            )
        out[name] = value
    return out


def _check_exclusive(where: str, keys: Mapping[str, Key], given: Mapping[str, Any]) -> None:
    """Refuse a table that gives a key beside one it replaces (``Key.excludes``)."""
    for name in given:
        clash = [k for k in keys[name].excludes if k in given]
        if clash:
            raise InputError(
                f"{where} {name} replaces {', '.join(keys[name].excludes)}; give either {name} "
                f"or those, not both (got {name} and {', '.join(clash)})"
            )


def _label(source: str, overrides: tuple[str, ...]) -> str:
    return f"{source} with --set {' '.join(overrides)}" if overrides else source


def validate(
    data: Mapping[str, Any],
    model: str,
    *,
    source: str = "config",
    overrides: tuple[str, ...] = (),
) -> Config:
    """Validate the parsed TOML ``data`` of ``model``; ``source`` names it in messages,
    with the ``--set`` ``overrides`` applied to it."""
    _check_model(model)
    label = _label(source, overrides)
    top = f"{label}:"
    given_model = data.get("model", model)
    if given_model != model:
        raise InputError(f"{top} model = {given_model!r} but the command runs {model!r}")
    case = data.get("case", CASES[model][0])
    if not isinstance(case, str):
        raise InputError(f"{top} case must be a string, got {case!r}")
    if case not in CASES[model]:
        raise _unknown(top, f"{model} case", case, list(CASES[model]))
    sch = schema(model, case)
    tables: dict[str, dict[str, Any]] = {name: {} for name in sch if name}
    scalars = sch[""]
    allowed_top = [*scalars, *(f"[{t}]" for t in sch if t)]
    for name, value in data.items():
        if name in scalars:
            if isinstance(value, dict):
                raise InputError(f"{top} {name} must be a value, not a table")
            tables.setdefault("", {})[name] = _coerce(top, name, scalars[name], value)
        elif name in sch:
            if not isinstance(value, dict):
                raise InputError(f"{top} [{name}] must be a table, got {name} = {value!r}")
            where = f"{label}: [{name}]"
            if name == "solver":
                tables[name] = _check_options(where, value, model)
                continue
            keys = sch[name]
            for k, v in value.items():
                if k not in keys:
                    raise _unknown(where, "key", k, list(keys))
                if isinstance(v, dict):
                    kind = _TYPE_NAMES[keys[k].type]
                    raise InputError(f"{where} {k} must be {kind}, got a table")
                tables[name][k] = _coerce(where, k, keys[k], v)
            _check_exclusive(where, keys, tables[name])
        else:
            what = "table" if isinstance(value, dict) else "key"
            shown = f"[{name}]" if isinstance(value, dict) else name
            err = _unknown(top, what, shown, allowed_top)
            raise err
    for tname, keys in sch.items():
        target = tables.setdefault(tname, {})
        for k, key in keys.items():
            if k not in target and key.default is not None:
                target[k] = list(key.default) if isinstance(key.default, list) else key.default
    tables[""]["case"] = case
    return Config(
        path=Path(source), model=model, case=case, tables=tables, overrides=tuple(overrides)
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``table.key=value`` (``value`` in TOML syntax; a bare word is a string)."""
    if "=" not in text:
        raise InputError(f"--set expects table.key=value, got {text!r}")
    path, raw = text.split("=", 1)
    names = [p.strip() for p in path.split(".")]
    if not all(names):
        raise InputError(f"--set expects table.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return names, value


def _apply_overrides(data: dict[str, Any], overrides: list[str], model: str) -> None:
    """Apply ``--set`` overrides to the parsed file ``data``.

    An override wins over the file's keys it cannot stand beside
    (:attr:`Key.excludes`): ``--set loading.loads=[...]`` drops the file's
    ``u_max`` and ``du``, ``--set loading.du=...`` its ``loads``. Two overrides
    that exclude each other are left for :func:`validate` to refuse.
    """
    given: set[tuple[str, ...]] = set()
    for text in overrides:
        names, value = parse_override(text)
        target = data
        for name in names[:-1]:
            target = target.setdefault(name, {})
            if not isinstance(target, dict):
                raise InputError(f"--set {text}: {name!r} is not a table")
        target[names[-1]] = value
        given.add(tuple(names))
    case = data.get("case", CASES[model][0])
    if not isinstance(case, str) or case not in CASES[model]:
        return  # validate names the case
    sch = schema(model, case)
    for names in given:
        if len(names) != 2 or not isinstance(data.get(names[0]), dict):
            continue
        table, name = names
        keys = sch.get(table, {})
        if name not in keys:
            continue
        if name not in data[table]:  # a later override replaced the whole table
            continue
        value = data[table][name]
        if keys[name].path and isinstance(value, str) and value:  # typed here: from the cwd
            data[table][name] = str(Path(value).absolute())
        for other in list(data[table]):
            clash = other in keys[name].excludes or (other in keys and name in keys[other].excludes)
            if clash and (table, other) not in given:
                del data[table][other]


def load_config(
    path: str | Path, model: str, *, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """Read and validate the TOML case file ``path`` for ``model``.

    ``overrides`` are ``table.key=value`` strings applied before validation
    (``femgp run ... --set time.t_end=10``).

    Raises:
        InputError: a missing or unreadable file, malformed TOML (with its line),
            an unknown model, table or key, a value of the wrong type.
    """
    _check_model(model)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config file {str(path)!r}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: malformed TOML: {exc}") from None
    _apply_overrides(data, list(overrides), model)
    return validate(data, model, source=str(path), overrides=tuple(overrides))
