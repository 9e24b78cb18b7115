"""What dpkg has installed: the status file read with positions, and a package's files.

The status file (``/var/lib/dpkg/status``) is the record dpkg itself keeps; reading it directly
gives each package's ``Version:`` line, which is where BK501 findings point. ``dpkg-query``
answers the rest (a package's file list with diversions, its control files), as ``dpkg-repack``
does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from backout.host import HostError

DPKG_STATUS = Path("/var/lib/dpkg/status")

# Status states in which the package's files are on disk (and so its version matters).
_FILES_PRESENT = {
    "installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
}


@dataclass(frozen=True)
class StatusStanza:
    """One paragraph of the status file: its fields in order, and where it sits.

    ``fields`` keeps continuation lines joined with ``\\n`` (leading space kept), exactly as
    a control file needs them. ``version_line``/``version_column`` point at the version value.
    """

    fields: tuple[tuple[str, str], ...]
    line: int
    version_line: int
    version_column: int

    def get(self, name: str) -> str:
        """The value of field ``name`` (case-insensitive), or an empty string."""
        wanted = name.lower()
        for field_name, value in self.fields:
            if field_name.lower() == wanted:
                return value
        return ""


@dataclass(frozen=True)
class InstalledPackage:
    """A package whose files dpkg has on disk, with the position of its version."""

    name: str
    architecture: str
    version: str
    multi_arch: str
    line: int
    column: int

    @property
    def qualified(self) -> str:
        """``name:arch``: the name apt and dpkg-query accept on any multi-arch host."""
        return f"{self.name}:{self.architecture}"

    @property
    def display(self) -> str:
        """The name as ``dpkg -l`` shows it: qualified for ``Multi-Arch: same`` packages."""
        return self.qualified if self.multi_arch == "same" else self.name


def parse_status(text: str) -> list[StatusStanza]:
    """Split a dpkg status (or control) text into stanzas with line and column positions."""
    stanzas: list[StatusStanza] = []
    fields: list[list[str]] = []
    start = version_line = version_column = 0

    def close() -> None:
        if fields:
            stanzas.append(
                StatusStanza(
                    tuple((name, value) for name, value in fields),
                    start,
                    version_line,
                    version_column,
                )
            )

    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            close()
            fields, version_line, version_column = [], 0, 0
            continue
        if raw[0] in " \t":
            if fields:
                fields[-1][1] += "\n" + raw
            continue
        name, sep, value = raw.partition(":")
        if not sep:
            continue
        if not fields:
            start = number
        stripped = value.strip()
        if name.lower() == "version":
            version_line = number
            version_column = len(name) + 1 + (len(value) - len(value.lstrip())) + 1
        fields.append([name, stripped])
    close()
    return stanzas


def installed_packages(stanzas: list[StatusStanza]) -> list[InstalledPackage]:
    """The packages whose files are on disk, sorted by name and architecture."""
    out = []
    for stanza in stanzas:
        state = stanza.get("Status").split()
        if len(state) != 3 or state[2] not in _FILES_PRESENT or not stanza.get("Version"):
            continue
        out.append(
            InstalledPackage(
                name=stanza.get("Package"),
                architecture=stanza.get("Architecture"),
                version=stanza.get("Version"),
                multi_arch=stanza.get("Multi-Arch"),
                line=stanza.version_line,
                column=stanza.version_column,
            )
        )
    return sorted(out, key=lambda p: (p.name, p.architecture))


def read_status(path: Path = DPKG_STATUS) -> list[StatusStanza]:
    """The stanzas of the dpkg status file; :class:`HostError` when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise HostError(
            f"cannot read the dpkg status file {path}: {exc.strerror} "
            "(backout host runs on Debian/Ubuntu hosts)"
        ) from None
    return parse_status(text)


def run_tool(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a dpkg/apt tool in the C locale (its output is parsed); never raises on exit codes."""
    if shutil.which(args[0]) is None:
        raise HostError(f"'{args[0]}' was not found on PATH (backout host needs dpkg and apt)")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False)


def native_architecture() -> str:
    """dpkg's native architecture (``amd64``, ``arm64``…)."""
    result = run_tool(["dpkg", "--print-architecture"])
    if result.returncode != 0 or not result.stdout.strip():
        raise HostError(f"dpkg --print-architecture failed: {result.stderr.strip()}")
    return result.stdout.strip()


@dataclass(frozen=True)
class PackagedFile:
    """A path a package ships (``path``) and where its content is on disk now (``on_disk``).

    They differ when another package, or the admin, diverted the file elsewhere.
    """

    path: str
    on_disk: str


def package_files(package: InstalledPackage) -> list[PackagedFile]:
    """The paths ``dpkg-query -L`` lists for the package, diversions resolved."""
    result = run_tool(["dpkg-query", "-L", package.qualified])
    if result.returncode != 0:
        raise HostError(f"dpkg-query -L {package.qualified} failed: {result.stderr.strip()}")
    files: list[PackagedFile] = []
    for line in result.stdout.splitlines():
        if line.startswith("/"):
            if line != "/.":
                files.append(PackagedFile(line, line))
            continue
        # "diverted by OTHER to: PATH" / "locally diverted to: PATH": this package's own copy
        # of the previous path lives at PATH. "package diverts others to:" is about others.
        marker = "to: "
        if files and marker in line and not line.startswith("package diverts others"):
            moved = line.split(marker, 1)[1].strip()
            files[-1] = PackagedFile(files[-1].path, moved)
    return files


def control_files(package: InstalledPackage) -> list[Path]:
    """The package's control files dpkg kept (maintainer scripts, md5sums, triggers…)."""
    result = run_tool(["dpkg-query", "--control-path", package.qualified])
    if result.returncode != 0:
        raise HostError(
            f"dpkg-query --control-path {package.qualified} failed: {result.stderr.strip()}"
        )
    return [Path(line) for line in result.stdout.splitlines() if line.strip()]


def status_stanza(package: InstalledPackage, path: Path = DPKG_STATUS) -> StatusStanza:
    """The package's own paragraph of the status file."""
    for stanza in read_status(path):
        if stanza.get("Package") == package.name and (
            stanza.get("Architecture") == package.architecture
        ):
            return stanza
    raise HostError(f"{package.display} is no longer in the dpkg status file")
