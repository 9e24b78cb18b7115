"""Migration runners: plain SQL run by backout, Alembic and Django run by their own engines.

A runner applies one migration up or down in the drill database and, when that fails, raises
:class:`StepFailed` with the statement, the database's error and where in the migration it
is. backout runs plain SQL statement by statement (one transaction per migration where DDL is
transactional); Alembic runs through ``alembic.command`` and Django through
``call_command('migrate', app, target)`` in a worker process — never reimplemented.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backout.drill.database import DrillDatabase, DrillError, StatementFailed
from backout.drill.placeholders import Placeholders
from backout.lines import line_number
from backout.models import Location
from backout.schema_model import DOWN_MISSING, IRREVERSIBLE_STEP, Migration


class StepFailed(Exception):
    """A migration step failed: the statement, the database's error, where it is written."""

    def __init__(self, statement: str, error: str, location: Location) -> None:
        super().__init__(f"{error} (statement: {statement})")
        self.statement = statement
        self.error = error
        self.location = location


@dataclass(frozen=True)
class Statement:
    """One statement of a migration's SQL and the line (of its file) it starts on."""

    sql: str
    line: int


def _line_offsets(text: str, pieces: Sequence[str]) -> Iterator[tuple[str, int]]:
    cursor = 0
    for piece in pieces:
        found = text.find(piece, cursor)
        start = found if found >= 0 else cursor
        cursor = start + len(piece)
        code = _without_leading_comments(piece)
        start += len(piece) - len(code)
        yield code.strip().rstrip(";").strip(), line_number(text, start) - 1


def _without_leading_comments(piece: str) -> str:
    """``piece`` from its first token on, so messages show and point at the statement."""
    rest = piece.lstrip()
    while rest.startswith(("--", "/*")):
        end = rest.find("\n") if rest.startswith("--") else rest.find("*/") + 1
        if end <= 0:
            return ""
        rest = rest[end + 1 :].lstrip()
    return rest


def split_statements(text: str, dialect: str, first_line: int = 1) -> list[Statement]:
    """The statements of ``text`` with their lines (dollar quotes, strings and comments kept)."""
    pieces: list[str]
    if dialect == "postgres":
        import pglast

        try:
            pieces = list(pglast.split(text, with_parser=False))
        except Exception:  # the scanner gave up: let sqlglot's tokenizer try
            pieces = _glot_split(text, "postgres")
    else:
        pieces = _glot_split(text, dialect)
    return [
        Statement(sql, first_line + offset)
        for sql, offset in _line_offsets(text, pieces)
        if _has_code(sql, dialect)
    ]


def _glot_split(text: str, dialect: str) -> list[str]:
    from sqlglot.dialects.dialect import Dialect

    from backout.sources.sql_dialects import statement_spans, without_delimiters

    if dialect == "mysql":
        text = without_delimiters(text)  # the server knows no DELIMITER: the client's
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(text)
    except Exception:  # untokenizable: run it whole and let the database say what is wrong
        return [text]
    return [text[start:end] for start, end in statement_spans(tokens, len(text))]


def _has_code(sql: str, dialect: str) -> bool:
    if not sql.strip():
        return False
    from sqlglot.dialects.dialect import Dialect

    try:
        return bool(Dialect.get_or_raise(dialect).tokenize(sql))
    except Exception:
        return True


class Runner:
    """Applies migrations of one engine to a drill database."""

    #: Tables the engine keeps its own bookkeeping in; not part of the user's schema.
    bookkeeping: frozenset[str] = frozenset()

    def apply_base(self, database: DrillDatabase, migrations: Sequence[Migration]) -> None:
        """Bring an empty database to the base release (by default one migration at a time)."""
        for migration in migrations:
            self.up(database, migration)

    def up(self, database: DrillDatabase, migration: Migration) -> None:
        """Apply ``migration``."""
        raise NotImplementedError

    def down(self, database: DrillDatabase, migration: Migration) -> None:
        """Revert ``migration``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the runner started."""


class NoDownMigration(Exception):
    """The migration has no down migration to run."""


