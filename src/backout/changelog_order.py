"""The order Liquibase applies changesets in, from the ``include``/``includeAll`` of changelogs.

Liquibase runs one master changelog: its changesets and includes in document order, each
included changelog's in turn where it is included, ``includeAll`` taking the changelogs of a
directory (and its subdirectories) in path order. A reader sees one file, so each changelog
records its includes as :class:`~backout.sources.migration_facts.ChangelogInclude` facts and
:func:`order_changelogs` follows them here.

A *master* is a changelog that includes others and that no other changelog includes. Every
changeset reachable from a master gets the master's path as its stream and its place in the
master's order as its sort key, so the newest changesets of a release are the last ones the
master runs, whatever the files are called. A changelog that no master reaches keeps the
order the readers gave it: its directory's stream, by file name, then by position in the
file — how a directory of changelogs without a master is ordered.

Include paths are resolved as Liquibase does where it can be known from the tree: relative to
the including file with ``relativeToChangelogFile``, else relative to the search path (the
classpath, ``src/main/resources`` in a Maven project; the folder the CLI runs in), which is
one of the folders that hold the including file, nearest first, or another resource folder
of its module (:meth:`PathResolver.search_roots`) — not the end of any path of the tree,
which would take another service's or another tool's file of the same name.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from backout.schema_operations import DOWN_RAISES, DialectRead
from backout.sources.migration_facts import ChangelogInclude, Migration


def _clean(target: str) -> str:
    """An include path without ``classpath:`` and leading slashes, normalised."""
    for prefix in ("classpath*:", "classpath:", "file:"):
        if target.startswith(prefix):
            target = target[len(prefix) :]
    target = posixpath.normpath(target.replace("\\", "/").lstrip("/"))
    return "" if target == "." else target


def names_path(target: str, path: str) -> bool:
    """Whether the classpath path ``target`` names the tree's file ``path``: the end of it."""
    clean = _clean(target)
    return bool(clean) and (path == clean or path.endswith("/" + clean))


def resolve_rollback_references(migrations: Sequence[Migration]) -> list[Migration]:
    """``migrations`` with each Liquibase ``rollback changeSetPath=…`` reference
    (:attr:`Migration.down_reference`) replaced by the changes of the changeset it names: the
    one of that ``author:id`` (or ``id``) in a file whose path ends with the classpath path,
    nearest the referencing file. A reference to no changeset of the tree leaves the down
    that fails (:data:`DOWN_RAISES`)."""
    if not any(m.down_reference for m in migrations):
        return list(migrations)
    by_changeset: dict[str, list[Migration]] = {}
    for migration in migrations:
        if migration.changeset:
            ident = migration.changeset.partition(":")[2]
            by_changeset.setdefault(migration.changeset, []).append(migration)
            by_changeset.setdefault(ident, []).append(migration)
    out = []
    for migration in migrations:
        if migration.down_reference is None:
            out.append(migration)
            continue
        target, key = migration.down_reference
        here = migration.location.path
        found = max(
            (m for m in by_changeset.get(key, ()) if names_path(target, m.location.path)),
            key=lambda m: _shared(m.location.path, here),
            default=None,
        )
        if found is None:
            # Liquibase finds no changeset to roll back with: the rollback fails (unless the
            # file comes from outside the tree, a jar on the classpath, which backout cannot
            # see). Said, not taken for a rollback that does nothing.
            out.append(
                replace(
                    migration,
                    down_state=DOWN_RAISES,
                    down_reason=f"its rollback names changeset {key} of {target}, which no "
                    "changelog backout read holds, so Liquibase has no changes to roll it back "
                    "with",
                )
            )
            continue
        down = (*migration.down, *found.up)
        reads = tuple(
            DialectRead(d, own[0], (*own[1], *found.operations(d)[0]))
            for d in ("mysql", "sqlite")
            if (own := migration.operations(d))
        )
        if all(r.up == migration.up and r.down == down for r in reads):
            reads = ()
        out.append(replace(migration, down=down, dialect_reads=reads))
    return out


# A Maven/Gradle resource folder of a path (``src/main/resources/``), after its module's path.
_RESOURCES = re.compile(r"(?:^|(?<=/))src/[^/]+/resources/")


