"""``backout host check``: installed (or previously recorded) versions as facts, then BK501.

The facts go through the same rule and :func:`backout.engine.finish` as ``backout check``, so
selection, ``--fail-on`` and every output format work the same. Findings point at the
``Version:`` line of the package in the dpkg status file or, against an older snapshot, at the
``"version"`` line of the package in that snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backout.config import Config, closest, nearest
from backout.discovery import Tree
from backout.engine import CheckResult, Release, Workspace, enabled_rules, finish, run_rules
from backout.host import HostError, snapshot
from backout.host.apt import (
    ArchiveIndex,
    PackagePolicy,
    apt_archive_dir,
    availability,
    query_policies,
    scan_archives,
)
from backout.host.dpkg import DPKG_STATUS, InstalledPackage, installed_packages, read_status
from backout.host.facts import PackageVersion
from backout.models import Family, Location
from backout.rules import ALL_RULES
from backout.rules.base import Rule
from backout.sources.base import FactSet


@dataclass
class Host:
    """What dpkg has installed, where that record is, and where ``.deb`` files are kept."""

    status_path: Path
    installed: list[InstalledPackage]
    archive_dirs: list[Path]

    def find(self, name: str, architecture: str) -> InstalledPackage | None:
        """The installed package ``name`` on ``architecture``, if there is one."""
        for package in self.installed:
            if package.name == name and package.architecture == architecture:
                return package
        return None


def load_host(extra_archives: Sequence[Path] = (), status_path: Path = DPKG_STATUS) -> Host:
    """Read the dpkg status file; archives are apt's download cache plus ``extra_archives``."""
    installed = installed_packages(read_status(status_path))
    return Host(status_path, installed, [apt_archive_dir(), *extra_archives])


def select(host: Host, wanted: Sequence[str]) -> list[InstalledPackage]:
    """The installed packages named in ``wanted`` (``name`` or ``name:arch``); all when empty."""
    if not wanted:
        return list(host.installed)
    chosen: list[InstalledPackage] = []
    for name in wanted:
        matches = [p for p in host.installed if name in (p.name, p.qualified, p.display)]
        if not matches:
            known = sorted({p.name for p in host.installed})
            raise HostError(f"package '{name}' is not installed{_nearest_installed(name, known)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def _nearest_installed(name: str, known: list[str]) -> str:
    """`` (did you mean 'bash'?)``, or the few installed names most like ``name``: a host has
    hundreds of packages, and the whole list on one line hides the answer."""
    best = nearest(name, known)
    if best is not None:
        return f" (did you mean '{best}'?)"
    alike = closest(name, known)
    return f" (nearest installed: {', '.join(alike)})" if alike else ""


def installed_facts(host: Host, packages: Sequence[InstalledPackage]) -> list[PackageVersion]:
    """One fact per installed package: its version and where it could be reinstalled from."""
    policies = query_policies((p.name, p.architecture) for p in packages)
    archives = scan_archives(host.archive_dirs)
    return [_installed_fact(host, p, policies, archives) for p in packages]


def _installed_fact(
    host: Host,
    package: InstalledPackage,
    policies: dict[str, PackagePolicy],
    archives: ArchiveIndex,
) -> PackageVersion:
    found = availability(package, package.version, policies, archives)
    return PackageVersion(
        location=Location(str(host.status_path), package.line, package.column),
        package=package.display,
        architecture=package.architecture,
        version=package.version,
        installed_version=package.version,
        sources=found.sources,
        archives=found.archives,
        offered=found.offered,
    )


def snapshot_facts(
    host: Host, snapshot_path: Path, wanted: Sequence[str] = ()
) -> list[PackageVersion]:
    """One fact per version the snapshot recorded that is no longer the installed one."""
    recorded = snapshot.read(snapshot_path)
    if wanted:
        names = set(wanted)
        recorded = [r for r in recorded if {r.name, f"{r.name}:{r.architecture}"} & names]
    changed = []
    for entry in recorded:
        now = host.find(entry.name, entry.architecture)
        if now is None or now.version != entry.version:
            changed.append((entry, now))
    policies = query_policies((entry.name, entry.architecture) for entry, _ in changed)
    archives = scan_archives(host.archive_dirs)
    facts = []
    for entry, now in changed:
        found = availability((entry.name, entry.architecture), entry.version, policies, archives)
        facts.append(
            PackageVersion(
                location=Location(snapshot_path.as_posix(), entry.line, entry.column),
                package=now.display if now is not None else entry.name,
                architecture=entry.architecture,
                version=entry.version,
                installed_version=now.version if now is not None else "",
                sources=found.sources,
                archives=found.archives,
                offered=found.offered,
            )
        )
    return facts


def host_rules(config: Config) -> list[type[Rule]]:
    """The enabled rules of the hosts family."""
    return enabled_rules(config, [r for r in ALL_RULES if r.family is Family.HOSTS])


def check_facts(
    facts: Sequence[PackageVersion], config: Config, root: Path, files_read: int
) -> CheckResult:
    """Run the hosts rules on ``facts`` and filter the findings as ``backout check`` does."""
    fact_set = FactSet(facts)
    workspace = Workspace(
        root=root,
        config=config,
        head=Release(tree=Tree(root, ()), facts=fact_set),
    )
    rules = host_rules(config)
    result = finish(workspace, run_rules(workspace, rules), rules)
    result.files_read = files_read
    return result
