"""Which files make up a release: the working tree, a git ref, or a directory.

In a git work tree the file list comes from git itself (``.gitignore`` respected, untracked
files included); elsewhere the tree is walked and a root ``.gitignore`` applied with pathspec.
``exclude`` globs (gitignore syntax) apply everywhere. A release given as a git ref is read with
one ``git cat-file --batch`` process, so each file is read once.

A file or directory the operating system refuses (permission denied, an I/O error) is not
left out silently: it is handed on with the reason, for rule BK901 to report. A file gone
between the listing and the read (deleted, replaced by a directory) is skipped quietly: it is
not part of the release any more.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from backout.config import ConfigError, nearest

if TYPE_CHECKING:
    import pathspec

# No manifest, migration or pipeline is this large; a file that is (a data dump, a build
# artefact) would only cost memory and time, so it is reported instead of read.
MAX_FILE_BYTES = 16 * 1024 * 1024

ALWAYS_SKIPPED = (".git/", "node_modules/", ".venv/", "venv/", "__pycache__/", ".tox/")

# What an OSError says when the file is simply not there any more (deleted, or replaced by a
# directory, since it was listed): skipped, unlike a file that is there but cannot be read.
_GONE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR})


@dataclass(frozen=True)
class ReadFailure:
    """A listed file that could not be opened or read, and why in words (``permission
    denied``)."""

    reason: str


def in_words(error: OSError) -> str:
    """The operating system's reason for ``error``, without its number: ``permission denied``."""
    reason = error.strerror or (os.strerror(error.errno) if error.errno else str(error))
    return reason[:1].lower() + reason[1:]


@dataclass(frozen=True)
class Tree:
    """A release's files: root-relative POSIX path → where to get the bytes.

    ``unlisted`` holds the directories that could not be listed, root-relative, each with
    the reason in words: nothing below them is in ``paths``.
    """

    root: Path
    paths: tuple[str, ...]
    git_ref: str | None = None
    git_dir: Path | None = None
    git_prefix: str = ""
    unlisted: tuple[tuple[str, str], ...] = ()

    def subset(self, paths: Iterable[str]) -> Tree:
        """The same tree restricted to ``paths``."""
        return replace(self, paths=tuple(paths))

    def read_all(self) -> Iterator[tuple[str, FileBytes]]:
        """Yield ``(path, bytes)`` for every file, reading each exactly once; ``None`` for a
        file larger than :data:`MAX_FILE_BYTES`, which is not read at all, and a
        :class:`ReadFailure` for one that could not be read."""
        if self.git_ref is None:
            yield from read_working_files(str(self.root), self.paths)
            return
        yield from _git_cat_files(self, self.paths)


# A file's bytes as read: ``None`` when it is too large to read, a ReadFailure when it
# could not be read.
FileBytes = bytes | ReadFailure | None

# What the first read of a file asks for: all of nearly every file a release is made of, so
# that the size is looked up (an fstat) only for the rare larger one.
_FIRST_READ = 64 * 1024

# Whether files can be opened relative to a directory descriptor (POSIX ``openat``).
_OPEN_AT = os.open in os.supports_dir_fd


def read_working_files(root: str, paths: Iterable[str]) -> Iterator[tuple[str, FileBytes]]:
    """Yield ``(path, bytes)`` for each of ``paths`` below the directory ``root``, ``None`` for
    the bytes of a file larger than :data:`MAX_FILE_BYTES`, a :class:`ReadFailure` for a file
    that is there but cannot be read (permission denied, an I/O error). A file gone since the
    listing is left out."""
    # Each file is opened relative to a descriptor of the root, so that the kernel does not
    # walk the root's own path again for every file, and read through a bare descriptor: on
    # trees of thousands of files, file objects, pathlib and path joins cost more than the
    # reads themselves.
    root_fd: int | None = None
    if _OPEN_AT:
        with contextlib.suppress(OSError):  # a root that cannot be opened: joined paths
            root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for path in paths:
            try:
                if root_fd is None:
                    fd = os.open(os.path.join(root, path), os.O_RDONLY | os.O_CLOEXEC)
                else:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=root_fd)
                try:
                    data = _read_descriptor(fd)
                finally:
                    os.close(fd)
            except OSError as error:
                if error.errno in _GONE:
                    continue
                yield path, ReadFailure(in_words(error))
                continue
            yield path, data
    finally:
        if root_fd is not None:
            os.close(root_fd)


