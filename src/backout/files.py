"""Writing a file whole: through a temporary file in its directory and a rename.

A reader (a CI step, a second run, an editor) sees the old file or the new one, never half of
one, and a failed write (a full disk, a directory where the file should be) leaves nothing
behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half written.
    An existing file keeps its permissions; a new one is ``0o644``.

    Raises :class:`OSError` (the temporary file removed) when the directory does not exist,
    cannot be written, or ``path`` is a directory.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)  # a baseline kept private stays private
    except FileNotFoundError:
        mode = 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
