"""What every drill backend offers: a throwaway database to run statements in and introspect.

A :class:`DrillTarget` is where throwaway databases are made (a temp dir for SQLite, an
embedded PostgreSQL, or the server a ``--database`` URL names); it creates one
:class:`DrillDatabase` and always drops it. Backends report a failing statement as
:class:`StatementFailed` (the database's own error, the statement) and an environment problem
(server unreachable, no permission) as :class:`DrillError`, which the CLI shows as exit 2.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backout.drill.snapshot import ColumnState, SchemaSnapshot


class DrillError(Exception):
    """The drill cannot run here (bad URL, server down, unsafe target); shown as exit 2."""


@dataclass(frozen=True)
class Origin:
    """Where the drill's database URL was given, for the messages that refuse it: the
    ``--database`` flag, or ``drill.database`` of a configuration file. It names the setting
    and the file, never the URL (which may hold a password)."""

    name: str = "--database"
    file: str = ""
    """The configuration file that sets it, as shown (``backout.toml``); empty for a flag."""

    @property
    def where(self) -> str:
        """`` in backout.toml`` for a configuration key, else nothing."""
        return f" in {self.file}" if self.file else ""

    def naming(self, value: object) -> str:
        """``--database app.db``, ``drill.database app.db (backout.toml)``."""
        return f"{self.name} {value}" + (f" ({self.file})" if self.file else "")

    @property
    def dropped(self) -> str:
        """How to stop giving it: ``drop --database``, ``remove drill.database from …``."""
        return f"remove {self.name} from {self.file}" if self.file else f"drop {self.name}"


FLAG = Origin()


class StatementFailed(Exception):
    """A statement failed in the drill database: ``error`` is the database's own message."""

    def __init__(self, statement: str, error: str) -> None:
        super().__init__(f"{error} (statement: {statement})")
        self.statement = statement
        self.error = error


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line, shortened to ``limit`` characters, for messages."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class DrillDatabase(abc.ABC):
    """One throwaway database, connected; autocommit unless inside :meth:`run_in_transaction`."""

    #: ``postgres``, ``mysql`` or ``sqlite``: the SQL dialect statements are written in.
    dialect: str
    #: Identifier quote character of the dialect.
    quote_char: str = '"'
    #: The parameter placeholder of the driver.
    placeholder: str = "%s"
    #: Whether DDL is rolled back with its transaction (PostgreSQL, SQLite; not MySQL).
    transactional_ddl: bool = True

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL other programs use to reach this database (``DATABASE_URL``)."""

    @property
    @abc.abstractmethod
    def sqlalchemy_url(self) -> str:
        """The same database as a SQLAlchemy URL (for Alembic)."""

    def quote(self, identifier: str) -> str:
        """``identifier`` quoted for this dialect."""
        q = self.quote_char
        return q + identifier.replace(q, q + q) + q

    @abc.abstractmethod
    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement; raise :class:`StatementFailed` with the database's error."""

    @abc.abstractmethod
    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return its rows; raise :class:`StatementFailed` on error."""

    @abc.abstractmethod
    def begin(self) -> None:
        """Open a transaction."""

    @abc.abstractmethod
    def commit(self) -> None:
        """Commit the open transaction."""

    @abc.abstractmethod
    def rollback(self) -> None:
        """Roll the open transaction back (no error when none is open)."""

    def run_script(self, statements: Sequence[str]) -> None:
        """Run ``statements`` as one transaction (where DDL allows); roll back on failure."""
        self.begin()
        try:
            for statement in statements:
                self.execute(statement)
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def try_rolled_back(self, statements: Sequence[str]) -> StatementFailed | None:
        """Run ``statements`` in a transaction that is always rolled back; the first failure."""
        self.begin()
        try:
            for statement in statements:
                self.execute(statement)
        except StatementFailed as failed:
            return failed
        finally:
            self.rollback()
        return None

    def schema_and_user(self) -> tuple[str, str]:
        """The schema statements land in by default and the user connected, as the database
        names them (Flyway's ``${flyway:defaultSchema}`` and ``${flyway:user}``)."""
        return "", ""

    @abc.abstractmethod
    def introspect(self) -> SchemaSnapshot:
        """The schema as the catalog describes it: tables, columns, indexes, constraints…"""

    @abc.abstractmethod
    def column_states(self) -> dict[tuple[str, str], ColumnState]:
        """A cheap one-query view of every column (type, nullability, default) by table."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (the database itself is dropped by its target)."""


class DrillTarget(abc.ABC):
    """Where throwaway databases are made and dropped."""

    #: Shown in progress lines, without credentials.
    description: str
    dialect: str

    @abc.abstractmethod
    def sweep(self) -> list[str]:
        """Drop what earlier drills left behind (their process is dead); the names dropped."""

    @abc.abstractmethod
    def create(self) -> DrillDatabase:
        """Make a fresh empty database and connect to it."""

    @abc.abstractmethod
    def drop(self, database: DrillDatabase) -> None:
        """Close and drop ``database``; never raises for a database already gone."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the target itself (an admin connection, an embedded server)."""
