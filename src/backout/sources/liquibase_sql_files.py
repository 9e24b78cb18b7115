"""Liquibase ``sqlFile`` changes: the SQL files a changeset runs, read into the changeset.

``<sqlFile path="sql/001-add-col.sql" relativeToChangelogFile="true"/>`` (YAML and JSON:
``- sqlFile: {path: …}``) runs the SQL of another file as one of the changeset's changes, or,
inside ``<rollback>``, as part of its rollback. A reader sees one file, so the changelog reader
records each such change as a :class:`SqlFileChange` fact, with where its operations go among
the changeset's, and reads no SQL file. :func:`link_sql_files`, run once every file of a tree
is read, finds each file as Liquibase does (relative to the changelog with
``relativeToChangelogFile``, else a search-path path: below the changelog's folder or one
above it, as includes are found by :class:`backout.changelog_order.PathResolver`), reads it
from the same tree (a working tree or a git ref), decodes it with the change's ``encoding``
and reads its SQL as an inline ``sql`` change is read (``endDelimiter``, ``${…}``
properties), in the change's dialects, with positions in the SQL file. Its operations become
the changeset's up (or down) operations at the change's place.

The SQL file belongs to its changeset: what the SQL migration reader made of it on its own (a
plain numbered migration without a down, for ``sql/001-add-col.sql``) is dropped, unless the
file is a formatted SQL changelog, whose changesets are Liquibase's own. A file that
is not in the tree is a BK901 at the change naming the path looked for; in a rollback, the
changeset's rollback fails too (Liquibase finds nothing to run), which BK207 reports.
``splitStatements`` and ``stripComments`` change how Liquibase sends the SQL, not what it
does, and need nothing here.

A changelog also runs the ``.sql`` files it includes (``include file=``, the files of an
``includeAll`` folder): one without the ``--liquibase formatted sql`` first line is one
changeset to Liquibase (``SqlChangeLogParser``: id ``raw``, author ``includeAll``), which
:func:`link_included_sql_files` makes of it, read from the tree, in place of what the SQL
migration reader made of the file alone. It has no rollback. :func:`link_changelog_files`
runs the steps in order, the properties in the paths expanded first
(:mod:`backout.sources.liquibase_properties`).

A light module (no SQL parser until a file is read): the engine runs the step whenever the
changelog reader, or the unpickling of a worker's facts, has loaded it. The facts stay after
the step, resolved, for ``--base``: :func:`sql_files_of_new_changesets` and
:func:`changesets_with_changed_files`.
"""

from __future__ import annotations

import codecs
import re
import sys
from collections.abc import Container
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from backout.discovery import MAX_FILE_BYTES
from backout.models import Location
from backout.sources.base import (
    Fact,
    FactSet,
    Misdecoded,
    SourceFile,
    Unfound,
    Unopened,
    Unreadable,
)
from backout.sources.paths import LIQUIBASE_READER

if TYPE_CHECKING:
    from backout.changelog_order import PathResolver
    from backout.discovery import FileBytes, Tree
    from backout.schema_operations import Operation
    from backout.sources.migration_facts import Migration

SQL_FILE_READER = "Liquibase sqlFile"
"""What BK901 calls a SQL file a ``sqlFile`` change runs, when it cannot be read."""
# The readers whose facts about a file are its reading as a SQL file of its own.
_SQL_FILE_READERS = frozenset(("SQL migration", "SQL", "text"))


@dataclass(frozen=True)
class SqlFileChange(Fact):
    """A ``sqlFile`` change of a changeset, located at the element in the changelog."""

    changeset: Location
    """Where the ``changeSet`` is: its :class:`Migration`'s location."""
    target: str
    """The ``path`` as written (``classpath:`` and all)."""
    relative: bool = False
    """``relativeToChangelogFile``."""
    rollback: bool = False
    """Inside ``rollback``: its operations are the changeset's down."""
    places: tuple[int, ...] = ()
    """For each dialect of :data:`backout.sources.liquibase.DIALECTS`, the place in the
    changeset's up (or down) operations where the file's operations go."""
    dialects: tuple[str, ...] = ()
    """The dialects that run it (the changeset's and the change's ``dbms``)."""
    end_delimiter: str = ""
    encoding: str = ""
    found: str | None = None
    """The tree's file it names, once :func:`link_sql_files` has looked (None: not found)."""

    @property
    def not_found(self) -> str:
        """Why no file was found: where Liquibase looks for it, in words."""
        return why_not_found(self.target, self.relative, self.location.path)


