"""``backout host archive``: keep a reinstallable ``.deb`` of each installed package version.

For each package: nothing to do when the archive already holds its exact version; a copy when
apt's download cache has it; ``apt-get download name:arch=version`` when a configured source
still offers it; otherwise a rebuild from the installed files, as ``dpkg-repack`` does (with
``dpkg-repack`` itself when it is on PATH). Each ``.deb`` appears under its final name in one
rename, so an interrupted run leaves whole files only, and the next run picks up where this one
stopped. The system's package state is only read, never changed. Last, the directory gets a
``Packages`` index, so that it also works as a flat apt source.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from backout.files import write_atomically
from backout.host import HostError
from backout.host.apt import (
    ArchiveIndex,
    PackagePolicy,
    deb_file_name,
    policy_for,
    query_policies,
    scan_archives,
)
from backout.host.check import Host
from backout.host.dpkg import (
    InstalledPackage,
    StatusStanza,
    control_files,
    package_files,
    run_tool,
    status_stanza,
)

# Fields that only the status file has: a package's control file never carries them.
_STATUS_ONLY_FIELDS = {
    "status",
    "config-version",
    "conffiles",
    "triggers-pending",
    "triggers-awaited",
}
# Control files dpkg keeps in its info directory that belong in a rebuilt DEBIAN/ directory
# (the file list and conffiles are regenerated instead).
_CONTROL_FILES = {
    "preinst",
    "postinst",
    "prerm",
    "postrm",
    "config",
    "templates",
    "shlibs",
    "symbols",
    "triggers",
    "md5sums",
}
_SCRIPTS = {"preinst", "postinst", "prerm", "postrm", "config"}


@dataclass(frozen=True)
class Archived:
    """What ``archive`` did for one package: where its ``.deb`` is and how it got there."""

    package: InstalledPackage
    path: Path
    how: str


Progress = Callable[[str], None]


def archive_packages(
    host: Host,
    packages: Sequence[InstalledPackage],
    directory: Path,
    progress: Progress,
) -> tuple[list[Archived], list[str]]:
    """Archive ``packages`` into ``directory``; return what was archived and what failed."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HostError(f"cannot create archive directory {directory}: {exc.strerror}") from None
    policies = query_policies((p.name, p.architecture) for p in packages)
    others = scan_archives(d for d in host.archive_dirs if d.resolve() != directory.resolve())
    done: list[Archived] = []
    failed: list[str] = []
    for package in packages:
        try:
            archived = _archive_one(package, directory, policies, others)
        except (HostError, OSError) as exc:
            failed.append(f"{package.display} {package.version}: {exc}")
            progress(f"failed     {package.display} {package.version}: {exc}")
            continue
        done.append(archived)
        progress(f"{archived.how:<10} {package.display} {package.version} -> {archived.path}")
    write_index(directory)
    return done, failed


def _archive_one(
    package: InstalledPackage,
    directory: Path,
    policies: dict[str, PackagePolicy],
    others: ArchiveIndex,
) -> Archived:
    target = directory / deb_file_name(package.name, package.version, package.architecture)
    if target.is_file():
        return Archived(package, target, "kept")
    cached = others.holding(package.name, package.version, package.architecture)
    if cached:
        with _staging(directory) as staging:
            shutil.copy2(cached[0], staging / target.name)
            os.replace(staging / target.name, target)
        return Archived(package, target, "copied")
    policy = policy_for(policies, package.name, package.architecture)
    if policy.sources_of(package.version):
        with _staging(directory) as staging:
            if _download(package, staging, target):
                return Archived(package, target, "downloaded")
    with _staging(directory) as staging:
        rebuild(package, staging, target)
    return Archived(package, target, "rebuilt")


@contextmanager
def _staging(directory: Path) -> Iterator[Path]:
    """A scratch directory inside ``directory``: same file system, so the final rename is
    atomic; removed afterwards whatever happened."""
    staging = Path(tempfile.mkdtemp(prefix=".backout-", dir=directory))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download(package: InstalledPackage, staging: Path, target: Path) -> bool:
    """``apt-get download`` the exact version; False when apt could not (offline, gone)."""
    result = run_tool(
        ["apt-get", "download", "-q", f"{package.qualified}={package.version}"], cwd=staging
    )
    debs = sorted(staging.glob("*.deb"))
    if result.returncode != 0 or len(debs) != 1:
        return False
    os.replace(debs[0], target)
    return True


