"""SQLite backend: a database file in a temp dir (or the empty file a ``sqlite://`` URL names).

Foreign keys stay unenforced, SQLite's default and what migration tools expect while they
rebuild tables (Django turns them off for the same reason). CHECK constraints, which SQLite
keeps only inside the ``CREATE TABLE`` text, are read from that text with sqlglot.

A virtual table (FTS3/4/5, R*Tree, an extension's) is a table to the application: it is
seeded and compared through its declared columns, never its hidden ones (FTS5's ``rank`` and
the column named after the table, FTS4's ``docid``), and its module and arguments are
compared. The shadow tables it keeps its data in (``notes_fts_data``, ``geo_node``…) are its
own business: they are left out of the snapshot, so never seeded or compared.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backout.drill.database import (
    FLAG,
    DrillDatabase,
    DrillError,
    DrillTarget,
    Origin,
    StatementFailed,
)
from backout.drill.safety import PREFIX, drill_name, is_stale
from backout.drill.snapshot import (
    ColumnShape,
    ColumnState,
    ForeignKey,
    SchemaSnapshot,
    TableShape,
    ViewShape,
)
from backout.sources.sql_dialects import VirtualModule, virtual_module


def view_definition(create_view: str) -> str:
    """A ``CREATE VIEW`` text as compared: normalised by sqlglot, because SQLite rewrites a
    view's text when a table it reads is renamed (``FROM audit`` becomes ``FROM "audit"``);
    the text with its whitespace collapsed when sqlglot cannot read it."""
    import sqlglot
    from sqlglot import exp

    try:
        statement = sqlglot.parse_one(create_view, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return " ".join(create_view.split())
    for identifier in statement.find_all(exp.Identifier):
        if _PLAIN_NAME.match(identifier.name):
            identifier.set("quoted", False)
    return statement.sql(dialect="sqlite")


# A name that means the same quoted or not.
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# How sqlite_master's text of a virtual table starts (SQLite writes the keywords so).
_CREATE_VIRTUAL = re.compile(r"CREATE\s+VIRTUAL\s+TABLE\b", re.IGNORECASE)


def check_constraints(create_table: str) -> dict[str, str]:
    """The CHECK constraints of a SQLite ``CREATE TABLE`` text: a named one by its name, an
    unnamed one as ``check(<expression>)``; each as ``CHECK (…)``, with the column it is
    declared on.
    Empty when the text does not parse (the snapshot then compares no CHECK)."""
    import sqlglot  # only drills on SQLite read CHECKs
    from sqlglot import exp

    try:
        statement = sqlglot.parse_one(create_table, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return {}
    found: dict[str, str] = {}
    for check in statement.find_all(exp.CheckColumnConstraint):
        text = check.sql(dialect="sqlite")
        holder = check.parent
        name = None
        if isinstance(holder, (exp.Constraint, exp.ColumnConstraint)) and holder.this:
            name = holder.this.name
        if isinstance(holder, exp.ColumnConstraint) and isinstance(holder.parent, exp.ColumnDef):
            text += f" on column {holder.parent.name}"
        found[name or f"check({check.this.sql(dialect='sqlite')})"] = text
    return found


# The shadow tables each module SQLite ships makes, ``<virtual table>_<suffix>``
# (sqlite.org/fts3.html, fts5.html, rtree.html): how they are told apart from the user's
# tables where ``PRAGMA table_list`` (SQLite 3.37) is missing.
_SHADOW_SUFFIXES: Mapping[str, tuple[str, ...]] = {
    "fts3": ("content", "segments", "segdir", "docsize", "stat"),
    "fts4": ("content", "segments", "segdir", "docsize", "stat"),
    "fts5": ("data", "idx", "content", "docsize", "config"),
    "rtree": ("node", "parent", "rowid"),
    "rtree_i32": ("node", "parent", "rowid"),
    "geopoly": ("node", "parent", "rowid"),
}
# Modules whose first column is the integer key of the row (sqlite.org/rtree.html).
_KEYED_BY_FIRST_COLUMN = frozenset({"rtree", "rtree_i32"})
# pragma_table_xinfo's ``hidden``: 1 a virtual table's hidden column, 2 and 3 generated.
_HIDDEN = 1


@dataclass(frozen=True)
class UserTable:
    """A table of the user's schema as ``sqlite_master`` keeps it."""

    name: str
    create: str
    """Its ``CREATE [VIRTUAL] TABLE`` text."""
    virtual: VirtualModule | None = None
    """The module and arguments of a virtual table; None for an ordinary table."""