def why_not_found(target: str, relative: bool, including: str, folder: bool = False) -> str:
    """Why no file of the tree is ``target`` (``folder``: below it), as the changelog at
    ``including`` names it (``relative``: ``relativeToChangelogFile``): where Liquibase looks
    for it, in words."""
    from backout.changelog_order import PathResolver
    from backout.sources.liquibase_properties import unknown_properties

    unknown = unknown_properties(target)
    if unknown:
        names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(unknown))
        return (
            f"no changelog that runs it, nor a liquibase.properties beside or above its "
            f"master changelog, defines {names} before it (a value given with -D or in "
            "the environment is not known to backout)"
        )
    wanted = PathResolver.wanted(target, relative, including)
    if not wanted:
        return "it names no file"
    if not relative:
        found = re.search(r"(?:^|/)src/[^/]+/resources/", including)
        # Where it would be, below the nearest search root (the module's resources or the
        # changelog's own folder); at the tree's root it is the path itself, said already.
        nearest = including[: found.end()] if found else including.rpartition("/")[0] + "/"
        what = f"below {wanted}/" if folder else f"{wanted}"
        example = f" (such as {nearest}{wanted})" if nearest != "/" else ""
        return (
            f"no file of the checked tree is {what} of the search path, below the "
            f"changelog's folder or one above it{example}"
        )
    if wanted == ".." or wanted.startswith("../"):
        return f"{wanted}, relative to the changelog, is outside the checked tree"
    if folder:
        return f"no file of the checked tree is below {wanted}/, relative to the changelog"
    return f"{wanted}, relative to the changelog, is not in the checked tree"


@dataclass
class _FileRead:
    """A SQL file's operations by dialect, and what could not be read."""

    operations: dict[str, tuple[Operation, ...]]
    problems: list[Unreadable]
    readable: bool = True


def link_sql_files(facts: FactSet, tree: Tree, resolver: PathResolver) -> None:
    """Read the file of every :class:`SqlFileChange` of ``facts`` (from ``tree``, whose
    paths ``resolver`` finds) into its changeset; a file not in the tree is a BK901 (see the
    module docstring)."""
    changes = facts.of(SqlFileChange)
    if not changes:
        return
    changes = [
        replace(
            c,
            found=resolver.path(c.target, c.relative, c.location.path)
            or _linked(tree, c, resolver),
        )
        for c in changes
    ]
    wanted = sorted({c.found for c in changes if c.found is not None})
    contents = dict(tree.subset(wanted).read_all())
    from backout.sources.migration_facts import Migration

    # The files belong to their changesets: not read as SQL migrations of their own, unless
    # one is a formatted SQL changelog, whose changesets Liquibase runs where it is included.
    # The changes are put back resolved (kept for ``--base``).
    changelogs = {m.location.path for m in facts.of(Migration) if m.layout == "liquibase"}
    alone = contents.keys() - changelogs
    facts.retain(lambda fact: not isinstance(fact, SqlFileChange) and not _read_alone(fact, alone))
    facts.paths.update(contents)
    reads: dict[tuple[str, str, str, tuple[str, ...]], _FileRead] = {}
    by_changeset: dict[Location, list[tuple[SqlFileChange, _FileRead | None]]] = {}
    reported: set[Unreadable] = set()
    for change in changes:
        read: _FileRead | None = None
        if change.found is None or change.found not in contents:  # (or gone since listed)
            change = replace(change, found=None)
            problems: list[Unreadable] = [
                Unfound(
                    change.location,
                    LIQUIBASE_READER,
                    f"sqlFile {change.target or '(no path)'} found no file: {change.not_found}",
                    remedy="correct the path or add the file",
                )
            ]
        else:
            key = (change.found, change.end_delimiter, change.encoding, change.dialects)
            read = reads.get(key)
            if read is None:
                read = reads[key] = _read_file(change, contents[change.found])
            problems = read.problems
        # Once each, also for a change that a ``rollback changeSetId`` runs a second time.
        for problem in problems:
            if problem not in reported:
                reported.add(problem)
                facts.add(problem)
        facts.add(change)
        by_changeset.setdefault(change.changeset, []).append((change, read))

    def joined(fact: Fact) -> Fact:
        if isinstance(fact, Migration) and fact.engine == "liquibase":
            uses = by_changeset.get(fact.location)
            if uses:
                return _with_files(fact, uses)
        return fact

    facts.replace_each(joined)