# Statements PostgreSQL refuses inside a transaction block, as Flyway's PostgreSQL parser
# detects them to run such a migration without one.
_NON_TRANSACTIONAL = re.compile(
    r"^\s*(?:(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b|REINDEX\b.*\bCONCURRENTLY\b"
    r"|VACUUM\b|(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)\b|ALTER\s+SYSTEM\b"
    r"|DISCARD\s+ALL\b|(?:CREATE|ALTER|DROP)\s+SUBSCRIPTION\b)",
    re.I | re.S,
)
# Flyway's script configuration written in the script itself.
_FLYWAY_EXECUTE_IN_TRANSACTION_OFF = re.compile(
    r"^\s*--\s*flyway:executeInTransaction\s*=\s*false\b", re.I | re.M
)
#: How a migration tool sends a migration's statements (see :meth:`SqlRunner.mode`).
IN_TRANSACTION = "transaction"
AUTOCOMMIT = "autocommit"


class SqlRunner(Runner):
    """Plain SQL layouts: backout runs the up and down SQL itself, the way each tool does.

    - golang-migrate (and dbmate with ``transaction:false``) send the whole file as one
      multi-statement query: PostgreSQL runs one statement on its own and several as one
      implicit transaction (so ``CREATE INDEX CONCURRENTLY`` works alone in its file only);
    - dbmate, goose, Flyway and Liquibase open a transaction per migration, unless dbmate's
      ``transaction:false``, goose's ``-- +goose NO TRANSACTION``, Liquibase's
      ``runInTransaction:false`` or Flyway's ``executeInTransaction=false`` turns it off (then
      each statement commits on its own);
    - Flyway runs a migration without a transaction by itself when its statements cannot run
      in one, and refuses a migration that mixes both kinds unless ``mixed`` is true.

    MySQL and SQLite keep one transaction per migration: MySQL commits DDL anyway, and
    nothing in SQLite needs to run outside a transaction.
    """

    def __init__(self, placeholders: Placeholders | None = None) -> None:
        self.placeholders = placeholders
        """The repository's Flyway/Liquibase settings: placeholder values and ``mixed``."""

    def mode(
        self, migration: Migration, statements: Sequence[Statement], dialect: str, up: bool
    ) -> str:
        """``transaction`` or ``autocommit``: how ``migration``'s tool runs ``statements``;
        raise :class:`StepFailed` where the tool itself refuses them (Flyway, mixed)."""
        if dialect != "postgres":
            return IN_TRANSACTION
        layout = migration.layout
        own_flag = migration.up_transaction if up else migration.down_transaction
        if layout == "golang-migrate" or (layout == "dbmate" and not own_flag):
            return IN_TRANSACTION if len(statements) > 1 else AUTOCOMMIT
        if layout in ("liquibase", "goose"):
            return IN_TRANSACTION if own_flag else AUTOCOMMIT
        if layout == "flyway":
            return self._flyway_mode(migration, statements, up)
        return IN_TRANSACTION

    def _flyway_mode(self, migration: Migration, statements: Sequence[Statement], up: bool) -> str:
        text = (migration.up_sql if up else migration.down_sql) or ""
        if _FLYWAY_EXECUTE_IN_TRANSACTION_OFF.search(text):
            return AUTOCOMMIT
        outside = [s for s in statements if _NON_TRANSACTIONAL.match(s.sql)]
        if not outside:
            return IN_TRANSACTION
        mixed = self.placeholders is not None and self.placeholders.mixed(migration)
        if len(outside) < len(statements) and not mixed:
            location = migration.location if up else (migration.down_location or migration.location)
            raise StepFailed(
                outside[0].sql,
                "Flyway refuses a migration that mixes transactional and non-transactional "
                "statements while its setting mixed is false (the default)",
                Location(location.path, outside[0].line, 1),
            )
        return AUTOCOMMIT

    def _run(
        self, database: DrillDatabase, migration: Migration, up: bool, location: Location
    ) -> None:
        text = (migration.up_sql if up else migration.down_sql) or ""
        first = migration.up_line if up else migration.down_line
        if self.placeholders is not None:
            text, unset = self.placeholders.apply(migration, text, location.path, database)
            if unset is not None:  # found before the drill starts: only if that check was skipped
                line = first + text.count("\n", 0, unset.start)
                raise StepFailed(
                    "",
                    f"Flyway placeholder {unset.text} has no value (Flyway refuses the migration)",
                    Location(location.path, line, 1),
                )
        statements = split_statements(text, database.dialect, first)
        try:
            if self.mode(migration, statements, database.dialect, up) == AUTOCOMMIT:
                for statement in statements:
                    database.execute(statement.sql)
            else:
                database.run_script([s.sql for s in statements])
        except StatementFailed as failed:
            line = next((s.line for s in statements if s.sql == failed.statement), first)
            where = Location(location.path, line, 1)
            raise StepFailed(failed.statement, failed.error, where) from None

    def up(self, database: DrillDatabase, migration: Migration) -> None:
        """Run the up SQL."""
        self._run(database, migration, True, migration.location)

    def down(self, database: DrillDatabase, migration: Migration) -> None:
        """Run the down SQL; :class:`NoDownMigration` when there is none."""
        if migration.down_sql is None or migration.down_state == DOWN_MISSING:
            raise NoDownMigration(migration.down_reason or "no down migration")
        self._run(database, migration, False, migration.down_location or migration.location)