class SqliteDatabase(DrillDatabase):
    """A SQLite file, connected in autocommit mode."""

    dialect = "sqlite"
    placeholder = "?"
    # Not '"': SQLite reads a double-quoted unknown column as a string literal, which would
    # let the contract probe's SELECT of a dropped column pass.
    quote_char = "`"

    def __init__(self, path: Path) -> None:
        super().__init__(path.stem)
        self.path = path
        self._connection = sqlite3.connect(str(path), isolation_level=None)

    @property
    def url(self) -> str:
        """``sqlite:///absolute/path``."""
        return f"sqlite:///{self.path}"

    @property
    def sqlalchemy_url(self) -> str:
        """The same URL: SQLAlchemy reads it as is."""
        return self.url

    def schema_and_user(self) -> tuple[str, str]:
        """``main``, SQLite's schema; SQLite has no users."""
        return "main", ""

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        self.query(statement, params)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and fetch its rows."""
        try:
            return list(self._connection.execute(statement, tuple(params)).fetchall())
        except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError) as exc:
            raise StatementFailed(statement, str(exc)) from None

    def begin(self) -> None:
        """``BEGIN``."""
        self._connection.execute("BEGIN")

    def commit(self) -> None:
        """``COMMIT``."""
        if self._connection.in_transaction:
            self._connection.execute("COMMIT")

    def rollback(self) -> None:
        """``ROLLBACK`` when a transaction is open."""
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def user_tables(self) -> dict[str, UserTable]:
        """The user's tables, ordinary and virtual, by name: no ``sqlite_`` table, and no
        shadow table of a virtual table, as ``PRAGMA table_list`` types them (or, before
        SQLite 3.37, as :meth:`user_tables_from_master` tells them)."""
        tables = self._master_tables()
        try:
            kinds = self.query("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")
        except StatementFailed:
            return self._without_shadows(tables)
        shadows = {name for name, kind in kinds if kind == "shadow"}
        return {name: table for name, table in tables.items() if name not in shadows}

    def user_tables_from_master(self) -> dict[str, UserTable]:
        """:meth:`user_tables` without ``PRAGMA table_list``: a shadow table is one named
        ``<virtual table>_<suffix>`` with a suffix its module makes (the modules SQLite
        ships; an extension's shadow tables are taken for the user's)."""
        return self._without_shadows(self._master_tables())

    def _master_tables(self) -> dict[str, UserTable]:
        rows = self.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        tables = {}
        for name, create in rows:
            text = str(create or "")
            virtual = virtual_module(text) if _CREATE_VIRTUAL.match(text) else None
            tables[name] = UserTable(name, text, virtual)
        return tables

    @staticmethod
    def _without_shadows(tables: Mapping[str, UserTable]) -> dict[str, UserTable]:
        shadows = {
            f"{table.name}_{suffix}".lower()
            for table in tables.values()
            if table.virtual is not None
            for suffix in _SHADOW_SUFFIXES.get(table.virtual.module, ())
        }
        return {name: table for name, table in tables.items() if name.lower() not in shadows}

    def introspect(self) -> SchemaSnapshot:
        """Tables, columns, primary keys, indexes and foreign keys from the pragmas."""
        tables: dict[str, TableShape] = {}
        for user_table in self.user_tables().values():
            if user_table.virtual is not None:
                tables[user_table.name] = self._virtual_table(user_table, user_table.virtual)
                continue
            table = user_table.name
            info = self.query("SELECT * FROM pragma_table_xinfo(?)", (table,))
            pk = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
            index_list = self.query("SELECT * FROM pragma_index_list(?)", (table,))
            # SQLite backs a primary key with an index of origin ``pk`` unless the key is the
            # rowid alias (``INTEGER PRIMARY KEY``, but not ``… DESC``, which sqlite.org calls
            # a quirk; a WITHOUT ROWID table has the index too). Only the alias is filled by
            # the database; the other key columns are NOT NULL only as declared
            # (``pragma_table_info.notnull``; SQLite adds no NOT NULL for a key, but in a
            # WITHOUT ROWID table, whose pragma says so).
            rowid_alias = len(pk) == 1 and not any(row[3] == "pk" for row in index_list)
            columns = []
            for _cid, name, type_, notnull, default, pk_pos, hidden in info:
                alias = rowid_alias and bool(pk_pos)
                columns.append(
                    ColumnShape(
                        name=name,
                        type=str(type_).lower(),
                        nullable=not notnull and not alias,
                        default=default,
                        generated=alias or hidden in (2, 3),
                    )
                )
            indexes: dict[str, str] = {}
            unique_columns = set(pk)
            for _seq, index, unique, origin, _partial in index_list:
                cols = [r[2] for r in self.query("SELECT * FROM pragma_index_info(?)", (index,))]
                if unique:
                    unique_columns.update(c for c in cols if c is not None)
                kind = "UNIQUE " if unique else ""
                where = (
                    "" if origin == "c" else f" ({'primary key' if origin == 'pk' else 'unique'})"
                )
                indexes[index] = f"{kind}INDEX ON {table} ({', '.join(cols)}){where}"
            fk_rows = self.query("SELECT * FROM pragma_foreign_key_list(?)", (table,))
            grouped: dict[int, list[tuple[Any, ...]]] = {}
            for row in fk_rows:
                grouped.setdefault(row[0], []).append(row)
            foreign_keys = []
            constraints: dict[str, str] = {}
            for rows in grouped.values():
                rows.sort(key=lambda r: r[1])
                fk = ForeignKey(
                    tuple(r[3] for r in rows),
                    rows[0][2],
                    tuple(r[4] or "" for r in rows),
                )
                foreign_keys.append(fk)
                text = (
                    f"FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.parent} "
                    f"({', '.join(fk.parent_columns)}) "
                    f"ON UPDATE {rows[0][5]} ON DELETE {rows[0][6]}"
                )
                constraints[f"fk({', '.join(fk.columns)})"] = text
            constraints.update(check_constraints(user_table.create))
            tables[table] = TableShape(
                table,
                tuple(columns),
                tuple(pk),
                indexes,
                constraints,
                tuple(foreign_keys),
                (user_table.create,),
                frozenset(unique_columns),
            )
        views = {
            name: ViewShape(name, view_definition(str(definition)), self._view_columns(name))
            for name, definition in self.query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name"
            )
        }
        return SchemaSnapshot(tables, views=views)

    def _virtual_table(self, table: UserTable, virtual: VirtualModule) -> TableShape:
        """A virtual table by its declared columns (the hidden ones are the module's) and its
        module; it has no index, constraint or foreign key of its own. An R*Tree's first
        column is its key."""
        info = self.query("SELECT * FROM pragma_table_xinfo(?)", (table.name,))
        columns = tuple(
            ColumnShape(name=name, type=str(type_).lower(), nullable=not notnull, default=default)
            for _cid, name, type_, notnull, default, _pk, hidden in info
            if hidden != _HIDDEN
        )
        key = (columns[0].name,) if virtual.module in _KEYED_BY_FIRST_COLUMN and columns else ()
        return TableShape(
            table.name,
            columns,
            key,
            unique_columns=frozenset(key),
            module=virtual.describe(),
            rows_of=virtual.content_table,
        )

    def _view_columns(self, view: str) -> tuple[str, ...]:
        """The columns of ``view``; none when it no longer compiles (a table it reads was
        dropped, which SQLite allows): the probe then SELECTs nothing from it, and the
        definition is still compared."""
        try:
            rows = self.query("SELECT * FROM pragma_table_info(?)", (view,))
        except StatementFailed:
            return ()
        return tuple(row[1] for row in rows)

    def column_states(self) -> dict[tuple[str, str], ColumnState]:
        """Every column of every user table (``pragma_table_info`` shows no hidden column),
        in one query and the table list."""
        tables = self.user_tables()
        rows = self.query(
            'SELECT m.name, p.name, p.type, p."notnull", p.dflt_value FROM sqlite_master m '
            "JOIN pragma_table_info(m.name) p WHERE m.type = 'table' "
            "AND m.name NOT LIKE 'sqlite_%'"
        )
        return {
            (t, c): ColumnState(str(ty).lower(), not nn, d)
            for t, c, ty, nn, d in rows
            if t in tables
        }

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def _absolute_hint(path: Path) -> str:
    """`` (for /tmp/x.db write sqlite:////tmp/x.db)`` when ``path`` is relative and would
    exist as an absolute path: ``sqlite:///tmp/x.db`` names ``tmp/x.db``, as in SQLAlchemy."""
    absolute = Path("/") / path
    if path.is_absolute() or not absolute.parent.is_dir():
        return ""
    return (
        f" (sqlite:/// is followed by a relative path; for {absolute} write sqlite:///{absolute})"
    )


class SqliteTarget(DrillTarget):
    """Drill databases as files: in a fresh temp dir, or at the path of a ``sqlite://`` URL."""

    dialect = "sqlite"

    def __init__(self, path: Path | None = None, origin: Origin = FLAG) -> None:
        self.path = path
        self.origin = origin
        """Where the path was given, for the messages that refuse it."""
        self.description = f"SQLite file {path}" if path else "SQLite in a temp dir"
        self._made_dirs: set[Path] = set()
        self._path_taken = False
        self.started = time.time()

    def sweep(self) -> list[str]:
        """Remove temp dirs of earlier drills whose process is gone."""
        removed = []
        for entry in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
            name = entry.name.split("-", 1)[0]
            if entry.is_dir() and is_stale(name, self.started):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(name)
        return removed

    def create(self) -> SqliteDatabase:
        """A new file; a ``sqlite://`` path must not hold tables already. Once that path is
        taken, further databases (the base-only one ``drill.old-command`` first runs on) go to
        temp dirs."""
        if self.path is None or self._path_taken:
            name = drill_name(self.started)
            made = Path(tempfile.mkdtemp(prefix=name + "-"))
            self._made_dirs.add(made)
            return SqliteDatabase(made / f"{name}.sqlite3")
        if self.path.is_dir():
            raise DrillError(
                f"{self.origin.naming(self.path)} is a directory; give the path of a SQLite "
                f"file that does not exist yet, e.g. {self.path / 'drill.sqlite3'}"
            )
        if self.path.exists():
            try:
                # Read-only, through a URI so that a `?` or `#` in the name stays a name.
                probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
                try:
                    count = probe.execute(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                    ).fetchone()[0]
                finally:
                    probe.close()
            except sqlite3.Error as exc:
                raise DrillError(
                    f"{self.origin.naming(self.path)}: not a SQLite database ({exc})"
                ) from None
            if count:
                raise DrillError(
                    f"{self.origin.naming(self.path)} already holds {count} table(s); the drill "
                    "only runs on an empty or new SQLite file, to never touch real data"
                )
            raise DrillError(
                f"{self.origin.naming(self.path)} exists; give a path that does not exist yet, the "
                "drill creates the file and deletes it afterwards"
            )
        if not self.path.parent.is_dir():
            raise DrillError(
                f"{self.origin.naming(self.path)}: directory {self.path.parent} does not exist"
                + _absolute_hint(self.path)
            )
        self._path_taken = True
        return SqliteDatabase(self.path)

    def close(self) -> None:
        """Nothing to release: the file or temp dir goes with :meth:`drop`."""

    def drop(self, database: DrillDatabase) -> None:
        """Close and delete the file (and its journal), or the temp dir it is in."""
        database.close()
        assert isinstance(database, SqliteDatabase)
        if database.path.parent in self._made_dirs:
            shutil.rmtree(database.path.parent, ignore_errors=True)
            self._made_dirs.discard(database.path.parent)
            return
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(database.path) + suffix).unlink(missing_ok=True)
