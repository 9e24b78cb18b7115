"""The console script: as few imports as possible before Ctrl-C is handled.

Importing the CLI takes a few hundred milliseconds; an interrupt during that time must end as
every other interrupt does (exit 130, one line), not with a traceback.
"""

from __future__ import annotations

import gc
import sys


def run() -> None:
    """Import the CLI and run it."""
    try:
        from backout.cli import run as cli_run
    except KeyboardInterrupt:
        sys.stderr.write("backout: interrupted\n")
        sys.exit(130)
    try:
        cli_run()
    finally:
        # The process ends here: the interpreter's last collection would walk every object
        # still alive (the report's findings on a large tree: tens of milliseconds) only to
        # free what the process exit frees anyway.
        gc.freeze()