def _below(root: str, wanted: str) -> str:
    """The tree path of the search-path path ``wanted`` under the search root ``root`` (``""``
    or ending in ``/``), ``../`` climbing from it; empty when it leaves the tree."""
    path = posixpath.normpath(root + wanted) if ".." in wanted.split("/") else root + wanted
    return "" if path == ".." or path.startswith("../") else path


def _shared(a: str, b: str) -> int:
    return len(posixpath.commonprefix([a, b]))


class PathResolver:
    """Finds the files a changelog names (an include, a ``sqlFile``) among the tree's files,
    as Liquibase resolves the path (see the module docstring)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = sorted(set(paths))
        self._known = set(self.paths)
        # Each Maven/Gradle module's resource folders, found when first wanted.
        self._resources: dict[str, list[str]] = {}

    def file(self, include: ChangelogInclude) -> str | None:
        """The changelog ``include`` names, or None when it is none of the tree's."""
        return self.path(include.target, include.relative, include.location.path)

    def path(self, target: str, relative: bool, including: str) -> str | None:
        """The file of the tree that ``target`` names in the changelog at ``including``:
        relative to that changelog when ``relative`` (``relativeToChangelogFile``), else a
        search-path (classpath) path below the nearest of :meth:`search_roots` that has it."""
        wanted = self.wanted(target, relative, including)
        if not wanted:
            return None
        if relative:
            return wanted if wanted in self._known else None
        # ``../x`` climbs from the search root (Liquibase resolves it against the root
        # folder, as a file system path), so it is tried below each root.
        candidates = (_below(root, wanted) for root in self.search_roots(including))
        return next((path for path in candidates if path in self._known), None)

    def search_roots(self, including: str) -> list[str]:
        """The folders (``""`` or ending in ``/``) where the search path may start for the
        changelog at ``including``, nearest first: its own folder and each one above it (a
        Spring or Maven classpath is ``src/main/resources``, the Liquibase CLI's is the folder
        it runs in), then the other resource folders of its module. A file of the same name
        elsewhere in the tree, another service's or another tool's, is not on it."""
        parts = including.split("/")[:-1]
        roots = [posixpath.join(*parts[:n]) + "/" for n in range(len(parts), 0, -1)]
        roots.append("")
        found = _RESOURCES.search(including)
        if found is not None:
            roots.extend(self._resource_folders(including[: found.start()]))
        return list(dict.fromkeys(roots))

    def _resource_folders(self, module: str) -> list[str]:
        """The ``src/*/resources/`` folders of the module at ``module`` (``""`` or ending in
        ``/``), ``src/main/resources/`` first: all of them are on its test classpath. One
        look-up per source set (``src/main/``, ``src/test/``…), not per file."""
        folders = self._resources.get(module)
        if folders is not None:
            return folders
        folders = []
        prefix = module + "src/"
        at = bisect.bisect_left(self.paths, prefix)
        while at < len(self.paths) and self.paths[at].startswith(prefix):
            source_set = self.paths[at][len(prefix) :].partition("/")[0]
            if self._holds_folder(f"{prefix}{source_set}/resources/"):
                folders.append(f"{prefix}{source_set}/resources/")
            # Past every path of the source set: "0" is the character after "/".
            at = bisect.bisect_left(self.paths, f"{prefix}{source_set}0", at + 1)
        folders.sort(key=lambda folder: (folder != f"{prefix}main/resources/", folder))
        self._resources[module] = folders
        return folders

    @staticmethod
    def wanted(target: str, relative: bool, including: str) -> str:
        """``target`` as a path from the tree's root when ``relative``, else as a search-path
        path (``classpath:`` and leading slashes dropped); empty for an empty path."""
        clean = _clean(target)
        if not clean or not relative:
            return clean
        return posixpath.normpath(posixpath.join(posixpath.dirname(including), clean))

    def _holds_folder(self, prefix: str) -> bool:
        """Whether a path of the tree starts with ``prefix`` (a folder, ending in ``/``)."""
        at = bisect.bisect_left(self.paths, prefix)
        return at < len(self.paths) and self.paths[at].startswith(prefix)

    def directory(self, include: ChangelogInclude) -> list[str]:
        including = include.location.path
        target = _clean(include.target)
        if include.relative:
            base = posixpath.normpath(posixpath.join(posixpath.dirname(including), target))
        elif not target:
            base = ""
        else:
            # The folder ``target`` below the nearest search root that has it.
            base = next(
                (
                    folder
                    for root in self.search_roots(including)
                    if (folder := _below(root, target)) and self._holds_folder(folder + "/")
                ),
                "",
            )
            if not base:
                return []
        prefix = "" if base in ("", ".") else base + "/"
        ends_with = include.ends_with.lower()
        paths = self.paths
        if prefix:  # the paths below the folder, in the sorted paths: "0" follows "/"
            start = bisect.bisect_left(paths, prefix)
            paths = paths[start : bisect.bisect_left(paths, prefix[:-1] + "0", start)]
        return [
            path
            for path in paths
            if path != including
            and path.lower().endswith(ends_with)
            and include.min_depth
            <= path.count("/", len(prefix)) + 1
            <= (include.max_depth or len(path))
        ]


