"""The migration model: what a migration is, the order migrations apply in, and the base schema.

Readers (``sources/migrations.py`` for plain SQL layouts, ``sources/alembic.py``,
``sources/django_migrations.py``) turn each migration into a :class:`Migration` fact (defined
in ``sources/migration_facts.py``, its operations in ``schema_operations.py``; both are
re-exported here). The drill and the BK2xx rules never look at files; they work from this
module:

* :class:`Migration` — one migration, in any layout. ``engine`` says who runs it: ``"sql"``
  (backout runs ``up_sql``/``down_sql`` itself), ``"alembic"`` (``revision``,
  ``down_revisions``, ``script_directory``), ``"django"`` (``app_label``,
  ``migration_name``) or ``"liquibase"`` (an XML/YAML/JSON changeset, which only Liquibase
  runs: the drill refuses it). ``up``/``down`` hold the parsed :class:`Operation` lists the
  rules judge; :meth:`Migration.operations` picks the read that matches the configured
  ``sql-dialect``. ``location`` is the file (or, for Liquibase, the ``--changeset`` line or
  ``changeSet`` element); ``down_location`` the
  down file or section, ``None`` when there is none (``down_state`` says why).
* :class:`DownScript` — a separate down/undo file (golang-migrate ``.down.sql``, Flyway
  ``U<ver>__*.sql``, plain ``.down.sql``). :func:`ordered_migrations` joins it to its up
  migration, so callers always see complete :class:`Migration` objects.
* :func:`ordered_migrations` — every migration of a fact set in the order it applies: per
  *stream* (one migrations directory, one Alembic script directory, one Django app), by the
  layout's ordering (version numbers, ``down_revision`` chain, Django ``dependencies``); the
  changesets a Liquibase master changelog includes are one stream, in its order
  (:mod:`backout.changelog_order`).
  ``config.migrations`` paths, when set, keep only migrations below those paths.
* :func:`split_release` — the base and the release. With a base release (``--base``), a
  migration whose identity (:attr:`Migration.key`) exists in the base is base, the rest is the
  release. Without one, the newest ``config.release_size`` migrations of each stream are the
  release (of each branch, for an Alembic history with several heads or a merge revision)
  and everything earlier is base.
* :class:`Schema` / :func:`replay` — the tables and columns that a list of migrations leaves,
  so that rules judge the release against the schema *as it was at the base*.
* :func:`analyse` — the release's operations, each with what it touched at the base (cached per
  check, shared by every BK2xx rule): :meth:`ReleaseAnalysis.of_kind` picks those of some kinds,
  and the analysis keeps the operations each of BK201–BK206's predicates holds for.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from backout.check_conditions import NUMBER, Atom, Condition, conjunction, folded, implies
from backout.check_conditions import renamed as renamed_condition

# ``backout.sources.sql`` imports the operation names from this module while the readers are
# being imported, so they must be bound before ``backout.sources`` is: keep this import first.
from backout.schema_operations import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    ALTERED_FIELD,
    ALTERED_UNIQUE,
    CHECK,
    COLUMNS_UNKNOWN,
    CREATE_ENUM,
    CREATE_TABLE,
    CREATE_VIEW,
    DELETE_MODEL,
    DJANGO_NAME_LENGTHS,
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DOWN_RAISES,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEFAULT,
    DROP_ENUM,
    DROP_NOT_NULL,
    DROP_TABLE,
    DROP_VIEW,
    DROPPED_INDEX,
    FIELD_FOREIGN_KEY,
    FOREIGN_KEY,
    IF_EXISTS,
    IRREVERSIBLE_STEP,
    JOIN_TABLE,
    MODEL_TABLE,
    ORM_ADDED,
    ORM_DEFAULT_ONLY,
    ORM_REMOVED,
    OWN_JOIN_TABLE,
    PLAIN_INDEX,
    PRIMARY_KEY,
    REDEFINED,
    REMOVE_FIELD,
    RENAME_COLUMN,
    RENAME_MODEL,
    RENAME_TABLE,
    RESTATED,
    SET_DEFAULT,
    SET_NOT_NULL,
    THROUGH_MODEL,
    UNIQUE,
    UNIQUE_TOGETHER,
    UNNAMED_PRIMARY_KEY,
    Column,
    DialectRead,
    Operation,
    constraint_name,
    django_name,
    field_foreign_key,
    join_columns,
    join_foreign_key,
    join_table_name,
    unique_together_group,
    unique_together_key,
)
from backout.sources.migration_facts import ChangelogInclude, DownScript, Migration

if TYPE_CHECKING:
    from backout.config import Config
    from backout.models import Location
    from backout.rules.base import CheckContext
    from backout.sources.base import FactSet

# The migration vocabulary is re-exported: rules, the drill and the plan import it from here.
__all__ = [
    "ADD_COLUMN",
    "ADD_CONSTRAINT",
    "ALTERED_UNIQUE",
    "ALTER_TYPE",
    "CHECK",
    "COLUMNS_UNKNOWN",
    "CREATE_ENUM",
    "CREATE_TABLE",
    "CREATE_VIEW",
    "DEFAULT_ASPECT",
    "DOWN_EMPTY",
    "DOWN_MISSING",
    "DOWN_PRESENT",
    "DOWN_RAISES",
    "DROPPED_INDEX",
    "DROP_COLUMN",
    "DROP_CONSTRAINT",
    "DROP_DEFAULT",
    "DROP_ENUM",
    "DROP_NOT_NULL",
    "DROP_TABLE",
    "DROP_VIEW",
    "FOREIGN_KEY",
    "IRREVERSIBLE_STEP",
    "MODEL_TABLE",
    "NAME_ASPECT",
    "NULLABILITY_ASPECT",
    "ORM_ADDED",
    "ORM_DEFAULT_ONLY",
    "ORM_REMOVED",
    "PRIMARY_KEY",
    "REDEFINED",
    "RENAME_COLUMN",
    "RENAME_TABLE",
    "REQUIRED_ASPECT",
    "SET_DEFAULT",
    "SET_NOT_NULL",
    "TYPE_ASPECT",
    "UNIQUE",
    "Column",
    "ColumnState",
    "DialectRead",
    "DownScript",
    "JudgedOperation",
    "Migration",
    "Operation",
    "ReleaseAnalysis",
    "ReleaseSplit",
    "Schema",
    "TableState",
    "adds_required_column",
    "analyse",
    "constrains_old_writes",
    "constraint_name",
    "drops_base_object",
    "is_backward_incompatible",
    "judge_release",
    "narrows_type",
    "ordered_migrations",
    "renames_base_object",
    "replay",
    "sets_not_null",
    "split_release",
    "type_change_problem",
]


def _join_downs(migrations: list[Migration], downs: list[DownScript]) -> list[Migration]:
    by_version = {(d.stream, d.layout, d.version): d for d in downs}
    joined = []
    for migration in migrations:
        down = by_version.get((migration.stream, migration.layout, migration.version))
        joined.append(migration if down is None else _with_down(migration, down))
    return joined


def _with_down(migration: Migration, down: DownScript) -> Migration:
    """A copy of ``migration`` whose down migration is the separate file ``down``.

    The copy is a new instance given a copy of the attributes, rather than
    ``dataclasses.replace``: ``replace`` runs the frozen ``__init__`` over all of Migration's
    fields, which made joining the down files of a large tree cost more than ordering it
    (Migration has no ``__post_init__`` to skip).
    """
    sql = down.sql
    state = DOWN_PRESENT if sql.strip() and _has_sql(sql) else DOWN_EMPTY
    dialect_reads = migration.dialect_reads
    if dialect_reads:
        dialect_reads = tuple(
            replace(read, down=_down_for(down, read.dialect)) for read in dialect_reads
        )
    elif not down.readable and down.dialect_reads:
        # The up file was read whole by PostgreSQL's grammar, the down file was not: each
        # dialect pairs the one up read with its own read of the down file (a MySQL down file
        # in backticks kept no operation in a MySQL project).
        dialect_reads = tuple(
            DialectRead(read.dialect, migration.up, read.down, migration.readable and read.readable)
            for read in down.dialect_reads
        )
    # One store per field (a keyword ``update`` builds a dict of them first); tests/
    # test_fast_copies.py checks the copy against the constructor's instance.
    attributes = vars(migration).copy()
    attributes["down_sql"] = sql
    attributes["down_line"] = 1
    attributes["down_location"] = down.location
    attributes["down_state"] = state
    attributes["down_reason"] = "" if state == DOWN_PRESENT else f"{down.location.path} is empty"
    attributes["down_custom_classes"] = ()
    attributes["down_reference"] = None
    attributes["down"] = down.down
    attributes["dialect_reads"] = dialect_reads
    joined = object.__new__(Migration)
    # Frozen: the attributes are set past the dataclass's __setattr__, as its __init__ does.
    object.__setattr__(joined, "__dict__", attributes)
    return joined


def _down_for(down: DownScript, dialect: str) -> tuple[Operation, ...]:
    if not down.readable:
        for read in down.dialect_reads:
            if read.dialect == dialect:
                return read.down
    return down.down


def _dialect_streams(migrations: list[Migration], dialect: str) -> dict[str, set[str]]:
    """The dialects whose files count, per stream: the configured ``dialect``; or, in a stream
    none of whose migrations that dialect runs, the one dialect all its files name (a
    golang-migrate directory of ``name.mysql.up.sql`` files checked without ``sql-dialect``
    was silently nothing: its migrations are the project's, whatever the setting)."""
    named: defaultdict[str, set[str | None]] = defaultdict(set)
    for migration in migrations:
        named[migration.stream].add(migration.dialect)
    kept: dict[str, set[str]] = {}
    for stream, dialects in named.items():
        if dialect in dialects or None in dialects or len(dialects) != 1:
            kept[stream] = {dialect}
        else:
            kept[stream] = {d for d in dialects if d is not None}
    return kept


_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


def _has_sql(text: str) -> bool:
    if "--" in text or "/*" in text:  # most down files have no comment: no regex for them
        text = _SQL_COMMENT.sub("", text)
    return bool(text.strip(" \t\r\n;"))


def _under(path: str, roots: Sequence[str]) -> bool:
    for root in roots:
        clean = root.strip("/").removeprefix("./")
        if not clean or clean == "." or path == clean or path.startswith(clean + "/"):
            return True
    return False


def ordered_migrations(facts: FactSet, config: Config | None = None) -> list[Migration]:
    """Every migration of ``facts`` in the order it applies, down scripts joined.

    Streams are ordered by name; within a stream, SQL layouts by version, Alembic by the
    ``down_revision`` chain, Django by ``dependencies``. A squashed Django migration is used
    only when none of the migrations it ``replaces`` is present (as Django does once they are
    deleted); otherwise the originals are used and the squash is skipped.
    """
    migrations = facts.of(Migration)
    downs = facts.of(DownScript)
    if config is not None and config.migrations:
        migrations = [m for m in migrations if _under(m.location.path, config.migrations)]
        downs = [d for d in downs if _under(d.location.path, config.migrations)]
    # A file that only one dialect runs (pop's ``name.mysql.up.sql``) counts for that one, a
    # Liquibase changeset for some databases (``dbms``, a dbms precondition) for those.
    dialect = config.sql_dialect if config is not None else "postgres"
    if any(m.dialect is not None for m in migrations):
        kept = _dialect_streams(migrations, dialect)
        migrations = [m for m in migrations if m.dialect is None or m.dialect in kept[m.stream]]
        downs = [d for d in downs if d.dialect is None or d.dialect in kept.get(d.stream, ())]
    migrations = [m for m in migrations if m.dialects is None or dialect in m.dialects]
    migrations = _join_downs(migrations, downs)
    if any(m.down_reference for m in migrations):
        from backout.changelog_order import resolve_rollback_references

        migrations = resolve_rollback_references(migrations)
    # An ignored include's changesets do not run as part of its master, nor at all.
    every_include = facts.of(ChangelogInclude)
    if every_include:
        from backout.changelog_order import order_changelogs

        includes = [i for i in every_include if not i.ignored]
        ignored = [i for i in every_include if i.ignored]
        migrations = order_changelogs(migrations, includes, ignored)
    streams: dict[str, list[Migration]] = {}
    for migration in migrations:
        streams.setdefault(migration.stream, []).append(migration)
    ordered: list[Migration] = []
    for stream in sorted(streams):
        members = streams[stream]
        engine = members[0].engine
        if engine == "alembic":
            ordered.extend(_alembic_order(members))
        elif engine == "django":
            ordered.extend(_django_order(members))
        else:
            ordered.extend(sorted(members, key=_FILE_ORDER))
    return ordered


# The order of the migrations of a layout ordered by name: version, then file and line. An
# attrgetter builds the key without a Python call per migration.
_FILE_ORDER = operator.attrgetter("sort_key", "location.path", "location.line")


def _topological(
    items: list[Migration], parents: dict[str, list[str]], ident: dict[str, Migration]
) -> list[Migration]:
    done: set[str] = set()
    # Nodes whose parents are being walked: a parent among them closes a cycle (a revision
    # that is its own down_revision, two migrations that depend on each other), which is
    # broken there instead of walked again and again.
    entered: set[str] = set()
    out: list[Migration] = []
    # Iterative depth-first walk: parents first, siblings by name.
    for start in sorted(ident):
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if expanded:
                done.add(node)
                out.append(ident[node])
                continue
            if node in entered:
                continue
            entered.add(node)
            stack.append((node, True))
            for parent in sorted(parents.get(node, ()), reverse=True):
                if parent in ident and parent not in done and parent not in entered:
                    stack.append((parent, False))
    return out


def _alembic_order(members: list[Migration]) -> list[Migration]:
    ident = {m.revision or m.location.path: m for m in members}
    parents = {key: list(m.down_revisions) for key, m in ident.items()}
    return _topological(members, parents, ident)


def _django_order(members: list[Migration]) -> list[Migration]:
    present = {(m.app_label, m.migration_name) for m in members}
    kept = []
    for migration in members:
        if migration.replaces and any(r in present for r in migration.replaces):
            continue  # the replaced migrations are still there: Django uses them, not the squash
        kept.append(migration)
    replaced_by = {r: (m.app_label, m.migration_name) for m in kept for r in m.replaces}
    ident = {f"{m.app_label}.{m.migration_name}": m for m in kept}
    parents: dict[str, list[str]] = {}
    for key, migration in ident.items():
        deps = []
        for dep in migration.dependencies:
            target = replaced_by.get(dep, dep)
            if target[0] == migration.app_label:
                deps.append(f"{target[0]}.{target[1]}")
        parents[key] = deps
    return _topological(kept, parents, ident)


def _django_newest(apps: list[list[Migration]], size: int) -> set[str] | None:
    """The keys of a Django project's newest ``size`` migrations across its apps, by when
    ``makemigrations`` wrote them; ``None`` when some app has no dated migration at all
    (then each app's newest ``size`` are the release, as for other layouts).

    The apps share one database and one release: judging each app's newest migration would
    judge migrations that shipped long ago. Migrations written in the same minute (one
    ``makemigrations`` run over several apps) are one run. A hand-written migration without
    the date line is dated by the migration before it in its app (it cannot be older), so it
    joins the release when that one does; within an app, every migration after a release
    migration belongs to the release too.
    """
    if len(apps) < 2:
        return None
    dated_apps: list[list[tuple[str, Migration]]] = []
    for members in apps:
        dated: list[tuple[str, Migration]] = []
        latest = ""
        for migration in members:
            latest = max(latest, migration.generated_at or "")
            if latest:
                dated.append((latest, migration))
        if not dated:
            return None
        dated_apps.append(dated)
    stamps = sorted({stamp for dated in dated_apps for stamp, _ in dated})
    cutoff = stamps[-min(size, len(stamps))]
    return {m.key for dated in dated_apps for stamp, m in dated if stamp >= cutoff}


def _alembic_newest(members: list[Migration], size: int) -> set[str]:
    """The keys of the newest ``size`` revisions on every branch of an Alembic history.

    Each head (a revision no other revises) starts a branch; walking back along
    ``down_revision``, every revision counts towards ``size`` except a merge revision that
    changes nothing, which leads on into each branch it merges.
    """
    ident = {m.revision or m.location.path: m for m in members}
    revised = {parent for m in members for parent in m.down_revisions}
    depth_seen: dict[str, int] = {}
    stack = [(key, 0) for key in ident if key not in revised]
    while stack:
        key, depth = stack.pop()
        migration = ident.get(key)
        if migration is None:
            continue
        if len(migration.down_revisions) < 2 or migration.up:
            depth += 1
        if depth > size or depth_seen.get(key, size + 1) <= depth:
            continue
        depth_seen[key] = depth
        stack.extend((parent, depth) for parent in migration.down_revisions)
    return {ident[key].key for key in depth_seen}


@dataclass(frozen=True)
class ReleaseSplit:
    """The migrations at the base and the ones the release adds, each in apply order."""

    base: tuple[Migration, ...]
    release: tuple[Migration, ...]


def split_release(
    head: FactSet, base: FactSet | None = None, config: Config | None = None
) -> ReleaseSplit:
    """Split the head's migrations into base and release (see the module docstring)."""
    ordered = ordered_migrations(head, config)
    keys = [m.key for m in ordered]
    if base is not None:
        base_migrations = base.of(Migration)
        base_keys = {m.key for m in base_migrations}
        # A squash whose replaced migrations all ran at the base changes nothing: Django only
        # records it as applied.
        base_names = {(m.app_label, m.migration_name) for m in base_migrations if m.app_label}
        at_base = [
            key in base_keys or bool(m.replaces and all(r in base_names for r in m.replaces))
            for m, key in zip(ordered, keys, strict=True)
        ]
    else:
        size = config.release_size if config is not None else 1
        streams: dict[str, list[Migration]] = {}
        for migration in ordered:
            streams.setdefault(migration.stream, []).append(migration)
        release_keys = set()
        django = [members for members in streams.values() if members[0].engine == "django"]
        dated = _django_newest(django, size)
        if dated is not None:
            release_keys.update(dated)
        for members in streams.values():
            if members[0].engine == "alembic":
                release_keys.update(_alembic_newest(members, size))
            elif members[0].engine != "django" or dated is None:
                release_keys.update(m.key for m in members[-size:])
        at_base = [key not in release_keys for key in keys]
    return ReleaseSplit(
        tuple(m for m, is_base in zip(ordered, at_base, strict=True) if is_base),
        tuple(m for m, is_base in zip(ordered, at_base, strict=True) if not is_base),
    )


# ---------------------------------------------------------------------------------------------
# The schema a list of migrations leaves.


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(name: str) -> str:
    return name.translate(_ASCII_LOWER)


# How each dialect compares the names of tables and columns (PostgreSQL: as the readers give
# them, unquoted names folded to lower case and quoted ones exact). MySQL and MariaDB compare
# column names ignoring case on every platform; table names as ``lower_case_table_names``
# says, case-sensitive by default on Linux, but the history of a project that runs names a
# table one way (the readers already fold unquoted names, and two tables differing only in
# case are what MySQL's manual warns against), so tables are matched ignoring case too.
# SQLite ignores the case of ASCII letters in every identifier. See docs/design.md.
_NAME_FOLDS: dict[str, Callable[[str], str]] = {"mysql": str.lower, "sqlite": _ascii_lower}


def name_key(dialect: str) -> Callable[[str], str] | None:
    """What ``dialect`` compares names of tables and columns by (None: exactly as read)."""
    return _NAME_FOLDS.get(dialect)


def _same(name: str) -> str:
    return name


_V = TypeVar("_V")


class _Names(dict[str, _V]):
    """A dict keyed by names, which finds a name however its letters are cased when the
    dialect ignores case (``fold``): keys are stored folded, the states they map to keep the
    names as written (for messages). Only MySQL and SQLite schemas use it: PostgreSQL's
    plain dicts pay nothing for it. Every way in folds the name (``update``, keyword names,
    ``|``, ``|=``; ``copy`` keeps the fold); ``fromkeys``, which has no fold, is refused."""

    __slots__ = ("fold",)

    def __init__(
        self,
        fold: Callable[[str], str],
        items: Mapping[str, _V] | Iterable[tuple[str, _V]] = (),
        **names: _V,
    ) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        super().__init__((fold(key), value) for key, value in pairs)
        self.fold = fold
        if names:
            self.update(names)

    def update(  # type: ignore[override]
        self, items: Mapping[str, _V] | Iterable[tuple[str, _V]] = (), /, **names: _V
    ) -> None:
        fold = self.fold
        pairs = items.items() if isinstance(items, Mapping) else items
        super().update((fold(key), value) for key, value in pairs)
        if names:
            super().update((fold(key), value) for key, value in names.items())

    def copy(self) -> _Names[_V]:
        return _Names(self.fold, self.items())

    def __or__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        merged = _Names(self.fold, other)
        merged.update(self)
        return merged

    def __ior__(self, other: Any) -> _Names[_V]:  # type: ignore[override]
        self.update(other)
        return self

    @classmethod
    def fromkeys(cls, iterable: Iterable[str], value: Any = None) -> Any:  # type: ignore[override]
        """Refused: a new ``_Names`` needs the dialect's fold (``_Names(fold, …)``)."""
        raise TypeError("_Names.fromkeys has no fold to key names by: use _Names(fold, items)")

    def __getitem__(self, key: str) -> _V:
        return super().__getitem__(self.fold(key))

    def __setitem__(self, key: str, value: _V) -> None:
        super().__setitem__(self.fold(key), value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(self.fold(key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self.fold(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self.fold(key), default)

    def pop(self, key: str, *default: Any) -> Any:
        return super().pop(self.fold(key), *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        return super().setdefault(self.fold(key), default)


@dataclass(slots=True)
class ColumnState:
    """A column as the replay knows it; ``at_base`` is False for columns the release added."""

    name: str
    type: str | None
    nullable: bool
    has_default: bool
    at_base: bool
    base_name: str | None
    """Its name at the base (differs after a rename in the release); None when new."""
    base_type: str | None = None
    """Its type at the base (None when new or unknown); the release's changes leave it."""
    base_nullable: bool | None = None
    """Whether it was nullable at the base (None when new or unknown)."""
    base_has_default: bool | None = None
    """Whether it had a default at the base (None when new or unknown)."""
    unique: bool = False
    """Unique on its own (declared so, or a one-column UNIQUE or PRIMARY KEY constraint)."""
    nullable_known: bool = True
    """False for a column no migration created whose NOT NULL no operation set, dropped or
    restated (it was only retyped, given a default…): :attr:`nullable` is then a guess, and
    the replay leaves its :attr:`base_nullable` unknown, as for a column it never met."""

    def copy(self) -> ColumnState:
        """A copy of the column (``dataclasses.replace`` took four times as long, and the
        schema of a long history has tens of thousands of columns to copy)."""
        return ColumnState(
            self.name,
            self.type,
            self.nullable,
            self.has_default,
            self.at_base,
            self.base_name,
            self.base_type,
            self.base_nullable,
            self.base_has_default,
            self.unique,
            self.nullable_known,
        )


class HeldConstraint(NamedTuple):
    """A constraint a table has (:attr:`TableState.constraints`)."""

    columns: tuple[str, ...]
    references: str
    """The table a foreign key references (``""``: another kind, or not known)."""
    kind: str = ""
    """What constraint it is (:data:`UNIQUE`, :data:`FOREIGN_KEY`…; ``""`` when not known)."""
    condition: Condition = ()
    """A CHECK's condition, its columns as the table has them now (``()`` when not known)."""


@dataclass(slots=True)
class TableState:
    """A table as the replay knows it."""

    name: str
    columns: dict[str, ColumnState] = field(default_factory=dict)
    at_base: bool = True
    base_name: str | None = None
    complete: bool = True
    """False when the table was not created by a migration backout read (columns unknown)."""
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Its UNIQUE and PRIMARY KEY constraints and unique indexes over several columns, by
    name (lower-cased; an unnamed one by :func:`_key_name`): the columns each holds unique
    together. A one-column key is also :attr:`ColumnState.unique` of its column, which
    dropping the key clears."""
    primary: str = ""
    """The name in :attr:`keys` of its primary key (``""`` when it has none known): MySQL's
    ``DROP PRIMARY KEY`` and Liquibase's ``dropPrimaryKey`` drop it whatever it is called."""
    fields: dict[str, str] = field(default_factory=dict)
    """Django: its model's fields whose columns have other names → the column
    (:attr:`Column.field`: ``author`` → ``author_id``)."""
    own_columns: set[str] = field(default_factory=set)
    """Django: those of :attr:`fields` whose ``db_column`` names the column
    (:attr:`Column.own_column`), which a ``RenameField`` keeps."""
    constraints: dict[str, HeldConstraint] = field(default_factory=dict)
    """Its constraints known by name (lower-cased; on PostgreSQL an unnamed one by the name
    the server gives it, :meth:`Schema.constraint_name`): the columns each holds, which
    dropping one, a column or the table forgets, and the table a foreign key references; the
    names PostgreSQL's next unnamed constraint avoids."""


@dataclass(slots=True)
class JoinTable:
    """Django: the join table of a many-to-many field (:data:`JOIN_TABLE`)."""

    name: str
    own: bool
    """Named by the field's ``db_table``, which Django keeps whatever is renamed."""
    target: str
    """The default table name of the model the field joins to (``""`` when not known)."""
    models: tuple[str, str]
    """The names of the field's model and of the model it joins to, after which Django names
    the columns (:func:`join_columns`)."""

    def copy(self) -> JoinTable:
        """An independent copy."""
        return JoinTable(self.name, self.own, self.target, self.models)


@dataclass
class Schema:
    """Tables and enum types, replayed from operations."""

    tables: dict[str, TableState] = field(default_factory=dict)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    model_tables: dict[str, str] = field(default_factory=dict)
    """Django models' default table names → the table they use instead (``db_table``)."""
    views: dict[str, bool] = field(default_factory=dict)
    """The views (materialized ones too) migrations create → whether the base has it: an
    operation on a view the release created (a column renamed) changes nothing the old
    release has, though no table of that name was ever seen."""
    fold: Callable[[str], str] | None = None
    """How the dialect compares names (:func:`name_key`): when set, tables, columns and views
    are found ignoring the case it ignores."""
    orm_removed: set[tuple[str, str]] = field(default_factory=set)
    """Django: the (table, column) pairs, and (table, ``""``) for whole models, that left the
    models' state while the database kept them (:data:`ORM_REMOVED`), and have not come back
    since: taken into the models again (:data:`ORM_ADDED`), or dropped or created in the
    database (a column or table made under that name later is a new one the code reads).
    A rename of the table or column (``RenameModel``, SQL) carries the mark to the new name."""

    server_names: str = ""
    """The dialect whose server names unnamed constraints, ``postgres`` or ``mysql``, which
    they get the names of (:meth:`constraint_name`); ``""``: they keep none."""
    names_used: dict[str, int] = field(default_factory=dict)
    """How many tables hold a constraint of each name (:attr:`TableState.constraints`): a
    name PostgreSQL gives an unnamed constraint is one no constraint of the schema has."""
    joins: dict[tuple[str, str], JoinTable] = field(default_factory=dict)
    """Django: the join tables of many-to-many fields, by the default table name of the
    field's model and the field's name (:data:`JOIN_TABLE`)."""
    name_length: int | None = None
    """Django: the longest table name its backend gives (:meth:`Migration.name_length`, set
    from each Django migration replayed), which a join table's default name is shortened
    to."""

    def __post_init__(self) -> None:
        fold = self.fold
        if fold is not None:
            self.tables = _Names(fold, self.tables.items())
            self.views = _Names(fold, self.views.items())

    def new_table(self, name: str, at_base: bool) -> TableState:
        """A new :class:`TableState` called ``name``, its columns found as the dialect finds
        them."""
        table = TableState(name, at_base=at_base, base_name=name if at_base else None)
        if self.fold is not None:
            table.columns = _Names(self.fold)
        return table

    def same_name(self, one: str, other: str) -> bool:
        """Whether the dialect takes the names ``one`` and ``other`` for the same."""
        fold = self.fold
        return one == other if fold is None else fold(one) == fold(other)

    def join_name(self, model_table: str, field_name: str) -> str:
        """The default name of the join table of the many-to-many field ``field_name`` of the
        model whose default table is ``model_table``: ``<its table>_<field>``, shortened as
        Django shortens it (Django's ``_get_m2m_db_table``)."""
        table = self.model_tables.get(model_table, model_table)
        return django_name(join_table_name(table, field_name), self.name_length)

    def new_in_release(self, name: str) -> bool:
        """Whether ``name``, which no table has, is a view the release created."""
        return self.views.get(name) is False

    def resolve(self, op: Operation) -> tuple[Operation, ...]:
        """``op`` as the operations on the tables it really changes (:meth:`_resolve_one`),
        with the changes Django makes to the join tables of many-to-many fields
        (:attr:`joins`) along with it: a ``RenameField``/``RemoveField`` of such a field
        renames or drops its join table, a ``RenameModel`` renames the join tables named
        after the model and the columns named after it, an ``AlterModelTable`` the join tables
        named after the table, a ``DeleteModel`` drops them."""
        kind = op.kind
        if kind == JOIN_TABLE:
            return self._join_table(op)
        joins = self.joins
        if joins:
            detail = op.detail
            if op.by_field and (
                detail == REMOVE_FIELD or (kind in (RENAME_COLUMN, ORM_REMOVED) and not detail)
            ):
                join = joins.get((op.table, op.column or ""))
                if join is not None:
                    return self._join_field(op, join)
            elif detail in (RENAME_MODEL, DELETE_MODEL) or kind == MODEL_TABLE:
                return self._model_joins(op)
        one = self._resolve_one(op)
        return () if one is None else (one,)

    def _resolve_one(self, op: Operation) -> Operation | None:
        """``op`` naming the table it really changes, or ``None`` when it changes no table:
        a :data:`MODEL_TABLE` (recorded here), or a ``RenameModel`` of a model that keeps its
        own ``db_table`` (the record moves to the new model name)."""
        kind = op.kind
        if kind == MODEL_TABLE:
            if op.new_name and op.new_name != op.table:
                self.model_tables[op.table] = op.new_name
            else:
                self.model_tables.pop(op.table, None)
            return None
        if op.by_field:
            by_column = self._by_column(op)
            if by_column is None:
                return None
            op = by_column
        if op.references in self.model_tables:  # a foreign key to a model with its db_table
            op = replace(op, references=self.model_tables[op.references])
        table = self.model_tables.get(op.table)
        if table is None:
            return op
        if kind == RENAME_TABLE and op.detail == RENAME_MODEL and op.new_name:
            self.model_tables[op.new_name] = self.model_tables.pop(op.table)
            return None
        return replace(op, table=table)

    def _by_column(self, op: Operation) -> Operation | None:
        """``op``, a Django operation that names model fields (:attr:`Operation.by_field`),
        naming their columns instead (:attr:`TableState.fields`); ``None`` for a
        ``RenameField`` of a field with its own ``db_column``, or a ``RenameField`` or
        ``RemoveField`` of a field with no column, which renames or drops no column."""
        state = self.tables.get(self.model_tables.get(op.table, op.table))
        if op.detail == ALTERED_FIELD:
            return _altered_field(op, state)
        if op.kind == ORM_ADDED and op.column_def is not None:
            # A field the models take back, stored in a column of another name.
            if state is not None:
                _hold_field(state, op.column_def)
            return replace(op, column=op.column_def.name, column_def=None)
        if (
            (op.kind == RENAME_COLUMN or op.detail == REMOVE_FIELD)
            and state is not None
            and state.complete
            and op.column not in state.fields
            and op.column not in state.columns
        ):
            # A field with no column (a many-to-many through a model): none renamed or dropped.
            return None
        if state is None or not state.fields:
            return op
        fields = state.fields
        if op.kind == RENAME_COLUMN and op.column and op.new_name:
            column = fields.pop(op.column, None)
            if column is None:
                return op
            if op.column in state.own_columns:  # db_column: Django keeps the column
                state.own_columns.discard(op.column)
                state.own_columns.add(op.new_name)
                fields[op.new_name] = column
                return None
            fields[op.new_name] = f"{op.new_name}_id"
            return replace(op, column=column, new_name=f"{op.new_name}_id")
        constrained = tuple([fields.get(name, name) for name in op.constrained])
        detail, values = op.detail, op.values
        if detail.startswith(f"{UNIQUE_TOGETHER} ("):
            detail = unique_together_key(constrained)
        if op.constraint == UNIQUE_TOGETHER:
            values = tuple(
                unique_together_key([fields.get(n, n) for n in unique_together_group(key)])
                for key in values
            )
        column = fields.get(op.column, op.column) if op.column else op.column
        return replace(op, column=column, constrained=constrained, detail=detail, values=values)

    def table(self, name: str, at_base: bool) -> TableState:
        """The table called ``name``; an unseen one is recorded as existing at the base."""
        found = self.tables.get(name)
        if found is None:
            # A table no migration created (made by hand or before the history starts)
            # existed before the release: the release did not create it, or it would have
            # been seen. So it is at the base whoever meets it first, the base or the release
            # (a release's second change of such a table is judged as its first was); unless
            # it is a view the release created.
            at_base = not self.new_in_release(name)
            found = self.new_table(name, at_base)
            found.complete = False
            self.tables[name] = found
        return found

    def column(self, table: str, name: str, at_base: bool) -> ColumnState:
        """The column ``table.name``; an unseen one on an existing table counts as at base.

        Only an operation on a column that exists meets an unseen one (an added column is
        recorded by its addition), so on a table that existed before the release it is as
        old as the table, whichever release's operation meets it first.
        """
        state = self.table(table, at_base)
        found = state.columns.get(name)
        if found is None:
            known = state.at_base
            found = ColumnState(
                name, None, True, False, known, name if known else None, nullable_known=False
            )
            state.columns[name] = found
        return found

    def _join_field(self, op: Operation, join: JoinTable) -> tuple[Operation, ...]:
        """Django's ``RemoveField`` or ``RenameField`` ``op`` of a many-to-many field whose join
        table is ``join``: the drop of that table, or its rename to ``<model table>_<new
        name>`` (none when the field names it: ``db_table``); a ``RemoveField`` of the models'
        state alone (:data:`ORM_REMOVED`) leaves the table to the database, which Django no
        longer renames or drops, and the code no longer reads."""
        del self.joins[(op.table, op.column or "")]
        if op.kind == ORM_REMOVED:
            return (replace(op, table=join.name, column=None),)
        if op.kind != RENAME_COLUMN:
            return (
                replace(
                    op, kind=DROP_TABLE, table=join.name, column=None, detail="", by_field=False
                ),
            )
        new_field = op.new_name or ""
        self.joins[(op.table, new_field)] = join
        name = self.join_name(op.table, new_field)
        if join.own or name == join.name:
            return ()
        renamed = replace(
            op, kind=RENAME_TABLE, table=join.name, column=None, new_name=name, by_field=False
        )
        join.name = name
        return (renamed,)

    def _join_table(self, op: Operation) -> tuple[Operation, ...]:
        """A :data:`JOIN_TABLE`: recorded; for an ``AlterField``, the renames Django's
        ``_alter_many_to_many`` makes: the table when its name changes (a ``db_table`` given,
        changed or taken away), the column of the model joined to when that is another; given
        a ``through=`` model (:data:`THROUGH_MODEL`), the join table is no longer the field's."""
        key = (op.table, op.column or "")
        if op.detail == THROUGH_MODEL:
            self.joins.pop(key, None)
            return ()
        models = (op.values[0], op.values[1]) if len(op.values) == 2 else ("", "")
        before = self.joins.get(key)
        if op.detail != ALTERED_FIELD:
            own = op.detail == OWN_JOIN_TABLE
            name = op.new_name or ""
            if not own:
                # Named after the model's table, which a migration read alone does not know
                # when an earlier one gave the model its db_table (an AddField): the
                # table the migration creates under the name it has is that one.
                real = self.join_name(op.table, op.column or "")
                if real != name:
                    self.model_tables[name] = real
                else:
                    self.model_tables.pop(name, None)
                name = real
            self.joins[key] = JoinTable(name, own, op.references, models)
            return ()
        if before is None:  # a field the history did not create: its join table is not known
            return ()
        name = op.new_name or self.join_name(op.table, op.column or "")
        self.joins[key] = JoinTable(name, bool(op.new_name), op.references, models)
        changes = []
        if name != before.name:
            changes.append(Operation(RENAME_TABLE, op.location, before.name, new_name=name))
        changes.extend(_renamed_join_columns(op.location, name, before.models, models))
        column = join_columns(*models)[1]
        if op.references != before.target and column:
            # Another model joined to: Django drops the column's foreign key and adds one to
            # that model's table, which the old release's rows may not match (BK206).
            dropped = field_foreign_key(join_columns(*before.models)[1])
            changes.insert(0, Operation(DROP_CONSTRAINT, op.location, before.name, detail=dropped))
            changes.append(join_foreign_key(name, column, op.references, op.location))
        return tuple(changes)

    def _model_joins(self, op: Operation) -> tuple[Operation, ...]:
        """``op``, a ``RenameModel``, ``DeleteModel`` or :data:`MODEL_TABLE` (from
        ``AlterModelTable``), with what Django does to the join tables of the model's
        many-to-many fields and of the fields that join other models to it: a ``DeleteModel``
        drops the model's; a ``RenameModel`` renames those named after the model's table (not
        with its own ``db_table``) and the columns named after the model (``book_id`` to
        ``novel_id``, ``from_book_id`` to ``from_novel_id``) in each that joins it, whatever
        its name; an ``AlterModelTable`` those named after the table."""
        old = op.table
        one = self._resolve_one(op)
        changes = [] if one is None else [one]
        if op.detail == DELETE_MODEL:
            for key in [key for key in self.joins if key[0] == old]:
                changes.append(replace(op, table=self.joins.pop(key).name, detail=""))
            return tuple(changes)
        new = op.new_name or "" if op.detail == RENAME_MODEL else old
        for (owner, field_name), join in list(self.joins.items()):
            if old not in (owner, join.target):
                continue
            before = join.models
            model, target = before
            if owner == old and new != old:
                del self.joins[(owner, field_name)]
                owner, model = new, _renamed_model(op, model)
                self.joins[(owner, field_name)] = join
            if join.target == old and new != old:
                join.target, target = new, _renamed_model(op, target)
            join.models = (model, target)
            name = self.join_name(owner, field_name)
            if owner == new and not join.own and name != join.name:
                changes.append(Operation(RENAME_TABLE, op.location, join.name, new_name=name))
                join.name = name
            changes.extend(_renamed_join_columns(op.location, join.name, before, join.models))
        return tuple(changes)

    def copy(self) -> Schema:
        """A deep copy, so that replaying the release leaves the base schema as it was."""
        fold = self.fold

        def columns(table: TableState) -> dict[str, ColumnState]:
            copied = ((c, col.copy()) for c, col in table.columns.items())
            return dict(copied) if fold is None else _Names(fold, copied)

        return Schema(
            {
                name: TableState(
                    t.name,
                    columns(t),
                    t.at_base,
                    t.base_name,
                    t.complete,
                    dict(t.keys),
                    t.primary,
                    dict(t.fields),
                    set(t.own_columns),
                    dict(t.constraints),
                )
                for name, t in self.tables.items()
            },
            dict(self.enums),
            dict(self.model_tables),
            dict(self.views),
            fold,
            set(self.orm_removed),
            self.server_names,
            dict(self.names_used),
            {key: join.copy() for key, join in self.joins.items()},
            self.name_length,
        )

    def constraint_name(self, op: Operation) -> str:
        """The name of the constraint ``op`` (an ``ADD_CONSTRAINT``) adds, lower-cased: its own;
        for an unnamed one, the name the server gives it: on PostgreSQL a FOREIGN KEY, UNIQUE,
        PRIMARY KEY or CHECK's (:func:`_server_name`), on MySQL a FOREIGN KEY or UNIQUE's
        (:meth:`_mysql_name`); else ``""``."""
        if op.detail:
            return op.detail.lower()
        if self.server_names == "mysql":
            return self._mysql_name(op)
        label = _SERVER_LABELS.get(op.constraint or UNIQUE)
        if self.server_names != "postgres" or label is None:
            return ""
        columns: tuple[str, ...]
        if op.constraint == CHECK:
            # The server names a check after the columns its condition reads only when that
            # is one column (``t_a_check``); else after the table (``t_check``).
            columns = op.constrained if len(op.constrained) == 1 else ()
        elif not op.constrained:
            return ""
        else:
            columns = () if op.constraint == PRIMARY_KEY else op.constrained
        return self._server_name(op.table, columns, label)

    def _mysql_name(self, op: Operation) -> str:
        """The name MySQL and MariaDB (InnoDB) give the unnamed FOREIGN KEY or UNIQUE ``op``
        adds: ``<table>_ibfk_<N>``, N one more than the highest its table's keys of that form
        have; a unique index its first column's name, numbered ``_2``, ``_3``… while a key of
        the table holds it (checked on MariaDB 10.11). ``""`` for other kinds."""
        table = self.tables.get(op.table)
        held = table.constraints if table is not None else {}
        if op.constraint == FOREIGN_KEY:
            prefix = f"{op.table.lower()}_ibfk_"
            numbers = [
                int(name[len(prefix) :])
                for name in itertools.chain(held, (n.lower() for n in op.dropped_alongside))
                if name.startswith(prefix) and name[len(prefix) :].isdecimal()
            ]
            return f"{prefix}{max(numbers, default=0) + 1}"
        if op.constraint not in (None, UNIQUE, PLAIN_INDEX) or not op.constrained:
            return ""
        return _mysql_index_name(held, op.constrained[0])

    def _server_name(self, table: str, columns: Sequence[str], label: str) -> str:
        """The name PostgreSQL gives an unnamed constraint of ``table`` over ``columns``
        (``ChooseConstraintName``, ``ChooseRelationName``): ``<table>_<columns>_<label>``,
        or with ``label`` numbered 1, 2… (``t_a_fkey1``) while the name is taken: by a
        constraint of any table, and for a key, whose index is a relation, by a table or view
        too (PostgreSQL 15 names them so)."""
        relation = label in ("key", "pkey")
        used = self.names_used
        number = 0
        while True:
            name = _object_name(table, columns, f"{label}{number or ''}")
            if name not in used and not (relation and (name in self.tables or name in self.views)):
                return name
            number += 1

    def _hold(
        self,
        table: TableState,
        name: str,
        columns: tuple[str, ...],
        references: str = "",
        kind: str = "",
        condition: Condition = (),
    ) -> None:
        """Record that ``table`` has the constraint ``name`` over ``columns`` (a ``kind``, a
        foreign key of ``references``, a check of ``condition``)."""
        if not name:
            return
        if name not in table.constraints:
            self.names_used[name] = self.names_used.get(name, 0) + 1
        fold = self.fold
        table.constraints[name] = HeldConstraint(
            columns if fold is None else tuple([fold(c) for c in columns]),
            references if fold is None else fold(references),
            kind,
            folded(condition, fold),
        )

    def _follow_rename(self, old: str, new: str) -> None:
        """Make the foreign keys that reference the table ``old`` reference it as ``new``: a
        key dropped later is known to reference the renamed table, not a new one of the old
        name."""
        fold = self.fold
        if fold is not None:
            old, new = fold(old), fold(new)
        for table in self.tables.values():
            held = table.constraints  # this state's own (see copy): changed in place
            for name, constraint in held.items():
                if constraint.references == old:
                    held[name] = constraint._replace(references=new)

    def _rename_foreign_keys(self, table: TableState, old: str) -> None:
        """InnoDB renames the keys ``<old>_ibfk_<N>`` of a table renamed from ``old`` to
        ``<new>_ibfk_<N>`` (checked on MariaDB 10.11): ``table``'s keys take those names."""
        prefix = f"{old.lower()}_ibfk_"
        renamed = {
            name: f"{table.name.lower()}_ibfk_{name[len(prefix) :]}"
            for name in table.constraints
            if name.startswith(prefix) and name[len(prefix) :].isdecimal()
        }
        if not renamed:
            return
        held = dict(table.constraints)
        self._release(table, list(renamed))
        for name, constraint in held.items():
            new = renamed.get(name)
            if new is not None:
                self._hold(table, new, constraint.columns, constraint.references, constraint.kind)

    def _release(self, table: TableState, names: Iterable[str]) -> None:
        """Forget ``table``'s constraints ``names`` (dropped, or gone with their column or
        table)."""
        used = self.names_used
        for name in list(names):
            if table.constraints.pop(name, None) is None:
                continue
            left = used.get(name, 0) - 1
            if left > 0:
                used[name] = left
            else:
                used.pop(name, None)

    def _hold_inline_keys(self, table: TableState, declared: Column) -> None:
        """Record the names the server gives the keys ``declared`` (a column of ``table``)
        has of its own: PostgreSQL's ``<table>_pkey``, ``<table>_<column>_key``; MySQL's
        unique index named after the column."""
        if self.server_names == "mysql" and declared.unique_key:
            name = _mysql_index_name(table.constraints, declared.name)
            self._hold(table, name, (declared.name,), kind=UNIQUE)
        if self.server_names != "postgres":
            return
        if declared.primary_key:
            name = self._server_name(table.name, (), "pkey")
            self._hold(table, name, (declared.name,), kind=PRIMARY_KEY)
        if declared.unique_key:
            name = self._server_name(table.name, (declared.name,), "key")
            self._hold(table, name, (declared.name,), kind=UNIQUE)

    def apply(self, op: Operation, at_base: bool) -> None:
        """Change the schema by one operation (``at_base``: the operation is the base's)."""
        for resolved in self.resolve(op):
            table = self.tables.get(resolved.table)
            column = (
                table.columns.get(resolved.column)
                if table is not None and resolved.column
                else None
            )
            self._change(resolved, at_base, table, column)

    def _change(
        self, op: Operation, at_base: bool, table: TableState | None, column: ColumnState | None
    ) -> ColumnState | TableState | None:
        """:meth:`apply`, given the ``table`` and ``column`` that ``op`` names (None where there
        is none); the column (for a table rename, the table) it changed or created, if any.

        Replaying a long history or judging a large release is mostly this method: an
        operation on a column changes the state at hand (a column no migration created is
        recorded first, as :meth:`column` does), and one that leaves the tables as they are
        returns at once.
        """
        kind = op.kind
        if kind == ADD_COLUMN and op.column_def is not None:
            if table is None:
                table = self.table(op.table, at_base)
            added = _column_state(op.column_def, at_base)
            table.columns[added.name] = added
            self._inline_keys(table, op.column_def)
            self._hold_inline_keys(table, op.column_def)
            if op.column_def.field:
                _hold_field(table, op.column_def)
            if self.orm_removed:
                self.orm_removed.discard((op.table, added.name))
            return added
        if kind in _TABLES_UNCHANGED:
            mysql_index: HeldConstraint | None = None
            if kind == ADD_CONSTRAINT and table is not None:
                if op.constraint == PLAIN_INDEX and self.server_names != "mysql":
                    # A plain index's name matters to MySQL's naming only (PostgreSQL names
                    # constraints apart from the relations an index is one of).
                    return column
                name = self.constraint_name(op)
                self._hold(
                    table,
                    name,
                    op.constrained,
                    op.references,
                    op.constraint or UNIQUE,
                    op.condition,
                )
            elif kind == DROP_CONSTRAINT and op.detail:
                if self.server_names == "mysql" and table is not None:
                    # The index of that name as MySQL named it: a plain index, or the unique
                    # key an unnamed UNIQUE became (``a_2`` beside a plain ``KEY (a)``).
                    mysql_index = table.constraints.get(op.detail.lower())
                self._drop_named(op)
            if (
                kind == ADD_CONSTRAINT
                and op.constraint in (UNIQUE, PRIMARY_KEY)
                and table is not None
            ):
                if len(op.constrained) == 1:
                    only = table.columns.get(op.constrained[0])
                    if only is not None:
                        only.unique = True
                if op.constrained:
                    # One-column keys too, by name: dropping the key clears the mark.
                    fold = self.fold
                    name = _key_name(op)
                    table.keys[name] = (
                        op.constrained
                        if fold is None
                        else tuple([fold(name) for name in op.constrained])
                    )
                    if op.constraint == PRIMARY_KEY:
                        table.primary = name
            elif kind == DROP_CONSTRAINT and op.constraint == UNIQUE_TOGETHER:
                self._drop_unique_together(op)
            elif kind == DROP_CONSTRAINT and op.detail:
                if mysql_index is not None and mysql_index.kind in (PLAIN_INDEX, UNIQUE):
                    self._drop_mysql_index(table, op.detail.lower(), mysql_index)
                else:
                    self._drop_key(op)
            elif kind == ORM_REMOVED:
                self.orm_removed.add((op.table, op.column or ""))
            elif kind == ORM_ADDED and self.orm_removed:
                self.orm_removed.discard((op.table, op.column or ""))
            return column
        if op.column and kind in _ON_A_COLUMN:
            if kind == DROP_COLUMN:
                if self.orm_removed:
                    self.orm_removed.discard((op.table, op.column))
                if column is not None and table is not None:
                    del table.columns[op.column]
                    if table.fields:  # so is the field whose column it is
                        table.fields = {f: c for f, c in table.fields.items() if c != op.column}
                        table.own_columns &= table.fields.keys()
                    if table.constraints:  # so are the constraints it is in
                        gone = op.column if self.fold is None else self.fold(op.column)
                        self._release(
                            table,
                            [n for n, held in table.constraints.items() if gone in held.columns],
                        )
                    if table.keys:  # the database drops the keys the column is in
                        dropped = op.column if self.fold is None else self.fold(op.column)
                        table.keys = {
                            name: key for name, key in table.keys.items() if dropped not in key
                        }
                        if table.primary not in table.keys:
                            table.primary = ""
                elif table is None:
                    self.table(op.table, at_base)
                return column
            if kind == RENAME_COLUMN and not op.new_name:
                return column
            if column is None:
                column = self.column(op.table, op.column, at_base)
            if kind == SET_NOT_NULL:
                column.nullable, column.nullable_known = False, True
            elif kind == DROP_NOT_NULL:
                column.nullable, column.nullable_known = True, True
            elif kind in (SET_DEFAULT, DROP_DEFAULT):
                column.has_default = kind == SET_DEFAULT
            elif kind == ALTER_TYPE:
                if op.column_def is not None:
                    _change_type(column, op, op.column_def)
            elif op.new_name:  # RENAME_COLUMN
                if self.orm_removed and (op.table, op.column) in self.orm_removed:
                    # Still the column the models left, under its new name.
                    self.orm_removed.discard((op.table, op.column))
                    self.orm_removed.add((op.table, op.new_name))
                renamed = self.tables[op.table]
                del renamed.columns[op.column]
                column.name = op.new_name
                renamed.columns[op.new_name] = column
                old, new = op.column, op.new_name
                if self.fold is not None:
                    old, new = self.fold(old), self.fold(new)
                keys = renamed.keys  # this state's own (see copy): changed in place
                for name, key in keys.items():
                    if old in key:
                        keys[name] = tuple(new if c == old else c for c in key)
                held = renamed.constraints
                for name, constraint in held.items():
                    if old in constraint.columns:
                        columns = tuple(new if c == old else c for c in constraint.columns)
                        held[name] = constraint._replace(
                            columns=columns,
                            condition=renamed_condition(constraint.condition, {old: new}),
                        )
            return column
        self._apply_to_tables(op, at_base)
        return self._changed_by(op, table, column)

    def _dropped_from(
        self, op: Operation, name: str, held: Callable[[TableState], Mapping[str, object]]
    ) -> list[TableState]:
        """The tables the ``DROP_CONSTRAINT`` ``op`` of ``name`` drops from: its own; for a
        ``DROP INDEX name``, which names no table, each table ``held`` has ``name`` in."""
        if op.table:
            found = self.tables.get(op.table)
            return [found] if found is not None else []
        return [t for t in self.tables.values() if name in held(t)]

    def _drop_named(self, op: Operation) -> None:
        """Forget the constraint ``op`` (a ``DROP_CONSTRAINT``) drops by its name: of its table,
        or (``DROP INDEX name``, which names no table) of any table that has one of that name;
        a primary key dropped whatever it is called (MySQL ``DROP PRIMARY KEY``) by the name
        the table's is known by."""
        name = op.detail.lower()
        for table in self._dropped_from(op, name, lambda t: t.constraints):
            names = [name, table.primary] if op.constraint == PRIMARY_KEY else [name]
            self._release(table, names)

    def _drop_key(self, op: Operation) -> None:
        """Forget the key ``op`` (a ``DROP_CONSTRAINT``) drops. ``DROP INDEX name`` names no
        table: the index is the key of that name on any table (names are unique in the schema
        there); PostgreSQL names an unnamed primary key ``<table>_pkey``; the drop of a
        primary key (MySQL ``DROP PRIMARY KEY``, Liquibase ``dropPrimaryKey``) drops the
        table's, whatever its name."""
        name = op.detail.lower()
        for table in self._dropped_from(op, name, lambda t: t.keys):
            dropped = [table.keys.pop(name, None)]
            if op.constraint == PRIMARY_KEY:
                dropped.append(table.keys.pop(table.primary, None))
            elif name == f"{table.name.lower()}_pkey":
                dropped.append(table.keys.pop(UNNAMED_PRIMARY_KEY, None))
            if table.primary not in table.keys:
                table.primary = ""
            for key in dropped:
                if key is not None and len(key) == 1:
                    self._not_unique(table, key[0])
            if dropped == [None]:
                # A column declared UNIQUE, or an unnamed ``UNIQUE (column)``, has a key no
                # operation named: PostgreSQL calls it ``<table>_<column>_key``, MySQL's index
                # is the column's name.
                for column in table.columns.values():
                    unnamed = f"unique ({column.name.lower()})"
                    if column.unique and name in (
                        f"{table.name.lower()}_{column.name.lower()}_key",
                        column.name.lower(),
                        unnamed,
                    ):
                        for key_name in [k for k in table.keys if k.lower() == unnamed]:
                            del table.keys[key_name]
                        self._not_unique(table, column.name)

    def _drop_mysql_index(self, table: TableState | None, name: str, index: HeldConstraint) -> None:
        """Forget the MySQL index ``name`` of ``table`` (``index``, as :attr:`TableState.
        constraints` held it): a plain index is no key; a unique one is the key of its name
        or, unnamed, of its columns."""
        if table is None or index.kind == PLAIN_INDEX:
            return
        key = table.keys.pop(name, None)
        if key is None:
            unnamed = f"unique ({', '.join(index.columns)})"
            key = next((table.keys.pop(k) for k in list(table.keys) if k.lower() == unnamed), None)
        if key is None:
            key = index.columns  # a column's own UNIQUE, which holds no key of its own
        if len(key) == 1:
            self._not_unique(table, key[0])

    def _drop_unique_together(self, op: Operation) -> None:
        """Forget the Django ``unique_together`` groups of ``op``'s table that an
        ``AlterUniqueTogether`` leaves out (``op.values``: the groups it states), as Django's
        schema editor drops each old group that is not in the new set."""
        table = self.tables.get(op.table)
        if table is None or not table.keys:
            return
        fold = self.fold
        kept = set(op.values) if fold is None else {fold(name) for name in op.values}
        prefix = f"{UNIQUE_TOGETHER} ("
        for name, key in list(table.keys.items()):
            # By the columns it holds now: a group whose column was renamed is the same group.
            if name.startswith(prefix) and unique_together_key(key) not in kept:
                del table.keys[name]
                if len(key) == 1:
                    self._not_unique(table, key[0])

    def _inline_keys(self, table: TableState, declared: Column) -> None:
        """Record the keys ``table``'s column ``declared`` has of its own: ``PRIMARY KEY`` as
        an unnamed primary key (dropping it, ``<table>_pkey`` or ``DROP PRIMARY KEY``, clears
        the column's unique mark), ``UNIQUE`` as an unnamed ``unique (column)`` key (dropping a
        redundant unique index on the column leaves the column unique)."""
        name = declared.name
        held = (name if self.fold is None else self.fold(name),)
        if declared.primary_key:
            table.keys[UNNAMED_PRIMARY_KEY] = held
            table.primary = UNNAMED_PRIMARY_KEY
        if declared.unique_key:
            table.keys[f"unique ({name})"] = held

    def _not_unique(self, table: TableState, name: str) -> None:
        """Clear the unique mark of ``table``'s column ``name`` (as the keys hold it), unless
        another one-column key of the table still holds it unique."""
        held = name if self.fold is None else self.fold(name)
        if any(key == (held,) for key in table.keys.values()):
            return
        column = table.columns.get(name)
        if column is not None:
            column.unique = False

    def _changed_by(
        self, op: Operation, table: TableState | None, column: ColumnState | None
    ) -> ColumnState | TableState | None:
        """The column (for a table rename, the table) that :meth:`_apply_to_tables` changed
        or created for ``op``, which met ``table`` and ``column``."""
        kind = op.kind
        if kind == RENAME_TABLE:
            return table if table is not None else self.tables.get(op.new_name or "")
        if column is not None and kind != ADD_COLUMN:
            return column
        # Not there before: the column the operation created or renamed something to, if any.
        name = op.new_name if kind == RENAME_COLUMN else op.column
        if kind == ADD_COLUMN and op.column_def is not None:
            name = op.column_def.name
        if not name:
            return None
        found = self.tables.get(op.table)
        return found.columns.get(name) if found is not None else None

    def _apply_to_tables(self, op: Operation, at_base: bool) -> None:
        """:meth:`apply` for what :meth:`_change` leaves: operations on whole tables and enum
        types (one on a column that names none changes nothing)."""
        kind = op.kind
        if kind in (CREATE_TABLE, DROP_TABLE) and self.orm_removed:
            # The table and its columns, gone or new, are no longer what the models left.
            self.orm_removed = {entry for entry in self.orm_removed if entry[0] != op.table}
        if kind in (CREATE_TABLE, DROP_TABLE):
            gone = self.tables.get(op.table)
            if gone is not None and gone.constraints:  # its constraints go with it
                self._release(gone, list(gone.constraints))
        if kind == CREATE_TABLE:
            table = self.new_table(op.table, at_base)
            self.tables[op.table] = table
            for declared in op.columns:
                table.columns[declared.name] = _column_state(declared, at_base)
                self._inline_keys(table, declared)
                self._hold_inline_keys(table, declared)
                if declared.field:
                    _hold_field(table, declared)
            table.complete = op.detail != COLUMNS_UNKNOWN
        elif kind == DROP_TABLE:
            self.tables.pop(op.table, None)
        elif kind == RENAME_TABLE and op.new_name:
            if self.orm_removed:  # what the models left of the table, under its new name
                old, new = op.table, op.new_name
                self.orm_removed = {
                    (new if entry[0] == old else entry[0], entry[1]) for entry in self.orm_removed
                }
            table = self.table(op.table, at_base)
            self.tables.pop(op.table, None)
            table.name = op.new_name
            self.tables[op.new_name] = table
            self._follow_rename(op.table, op.new_name)
            if self.server_names == "mysql" and table.constraints:
                self._rename_foreign_keys(table, op.table)
        elif kind == CREATE_VIEW:
            self.views[op.table] = at_base
        elif kind == DROP_VIEW:
            self.views.pop(op.table, None)
        elif kind == CREATE_ENUM:
            self.enums[op.table] = op.values
        elif kind == DROP_ENUM:
            self.enums.pop(op.table, None)


# The kinds of operations :meth:`Schema._change` applies to the column an operation names, and
# those that leave the tables and columns as they are.
_ON_A_COLUMN = frozenset(
    {
        DROP_COLUMN,
        RENAME_COLUMN,
        ALTER_TYPE,
        SET_NOT_NULL,
        DROP_NOT_NULL,
        SET_DEFAULT,
        DROP_DEFAULT,
    }
)
_TABLES_UNCHANGED = frozenset(
    {ADD_CONSTRAINT, DROP_CONSTRAINT, IRREVERSIBLE_STEP, ORM_REMOVED, ORM_ADDED}
)


# The label PostgreSQL ends the name of an unnamed constraint of each kind with.
_SERVER_LABELS = {FOREIGN_KEY: "fkey", UNIQUE: "key", PRIMARY_KEY: "pkey", CHECK: "check"}

# PostgreSQL's longest name: NAMEDATALEN - 1 bytes.
_NAME_BYTES = 63


def _object_name(table: str, columns: Sequence[str], label: str) -> str:
    """PostgreSQL's ``makeObjectName``: ``<table>_<columns>_<label>`` (``<table>_<label>``
    without columns), past 63 bytes shortened as the server does (the longer of the table
    and the columns part loses a byte until it fits, cut at a character's start as
    ``pg_mbcliplen`` does)."""
    name = table.rpartition(".")[2].lower().encode()
    joined = "_".join(columns).lower().encode()[:_NAME_BYTES]
    room = _NAME_BYTES - len(label) - 1 - (1 if joined else 0)
    kept_table, kept_columns = len(name), len(joined)
    while kept_table + kept_columns > room:
        if kept_table > kept_columns:
            kept_table -= 1
        else:
            kept_columns -= 1
    head = name[:kept_table].decode(errors="ignore")
    if not joined:
        return f"{head}_{label}"
    return f"{head}_{joined[:kept_columns].decode(errors='ignore')}_{label}"


def _mysql_index_name(held: Mapping[str, object], column: str) -> str:
    """MySQL's name for an unnamed index whose first column is ``column``, among a table's
    keys ``held``: the column's, or ``<column>_2``, ``<column>_3``… (``make_unique_key_name``)."""
    name = column.lower()
    number = 1
    found = name
    while found in held or found == "primary":
        number += 1
        found = f"{name}_{number}"
    return found


def _key_name(op: Operation) -> str:
    """The name :attr:`TableState.keys` holds the key ``op`` adds under: its own, else
    ``primary key`` (a table has one) or ``unique (a, b)`` (a Django field's own unique key
    too, which an ``AlterField`` without ``unique=True`` drops by that name)."""
    if op.detail and op.detail != ALTERED_UNIQUE:
        return op.detail.lower()
    if op.constraint == PRIMARY_KEY:
        return UNNAMED_PRIMARY_KEY
    return f"unique ({', '.join(op.constrained)})"


def _change_type(col: ColumnState, op: Operation, new: Column) -> None:
    """Apply ``op``, an ``ALTER_TYPE`` whose ``column_def`` is ``new``, to ``col``."""
    if col.at_base and col.base_type is None and col.type is None:
        # A column older than the history backout reads: the migration's own statement of
        # the type it had (Alembic ``existing_type``) is the base's.
        col.base_type = op.old_type
    col.type = new.type or col.type
    if op.detail == REDEFINED:
        # MySQL MODIFY/CHANGE and Django AlterField restate the whole column.
        col.nullable, col.nullable_known = new.nullable, True
        # AUTO_INCREMENT, identity, generated: the database fills the column, as a default.
        col.has_default = new.has_default or new.generated
        col.unique = col.unique or new.unique


def _column_state(col: Column, at_base: bool) -> ColumnState:
    return ColumnState(
        col.name,
        col.type,
        col.nullable,
        col.has_default or col.generated,
        at_base,
        col.name if at_base else None,
        unique=col.unique,
    )


def _renamed_model(op: Operation, model: str) -> str:
    """The name of the model ``model`` once the ``RenameModel`` ``op`` renames it: the new
    name ``op`` carries (:attr:`Operation.values`, its old and new names), or the end of
    its new default table name, when the old one ends with ``model``; ``""`` when it
    renames another model."""
    if len(op.values) == 2:
        return op.values[1] if model and model == op.values[0] else ""
    old_table, new_table = op.table, op.new_name or ""
    if not model or not old_table.endswith(model):
        return ""
    return new_table[len(old_table) - len(model) :]


def _renamed_join_columns(
    where: Location, join: str, before: tuple[str, str], after: tuple[str, str]
) -> list[Operation]:
    """The renames of the columns of the join table ``join`` that Django makes when the
    models it joins, named ``before``, are named ``after`` (:func:`join_columns`)."""
    return [
        Operation(RENAME_COLUMN, where, join, old, new_name=new)
        for old, new in zip(join_columns(*before), join_columns(*after), strict=True)
        if old and new and old != new
    ]


def _altered_field(op: Operation, table: TableState | None) -> Operation | None:
    """The rename of a column that Django's ``AlterField`` ``op`` (:data:`ALTERED_FIELD`)
    makes, when the field's column changes (``None`` when it keeps it, or when the field is
    not known: a table or column the history never met)."""
    new = op.column_def
    if table is None or not op.column or new is None:
        return None
    field_name = op.column
    current = table.fields.get(field_name)
    if current is None:
        if field_name not in table.columns:
            return None
        current = field_name
    if new.field:
        _hold_field(table, new)
    else:
        table.fields.pop(field_name, None)
        table.own_columns.discard(field_name)
    if current == new.name:
        return None
    return replace(op, column=current, new_name=new.name, column_def=None, detail="")


def _hold_field(table: TableState, column: Column) -> None:
    """Records that the Django field :attr:`Column.field` is stored in ``column``."""
    table.fields[column.field] = column.name
    if column.own_column:
        table.own_columns.add(column.field)
    else:
        table.own_columns.discard(column.field)


_RESOLVED_KINDS = frozenset({MODEL_TABLE, JOIN_TABLE})


def _resolved(schema: Schema, op: Operation) -> tuple[Operation, ...]:
    """``op`` as :meth:`Schema.resolve` gives it, without the call for an operation that
    needs none (a long history has many)."""
    if schema.model_tables or schema.joins or op.by_field or op.kind in _RESOLVED_KINDS:
        return schema.resolve(op)
    return (op,)


def replay(migrations: Iterable[Migration], dialect: str = "postgres") -> Schema:
    """The schema that applying ``migrations`` (up) in order leaves."""
    schema = Schema(
        fold=name_key(dialect),
        server_names=dialect if dialect in ("postgres", "mysql") else "",
        name_length=DJANGO_NAME_LENGTHS.get(dialect),
    )
    tables = schema.tables
    for migration in migrations:
        up, _ = migration.operations(dialect)
        if migration.engine == "django":
            schema.name_length = migration.name_length(dialect)
        for written in up:
            for op in _resolved(schema, written):
                # Schema.apply, without its call per operation: a long history has many.
                table = tables.get(op.table)
                column = table.columns.get(op.column) if table is not None and op.column else None
                schema._change(op, True, table, column)
    for table in schema.tables.values():
        # Renamed before the release, a table or column is known to the old release by the
        # name the base leaves, not the one it was created with.
        table.base_name = table.name
        for col in table.columns.values():
            col.base_name = col.name
            col.base_type = col.type or col.base_type
            # A NOT NULL the history never stated is unknown, not nullable: a release's
            # restated ``existing_nullable`` then says what it was (see _judge).
            col.base_nullable = col.nullable if col.nullable_known else None
            col.base_has_default = col.has_default
    return schema


# ---------------------------------------------------------------------------------------------
# The release judged against the base.


# What an operation decides about the object it touches. The old release meets the schema the
# whole release leaves, so only the last operation of the release that decides an aspect of an
# object still there at the end is judged on that aspect (a type widened and narrowed back, a
# column made NOT NULL and then nullable again, a rename undone: no hazard). REQUIRED is whether
# an INSERT may leave the column out, decided by nullability and default together.
TYPE_ASPECT = "type"
NULLABILITY_ASPECT = "nullability"
DEFAULT_ASPECT = "default"
REQUIRED_ASPECT = "required"
NAME_ASPECT = "name"
_WHOLE_COLUMN = frozenset({TYPE_ASPECT, NULLABILITY_ASPECT, DEFAULT_ASPECT, REQUIRED_ASPECT})


_TYPE_ONLY = frozenset({TYPE_ASPECT})
_NO_ASPECT: frozenset[str] = frozenset()
_ASPECTS_OF_KIND = {
    ADD_COLUMN: _WHOLE_COLUMN,
    SET_NOT_NULL: frozenset({NULLABILITY_ASPECT, REQUIRED_ASPECT}),
    DROP_NOT_NULL: frozenset({NULLABILITY_ASPECT, REQUIRED_ASPECT}),
    SET_DEFAULT: frozenset({DEFAULT_ASPECT, REQUIRED_ASPECT}),
    DROP_DEFAULT: frozenset({DEFAULT_ASPECT, REQUIRED_ASPECT}),
    RENAME_COLUMN: frozenset({NAME_ASPECT}),
    RENAME_TABLE: frozenset({NAME_ASPECT}),
}


def _aspects(op: Operation) -> frozenset[str]:
    """The aspects of its column or table that ``op`` sets."""
    if op.kind == ALTER_TYPE:
        if op.column_def is None:
            return _NO_ASPECT
        return _WHOLE_COLUMN if op.detail == REDEFINED else _TYPE_ONLY
    return _ASPECTS_OF_KIND.get(op.kind, _NO_ASPECT)


# Not frozen: judge_release fills in ``decides`` and ``final_*`` once the whole release is
# replayed, and a large release builds tens of thousands (a frozen dataclass's __init__ took
# four times as long). Nothing changes it after judge_release returns, nor hashes it.
@dataclass(slots=True)
class JudgedOperation:
    """A release operation with what it touched at the base and what the release leaves.

    ``table_at_base``: the table existed before the release (under ``base_table``).
    ``column_at_base``: the column existed before the release (under ``base_column``), with its
    base ``base_type`` and ``base_nullable`` when known — the base's, not what earlier
    operations of the release made of it. ``decides``: the aspects (``TYPE_ASPECT``…) of the
    touched column or table that this operation is the last of the release to set, the object
    surviving the release; ``final_*`` describe that object after the whole release.
    """

    migration: Migration
    op: Operation
    table_at_base: bool
    column_at_base: bool
    base_table: str | None
    base_column: str | None
    base_type: str | None
    base_nullable: bool | None
    base_has_default: bool | None = None
    base_enum_values: tuple[str, ...] = ()
    new_enum_values: tuple[str, ...] = ()
    base_columns: tuple[str, ...] = ()
    """For ``ADD_CONSTRAINT``: the constrained columns that existed at the base."""
    new_key_columns: tuple[ColumnState, ...] = ()
    """For a UNIQUE ``ADD_CONSTRAINT`` (not ``NULLS NOT DISTINCT``): the replay's objects for
    its columns that the release added, as the whole release leaves them."""
    decides: frozenset[str] = frozenset()
    final_name: str | None = None
    final_type: str | None = None
    final_nullable: bool | None = None
    final_has_default: bool | None = None
    constraint_name: str = ""
    """For ``ADD_CONSTRAINT``: the constraint's name, lower-cased; on PostgreSQL an unnamed
    one's is the name the server gives it (:meth:`Schema.constraint_name`)."""
    dropped: HeldConstraint | None = None
    """For ``DROP_CONSTRAINT``: the constraint of the name it drops, as its table had it
    (``None`` when not known)."""
    unused_at_base: bool = False
    """For ``DROP_TABLE`` and ``DROP_COLUMN``: a Django model or field that the base had
    already taken out of the models' state (:data:`ORM_REMOVED`), so the old release's code
    no longer reads it."""

    @property
    def table_name(self) -> str:
        """The table as the old release knows it."""
        return self.base_table or self.op.table

    @property
    def column_name(self) -> str:
        """The column as the old release knows it."""
        return self.base_column or self.op.column or ""


@dataclass(frozen=True)
class ReleaseAnalysis:
    """The release's up operations judged against the base, and its migrations."""

    base: tuple[Migration, ...]
    release: tuple[Migration, ...]
    judged: tuple[JudgedOperation, ...]
    dialect: str
    positions_by_kind: dict[str, list[int]] = field(repr=False, compare=False)
    """Where each kind of operation is in ``judged`` (see :meth:`of_kind`)."""
    model_tables: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Django models' default table names → the tables they use, after the release."""

    def table_of(self, name: str) -> str:
        """The table an operation's ``table`` means: a Django model's own ``db_table``."""
        return self.model_tables.get(name, name)

    def of(self, migration: Migration) -> list[JudgedOperation]:
        """The judged operations of one migration."""
        return self.by_migration.get(migration.key, [])

    @functools.cached_property
    def by_migration(self) -> dict[str, list[JudgedOperation]]:
        """The judged operations grouped by :attr:`Migration.key`."""
        grouped: dict[str, list[JudgedOperation]] = {}
        migration: Migration | None = None
        members: list[JudgedOperation] = []
        for judged in self.judged:
            # A migration's operations are consecutive: its key is computed once.
            if judged.migration is not migration:
                migration = judged.migration
                members = grouped.setdefault(migration.key, [])
            members.append(judged)
        return grouped

    def of_kind(self, *kinds: str) -> list[JudgedOperation]:
        """The judged operations of these kinds (``DROP_COLUMN``…), in release order.

        Each rule looks at a few kinds of operations: it walks those, not the whole release.
        """
        by_kind = self.positions_by_kind
        if len(kinds) == 1:
            positions: Iterable[int] = by_kind.get(kinds[0], ())  # in order as recorded
        else:
            positions = sorted(itertools.chain.from_iterable(by_kind.get(k, ()) for k in kinds))
        judged = self.judged
        return [judged[index] for index in positions]

    # The operations the old release cannot run after, by what breaks it (BK201–BK206): each
    # list is found once per check, and BK207 reads them all again. Each predicate can only hold
    # for the kinds of operations it is asked about here.

    @functools.cached_property
    def required_columns_added(self) -> list[JudgedOperation]:
        """The operations for which :func:`adds_required_column` holds."""
        return [judged for judged in self.judged if adds_required_column(judged)]

    @functools.cached_property
    def base_objects_dropped(self) -> list[JudgedOperation]:
        """The operations for which :func:`drops_base_object` holds."""
        # A view dropped and created again under its name later in the release (the way
        # PostgreSQL changes a view's columns) is there for the old release's queries.
        # Names as the dialect compares them: MySQL and SQLite ignore case.
        key = self.key_of_name
        recreated: dict[str, int] = {}
        for position in self.positions_by_kind.get(CREATE_VIEW, ()):
            recreated[key(self.judged[position].op.table)] = position
        by_kind = self.positions_by_kind
        positions = sorted(
            itertools.chain.from_iterable(
                by_kind.get(kind, ()) for kind in (DROP_TABLE, DROP_COLUMN, DROP_VIEW)
            )
        )
        return [
            self.judged[p]
            for p in positions
            if drops_base_object(self.judged[p])
            and not (
                self.judged[p].op.kind == DROP_VIEW
                and recreated.get(key(self.judged[p].op.table), -1) > p
            )
        ]

    @functools.cached_property
    def base_objects_renamed(self) -> list[JudgedOperation]:
        """The operations for which :func:`renames_base_object` holds."""
        # A view created under a renamed table's old name keeps the old release's queries
        # working (GitLab's rename_table_safely): PostgreSQL and MySQL write through a simple
        # view; SQLite does not (its views take no INSERT without a trigger).
        # The view must read the renamed table alone, in a form the engine writes through.
        key = self.key_of_name
        views = (
            {}
            if self.dialect == "sqlite"
            else {
                (key(self.judged[p].op.table), key(self.judged[p].op.detail)): p
                for p in self.positions_by_kind.get(CREATE_VIEW, ())
            }
        )
        by_kind = self.positions_by_kind
        positions = sorted([*by_kind.get(RENAME_TABLE, ()), *by_kind.get(RENAME_COLUMN, ())])
        return [
            self.judged[p]
            for p in positions
            if renames_base_object(self.judged[p])
            and not (
                self.judged[p].op.kind == RENAME_TABLE
                and views.get(
                    (key(self.judged[p].op.table), key(self.judged[p].op.new_name or "")), -1
                )
                > p
            )
        ]

    @functools.cached_property
    def key_of_name(self) -> Callable[[str], str]:
        """What the dialect compares names of tables and columns by (:func:`name_key`; the
        name itself where case counts): rules that match names key them with it."""
        return name_key(self.dialect) or _same

    @functools.cached_property
    def not_null_set(self) -> list[JudgedOperation]:
        """The operations for which :func:`sets_not_null` holds."""
        return [j for j in self.of_kind(SET_NOT_NULL, ALTER_TYPE) if sets_not_null(j)]

    @functools.cached_property
    def old_writes_constrained(self) -> list[JudgedOperation]:
        """The operations for which :func:`constrains_old_writes` holds, but for a constraint
        dropped and created again under its name (to change ``ON DELETE``, or a deferral):
        the base had it, and the old code lived with it."""
        dropped: dict[tuple[str, str], int] = {}
        for position in self.positions_by_kind.get(DROP_CONSTRAINT, ()):
            judged = self.judged[position]
            name = judged.op.detail.lower()
            if not name:
                continue
            if judged.op.table:
                tables = {self.key_of_name(judged.table_name)}
            else:
                # ``DROP INDEX name`` (PostgreSQL, SQLite) names no table: the index names one
                # table's unique index, if any (names are unique in the schema there).
                tables = self._unique_tables(name, position)
            if judged.op.constraint == DROPPED_INDEX:
                # A dropped index restricted old writes only if it was unique: a plain index
                # dropped and created again as a unique one under its name is a new constraint.
                tables &= self._unique_tables(name, position)
            for table in tables:
                dropped.setdefault((table, name), position)
        found = []
        for position in self.positions_by_kind.get(ADD_CONSTRAINT, ()):
            judged = self.judged[position]
            if not constrains_old_writes(judged):
                continue
            name = judged.constraint_name
            table = self.key_of_name(judged.table_name)
            earlier = dropped.get((table, name), position)
            if name and earlier < position and self._same_key(earlier, position):
                continue
            if any(
                self._same_foreign_key(dropped.get((table, other.lower()), position), position)
                for other in judged.op.dropped_alongside
            ):
                # MySQL: a foreign key dropped by the same ALTER TABLE added again unnamed,
                # under the next number.
                continue
            found.append(judged)
        return found

    def _same_foreign_key(self, drop: int, added: int) -> bool:
        """Whether the ``DROP_CONSTRAINT`` at ``drop`` (before ``added``) dropped a foreign key
        that the operation at ``added`` adds again (:meth:`_same_key`)."""
        if drop >= added:
            return False
        held = self.judged[drop].dropped
        return held is not None and held.kind == FOREIGN_KEY and self._same_key(drop, added)

    def _same_key(self, drop: int, added: int) -> bool:
        """Whether the constraint the operation at position ``added`` adds is the one the
        ``DROP_CONSTRAINT`` at ``drop`` dropped under its name: one over other columns is not
        (a unique key, a check, a foreign key: rows the old release writes may break it), nor
        is a foreign key that references another table (ids valid for the table the dropped
        key referenced may be missing from the new one). Tables and columns renamed between
        the two are followed. What the drop dropped, when backout does not know, is taken for
        the same."""
        held = self.judged[drop].dropped
        op = self.judged[added].op
        if held is None:
            return True
        key = self.key_of_name
        table, columns, references = key(self.judged[drop].op.table), held.columns, held.references
        renames = sorted(
            p
            for kind in (RENAME_TABLE, RENAME_COLUMN)
            for p in self.positions_by_kind.get(kind, ())
            if drop < p < added
        )
        condition = held.condition
        for position in renames:
            renamed = self.judged[position].op
            if not renamed.new_name:
                continue
            old, new = key(renamed.table), key(renamed.new_name)
            if renamed.kind == RENAME_TABLE:
                references = new if references == old else references
                table = new if table == old else table
            elif old == table and renamed.column:
                gone = key(renamed.column)
                columns = tuple(new if column == gone else column for column in columns)
                condition = renamed_condition(condition, {gone: new})
        if (
            op.constraint == FOREIGN_KEY
            and references
            and op.references
            and references != key(op.references)
        ):
            return False
        if op.constraint == CHECK and condition and op.condition:
            # A check whose condition both know is the same when the new one admits every
            # row the dropped one did (a range widened, a value allowed, a conjunct dropped).
            return implies(condition, folded(op.condition, key))
        added_columns = tuple(key(c) for c in op.constrained)
        if not columns or not added_columns:
            return True
        if op.constraint == FOREIGN_KEY:  # paired with the referenced columns, in order
            return columns == added_columns
        return set(columns) == set(added_columns)

    def _unique_tables(self, name: str, position: int) -> set[str]:
        """The tables with a UNIQUE constraint or index called ``name``, created at the base or
        by the release before the operation at ``position``."""
        tables = set(self._base_unique_tables.get(name, ()))
        for earlier in self.positions_by_kind.get(ADD_CONSTRAINT, ()):
            if earlier >= position:
                break
            judged = self.judged[earlier]
            if judged.op.detail.lower() == name and judged.op.constraint in (UNIQUE, PRIMARY_KEY):
                tables.add(self.key_of_name(judged.table_name))
        return tables

    @functools.cached_property
    def _base_unique_tables(self) -> dict[str, set[str]]:
        """The UNIQUE constraints and indexes the base creates: name → tables (MySQL names an
        index per table, so one name may be on several)."""
        found: dict[str, set[str]] = {}
        key = self.key_of_name
        for migration in self.base:
            for op in migration.operations(self.dialect)[0]:
                if op.kind == ADD_CONSTRAINT and op.constraint in (UNIQUE, PRIMARY_KEY):
                    found.setdefault(op.detail.lower(), set()).add(key(op.table))
        return found

    @functools.cached_property
    def types_narrowed(self) -> list[tuple[JudgedOperation, str]]:
        """The operations for which :func:`narrows_type` finds a problem, with the problem."""
        return [
            (judged, problem)
            for judged in self.of_kind(ALTER_TYPE)
            if (problem := narrows_type(judged)) is not None
        ]

    def breaks_old_release(self, migration: Migration) -> bool:
        """Whether ``migration``, one of :attr:`release`, has an operation that the old release
        cannot run after (:func:`is_backward_incompatible`)."""
        return id(migration) in self._hazards_by_migration

    def hazards(self, migration: Migration) -> list[tuple[str, Location]]:
        """The operations of ``migration`` that break the old release, as the code of the rule
        that reports each (BK201–BK206) and where it does."""
        return self._hazards_by_migration.get(id(migration), [])

    @functools.cached_property
    def _hazards_by_migration(self) -> dict[int, list[tuple[str, Location]]]:
        """:meth:`hazards` by the id of the release's migrations (the analysis keeps its
        migrations alive, so their ids stay theirs)."""
        by_code: tuple[tuple[str, Iterable[JudgedOperation]], ...] = (
            ("BK201", self.required_columns_added),
            ("BK202", self.base_objects_dropped),
            ("BK203", self.base_objects_renamed),
            ("BK204", (judged for judged, _ in self.types_narrowed)),
            ("BK205", self.not_null_set),
            ("BK206", self.old_writes_constrained),
        )
        hazards: dict[int, list[tuple[str, Location]]] = {}
        for code, judged_ops in by_code:
            for judged in judged_ops:
                hazards.setdefault(id(judged.migration), []).append((code, judged.op.location))
        return hazards


_ANALYSES: weakref.WeakKeyDictionary[FactSet, ReleaseAnalysis] = weakref.WeakKeyDictionary()


def analyse(context: CheckContext) -> ReleaseAnalysis:
    """Judge the release's migrations against the base schema (computed once per check)."""
    cached = _ANALYSES.get(context.head)
    if cached is not None and cached.dialect == context.config.sql_dialect:
        return cached
    dialect = context.config.sql_dialect
    split = split_release(context.head, context.base, context.config)
    judged, positions_by_kind, model_tables = _judge_release(split.base, split.release, dialect)
    result = ReleaseAnalysis(
        split.base, split.release, judged, dialect, positions_by_kind, model_tables
    )
    _ANALYSES[context.head] = result
    return result


# An operation of the release that changed a column or table: its judgement, the replay's object
# for what it changed, and the aspects of it that the operation set.
_Change = tuple[JudgedOperation, ColumnState | TableState, frozenset[str]]


def judge_release(
    base: Sequence[Migration], release: Sequence[Migration], dialect: str
) -> tuple[JudgedOperation, ...]:
    """Each up operation of ``release``, judged against the schema ``base`` leaves."""
    return _judge_release(base, release, dialect)[0]


def _judge_release(
    base: Sequence[Migration], release: Sequence[Migration], dialect: str
) -> tuple[tuple[JudgedOperation, ...], dict[str, list[int]], dict[str, str]]:
    """:func:`judge_release`, with where each kind of operation is among the judged ones and
    the Django models' tables the release leaves."""
    base_schema = replay(base, dialect)
    schema = base_schema.copy()
    judged: list[JudgedOperation] = []
    positions_by_kind: defaultdict[str, list[int]] = defaultdict(list)
    # Each operation that changed a column or table, with the replay's object for it and the
    # aspects it set: what the release leaves of the object, and which operation decides what,
    # are known once the whole release is replayed.
    changes: list[_Change] = []
    tables = schema.tables
    for migration in release:
        up: Sequence[Operation] = migration.operations(dialect)[0]
        if migration.engine == "django":
            schema.name_length = migration.name_length(dialect)
        if _may_rebuild(up):
            up = _fold_rebuilds(up, schema)
        for op in itertools.chain.from_iterable(_resolved(schema, written) for written in up):
            kind = op.kind
            if kind == DROP_CONSTRAINT and not op.table and op.detail:
                op = _index_table(schema, op)
            positions_by_kind[kind].append(len(judged))
            # The table and column the operation meets, before it runs.
            table = tables.get(op.table)
            column = table.columns.get(op.column) if table is not None and op.column else None
            judged_op = _judge(schema, base_schema, op, migration, table, column)
            if kind == ADD_CONSTRAINT:
                judged_op.constraint_name = schema.constraint_name(op)
            elif kind == DROP_CONSTRAINT and table is not None and op.detail:
                judged_op.dropped = table.constraints.get(op.detail.lower())
                if judged_op.dropped is None and _no_foreign_key(table, op):
                    # Django's AlterField drops the column's foreign key, if any: with none
                    # (db_constraint=False), the one it adds is new.
                    positions_by_kind[kind].pop()
            judged.append(judged_op)
            target = schema._change(op, False, table, column)
            if target is not None:
                aspects = _ASPECTS_OF_KIND.get(kind) if kind != ALTER_TYPE else _aspects(op)
                changes.append((judged_op, target, aspects or _NO_ASPECT))
    _decide(schema, changes)
    if schema.fold is not None:
        _recased_only(judged, positions_by_kind, schema.fold)
    return tuple(judged), positions_by_kind, schema.model_tables


def _no_foreign_key(table: TableState, op: Operation) -> bool:
    """Whether ``op``, Django's drop of the foreign key of a column (:data:`FIELD_FOREIGN_KEY`),
    drops none: ``table``, whose constraints are known, has no foreign key on the column."""
    if not op.detail.startswith(f"{FIELD_FOREIGN_KEY} (") or not table.complete:
        return False
    column = op.detail[len(FIELD_FOREIGN_KEY) + 2 : -1].lower()  # held names may be folded
    return not any(
        held.kind == FOREIGN_KEY and [c.lower() for c in held.columns] == [column]
        for held in table.constraints.values()
    )


def _index_table(schema: Schema, op: Operation) -> Operation:
    """``op``, a ``DROP INDEX name`` that names no table (PostgreSQL, SQLite), naming the table
    whose key of that name it drops, when ``schema`` knows it (index names are unique in the
    schema there): so what it dropped is known, as for a ``DROP CONSTRAINT``."""
    holders = schema._dropped_from(op, op.detail.lower(), lambda t: t.constraints)
    return replace(op, table=holders[0].name) if holders else op


def _recased_only(
    judged: list[JudgedOperation],
    positions_by_kind: dict[str, list[int]],
    fold: Callable[[str], str],
) -> None:
    """Leave a table or column that the release only re-cases (MySQL ``CHANGE `Email`
    `email` …``) under its base name: where names are found ignoring case, the old release's
    queries still find it."""
    for position in (
        *positions_by_kind.get(RENAME_TABLE, ()),
        *positions_by_kind.get(RENAME_COLUMN, ()),
    ):
        judged_op = judged[position]
        final = judged_op.final_name
        base = judged_op.base_table if judged_op.op.kind == RENAME_TABLE else judged_op.base_column
        if final and base and final != base and fold(final) == fold(base):
            judged_op.final_name = base


def _may_rebuild(ops: Sequence[Operation]) -> bool:
    """Whether ``ops`` renames a table: the cheap test before :func:`_fold_rebuilds`."""
    return any(op.kind == RENAME_TABLE for op in ops)


def _fold_rebuilds(ops: Sequence[Operation], schema: Schema) -> Sequence[Operation]:
    """``ops`` with each table rebuild turned into the column changes it makes.

    A rebuild is SQLite's way to change a table (and the shape of Alembic's batch mode and of
    Django's SQLite schema editor): ``CREATE TABLE new (…)``, copy the rows, ``DROP TABLE t``,
    ``ALTER TABLE new RENAME TO t``, all in one migration. The old release meets ``t`` with
    the new table's columns, not a dropped table and a new one: the three operations become
    the drops, additions, type, nullability and default changes between ``t`` as ``schema``
    has it and the new definition, at the ``CREATE TABLE``; operations on ``new`` in between
    (its indexes) are taken as operations on ``t``. PostgreSQL's way round is a rebuild too:
    ``ALTER TABLE t RENAME TO t_old``, ``CREATE TABLE t (…)``, copy, ``DROP TABLE t_old``
    (river's ``river_migration``); operations on ``t_old`` in between go with it. A ``t``
    whose columns are not all known (no migration backout read created it) takes the new
    columns without a judgement.
    """
    fold = schema.fold
    created: dict[str, int] = {} if fold is None else _Names(fold)  # latest CREATE TABLE
    # A table of ``schema`` renamed away -> (the index of the rename, its new name).
    moved: dict[str, tuple[int, str]] = {} if fold is None else _Names(fold)
    # A table renamed away and created again -> (the rename's index, the create's index).
    recreated: dict[str, tuple[int, int]] = {} if fold is None else _Names(fold)
    rebuilds: dict[int, tuple[int, int]] = {}  # create index -> (drop index, rename index)
    target_of: dict[int, str] = {}  # create index -> the table it rebuilds
    # The old table's name in a PostgreSQL rebuild -> (rename index, drop index).
    discarded: dict[str, tuple[int, int]] = {} if fold is None else _Names(fold)
    for index, op in enumerate(ops):
        if op.kind == CREATE_TABLE:
            created[op.table] = index
            if op.table in moved:
                rename, old_name = moved.pop(op.table)
                recreated[old_name] = (rename, index)
        if op.kind == DROP_TABLE and op.table in recreated:
            rename, create = recreated.pop(op.table)
            rebuilds[create] = (index, rename)
            target_of[create] = ops[create].table
            discarded[op.table] = (rename, index)
        if op.kind != RENAME_TABLE or not op.new_name:
            continue
        if op.table not in created:
            moved[op.table] = (index, op.new_name)
            continue
        create = created.pop(op.table)
        new_name = op.new_name
        drop = next(
            (
                i
                for i in range(index - 1, -1, -1)
                if ops[i].kind == DROP_TABLE and schema.same_name(ops[i].table, new_name)
            ),
            None,
        )
        if drop is not None and create < index and op.new_name in schema.tables:
            rebuilds[create] = (drop, index)
            target_of[create] = new_name
    if not rebuilds:
        return ops
    skipped = {i for pair in rebuilds.values() for i in pair}
    # What a rebuilt table looks like after an earlier rebuild of this migration, and the
    # new tables standing for their targets until their rename.
    shapes: dict[str, dict[str, tuple[str | None, bool, bool]]] = (
        {} if fold is None else _Names(fold)
    )
    standing: dict[str, tuple[str, int]] = {} if fold is None else _Names(fold)
    folded: list[Operation] = []
    for index, op in enumerate(ops):
        if index in skipped:
            continue
        if index in rebuilds:
            target = target_of[index]
            old = schema.tables.get(target)
            before = shapes.get(target)
            if before is None and old is not None and old.complete:
                before = {c.name: (c.type, c.nullable, c.has_default) for c in old.columns.values()}
            if before is not None:  # what the table had is known: compare
                folded.extend(_rebuild_changes(op, before, target, fold))
            shapes[target] = {
                c.name: (c.type, c.nullable, c.has_default or c.generated) for c in op.columns
            }
            if op.table != target:
                standing[op.table] = (target, rebuilds[index][1])
        elif op.table in discarded and discarded[op.table][0] < index < discarded[op.table][1]:
            continue
        elif op.table in standing and index < standing[op.table][1]:
            folded.append(replace(op, table=standing[op.table][0]))
        else:
            folded.append(op)
    return folded


def _rebuild_changes(
    create: Operation,
    before: dict[str, tuple[str | None, bool, bool]],
    table: str,
    fold: Callable[[str], str] | None = None,
) -> list[Operation]:
    """The column changes that rebuilding a table whose columns were ``before`` (type,
    nullable, has a default) as ``create`` declares it makes (``fold``: how the dialect
    compares column names)."""
    where = create.location
    new: dict[str, Column] = {} if fold is None else _Names(fold)
    for column in create.columns:
        new[column.name] = column
    changes = [Operation(DROP_COLUMN, where, table, name) for name in before if name not in new]
    if fold is not None:
        before = _Names(fold, before.items())
    for column in create.columns:
        name = column.name
        if name not in before:
            changes.append(Operation(ADD_COLUMN, where, table, name, column_def=column))
            continue
        old_type, old_nullable, old_default = before[name]
        if column.type and old_type and column.type != old_type:
            changes.append(
                Operation(ALTER_TYPE, where, table, name, column_def=Column(name, column.type))
            )
        if old_nullable and not column.nullable:
            changes.append(Operation(SET_NOT_NULL, where, table, name))
        elif column.nullable and not old_nullable:
            changes.append(Operation(DROP_NOT_NULL, where, table, name))
        has_default = column.has_default or column.generated
        if old_default and not has_default:
            changes.append(Operation(DROP_DEFAULT, where, table, name))
        elif has_default and not old_default:
            changes.append(Operation(SET_DEFAULT, where, table, name))
    return changes


def _decide(schema: Schema, changes: list[_Change]) -> None:
    """Set ``decides`` and ``final_*`` of the operations whose object survives the release.

    ``schema`` is the schema the whole release leaves. Walking back from the release's last
    change, the first one met for an object is the release's last word on the aspects it sets.
    """
    surviving: set[int] = set()
    for table_state in schema.tables.values():
        surviving.add(id(table_state))
        surviving.update(map(id, table_state.columns.values()))
    decided: dict[int, frozenset[str]] = {}
    for judged_op, target, aspects in reversed(changes):
        target_id = id(target)
        if target_id not in surviving:
            continue
        earlier = decided.get(target_id)
        if earlier is None:
            decided[target_id] = judged_op.decides = aspects
        else:
            decided[target_id] = earlier | aspects
            judged_op.decides = aspects - earlier
        judged_op.final_name = target.name
        if isinstance(target, ColumnState):
            judged_op.final_type = target.type
            judged_op.final_nullable = target.nullable
            judged_op.final_has_default = target.has_default


def _judge(
    schema: Schema,
    base_schema: Schema,
    op: Operation,
    migration: Migration,
    table: TableState | None,
    column: ColumnState | None,
) -> JudgedOperation:
    """``op`` with what it meets in ``schema``: ``table`` and ``column`` (``decides`` and
    ``final_*`` left unset)."""
    kind = op.kind
    # A table or column that no migration backout read created predates the history it can
    # see, unless the operation itself creates it.
    if table is None:
        table_at_base = kind != CREATE_TABLE and not schema.new_in_release(op.table)
        base_table = op.table if table_at_base else None
    else:
        table_at_base = table.at_base and kind != CREATE_TABLE
        base_table = table.base_name if table_at_base else None
    # Built with what most operations need; the few kinds that need more get it below.
    if not table_at_base:
        judged = JudgedOperation(migration, op, False, False, None, None, None, None)
    elif column is not None:
        judged = JudgedOperation(
            migration,
            op,
            True,
            column.at_base and kind != ADD_COLUMN,
            base_table,
            column.base_name,
            column.base_type,
            column.base_nullable,
            column.base_has_default,
        )
    elif op.column and kind != ADD_COLUMN and not _drops_nothing(op, table):
        judged = JudgedOperation(migration, op, True, True, base_table, op.column, None, None)
    else:
        judged = JudgedOperation(migration, op, True, False, base_table, None, None, None)
    if base_schema.orm_removed and table_at_base and kind in (DROP_TABLE, DROP_COLUMN):
        removed = base_schema.orm_removed
        judged.unused_at_base = (judged.table_name, "") in removed or (
            kind == DROP_COLUMN and (judged.table_name, judged.column_name) in removed
        )
    if kind == ALTER_TYPE and op.column_def is not None:
        base_enum_name = judged.base_type or op.old_type or ""
        judged.base_enum_values = base_schema.enums.get(
            base_enum_name, schema.enums.get(base_enum_name, ())
        )
        judged.new_enum_values = schema.enums.get(op.column_def.type or "", ())
    elif op.detail == RESTATED and judged.column_at_base and judged.base_nullable is None:
        # A column the history does not know (every column the base replay met has its base
        # nullability): the migration's word on the nullability it had is the base's.
        judged.base_nullable = kind == DROP_NOT_NULL
    elif kind == ADD_CONSTRAINT and table_at_base:
        if table is None:
            judged.base_columns = op.constrained
        else:
            known = table.columns
            if op.constraint in (UNIQUE, PRIMARY_KEY) and (
                any(name in known and known[name].unique for name in op.constrained)
                or _base_key_within(base_schema, table, op.constrained)
            ):
                # One of its columns is unique already, or columns of it were unique together
                # at the base (a table rebuilt, a key dropped and added under another name):
                # the constraint restricts nothing the old code could write.
                judged.base_columns = ()
            else:
                judged.base_columns = tuple(
                    [name for name in op.constrained if name not in known or known[name].at_base]
                )
                if op.constraint == UNIQUE and not op.nulls_not_distinct:
                    judged.new_key_columns = tuple(
                        [known[name] for name in op.constrained if name not in judged.base_columns]
                    )
            if (
                op.constraint == CHECK
                and judged.base_columns
                and _base_checks_imply(base_schema, table, op)
            ):
                # The base's checks admit only rows this one admits: the old code's writes,
                # which passed them, pass it too.
                judged.base_columns = ()
    return judged


def _base_checks_imply(base_schema: Schema, table: TableState, op: Operation) -> bool:
    """Whether the CHECK constraints the base had on ``table`` (as the release has it) admit
    only rows the check ``op`` adds admits (:func:`implies`), their columns followed through
    the release's renames; conjuncts over a column the release dropped are left out."""
    base_table = base_schema.tables.get(table.base_name or "")
    if base_table is None or not op.condition:
        return False
    checks = [c.condition for c in base_table.constraints.values() if c.condition]
    if not checks:
        return False
    fold = base_schema.fold or _same
    names = {
        fold(column.base_name): fold(column.name)
        for column in table.columns.values()
        if column.at_base and column.base_name
    }
    # SQLite compares a number with a column of TEXT affinity as text ('2' >= 10 there, and
    # not '2' > 5): a number over such a column is not decided.
    text = {fold(column.name) for column in table.columns.values() if _text_affinity(column.type)}
    new = folded(op.condition, fold)
    if any(_numbers_over(atom, text) for atom in new):
        return False
    old = tuple(
        atom._replace(columns=tuple([names[c] for c in atom.columns]))
        for atom in conjunction(checks)
        if all(c in names for c in atom.columns)
    )
    return implies(tuple(atom for atom in old if not _numbers_over(atom, text)), new)


def _text_affinity(type_name: str | None) -> bool:
    """Whether SQLite gives a column of ``type_name`` TEXT affinity (its type names CHAR,
    CLOB or TEXT: ``varchar``, ``text``…)."""
    written = (type_name or "").upper()
    return "INT" not in written and any(part in written for part in ("CHAR", "CLOB", "TEXT"))


def _numbers_over(atom: Atom, columns: set[str]) -> bool:
    """Whether the conjunct ``atom`` compares one of ``columns`` with a number."""
    return any(c in columns for c in atom.columns) and any(v[0] == NUMBER for v in atom.values)


def _drops_nothing(op: Operation, table: TableState | None) -> bool:
    """A ``DROP COLUMN IF EXISTS`` of a column that ``table``, known whole, does not have
    (navikt/syfomotebehov's ``V1_15__add_and_fill_column_innmelderType.sql`` drops the column
    it adds next, in case an earlier attempt left it): it does nothing. A column that a table
    backout knows whole does not have is otherwise taken to predate the history."""
    return op.detail == IF_EXISTS and table is not None and table.complete


def _base_key_within(base_schema: Schema, table: TableState, constrained: Sequence[str]) -> bool:
    """Whether the base held some of ``constrained`` (columns of ``table`` as the release has
    it) unique together: rows unique on those are unique on all of ``constrained``."""
    base_table = base_schema.tables.get(table.base_name or "")
    if base_table is None or not base_table.keys:
        return False
    columns = table.columns
    base_names = {
        columns[name].base_name for name in constrained if name in columns and columns[name].at_base
    }
    fold = base_schema.fold
    if fold is not None:  # the keys hold folded names
        base_names = {fold(name) for name in base_names if name is not None}
    return any(base_names.issuperset(key) for key in base_table.keys.values())


# ---------------------------------------------------------------------------------------------
# What makes an operation backward-incompatible (shared by BK201–BK206 and BK207's severity).


def adds_required_column(judged: JudgedOperation) -> bool:
    """Leaves a column the release added to a table the old release writes NOT NULL without
    default, or takes the default of a NOT NULL column the old release has, which its
    INSERTs may leave out (the operation is the last to set the column's nullability or
    default)."""
    if (
        REQUIRED_ASPECT not in judged.decides
        or not judged.table_at_base
        or judged.final_nullable is not False
        or judged.final_has_default is not False
    ):
        return False
    if not judged.column_at_base:
        return True
    return judged.base_nullable is False and judged.base_has_default is True


def drops_base_object(judged: JudgedOperation) -> bool:
    """Drops a table, view or column that the old release has (and, for Django, still reads:
    not one the base took out of the models' state)."""
    if judged.op.kind in (DROP_TABLE, DROP_VIEW):
        return judged.table_at_base and not judged.unused_at_base
    return judged.op.kind == DROP_COLUMN and judged.column_at_base and not judged.unused_at_base


def renames_base_object(judged: JudgedOperation) -> bool:
    """Gives a table or column that the old release has the name it keeps after the release,
    other than its base name."""
    if NAME_ASPECT not in judged.decides:
        return False
    if judged.op.kind == RENAME_TABLE:
        return judged.table_at_base and judged.final_name != judged.base_table
    return (
        judged.op.kind == RENAME_COLUMN
        and judged.column_at_base
        and judged.final_name != judged.base_column
    )


def sets_not_null(judged: JudgedOperation) -> bool:
    """Makes a column that the old release may leave NULL required, for good: the operation is
    the release's last word on the column's nullability."""
    if (
        not judged.column_at_base
        or NULLABILITY_ASPECT not in judged.decides
        or judged.final_nullable is not False
    ):
        return False
    if judged.op.kind == SET_NOT_NULL:
        return judged.base_nullable is not False
    col = judged.op.column_def
    return (
        judged.op.kind == ALTER_TYPE
        and judged.op.detail == REDEFINED
        and col is not None
        and not col.nullable
        and judged.base_nullable is True
    )


def constrains_old_writes(judged: JudgedOperation) -> bool:
    """A UNIQUE, CHECK, FOREIGN KEY or PRIMARY KEY constraint over columns the old release
    writes."""
    return (
        judged.op.kind == ADD_CONSTRAINT
        and judged.op.constraint in (UNIQUE, CHECK, FOREIGN_KEY, PRIMARY_KEY)
        and judged.table_at_base
        and (bool(judged.base_columns) or not judged.op.constrained)
        # A key column the release adds, nullable without a default, is NULL in every row the
        # old release writes, and NULLs are never equal to one another: none of them clash.
        and not any(c.nullable and not c.has_default for c in judged.new_key_columns)
    )


_TYPE_SHAPE = re.compile(
    r"^(?P<base>[a-z_][a-z0-9_ ]*?)\s*(?:\((?P<params>[^)]*)\))?(?P<array>\[\])?$"
)
_INTEGER_BYTES = {
    "tinyint": 1,
    "smallint": 2,
    "int2": 2,
    "mediumint": 3,
    "integer": 4,
    "int": 4,
    "int4": 4,
    "serial": 4,
    "bigint": 8,
    "int8": 8,
    "bigserial": 8,
}
# The decimal digits of the largest value of an integer type, by its bytes.
_INTEGER_DIGITS = {1: 3, 2: 5, 3: 8, 4: 10, 8: 19}
_FLOAT_BYTES = {"real": 4, "float": 8, "double precision": 8, "double": 8}
_TEXT = {
    "text",
    "varchar",
    "character varying",
    "char",
    "character",
    "nvarchar",
    "string",
    "tinytext",
    "mediumtext",
    "longtext",
    "citext",
    "clob",
}
_NUMERIC = {"numeric", "decimal"}
# MySQL's text types by the bytes they hold; their names exist only in MySQL, so a change that
# names one of them is MySQL's, where plain ``text`` holds 65,535 bytes (not unlimited).
_MYSQL_TEXT_BYTES = {"tinytext": 255, "mediumtext": 16_777_215, "longtext": 4_294_967_295}
_MYSQL_PLAIN_TEXT_BYTES = 65_535
# Types that are one type under two names: a change between them changes nothing.
_SAME_TYPE = {
    frozenset({"bool", "boolean"}),
    frozenset({"boolean", "tinyint(1)"}),  # MySQL: BOOLEAN is TINYINT(1)
    frozenset({"bool", "tinyint(1)"}),
    frozenset({"boolean", "tinyint"}),  # the display width changes nothing stored
    frozenset({"bool", "tinyint"}),
    frozenset({"jsonb", "json"}),  # either way: PostgreSQL converts every json document
}


def _shape(type_text: str) -> tuple[str, tuple[int, ...], bool, str]:
    text = " ".join(type_text.lower().split())
    match = _TYPE_SHAPE.match(text)
    if not match:
        return text, (), False, ""
    params_text = match["params"] or ""
    params = (
        tuple(int(p) for p in re.findall(r"\d+", params_text)) if "'" not in params_text else ()
    )
    return match["base"].strip(), params, bool(match["array"]), params_text


def _same_type(old_base: str, old_raw: str, new_base: str, new_raw: str) -> bool:
    """Whether the two types are one type under two names (``bool``/``boolean``, MySQL's
    ``boolean``/``tinyint(1)``, ``json``/``jsonb``)."""
    old = f"{old_base}({old_raw})" if old_raw else old_base
    new = f"{new_base}({new_raw})" if new_raw else new_base
    return frozenset({old, new}) in _SAME_TYPE


def _mysql_text_bytes(old_base: str, new_base: str) -> tuple[int | None, int | None]:
    """The bytes each of two MySQL text types holds, when both are such types and one of
    them is named only in MySQL (``tinytext``, ``mediumtext``, ``longtext``); else Nones."""
    if old_base not in _MYSQL_TEXT_BYTES and new_base not in _MYSQL_TEXT_BYTES:
        return None, None
    sizes = {**_MYSQL_TEXT_BYTES, "text": _MYSQL_PLAIN_TEXT_BYTES}
    return sizes.get(old_base), sizes.get(new_base)


def type_change_problem(
    old: str | None,
    new: str | None,
    old_enum: tuple[str, ...] = (),
    new_enum: tuple[str, ...] = (),
) -> str | None:
    """Why values of type ``old`` may not fit type ``new`` (None: they fit, or unknowable).

    Widening (``integer`` → ``bigint``, ``varchar(n)`` → ``text``, a longer ``varchar``, a
    number → text) fits; narrowing, text → number, and removed enum labels do not.
    """
    if not old or not new:
        return None
    if "${" in old or "${" in new:
        # A Liquibase changelog property (``${clobType}``) names a type per database; its
        # value is not read, so what a change to or from it does is unknown.
        return None
    if old_enum and new_enum:
        # The labels decide, whatever the types are called: the usual way to remove a label
        # renames the type away and creates it again under its name (same name, fewer labels).
        removed = [label for label in old_enum if label not in new_enum]
        return "removes enum value " + ", ".join(repr(v) for v in removed) if removed else None
    old_base, old_params, old_array, old_raw = _shape(old)
    new_base, new_params, new_array, new_raw = _shape(new)
    if (old_base, old_params, old_array) == (new_base, new_params, new_array) and (
        old_raw == new_raw
    ):
        return None
    old_labels = old_enum or (
        tuple(re.findall(r"'([^']*)'", old_raw)) if old_base == "enum" else ()
    )
    new_labels = new_enum or (
        tuple(re.findall(r"'([^']*)'", new_raw)) if new_base == "enum" else ()
    )
    if old_labels and new_labels:
        removed = [label for label in old_labels if label not in new_labels]
        if removed:
            return "removes enum value " + ", ".join(repr(v) for v in removed)
        return None
    if old_array != new_array:
        return f"changes {old} to {new}"
    if _same_type(old_base, old_raw, new_base, new_raw):
        return None
    if new_base in _TEXT:
        if old_base not in _TEXT:
            return None  # any value has a text form
        old_bytes, new_bytes = _mysql_text_bytes(old_base, new_base)
        if old_bytes is not None and new_bytes is not None:
            if new_bytes < old_bytes:
                return f"shrinks {old} to {new}: longer values no longer fit"
            return None
        old_limit = old_params[0] if old_params and old_base != "text" else None
        new_limit = new_params[0] if new_params and new_base != "text" else None
        if new_limit is not None and (old_limit is None or new_limit < old_limit):
            return f"shrinks {old} to {new}: longer values no longer fit"
        return None
    if old_base in _TEXT or old_labels:
        return f"changes {old} to {new}: stored text may not convert"
    if old_base in _INTEGER_BYTES and new_base in _INTEGER_BYTES:
        if _INTEGER_BYTES[new_base] < _INTEGER_BYTES[old_base]:
            return f"narrows {old} to {new}: large values no longer fit"
        return None
    if old_base in _INTEGER_BYTES and (new_base in _NUMERIC or new_base in _FLOAT_BYTES):
        if new_base in _NUMERIC and new_params:
            precision = new_params[0] - (new_params[1] if len(new_params) > 1 else 0)
            if precision < _INTEGER_DIGITS[_INTEGER_BYTES[old_base]]:
                return f"changes {old} to {new}: large integers no longer fit"
        return None
    if old_base in _NUMERIC and new_base in _NUMERIC:
        if not new_params:
            return None
        if not old_params:
            return f"limits {old} to {new}: values with more digits no longer fit"
        old_scale = old_params[1] if len(old_params) > 1 else 0
        new_scale = new_params[1] if len(new_params) > 1 else 0
        if new_params[0] - new_scale < old_params[0] - old_scale or new_scale < old_scale:
            return f"narrows {old} to {new}: digits are lost or values no longer fit"
        return None
    if old_base in _FLOAT_BYTES and new_base in _FLOAT_BYTES:
        if _FLOAT_BYTES[new_base] < _FLOAT_BYTES[old_base]:
            return f"narrows {old} to {new}: precision is lost"
        return None
    if (old_base in _NUMERIC or old_base in _FLOAT_BYTES) and new_base in _INTEGER_BYTES:
        return f"changes {old} to {new}: fractions are lost"
    if old_base == "timestamp with time zone" and new_base == "timestamptz":
        return None
    if old_base == new_base and old_params == new_params:
        return None
    if old_base in ("timestamp", "timestamptz", "timestamp with time zone") and new_base in (
        "timestamp",
        "timestamptz",
        "timestamp with time zone",
    ):
        return None
    return f"changes {old} to {new}: the old code's values may not convert"


def narrows_type(judged: JudgedOperation) -> str | None:
    """Why the type an existing column is left with breaks the old release's values, if it does.

    Only the release's last type change of the column is judged, against the base type: a type
    widened and narrowed back within the release leaves the old code what it had.
    """
    if (
        judged.op.kind != ALTER_TYPE
        or not judged.column_at_base
        or judged.op.column_def is None
        or TYPE_ASPECT not in judged.decides
    ):
        return None
    return type_change_problem(
        judged.base_type or judged.op.old_type,
        judged.op.column_def.type,
        judged.base_enum_values,
        judged.new_enum_values,
    )


def is_backward_incompatible(judged: JudgedOperation) -> bool:
    """True when the old release cannot run after this operation (what BK201–BK206 report)."""
    return (
        adds_required_column(judged)
        or drops_base_object(judged)
        or renames_base_object(judged)
        or sets_not_null(judged)
        or constrains_old_writes(judged)
        or narrows_type(judged) is not None
    )