def link_changelog_files(facts: FactSet, tree: Tree) -> None:
    """The steps that join the files a changelog names, once every file of ``tree`` is
    read: the properties in their paths expanded, the plain SQL files included made raw
    changesets, the files of ``sqlFile`` changes read into their changesets."""
    from backout.sources.migration_facts import ChangelogInclude

    if not facts.of(ChangelogInclude) and not facts.of(SqlFileChange):
        return
    from backout.changelog_order import PathResolver
    from backout.sources.liquibase_properties import expand_properties

    resolver = PathResolver(tree.paths)  # one for the steps: it sorts every path
    expand_properties(facts, resolver)
    report_missing_includes(facts, resolver)
    link_included_sql_files(facts, tree, resolver)
    link_sql_files(facts, tree, resolver)


def report_missing_includes(facts: FactSet, resolver: PathResolver) -> None:
    """A BK901 at each include whose file is not in the tree (``include``) or whose folder
    holds no file (``includeAll``), unless ``errorIfMissing``/``errorIfMissingOrEmpty`` is
    false: Liquibase stops there ("The file … was not found", "Could not find directory or
    directory was empty for includeAll"), and the changesets it names were not checked."""
    from backout.sources.migration_facts import ChangelogInclude

    for include in facts.of(ChangelogInclude):
        if not include.error_if_missing:
            continue
        if include.directory:
            if resolver.directory(include):
                continue
            why = f"includeAll {include.target} found nothing: " + why_not_found(
                include.target, include.relative, include.location.path, folder=True
            )
        else:
            if resolver.file(include) is not None:
                continue
            why = f"include {include.target} found no file: " + why_not_found(
                include.target, include.relative, include.location.path
            )
        setting = "errorIfMissingOrEmpty" if include.directory else "errorIfMissing"
        facts.add(
            Unfound(
                include.location,
                LIQUIBASE_READER,
                why + " (Liquibase stops here too)",
                remedy=f"correct the path or add the file{'s' if include.directory else ''}; "
                f'if the include is optional, set {setting}="false"',
            )
        )


def link_included_sql_files(facts: FactSet, tree: Tree, resolver: PathResolver) -> None:
    """Make each ``.sql`` file that a changelog includes (``include file=``, a folder of
    ``includeAll``) without the formatted SQL header the one changeset Liquibase makes of it
    (id ``raw``, author ``includeAll``: ``SqlChangeLogParser``), read from ``tree``, in place of
    what the SQL migration reader made of it alone (see the module docstring)."""
    from backout.sources.migration_facts import ChangelogInclude, Migration

    includes = [i for i in facts.of(ChangelogInclude) if not i.ignored]
    if not includes:
        return
    formatted = {m.location.path for m in facts.of(Migration) if m.layout == "liquibase"}
    wanted: set[str] = set()
    for include in includes:
        found = resolver.directory(include) if include.directory else [resolver.file(include)]
        wanted.update(p for p in found if p and p.lower().endswith(".sql") and p not in formatted)
    if not wanted:
        return
    from backout.sources.migrations import LIQUIBASE_HEADER

    contents = dict(tree.subset(sorted(wanted)).read_all())
    changesets: list[Fact] = []
    for path, data in contents.items():
        text, problems = _text(path, data, "utf-8", "the SQL of its changeset was not checked")
        if text is not None and LIQUIBASE_HEADER.match(text):
            continue  # formatted SQL without a changeset: Liquibase runs nothing of it
        changesets.extend(problems)
        if text is not None:
            changesets.extend(_raw_changeset(path, text))
    facts.retain(lambda fact: not _read_alone(fact, contents))
    facts.paths.update(contents)
    facts.extend(changesets)


def _raw_changeset(path: str, text: str) -> list[Fact]:
    """The changeset Liquibase makes of the plain SQL file at ``path``, and the SQL that a
    grammar could not read. Like a formatted SQL changeset without ``--rollback``, it has no
    rollback."""
    from backout.schema_operations import DOWN_MISSING, DOWN_PRESENT
    from backout.sources.liquibase import read_sql
    from backout.sources.migration_facts import RAW_CHANGESET, Migration, version_key
    from backout.sources.migrations import has_sql

    directory, slash, name = path.rpartition("/")
    reads = read_sql(text, path, 1, 1, "")
    state, reason = DOWN_PRESENT, ""  # an empty file: nothing to undo
    if has_sql(text):
        state = DOWN_MISSING
        reason = (
            "it has no `--liquibase formatted sql` first line, and Liquibase runs a plain SQL "
            "file as one changeset that it cannot roll back"
        )
    migration = Migration(
        Location(path, 1, 1),
        layout="liquibase",
        engine="sql",
        stream=directory if slash else ".",
        version=RAW_CHANGESET,
        sort_key=(*version_key(name), (0, "")),
        name=name,
        up_sql=text,
        down_state=state,
        down_reason=reason,
        changeset=RAW_CHANGESET,
        up=reads.up,
        readable=reads.readable,
        dialect_reads=reads.dialect_reads,
    )
    return [*reads.problems, migration]


