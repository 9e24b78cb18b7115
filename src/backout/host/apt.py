"""Where a package version could be reinstalled from: apt's sources, and archive directories.

``apt-cache policy`` lists, for each package, every version apt knows and the sources that offer
it; the dpkg status file shows up there as a pseudo-source (``/var/lib/dpkg/status``) for the
installed version and is not one apt could download from. Archive directories hold ``.deb``
files named as apt names them: ``name_version_arch.deb`` with the epoch colon written ``%3a``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from backout.host import HostError
from backout.host.dpkg import InstalledPackage, run_tool

DPKG_PSEUDO_SOURCE = "/var/lib/dpkg/status"

_HEADER = re.compile(r"^(\S+):$")
_VERSION = re.compile(r"^ (?:\*\*\*| {3}) (\S+) (-?\d+)$")
_SOURCE = re.compile(r"^ {8}(-?\d+) (.+?)\s*$")


@dataclass
class PackagePolicy:
    """The versions apt knows for one package, each with the sources that can download it."""

    versions: dict[str, list[str]] = field(default_factory=dict)

    def sources_of(self, version: str) -> tuple[str, ...]:
        """The sources offering exactly ``version`` (the dpkg status file excluded)."""
        return tuple(
            source
            for source in self.versions.get(version, [])
            if not source.endswith(DPKG_PSEUDO_SOURCE)
        )

    @property
    def offered(self) -> tuple[str, ...]:
        """Every version some real source offers, in apt's order (highest priority first)."""
        return tuple(v for v in self.versions if self.sources_of(v))


def parse_policy(text: str) -> dict[str, PackagePolicy]:
    """Parse ``apt-cache policy`` output (C locale) into one policy per header name.

    The header is the bare name for native and ``all`` packages and ``name:arch`` for foreign
    ones, which is how :func:`policy_for` looks them up.
    """
    policies: dict[str, PackagePolicy] = {}
    current: PackagePolicy | None = None
    version: str | None = None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            current = policies.setdefault(header.group(1), PackagePolicy())
            version = None
            continue
        if current is None:
            continue
        match = _VERSION.match(line)
        if match:
            version = match.group(1)
            current.versions.setdefault(version, [])
            continue
        match = _SOURCE.match(line)
        if match and version is not None:
            current.versions[version].append(match.group(2))
    return policies


def query_policies(packages: Iterable[tuple[str, str]]) -> dict[str, PackagePolicy]:
    """``apt-cache policy`` for each ``(name, architecture)``, in one call."""
    names = sorted({f"{name}:{arch}" for name, arch in packages})
    if not names:
        return {}
    result = run_tool(["apt-cache", "policy", *names])
    if result.returncode != 0:
        raise HostError(f"apt-cache policy failed: {result.stderr.strip().splitlines()[-1:]}")
    return parse_policy(result.stdout)


def policy_for(policies: dict[str, PackagePolicy], name: str, architecture: str) -> PackagePolicy:
    """The policy of ``name`` on ``architecture`` (empty when apt knows no such package)."""
    return policies.get(f"{name}:{architecture}") or policies.get(name) or PackagePolicy()


def apt_archive_dir() -> Path:
    """apt's own download cache (``Dir::Cache::archives``, normally /var/cache/apt/archives)."""
    result = run_tool(["apt-config", "shell", "ARCHIVES", "Dir::Cache::archives/d"])
    match = re.search(r"ARCHIVES='([^']*)'", result.stdout)
    if result.returncode != 0 or not match:
        return Path("/var/cache/apt/archives")
    return Path(match.group(1))


def deb_file_name(name: str, version: str, architecture: str) -> str:
    """The file name apt gives a package: ``name_version_arch.deb``, epoch colon as ``%3a``."""
    return f"{name}_{quote(version, safe='+~.-')}_{architecture}.deb".replace("%3A", "%3a")


def parse_deb_file_name(file_name: str) -> tuple[str, str, str] | None:
    """``(name, version, architecture)`` from an apt-style ``.deb`` file name, else ``None``."""
    if not file_name.endswith(".deb"):
        return None
    parts = file_name[: -len(".deb")].split("_")
    if len(parts) != 3 or not all(parts):
        return None
    name, version, architecture = parts
    return name, unquote(version), architecture


@dataclass
class ArchiveIndex:
    """Every ``.deb`` in the archive directories, by ``(name, version, architecture)``."""

    debs: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def holding(self, name: str, version: str, architecture: str) -> tuple[str, ...]:
        """The ``.deb`` files of this exact package version."""
        return tuple(self.debs.get((name, version, architecture), ()))


def scan_archives(directories: Iterable[Path]) -> ArchiveIndex:
    """Index the ``.deb`` files (by their apt-style names) of each existing directory."""
    index = ArchiveIndex()
    for directory in directories:
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            key = parse_deb_file_name(entry.name)
            if key is not None and entry.is_file():
                index.debs.setdefault(key, []).append(str(entry))
    return index


@dataclass(frozen=True)
class Availability:
    """Where one package version could be reinstalled from."""

    sources: tuple[str, ...]
    archives: tuple[str, ...]
    offered: tuple[str, ...]


def availability(
    package: InstalledPackage | tuple[str, str],
    version: str,
    policies: dict[str, PackagePolicy],
    archives: ArchiveIndex,
) -> Availability:
    """The sources and archives holding ``version`` of ``package`` (or ``(name, arch)``)."""
    if isinstance(package, InstalledPackage):
        name, architecture = package.name, package.architecture
    else:
        name, architecture = package
    policy = policy_for(policies, name, architecture)
    return Availability(
        sources=policy.sources_of(version),
        archives=archives.holding(name, version, architecture),
        offered=policy.offered,
    )
