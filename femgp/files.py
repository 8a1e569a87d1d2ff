"""Results files made final in one step, with the permissions of an ordinary file.

A file written through ``tempfile.mkstemp`` and renamed into place is never seen
half-written, but ``mkstemp`` creates it readable by its owner alone (mode
0600), whatever the user's umask: results shared on a cluster would be
unreadable to the group. :func:`replace_as_created` gives the temporary file
the mode ``open()`` would have given it (``0o666`` less the umask) before the
rename. Pure Python: used by the finite-element and the torch side alike.
"""

from __future__ import annotations

import os

__all__ = ["replace_as_created", "umask"]


def umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_as_created(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """``os.replace(tmp, path)``, ``tmp`` first given the mode ``open()`` would give a new file."""
    os.chmod(tmp, 0o666 & ~umask())
    os.replace(tmp, path)
