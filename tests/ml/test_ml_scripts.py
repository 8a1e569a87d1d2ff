"""The torch demos' output files: atomic, and readable as ordinary files are."""

from __future__ import annotations

import os
import stat

import pytest

pytest.importorskip("torch")

from femgp.ml.scripts import save_figure, write_json

pytestmark = pytest.mark.torch


def test_outputs_have_the_mode_of_an_ordinary_file(tmp_path):
    """With umask 022 the group and others may read them (mkstemp alone made them 0600)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    old = os.umask(0o022)
    try:
        data = write_json(tmp_path / "summary.json", {"a": 1})
        fig = save_figure(plt.figure(), tmp_path / "plot.png")
    finally:
        os.umask(old)
    for path in (data, fig):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png", "summary.json"]