def rebuild(package: InstalledPackage, staging: Path, target: Path) -> None:
    """Rebuild the installed package's ``.deb`` into ``target``, via ``staging``.

    Uses ``dpkg-repack`` when it is on PATH; otherwise does what it does: the control file
    from the status file, conffiles and maintainer scripts from dpkg's info directory, the
    files from the package's file list as they are on disk now, and ``dpkg-deb --build``.
    """
    if shutil.which("dpkg-repack"):
        result = run_tool(["dpkg-repack", package.qualified], cwd=staging)
        debs = sorted(staging.glob("*.deb"))
        if result.returncode != 0 or len(debs) != 1:
            raise HostError(f"dpkg-repack failed: {_last_line(result.stderr)}")
        os.replace(debs[0], target)
        return
    root = staging / "root"
    root.mkdir()
    os.chmod(root, 0o755)
    missing = _copy_installed_files(package, root)
    _write_control(package, status_stanza(package), root, missing)
    built = staging / "built.deb"
    result = run_tool(["dpkg-deb", "--build", str(root), str(built)])
    if result.returncode != 0:
        raise HostError(f"dpkg-deb --build failed: {_last_line(result.stderr)}")
    os.replace(built, target)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _copy_installed_files(package: InstalledPackage, root: Path) -> set[str]:
    """Copy the package's files into ``root`` with owner, mode and times; return the missing."""
    missing: set[str] = set()
    files = package_files(package)
    # A path with listed paths below it was shipped as a directory, even where the host now
    # has a symlink there (merged /usr turns /bin into a link to usr/bin).
    parents = {str(Path(f.path).parent) for f in files}
    for packaged in files:
        try:
            info = os.lstat(packaged.on_disk)
            if packaged.path in parents and stat.S_ISLNK(info.st_mode):
                info = os.stat(packaged.on_disk)
        except FileNotFoundError:
            missing.add(packaged.path)
            continue
        dest = root / packaged.path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if stat.S_ISDIR(info.st_mode):
            dest.mkdir(exist_ok=True)
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(packaged.on_disk), dest)
        elif stat.S_ISREG(info.st_mode):
            shutil.copyfile(packaged.on_disk, dest)
        else:
            missing.add(packaged.path)  # device nodes and sockets are not packaged content
            continue
        os.lchown(dest, info.st_uid, info.st_gid)
        if not stat.S_ISLNK(info.st_mode):
            # after chown, which clears setuid/setgid bits
            os.chmod(dest, stat.S_IMODE(info.st_mode))
        os.utime(dest, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)
    return missing


def _write_control(
    package: InstalledPackage, stanza: StatusStanza, root: Path, missing: set[str]
) -> None:
    """Write ``DEBIAN/``: control, conffiles, and the control files dpkg kept."""
    debian = root / "DEBIAN"
    debian.mkdir()
    os.chmod(debian, 0o755)
    lines = []
    for name, value in stanza.fields:
        if name.lower() in _STATUS_ONLY_FIELDS:
            continue
        lines.append(f"{name}:{value}" if value.startswith("\n") else f"{name}: {value}")
    (debian / "control").write_text("\n".join(lines) + "\n", encoding="utf-8")
    conffiles = []
    for entry in stanza.get("Conffiles").splitlines():
        parts = entry.split()
        # flagged entries ("obsolete", "remove-on-upgrade") are no longer shipped
        if (
            len(parts) == 2
            and parts[0] not in missing
            and os.path.lexists(root / parts[0].lstrip("/"))
        ):
            conffiles.append(parts[0])
    if conffiles:
        (debian / "conffiles").write_text("\n".join(conffiles) + "\n", encoding="utf-8")
    for source in control_files(package):
        kind = source.name.rsplit(".", 1)[-1]
        if kind not in _CONTROL_FILES:
            continue
        dest = debian / kind
        shutil.copyfile(source, dest)
        os.chmod(dest, 0o755 if kind in _SCRIPTS else 0o644)
    if missing and (debian / "md5sums").exists():
        _drop_md5sums(debian / "md5sums", missing)


def _drop_md5sums(md5sums: Path, missing: set[str]) -> None:
    """Remove the checksums of files that are no longer on disk (and so not in the .deb)."""
    kept = [
        line
        for line in md5sums.read_text(encoding="utf-8", errors="replace").splitlines()
        if "/" + line.split(maxsplit=1)[-1] not in missing
    ]
    md5sums.write_text("\n".join(kept) + "\n", encoding="utf-8")


def write_index(directory: Path) -> Path:
    """Write ``directory/Packages`` (atomically): with ``dpkg-scanpackages`` when it is
    installed, otherwise from each ``.deb``'s control fields and checksums."""
    index = directory / "Packages"
    if shutil.which("dpkg-scanpackages"):
        result = run_tool(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=directory)
        if result.returncode != 0:
            raise HostError(f"dpkg-scanpackages failed: {_last_line(result.stderr)}")
        write_atomically(index, result.stdout)
    else:
        write_atomically(index, packages_index(directory))
    return index


def packages_index(directory: Path) -> str:
    """A ``Packages`` index of the ``.deb`` files in ``directory``, as apt reads it."""
    stanzas = []
    for deb in sorted(directory.glob("*.deb")):
        result = run_tool(["dpkg-deb", "--field", str(deb)])
        if result.returncode != 0:
            continue  # not a valid .deb: apt could not install it either
        data = deb.read_bytes()
        stanzas.append(
            result.stdout.rstrip("\n")
            + f"\nFilename: ./{deb.name}\nSize: {len(data)}"
            + f"\nMD5sum: {hashlib.md5(data).hexdigest()}"
            + f"\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    return "\n".join(stanzas)