def _read_descriptor(fd: int) -> bytes | None:
    """The rest of the open regular file ``fd``; ``None`` past :data:`MAX_FILE_BYTES`."""
    # A read of a regular file comes back short only at the file's end.
    data = os.read(fd, _FIRST_READ)
    if len(data) < _FIRST_READ:
        return data
    if os.fstat(fd).st_size > MAX_FILE_BYTES:
        return None
    parts = [data]
    total = len(data)
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
        total += len(chunk)
        if total > MAX_FILE_BYTES:  # grew past the limit since the fstat
            return None
    return b"".join(parts)


def _run_git(args: list[str], cwd: Path, warnings: list[str] | None = None) -> str:
    """git's output; with ``warnings``, its warnings (in English) are added to that list."""
    env = None if warnings is None else {**os.environ, "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env
        )
    except FileNotFoundError:
        raise ConfigError("git is not installed, but --base REF needs it") from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise ConfigError(f"git {' '.join(args[:2])}: {message}")
    if warnings is not None:
        warnings.extend(line for line in done.stderr.splitlines() if line.startswith("warning: "))
    return done.stdout


def git_toplevel(path: Path) -> Path | None:
    """The work tree root that contains ``path``, or ``None`` outside git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path if path.is_dir() else path.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # git not installed, or ``path`` cannot be entered (the walk says why)
        return None
    if done.returncode != 0:
        return None
    return Path(done.stdout.strip())


class _Exclusions:
    """Which paths ``exclude`` and :data:`ALWAYS_SKIPPED` leave out (gitignore syntax).

    The fixed directories are matched by name, as their gitignore patterns (``name/``) match
    them at any depth: on trees of thousands of files that costs a set lookup per path
    instead of running every pattern. The configured globs go through pathspec.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        lines = [p for p in patterns if p.strip()]
        self._spec = _gitignore_spec(lines) if lines else None

    @property
    def has_globs(self) -> bool:
        """Whether any ``exclude`` glob is configured (beyond :data:`ALWAYS_SKIPPED`)."""
        return self._spec is not None

    def match(self, path: str) -> bool:
        """Whether ``path`` (a file; ``dir/`` for a directory) is left out."""
        if not _SKIPPED_DIRS.isdisjoint(path.split("/")[:-1]):
            return True
        return self._spec is not None and self._spec.match_file(path)


_SKIPPED_DIRS = frozenset(pattern.rstrip("/") for pattern in ALWAYS_SKIPPED)


def _gitignore_spec(lines: list[str]) -> pathspec.GitIgnoreSpec:
    """``lines`` as a gitignore file. pathspec is imported here: ~25 ms of start-up that a
    check of a git work tree without ``exclude`` globs never needs."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


# How `git ls-files` says that it could not list a directory for the untracked files in it.
_GIT_UNLISTED = re.compile(r"warning: could not open directory '(?P<path>.+)/': (?P<reason>.+)")


def _git_unlisted(warnings: list[str], prefix: str, excluded: _Exclusions) -> list[tuple[str, str]]:
    """The directories below ``prefix`` (a work tree's path to the root checked) that
    ``git ls-files`` warned it could not open, root-relative, with the reason."""
    unlisted = []
    for warning in warnings:
        match = _GIT_UNLISTED.fullmatch(warning)
        if match is None or not match["path"].startswith(prefix):
            continue
        directory = match["path"][len(prefix) :]
        if not excluded.match(directory + "/"):
            reason = match["reason"]
            unlisted.append((directory, reason[:1].lower() + reason[1:]))
    return unlisted


def _prefix_in(top: Path, root: Path) -> str:
    """``root``'s path in the work tree at ``top``: ``""``, or ``"dir/"``."""
    prefix = root.resolve().relative_to(top.resolve()).as_posix()
    return "" if prefix == "." else prefix + "/"


def working_tree(root: Path, exclude: Iterable[str] = ()) -> Tree:
    """The files of the working tree below ``root``."""
    excluded = _Exclusions(exclude)
    top = git_toplevel(root)
    links: set[str] = set()
    unlisted: list[tuple[str, str]] = []
    if top is not None:
        warnings: list[str] = []
        listing = ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]
        out = _run_git(listing, root, warnings)
        unlisted = _git_unlisted(warnings, _prefix_in(top, root), excluded)
        base = str(root)
        paths = []
        for path in out.split("\0"):
            if path and not excluded.match(path):
                kind = _file_kind(os.path.join(base, path))
                if kind is not None:
                    paths.append(path)
                    if kind == "link":
                        links.add(path)
    else:
        ignored = _root_gitignore(root)
        walked = _walk(
            root, excluded, ignored if ignored and ignored.patterns else None, links, unlisted
        )
        # The walk does not enter the always-skipped directories: only globs are left to try.
        paths = [p for p in walked if not excluded.match(p)] if excluded.has_globs else walked
    paths = _outside_virtualenvs(paths)
    return Tree(
        root=root,
        paths=tuple(sorted(_without_linked_copies(root, paths, links))),
        unlisted=tuple(sorted(unlisted)),
    )


