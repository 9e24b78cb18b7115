"""The facts that ``backout host`` gathers for rule BK501."""

from __future__ import annotations

from dataclasses import dataclass

from backout.sources.base import Fact


@dataclass(frozen=True)
class PackageVersion(Fact):
    """A package version a rollback may need to reinstall, and where it could come from.

    ``location`` is the ``Version:`` line of the package in the dpkg status file, or the
    ``"version"`` line of the package in a snapshot. ``installed_version`` is what dpkg has now
    (empty when the package is no longer installed); it differs from ``version`` only for a
    version recorded in an older snapshot. ``sources`` are the apt sources that offer exactly
    ``version``, ``archives`` the ``.deb`` files that hold it, ``offered`` every version the apt
    sources offer for the package.
    """

    package: str
    architecture: str
    version: str
    installed_version: str
    sources: tuple[str, ...]
    archives: tuple[str, ...]
    offered: tuple[str, ...]

    @property
    def reinstallable(self) -> bool:
        """True when apt could fetch this exact version, or an archive holds its ``.deb``."""
        return bool(self.sources or self.archives)

    @property
    def from_snapshot(self) -> bool:
        """True for a version recorded in an older snapshot rather than installed now."""
        return self.version != self.installed_version
