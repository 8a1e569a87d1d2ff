"""Results files made final with the permissions of an ordinary file (``femgp.files``)."""

from __future__ import annotations

import os
import stat
import tempfile

import pytest

from femgp.files import replace_as_created, umask


@pytest.fixture
def mask(request):
    """Run the test under ``request.param`` as the umask, then put the old one back."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077], indirect=True)
def test_replaced_file_has_the_mode_open_gives(tmp_path, mask):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    fd, tmp = tempfile.mkstemp(dir=tmp_path)
    os.close(fd)
    assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o600  # mkstemp's, whatever the umask
    target = tmp_path / "result.json"
    replace_as_created(tmp, target)
    assert umask() == mask
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert not os.path.exists(tmp)
