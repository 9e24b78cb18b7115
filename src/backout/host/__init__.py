"""``backout host``: can this Debian/Ubuntu host go back to the package versions it runs now?

``dpkg`` reads what is installed (the dpkg status file, with positions), ``apt`` asks apt which
versions its configured sources still offer and which ``.deb`` files the archive directories
hold, ``snapshot`` writes and reads the JSON record of both, ``check`` turns them into facts for
rule BK501, and ``archive`` keeps a reinstallable ``.deb`` of each installed version.
"""

from __future__ import annotations


class HostError(Exception):
    """The host cannot be inspected (no dpkg/apt, unreadable snapshot); shown as one line."""
