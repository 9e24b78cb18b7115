"""Safety: names that say who made a drill database, the stale-drill sweep, signal handling.

A drill database is named ``backout_drill_<host>_<pid>_<started>_<random>``: the host tag and
PID tell the next run whether its maker is still alive (the sweep drops it only when the PID
is dead on this host, or when another host's drill is more than a day old), and the start time
keeps the sweep away from anything newer than the current run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

PREFIX = "backout_drill_"
_NAME = re.compile(r"^backout_drill_([0-9a-f]{6})_(\d+)_(\d+)_[0-9a-f]{4}$")
# Another host's drill could still be running; after a day it is certainly abandoned.
FOREIGN_STALE_AFTER = 24 * 3600


def host_tag() -> str:
    """Six hex digits that identify this machine in drill database names."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def drill_name(started: float | None = None) -> str:
    """A fresh database name for this process's drill."""
    when = int(started if started is not None else time.time())
    return f"{PREFIX}{host_tag()}_{os.getpid()}_{when}_{secrets.token_hex(2)}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class DrillName:
    """What a drill database's name says about who made it and when."""

    host: str
    pid: int
    started: int


def parse_drill_name(name: str) -> DrillName | None:
    """The parts of a drill database name, or ``None`` for any other name."""
    match = _NAME.match(name)
    if match is None:
        return None
    return DrillName(match.group(1), int(match.group(2)), int(match.group(3)))


def is_stale(name: str, run_started: float) -> bool:
    """Whether the database ``name`` is an abandoned drill that this run may drop."""
    parsed = parse_drill_name(name)
    if parsed is None or parsed.started > run_started:
        return False
    if parsed.host == host_tag():
        return parsed.pid != os.getpid() and not pid_alive(parsed.pid)
    return run_started - parsed.started > FOREIGN_STALE_AFTER


class DrillTerminated(BaseException):
    """Raised in the main thread on SIGTERM/SIGHUP so that cleanup runs as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signal.Signals(signum).name}")
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise DrillTerminated(signum)


@contextlib.contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception (SIGINT already is one) while inside."""
    handled = (signal.SIGTERM, signal.SIGHUP)
    try:
        previous = {signum: signal.signal(signum, _raise_terminated) for signum in handled}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM/SIGHUP while a cleanup runs, so a second Ctrl-C cannot stop it."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    try:
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in handled}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
