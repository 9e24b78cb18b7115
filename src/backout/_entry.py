"""The console script: as few imports as possible before Ctrl-C is handled.

Importing the CLI takes a few hundred milliseconds; an interrupt during that time must end as
every other interrupt does (exit 130, one line), not with a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading


def run() -> None:
    """Import the CLI and run it, without the cycle collector.

    A run is short and builds its facts and findings to keep them until the report is out:
    the collector would traverse them again and again (on a tree of 8,000 migrations, some
    tens of milliseconds per collection) without finding garbage to free. Objects that die
    are still freed as their last reference goes; what cycles there are, the exit frees.
    """
    gc.disable()
    try:
        from backout.cli import run as cli_run
    except KeyboardInterrupt:
        sys.stderr.write("backout: interrupted\n")
        sys.exit(130)
    try:
        cli_run()
    except SystemExit as exc:
        # ``exc`` keeps the command's frames, and so its report's facts, alive until here.
        _exit(exc.code)
        raise


def _exit(code: object) -> None:
    """End the process now, as ``sys.exit(code)`` would, without the interpreter's teardown.

    The teardown frees every object still alive one by one (a large tree's facts and findings:
    tens of milliseconds) only for the process exit to free the memory anyway. The ``atexit``
    functions still run and the standard streams are flushed first. Returns (and the caller
    exits normally) while another thread is running, which the normal exit would wait for.
    """
    if threading.active_count() > 1:
        # The normal exit would still run a last collection over everything alive.
        gc.freeze()
        return
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        sys.stderr.write(f"{code}\n")
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (``backout check | head``) or a closed stream: nothing more can be
        # written, and the normal exit would not write it either.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status & 0xFF)