def _linked(tree: Tree, change: SqlFileChange, resolver: PathResolver) -> str | None:
    """The tree's file that the path of ``change`` names through a symlink of a working tree:
    a link to a file checked under its own path is not one of the tree's paths (so that
    nothing is read twice), but Liquibase opens it. A search-path path is looked for below
    each of the changelog's search roots (:meth:`PathResolver.search_roots`), nearest first."""
    if tree.git_ref is not None:
        return None
    wanted = resolver.wanted(change.target, change.relative, change.location.path)
    if not wanted or wanted == ".." or wanted.startswith("../"):
        return None
    candidates = [wanted]
    if not change.relative:
        candidates = [root + wanted for root in resolver.search_roots(change.location.path)]
    root = tree.root.resolve()
    for candidate in candidates:
        link = tree.root / candidate
        if not link.is_symlink():
            continue
        try:
            target = link.resolve().relative_to(root).as_posix()
        except (OSError, RuntimeError, ValueError):  # a loop, a link out of the tree
            continue
        if target in tree.paths:  # a symlink is rare: no set of every path built for it
            return target
    return None


def _read_alone(fact: Fact, files: Container[str]) -> bool:
    """Whether ``fact`` is the SQL migration reader's reading of one of ``files`` on its own."""
    if fact.location.path not in files:
        return False
    from backout.sources.migration_facts import DownScript, Migration

    if isinstance(fact, Migration):
        return fact.engine == "sql" and fact.layout != "liquibase"
    if isinstance(fact, Unreadable):
        return fact.reader in _SQL_FILE_READERS
    return isinstance(fact, DownScript)


def _read_file(change: SqlFileChange, data: FileBytes) -> _FileRead:
    """The SQL of the file ``change`` names, read in its dialects."""
    path = change.found or ""
    try:
        codec = codecs.lookup(change.encoding.strip() or "utf-8").name
    except LookupError:
        unknown = f"sqlFile {change.target}: encoding {change.encoding!r} is not one backout knows"
        return _FileRead({}, [Unreadable(change.location, LIQUIBASE_READER, unknown)], False)
    text, problems = _text(path, data, codec, "the SQL of a sqlFile change was not checked")
    if text is None:
        return _FileRead({}, problems, False)
    from backout.sources.liquibase import DIALECTS, read_sql

    dialects = frozenset(change.dialects)
    reads = read_sql(text, path, 1, 1, change.end_delimiter)
    by_dialect = {read.dialect: read for read in reads.dialect_reads}
    operations = {
        dialect: (by_dialect[dialect].up if dialect in by_dialect else reads.up)
        for dialect in DIALECTS
        if dialect in dialects
    }
    problems.extend(p for p in reads.problems if p.dialect in dialects)
    readable = not any(p.dialect == "postgres" for p in reads.problems if p.dialect in dialects)
    return _FileRead(operations, problems, readable)


def _text(
    path: str, data: FileBytes, codec: str, skipped: str
) -> tuple[str | None, list[Unreadable]]:
    """The text of the SQL file at ``path`` decoded with ``codec``, and what could not be
    read; no text for a file too large, unopened or binary (``skipped`` says what that
    leaves unchecked)."""
    where = Location(path, 1, 0)
    if data is None:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        return None, [Unreadable(where, SQL_FILE_READER, f"larger than {limit} MiB: {skipped}")]
    if not isinstance(data, bytes):
        return None, [Unopened(where, SQL_FILE_READER, data.reason)]
    problems: list[Unreadable] = []
    if codec == "utf-8":
        lenient = SourceFile(path, data).lenient_text()  # None for a binary file
        text, misdecoded = lenient if lenient is not None else ("", None)
        if misdecoded is not None:
            problems.append(misdecoded)
        binary = lenient is None
    else:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            text = data.decode(codec, errors="replace")
            problems.append(Misdecoded(where, "text", f"not valid {codec} (byte {exc.start})"))
        # NUL characters, not bytes: UTF-16 text has a NUL byte in each ASCII character.
        binary = "\x00" in text[:8192]
    if binary:
        why = f"binary file (contains NUL bytes): {skipped}"
        return None, [Unreadable(where, SQL_FILE_READER, why)]
    return text, problems