def order_changelogs(
    migrations: Sequence[Migration],
    includes: Sequence[ChangelogInclude],
    ignored: Sequence[ChangelogInclude] = (),
) -> list[Migration]:
    """``migrations`` with those reachable from a master changelog put in its order (see the
    module docstring); the others unchanged, but for those of a changelog that only
    ``ignored`` includes (``ignore="true"``) name: Liquibase never runs them, so they are
    left out."""
    if ignored:
        kept = order_changelogs(migrations, includes)
        resolver = PathResolver(
            {m.location.path for m in migrations} | {i.location.path for i in ignored}
        )
        skipped: set[str] = set()
        for include in ignored:
            if include.directory:
                skipped.update(resolver.directory(include))
            elif (target := resolver.file(include)) is not None:
                skipped.add(target)
        # A changeset the walk from a master placed keeps its place: another include runs it.
        return [
            m
            for m, o in zip(kept, migrations, strict=True)
            if m is not o or o.location.path not in skipped
        ]
    if not includes:
        return list(migrations)
    liquibase = [m for m in migrations if m.layout == "liquibase"]
    by_file: dict[str, list[tuple[int, int, Migration | ChangelogInclude]]] = {}
    for index, migration in enumerate(liquibase):
        # Formatted SQL changesets count by changeset; the sort key's last part is the place.
        place = migration.sort_key[-1][0] if migration.sort_key else index
        by_file.setdefault(migration.location.path, []).append((place, 1, migration))
    for include in includes:
        by_file.setdefault(include.location.path, []).append((include.position, 0, include))
    resolver = PathResolver(by_file)
    targets: dict[int, list[str]] = {}
    included: set[str] = set()
    for include in includes:
        found = resolver.directory(include) if include.directory else resolver.file(include)
        paths = found if isinstance(found, list) else [found] if found else []
        targets[id(include)] = paths
        included.update(paths)
    masters = sorted({include.location.path for include in includes} - included)
    placed: dict[int, Migration] = {}
    visited: set[str] = set()
    for master in masters:
        for position, migration in enumerate(_walk(master, by_file, targets, visited)):
            placed[id(migration)] = replace(migration, stream=master, sort_key=((position, ""),))
    return [placed.get(id(m), m) for m in migrations]


_Item = Migration | ChangelogInclude | str
"""A changeset, an include, or the path of a changelog to enter."""


def _walk(
    master: str,
    by_file: dict[str, list[tuple[int, int, Migration | ChangelogInclude]]],
    targets: dict[int, list[str]],
    visited: set[str],
) -> list[Migration]:
    """The changesets ``master`` runs, in order; a changelog already entered (by this master
    or an earlier one, or an include cycle) is not entered again."""
    out: list[Migration] = []
    stack: list[Iterator[_Item]] = [iter([master])]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif isinstance(item, Migration):
            out.append(item)
        elif isinstance(item, ChangelogInclude):
            stack.append(iter(targets.get(id(item), [])))
        elif item not in visited:
            visited.add(item)
            entries = sorted(by_file.get(item, []), key=_item_key)
            stack.append(iter([entry for _, _, entry in entries]))
    return out


def _item_key(entry: tuple[int, int, Migration | ChangelogInclude]) -> tuple[int, int]:
    return entry[0], entry[1]
