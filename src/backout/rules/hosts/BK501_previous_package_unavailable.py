"""BK501 previous-package-unavailable."""

from __future__ import annotations

from collections.abc import Iterator

from backout.host.facts import PackageVersion
from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule


class PreviousPackageUnavailable(Rule):
    """An installed package version that no apt source offers and no archive holds.

    ## What it does
    For each package installed on a Debian/Ubuntu host (`backout host check`), asks apt
    whether a configured source still offers the exact installed version and looks for its
    `.deb` in apt's cache (`/var/cache/apt/archives`) and the archive directories given with
    `--archive`. With `--snapshot OLD.json`, it asks the same of every version the older
    snapshot recorded that is no longer installed: the versions an upgrade moved away from.

    ## Why is this bad?
    An upgrade breaks a service and the way back is `apt-get install pkg=old-version`. When
    the archive has moved on (a security update replaced the version, a binNMU rebuilt it, the
    package came from a one-off `.deb`) and nobody kept the old `.deb`, apt answers
    `Version 'old-version' for 'pkg' was not found`. The only way back is then a source build,
    mid-incident.

    ## Example
    ```console
    $ apt-cache policy bash
    bash:
      Installed: 5.2.15-2+b8
      Version table:
         5.2.15-2+b13 500
            500 http://deb.debian.org/debian bookworm/main amd64 Packages
     *** 5.2.15-2+b8 100
            100 /var/lib/dpkg/status
    ```

    ## Use instead
    ```console
    $ backout host archive --archive /srv/rollback-debs --packages bash
    $ apt-get install ./srv/rollback-debs/bash_5.2.15-2+b8_amd64.deb   # when needed
    ```
    Archive the installed versions before every upgrade (`backout host archive` downloads the
    exact version where a source still has it, and rebuilds the `.deb` from the installed
    files otherwise), or install only versions that a source you control keeps.

    ## References
    - [apt-get(8): install pkg=version](https://manpages.debian.org/apt-get.8)
    - [dpkg-repack(1)](https://manpages.debian.org/dpkg-repack.1)
    """

    code = "BK501"
    name = "previous-package-unavailable"
    severity = Severity.ERROR
    family = Family.HOSTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per package version that could not be reinstalled."""
        for fact in context.head.of(PackageVersion):
            if fact.reinstallable:
                continue
            offered = [v for v in fact.offered if v != fact.version]
            sources_have = (
                f"apt sources offer only {' and '.join(offered)}"
                if offered
                else "no apt source offers the package at all"
            )
            pinned = f"{fact.package}={fact.version}"
            if fact.from_snapshot:
                now = (
                    f"is now {fact.installed_version}"
                    if fact.installed_version
                    else "has been removed"
                )
                yield self.finding(
                    fact.location,
                    f"{fact.package} ({fact.architecture}) was {fact.version} when this snapshot "
                    f"was taken and {now}; {sources_have}, and no archive holds "
                    f"{fact.version}, so `apt-get install {pinned}` fails and you cannot go "
                    "back to it without a source build",
                    f"find the {fact.version} .deb (a backup, or snapshot.debian.org for Debian's "
                    "own packages) and keep it in an archive directory; next time run "
                    "`backout host archive --archive DIR` before upgrading",
                )
                continue
            yield self.finding(
                fact.location,
                f"{fact.package} {fact.version} ({fact.architecture}) is installed, but "
                f"{sources_have}, and no archive holds its .deb: after an upgrade, "
                f"`apt-get install {pinned}` fails and going back needs a source build",
                "keep a reinstallable .deb while this version is installed: "
                f"`backout host archive --archive DIR --packages {fact.package}`",
            )