def _error_parts(exc: BaseException) -> tuple[str, str]:
    """(statement, error) from a SQLAlchemy database error; for any other error no statement
    (the last one run has nothing to do with it) and the error's type and text."""
    statement = getattr(exc, "statement", None)
    orig = getattr(exc, "orig", None)
    if statement:
        return str(statement), str(orig or exc).strip().splitlines()[0]
    return "", f"{type(exc).__name__}: {str(exc).strip()}"


class AlembicRunner(Runner):
    """Alembic revisions, run with ``alembic.command`` against the drill database."""

    bookkeeping = frozenset({"alembic_version"})

    def __init__(self, root: Path, script_directory: str) -> None:
        try:
            from alembic.config import Config
        except ImportError:
            raise DrillError(
                "an Alembic drill needs alembic installed: pip install alembic"
            ) from None
        self.root = root
        self.script_location = (root / script_directory).resolve()
        self.config = Config()
        ini = next(
            (
                d / "alembic.ini"
                for d in (self.script_location.parent, root)
                if (d / "alembic.ini").is_file()
            ),
            None,
        )
        if ini is not None:
            parser = configparser.ConfigParser(interpolation=None)
            parser.read(ini)
            for key, value in (parser["alembic"] if parser.has_section("alembic") else {}).items():
                if key not in ("script_location", "sqlalchemy.url"):
                    self.config.set_main_option(key, value.replace("%", "%%"))
        self.config.set_main_option("script_location", str(self.script_location))

    def _command(self, database: DrillDatabase, action: str, revision: str) -> None:
        from alembic import command

        self.config.set_main_option("sqlalchemy.url", database.sqlalchemy_url.replace("%", "%%"))
        saved_env = os.environ.get("DATABASE_URL")
        os.environ["DATABASE_URL"] = database.url
        sys.path.insert(0, str(self.root))
        try:
            getattr(command, action)(self.config, revision)
        finally:
            sys.path.remove(str(self.root))
            if saved_env is None:
                os.environ.pop("DATABASE_URL", None)
            else:
                os.environ["DATABASE_URL"] = saved_env

    def _step(self, database: DrillDatabase, action: str, revision: str, where: Location) -> None:
        try:
            self._command(database, action, revision)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            statement, error = _error_parts(exc)
            raise StepFailed(statement, error, where) from None

    def apply_base(self, database: DrillDatabase, migrations: Sequence[Migration]) -> None:
        """``alembic upgrade <revision>`` for each head of the base: one command for a plain
        history, one a branch when the base has several."""
        revised = {parent for m in migrations for parent in m.down_revisions}
        heads = [m for m in migrations if m.revision not in revised] or list(migrations[-1:])
        for head in heads:
            self._step(database, "upgrade", head.revision or "head", head.location)

    def up(self, database: DrillDatabase, migration: Migration) -> None:
        """``alembic upgrade <revision>``."""
        self._step(database, "upgrade", migration.revision or "+1", migration.location)

    def down(self, database: DrillDatabase, migration: Migration) -> None:
        """``alembic downgrade <revision>@-1``: this revision only, also when other branches
        sit on the same parent (``downgrade <parent>`` would undo them too); a merge revision
        goes down to one of its parents, which undoes the merge and nothing else."""
        if migration.down_state == DOWN_MISSING:
            raise NoDownMigration(migration.down_reason or "no downgrade()")
        parents = migration.down_revisions
        if len(parents) > 1:
            # A merge: `<merge>@-1` is an ambiguous walk; downgrading to one of its parents
            # undoes the merge alone and leaves every branch it joined applied.
            target = parents[0]
        else:
            target = f"{migration.revision}@-1" if migration.revision else "-1"
        self._step(database, "downgrade", target, migration.down_location or migration.location)


