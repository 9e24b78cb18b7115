"""The host snapshot: installed package versions and whether each could be reinstalled.

The JSON is written for diffing: keys sorted, packages sorted by name and architecture, one
field per line, so that two snapshots of the same host differ only where a package changed.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from backout.host import HostError
from backout.host.facts import PackageVersion
from backout.lines import line_number, line_start

FORMAT = 1
_VERSION_KEY = re.compile(r'"version":\s*(")')


def render(packages: list[PackageVersion], architecture: str, taken_at: datetime) -> str:
    """The snapshot JSON text of ``packages`` (installed versions) with a trailing newline."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "host": socket.gethostname(),
        "architecture": architecture,
        "taken_at": taken_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "packages": [
            {
                "name": p.package.split(":", 1)[0],
                "architecture": p.architecture,
                "version": p.version,
                "sources": sorted(p.sources),
                "archives": sorted(p.archives),
                "reinstallable": p.reinstallable,
            }
            for p in sorted(packages, key=lambda p: (p.package, p.architecture))
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class RecordedVersion:
    """A package version an older snapshot recorded, with the position of its version."""

    name: str
    architecture: str
    version: str
    line: int
    column: int


def read(path: Path) -> list[RecordedVersion]:
    """The package versions a snapshot file recorded; :class:`HostError` when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise HostError(f"cannot read snapshot {path}: {reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HostError(
            f"snapshot {path} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    packages = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(packages, list) or document.get("format") != FORMAT:
        raise HostError(
            f"{path} is not a backout host snapshot (format {FORMAT}); "
            "make one with 'backout host snapshot -o FILE'"
        )
    # Every "version" key of the document is a package's: their positions, in order, are
    # the packages' positions when the file is laid out as ``render`` writes it.
    positions = [
        (line_number(text, match.start()), match.start(1) - line_start(text, match.start()) + 1)
        for match in _VERSION_KEY.finditer(text)
    ]
    if len(positions) != len(packages):
        positions = [(1, 0)] * len(packages)
    recorded = []
    for entry, (line, column) in zip(packages, positions, strict=True):
        fields = entry if isinstance(entry, dict) else {}
        name = fields.get("name")
        architecture = fields.get("architecture")
        version = fields.get("version")
        if not (
            isinstance(name, str)
            and isinstance(architecture, str)
            and isinstance(version, str)
            and name
            and architecture
            and version
        ):
            raise HostError(
                f"snapshot {path}, line {line}: a package lacks its name, architecture or version"
            )
        recorded.append(RecordedVersion(name, architecture, version, line, column))
    return recorded