def _root_gitignore(root: Path) -> pathspec.GitIgnoreSpec | None:
    """The patterns of ``root``'s ``.gitignore``, if it has one. A root that cannot be listed,
    or a ``.gitignore`` that cannot be read, is a :class:`ConfigError`: the release's files
    are unknown."""
    try:
        with os.scandir(root):
            pass
    except OSError as error:
        raise ConfigError(f"cannot list {root}: {in_words(error)}") from None
    ignore_file = root / ".gitignore"
    try:
        text = ignore_file.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        if error.errno in _GONE:
            return None
        raise ConfigError(f"cannot read {ignore_file}: {in_words(error)}") from None
    lines = text.splitlines()
    try:
        return _gitignore_spec(lines)
    except (ValueError, re.error):
        # A pattern git cannot use either (a lone `\` or `!`, a range `[z-a]`) matches
        # nothing for git: the other lines still apply.
        return _gitignore_spec([line for line in lines if _usable_pattern(line)])


def _usable_pattern(line: str) -> bool:
    try:
        _gitignore_spec([line])
    except (ValueError, re.error):
        return False
    return True


# Every virtual environment made by venv or virtualenv holds this file at its top. Its
# directory is skipped whatever it is called (``venv/`` and ``.venv/`` are skipped by name):
# the site-packages in it hold other projects' migrations, manifests and charts.
_VENV_MARKER = "pyvenv.cfg"


def _outside_virtualenvs(paths: list[str]) -> list[str]:
    """``paths`` without those in a directory (below the root) that holds a ``pyvenv.cfg``."""
    venvs = tuple(p[: -len(_VENV_MARKER)] for p in paths if p.endswith("/" + _VENV_MARKER))
    if not venvs:
        return paths
    return [p for p in paths if not p.startswith(venvs)]


def _file_kind(full: str) -> str | None:
    """``file`` for a regular file, ``link`` for a symlink to one, ``None`` otherwise (gone,
    a directory, a FIFO or a device): one ``lstat`` for the common case of a plain file.

    A path that cannot even be looked at (its directory is not searchable) counts as a file:
    reading it will say why it could not be read, instead of it vanishing from the check."""
    try:
        mode = os.lstat(full).st_mode
    except OSError as error:
        return None if error.errno in _GONE else "file"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        with contextlib.suppress(OSError):  # a dangling link, or a loop: not a file
            if stat.S_ISREG(os.stat(full).st_mode):
                return "link"
    return None


def _walk(
    root: Path,
    excluded: _Exclusions,
    ignored: pathspec.GitIgnoreSpec | None,
    links: set[str],
    unlisted: list[tuple[str, str]],
) -> list[str]:
    """The regular files below ``root`` (links to them included, linked directories not
    entered) that ``excluded`` and ``ignored`` leave, root-relative; the links among them
    are added to ``links``, and the directories that could not be listed to ``unlisted``
    with the reason."""
    paths: list[str] = []
    pending = [("", str(root))]
    while pending:
        prefix, directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as error:
            if error.errno not in _GONE:
                unlisted.append((prefix[:-1] or ".", in_words(error)))
            continue
        if prefix and any(entry.name == _VENV_MARKER for entry in entries):
            continue  # a Python virtual environment, whatever its name
        for entry in entries:
            rel = prefix + entry.name
            try:
                # The directory entry's own type, so a regular file costs no stat; a link is
                # followed. Regular files only: a FIFO, a device or a link to one
                # (``/dev/zero``) would block or never end when read.
                if entry.is_dir():
                    if entry.is_symlink():
                        continue
                    sub = rel + "/"
                    if excluded.match(sub) or (ignored and ignored.match_file(sub)):
                        continue
                    pending.append((sub, entry.path))
                elif entry.is_file() and not (ignored and ignored.match_file(rel)):
                    paths.append(rel)
                    if entry.is_symlink():
                        links.add(rel)
            except OSError:
                continue
    return paths


def _without_linked_copies(root: Path, paths: list[str], links: set[str]) -> list[str]:
    """Drop symlinks (``links``) to files that are checked under their own path, so nothing
    is read twice."""
    if not links:
        return paths
    listed = set(paths)
    resolved_root = root.resolve()
    out = []
    for path in paths:
        if path in links:
            try:
                target = (root / path).resolve().relative_to(resolved_root).as_posix()
            except (OSError, ValueError):
                target = None
            if target is not None and target != path and target in listed:
                continue
        out.append(path)
    return out


