"""What the benchmarks share: the machine's description, the runs' environment, the backout
under test."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path


def machine() -> str:
    """Core count, CPU model and Python version, as docs/benchmarks.md states them."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def python_env(cache: Path) -> dict[str, str]:
    """The environment for the runs: Python's bytecode cache on, in ``cache``.

    An installed Python tool runs from cached bytecode; with ``PYTHONDONTWRITEBYTECODE`` set
    (as in some CI and container images, and the shells here) every run would compile the
    tool's sources again first, a cost that compiled tools do not have and users do not pay.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def backout_command() -> str:
    """The backout installed beside this interpreter (a venv not activated), else on PATH."""
    beside = Path(sys.executable).with_name("backout")
    return str(beside) if beside.is_file() else shutil.which("backout") or "backout"