def django_app(migration: Migration) -> tuple[str, str]:
    """``(sys.path root, app module)`` of a Django migration's app, from its file's path."""
    parts = migration.location.path.split("/")
    app_parts = parts[: parts.index("migrations")] if "migrations" in parts else parts[:-2]
    return "/".join(app_parts[:-1]), ".".join(app_parts[-1:])


def _failed_at(answer: dict[str, Any], where: Location, migration: Migration | None) -> Location:
    """Where a failed Django step points: the line of the migration file the error came from
    (a ``RunPython`` function), the operation Django found irreversible, else ``where``."""
    file, line = answer.get("file"), answer.get("line")
    if file and line and Path(file).as_posix().endswith("/" + where.path):
        return Location(where.path, int(line), 1)
    if answer.get("irreversible") and migration is not None:
        for operation in migration.up:
            if operation.kind == IRREVERSIBLE_STEP:
                return operation.location
    return where


class DjangoRunner(Runner):
    """Django migrations, run by ``call_command('migrate', app, target)`` in a worker process."""

    bookkeeping = frozenset({"django_migrations"})

    def __init__(self, root: Path, migrations: Sequence[Migration]) -> None:
        self.root = root
        self.apps: dict[str, tuple[str, str]] = {}
        self.dependencies: set[str] = set()
        for migration in migrations:
            if migration.app_label:
                self.apps[migration.app_label] = django_app(migration)
            self.dependencies.update(app for app, _ in migration.dependencies)
        self._worker: subprocess.Popen[str] | None = None
        self._worker_url: str | None = None

    def _start(self, database: DrillDatabase) -> subprocess.Popen[str]:
        if self._worker is not None and self._worker_url == database.url:
            return self._worker
        self.close()
        paths = sorted({str((self.root / path).resolve()) for path, _ in self.apps.values()})
        env = dict(os.environ)
        env["DATABASE_URL"] = database.url
        env["BACKOUT_DJANGO_APPS"] = json.dumps(
            {
                "apps": sorted({module for _, module in self.apps.values()}),
                "contrib": sorted(self.dependencies - set(self.apps)),
                "paths": paths,
            }
        )
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "backout.drill.django_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.root,
        )
        self._worker_url = database.url
        return self._worker

    def _migrate(
        self,
        database: DrillDatabase,
        app: str,
        target: str,
        where: Location,
        migration: Migration | None = None,
    ) -> None:
        worker = self._start(database)
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(json.dumps({"app": app, "target": target}) + "\n")
        worker.stdin.flush()
        answer_line = worker.stdout.readline()
        if not answer_line:
            error = worker.stderr.read() if worker.stderr else ""
            raise DrillError(f"the Django worker stopped: {error.strip()[-500:]}")
        answer: dict[str, Any] = json.loads(answer_line)
        if not answer["ok"]:
            raise StepFailed(
                answer.get("statement") or "", answer["error"], _failed_at(answer, where, migration)
            )

    def apply_base(self, database: DrillDatabase, migrations: Sequence[Migration]) -> None:
        """``migrate app <last base migration>`` for each app."""
        last: dict[str, Migration] = {}
        for migration in migrations:
            if migration.app_label:
                last[migration.app_label] = migration
        for app, migration in last.items():
            self._migrate(database, app, migration.migration_name or "", migration.location)

    def up(self, database: DrillDatabase, migration: Migration) -> None:
        """``migrate app <this migration>``."""
        self._migrate(
            database, migration.app_label or "", migration.migration_name or "", migration.location
        )

    def down(self, database: DrillDatabase, migration: Migration) -> None:
        """``migrate app <its previous migration in the app>`` (``zero`` for the first)."""
        previous = [name for app, name in migration.dependencies if app == migration.app_label]
        target = previous[0] if previous else "zero"
        self._migrate(database, migration.app_label or "", target, migration.location, migration)

    def close(self) -> None:
        """Stop the worker."""
        if self._worker is not None:
            if self._worker.stdin is not None:
                self._worker.stdin.close()
            try:
                self._worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._worker.kill()
                self._worker.wait()
            self._worker = None
