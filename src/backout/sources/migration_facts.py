"""Migration facts: what the migration readers yield, one per migration or separate down file.

:func:`backout.schema_model.ordered_migrations` puts them in apply order and joins each
:class:`DownScript` to its :class:`Migration`; rules and the drill work from there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backout.models import Location, direct_init
from backout.schema_operations import DOWN_PRESENT, DialectRead, Operation
from backout.sources.base import Fact


@direct_init
@dataclass(frozen=True)
class Migration(Fact):
    """One migration, in any layout; :mod:`backout.schema_model`'s docstring says how to use it."""

    layout: str
    """``golang-migrate``, ``dbmate``, ``flyway``, ``liquibase``, ``plain``, ``alembic``,
    ``django``."""
    engine: str
    """``sql`` (backout runs the SQL), ``alembic`` or ``django`` (their own engines run it)."""
    stream: str
    """The sequence it belongs to: migrations directory, script directory, or Django app."""
    version: str
    """The version as written (``0003``, ``20240101120000``, ``1.2``, revision id, name)."""
    sort_key: tuple[tuple[int, str], ...]
    """Order within the stream for layouts ordered by name (``(number, text)`` parts)."""
    name: str
    up_sql: str | None = None
    down_sql: str | None = None
    up_line: int = 1
    """Line of the file where ``up_sql`` starts (its first line is this line)."""
    down_line: int = 1
    """Line of ``down_location``'s file where ``down_sql`` starts."""
    down_location: Location | None = None
    down_state: str = DOWN_PRESENT
    down_reason: str = ""
    """Why the migration cannot go back, in words, when ``down_state`` is not present."""
    revision: str | None = None
    down_revisions: tuple[str, ...] = ()
    script_directory: str | None = None
    app_label: str | None = None
    migration_name: str | None = None
    dependencies: tuple[tuple[str, str], ...] = ()
    replaces: tuple[tuple[str, str], ...] = ()
    changeset: str | None = None
    """Liquibase ``author:id``."""
    up: tuple[Operation, ...] = ()
    down: tuple[Operation, ...] = ()
    readable: bool = True
    """False when the up SQL could not be read with the PostgreSQL grammar."""
    dialect_reads: tuple[DialectRead, ...] = ()
    """Reads with other dialects' grammars, for SQL that PostgreSQL's grammar rejected."""

    @property
    def key(self) -> str:
        """The migration's identity across releases: its path (and Liquibase changeset)."""
        return f"{self.location.path}#{self.changeset}" if self.changeset else self.location.path

    @property
    def label(self) -> str:
        """How messages name it: the file name, or the Django ``app.name``."""
        if self.app_label and self.migration_name:
            return f"{self.app_label}.{self.migration_name}"
        base = self.location.path.rsplit("/", 1)[-1]
        return f"{base} changeset {self.changeset}" if self.changeset else base

    def operations(self, dialect: str = "postgres") -> tuple[tuple[Operation, ...], ...]:
        """``(up, down)`` operations as read with ``dialect``'s grammar.

        SQL that PostgreSQL's grammar accepts means the same in the other dialects for the
        statements backout judges, so its read serves all three; SQL it rejected was read
        again with sqlglot for MySQL and SQLite, and that read is used for those dialects.
        """
        if dialect != "postgres" and not self.readable:
            for read in self.dialect_reads:
                if read.dialect == dialect:
                    return read.up, read.down
        return self.up, self.down


@direct_init
@dataclass(frozen=True)
class DownScript(Fact):
    """A separate down/undo file; joined to its :class:`Migration` by stream and version."""

    layout: str
    stream: str
    version: str
    sql: str
    down: tuple[Operation, ...] = ()
    readable: bool = True
    dialect_reads: tuple[DialectRead, ...] = ()


_NUMBER_PARTS = re.compile(r"\d+|[^\d]+")


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """A sort key for a version string: ``1.10`` after ``1.9``, ``0002`` before ``0010``."""
    if version.isdecimal():  # the common case (``0003``, ``20240101120000``): one number
        return ((int(version), ""),)
    parts: list[tuple[int, str]] = []
    for piece in _NUMBER_PARTS.findall(version):
        if piece.isdigit():
            parts.append((int(piece), ""))
        elif piece.strip("._-"):
            parts.append((-1, piece.lower()))
    return tuple(parts)