def single_file(path: Path) -> Tree:
    """A tree of one file (``backout check deploy.yaml``)."""
    return Tree(root=path.parent, paths=(path.name,))


def resolve_base_ref(root: Path, ref: str) -> str:
    """The merge base of ``ref`` and ``HEAD`` (what a PR check compares against)."""
    if git_toplevel(root) is None:
        raise ConfigError(
            f"--base {ref}: not a directory, and {root} is not in a git repository "
            "(give a git ref inside a repository, or the previous release's directory)"
        )
    try:
        _run_git(["rev-parse", "--verify", "--quiet", ref + "^{commit}"], root)
    except ConfigError:
        raise ConfigError(
            f"--base {ref}: no such directory, and no such commit, branch or tag in this "
            f"repository{_nearest_ref(root, ref)}"
        ) from None
    try:
        return _run_git(["merge-base", ref, "HEAD"], root).strip()
    except ConfigError:
        pass
    # No merge base: most often a CI checkout that fetched one commit of each side.
    if _run_git(["rev-parse", "--is-shallow-repository"], root).strip() == "true":
        raise ConfigError(
            f"--base {ref}: no common ancestor with HEAD in this shallow clone; fetch the "
            "history (`git fetch --unshallow`, or actions/checkout with `fetch-depth: 0`) "
            "or give the previous release's directory"
        ) from None
    raise ConfigError(
        f"--base {ref}: {ref} and HEAD share no history; give a commit that HEAD descends "
        "from, or the previous release's directory"
    ) from None


def _nearest_ref(root: Path, ref: str) -> str:
    """`` (did you mean 'origin/main'?)`` naming the branch or tag nearest ``ref``; else how
    to fetch one, the usual reason for a ref missing in CI."""
    try:
        listed = _run_git(["for-each-ref", "--format=%(refname:short)"], root).split()
    except ConfigError:
        listed = []
    best = nearest(ref, listed)
    if best is not None:
        return f" (did you mean '{best}'?)"
    return " (fetch it first, e.g. `git fetch origin main`)"


def git_tree(root: Path, commit: str, exclude: Iterable[str] = ()) -> Tree:
    """The files below ``root`` as they were at ``commit``."""
    top = git_toplevel(root)
    if top is None:
        raise ConfigError(f"--base {commit}: {root} is not inside a git repository")
    prefix = _prefix_in(top, root)
    out = _run_git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", commit], top)
    excluded = _Exclusions(exclude)
    paths = []
    for full in out.split("\0"):
        if full and full.startswith(prefix):
            rel = full[len(prefix) :]
            if not excluded.match(rel):
                paths.append(rel)
    return Tree(
        root=root, paths=tuple(sorted(paths)), git_ref=commit, git_dir=top, git_prefix=prefix
    )


def _git_cat_files(tree: Tree, paths: Iterable[str]) -> Iterator[tuple[str, FileBytes]]:
    assert tree.git_dir is not None and tree.git_ref is not None
    wanted = list(paths)
    if not wanted:
        return
    request = "".join(f"{tree.git_ref}:{tree.git_prefix}{p}\n" for p in wanted).encode()
    done = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=tree.git_dir,
        input=request,
        capture_output=True,
        check=False,
    )
    data = done.stdout
    pos = 0
    for path in wanted:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        yield path, (data[pos : pos + size] if size <= MAX_FILE_BYTES else None)
        pos += size + 1


def changed_paths(root: Path, base_commit: str) -> set[str]:
    """Root-relative paths that differ between ``base_commit`` and the working tree; a
    renamed file under both names (its old path is gone, as for ``--base DIR``)."""
    out = _run_git(
        ["diff", "--name-only", "--no-renames", "-z", "--relative", base_commit, "--", "."], root
    )
    changed = {p for p in out.split("\0") if p}
    untracked = _run_git(["ls-files", "-z", "--others", "--exclude-standard"], root)
    changed.update(p for p in untracked.split("\0") if p)
    return changed


def directory_changes(head: Tree, base: Tree) -> set[str]:
    """Paths whose bytes differ between two trees read from disk (``--base DIR``), and paths
    the base has that the head removed (as ``git diff`` lists them for ``--base REF``)."""
    base_paths = set(base.paths)
    changed = base_paths - set(head.paths)
    for path in head.paths:
        if path not in base_paths:
            changed.add(path)
            continue
        try:
            if (head.root / path).read_bytes() != (base.root / path).read_bytes():
                changed.add(path)
        except OSError:
            changed.add(path)
    return changed