def _with_files(
    migration: Migration, uses: list[tuple[SqlFileChange, _FileRead | None]]
) -> Migration:
    """``migration`` with the operations of its ``sqlFile`` changes' files in their places."""
    from backout.schema_operations import DOWN_PRESENT, DOWN_RAISES, DialectRead
    from backout.sources.liquibase import DIALECTS

    own = {read.dialect: read for read in migration.dialect_reads}
    up = {d: list(own[d].up if d in own else migration.up) for d in DIALECTS}
    down = {d: list(own[d].down if d in own else migration.down) for d in DIALECTS}
    readable = migration.readable
    failing: SqlFileChange | None = None
    # Last first: each file's operations go in before the places of the earlier ones.
    for change, read in reversed(uses):
        if read is None:
            if change.rollback:
                failing = change
            continue
        readable = readable and read.readable
        steps = down if change.rollback else up
        for dialect, place in zip(DIALECTS, change.places, strict=True):
            if dialect in read.operations:
                steps[dialect][place:place] = read.operations[dialect]
    pg_up, pg_down = tuple(up["postgres"]), tuple(down["postgres"])
    dialect_reads = tuple(
        replace(own[d], up=tuple(up[d]), down=tuple(down[d]))
        if d in own
        else DialectRead(d, tuple(up[d]), tuple(down[d]))
        for d in DIALECTS[1:]
    )
    if all(read.up == pg_up and read.down == pg_down for read in dialect_reads):
        dialect_reads = ()
    joined = replace(
        migration, up=pg_up, down=pg_down, dialect_reads=dialect_reads, readable=readable
    )
    if failing is not None and migration.down_state == DOWN_PRESENT:
        joined = replace(
            joined,
            down_state=DOWN_RAISES,
            down_location=failing.location,
            down_reason=f"its rollback runs sqlFile {failing.target}, and "
            f"{failing.not_found}, so Liquibase's rollback fails",
        )
    return joined


def sql_files_of_new_changesets(head: FactSet, base: FactSet) -> set[str]:
    """The SQL files that the head's new changesets (those the base does not have) run: they
    count as changed with ``--base`` (a new changeset that runs a file the base already had).
    The files of changesets that ran already do not count: adding a changeset to a changelog
    changes nothing in them."""
    from backout.sources.migration_facts import Migration

    at_base = {m.key for m in base.of(Migration)}
    new = {m.location for m in head.of(Migration) if m.key not in at_base}
    return {
        change.found
        for change in head.of(SqlFileChange)
        if change.found is not None and change.changeset in new
    }


def includes_of_changed_files(changed: set[str], head: FactSet) -> dict[str, list[tuple[int, int]]]:
    """The lines (first and last, by path) of the includes that find no file in ``head``
    while a file they name is in ``changed``: the change deleted (or moved) a changelog that
    an unchanged changelog still includes, which stops Liquibase (``--base``)."""
    from backout.changelog_order import PathResolver
    from backout.sources.migration_facts import ChangelogInclude

    unfound = {(u.location.path, u.location.line) for u in head.of(Unfound)}
    includes = [
        i for i in head.of(ChangelogInclude) if (i.location.path, i.location.line) in unfound
    ]
    spans: dict[str, list[tuple[int, int]]] = {}
    if not includes:
        return spans
    # Resolved among the changed paths, as if they were the tree: a hit is a file it named.
    among_changed = PathResolver(changed)
    for include in includes:
        if include.directory:
            hit = bool(among_changed.directory(include))
        else:
            hit = among_changed.file(include) is not None
        if hit:
            line = include.location.line
            spans.setdefault(include.location.path, []).append((line, line))
    return spans


def changesets_with_changed_files(
    changed: set[str], head: FactSet, base: FactSet
) -> dict[str, list[tuple[int, int]]]:
    """The lines of the changesets, in the head or the base, that run a SQL file of
    ``changed`` (a statement changed in ``sql/001.sql`` changes what the changeset of
    ``changelog.xml`` runs; a file gone makes its ``sqlFile`` unresolved), by changelog: from
    the changeset's first line to the line before the next changeset of the file. Not the
    whole changelog: its other changesets run what they ran before."""
    from backout.sources.migration_facts import Migration

    spans: dict[str, list[tuple[int, int]]] = {}
    for facts in (head, base):
        starts: dict[str, list[int]] | None = None
        for change in facts.of(SqlFileChange):
            if change.found is None or change.found not in changed:
                continue
            if starts is None:
                starts = {}
                for migration in facts.of(Migration):
                    if migration.engine == "liquibase":
                        starts.setdefault(migration.location.path, []).append(
                            migration.location.line
                        )
            path, first = change.changeset.path, change.changeset.line
            later = [line for line in starts.get(path, ()) if line > first]
            last = min(later) - 1 if later else sys.maxsize  # the last changeset: to the end
            spans.setdefault(path, []).append((first, last))
    return spans
