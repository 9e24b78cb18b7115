"""MySQL / MariaDB backend: ``--database mysql://`` or ``mariadb://`` (PyMySQL).

The drill creates ``backout_drill_…`` on the server and drops it at the end; the database the
URL names is never touched. DDL is not transactional here, so a migration that fails halfway
stays half-applied, as it would in production.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

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

_ENUM_LABEL = re.compile(r"'((?:[^']|'')*)'")
# MariaDB's JSON is LONGTEXT with CHECK (json_valid(`column`)); MySQL reports ``json`` itself.
_JSON_CHECK = re.compile(r"^\s*json_valid\(\s*`?(\w+)`?\s*\)\s*$", re.IGNORECASE)


def _import_pymysql() -> Any:
    try:
        import pymysql
    except ImportError:
        raise DrillError(
            "a MySQL/MariaDB drill needs PyMySQL: pip install 'backout[mysql]'"
        ) from None
    return pymysql


URL_PARAMETERS = ("charset", "ssl_ca", "ssl_cert", "ssl_key", "ssl_mode", "unix_socket")
"""The query parameters of a ``mysql://`` URL the drill honours (``ssl-mode`` is ``ssl_mode``)."""
SSL_MODES = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")


def connect_options(query: str, origin: Origin = FLAG) -> dict[str, Any]:
    """PyMySQL's ``connect()`` arguments for the query of a ``mysql://`` URL.

    ``ssl_mode`` means what it means to the ``mysql`` client: ``REQUIRED`` encrypts without
    checking the certificate (unless ``ssl_ca`` is given), ``VERIFY_CA`` checks it,
    ``VERIFY_IDENTITY`` checks the host name too, ``DISABLED`` never encrypts. A parameter
    the drill does not know is refused, never dropped: the connection would not be the one
    asked for. Messages name parameters and where the URL was given (``origin``), never
    their values.
    """
    from backout.config import did_you_mean

    options: dict[str, Any] = {}
    mode = "PREFERRED"
    for name, values in parse_qs(query, keep_blank_values=True).items():
        key = name.replace("-", "_").lower()
        if key not in URL_PARAMETERS:
            raise DrillError(
                f"unsupported {origin.name} parameter '{name}'{origin.where}"
                f"{did_you_mean(key, URL_PARAMETERS)}"
            )
        if key == "ssl_mode":
            mode = values[-1].upper().replace("-", "_")
            if mode not in SSL_MODES:
                raise DrillError(
                    f"invalid {origin.name} ssl_mode '{values[-1]}'{origin.where}"
                    f"{did_you_mean(mode, SSL_MODES)}"
                )
        else:
            options[key] = values[-1]
    if mode == "DISABLED":
        options["ssl_disabled"] = True
    elif mode in ("VERIFY_CA", "VERIFY_IDENTITY"):
        options["ssl_verify_cert"] = True
        options["ssl_verify_identity"] = mode == "VERIFY_IDENTITY"
    elif mode == "REQUIRED" and not {"ssl_ca", "ssl_cert", "ssl_key"} & set(options):
        # A non-empty ssl dict makes PyMySQL require TLS; without a CA it checks nothing.
        options["ssl"] = {"check_hostname": False}
    return options


def _error_text(exc: Exception) -> str:
    if len(exc.args) >= 2:
        return f"({exc.args[0]}) {exc.args[1]}"
    return str(exc)


_ON_UPDATE = re.compile(r"\bon update (\S+)", re.IGNORECASE)
_GENERATED = re.compile(r"\b(stored|virtual|persistent) generated\b", re.IGNORECASE)


def _extra(extra: Any, expression: Any) -> str:
    """``information_schema.COLUMNS.EXTRA`` as DDL writes it (MySQL 8's ``DEFAULT_GENERATED``
    only says that the default is an expression, which the default shows)."""
    text = str(extra or "")
    parts = []
    if re.search(r"\bauto_increment\b", text, re.IGNORECASE):
        parts.append("AUTO_INCREMENT")
    if on_update := _ON_UPDATE.search(text):
        parts.append(f"ON UPDATE {on_update.group(1)}")
    if generated := _GENERATED.search(text):
        parts.append(f"GENERATED ALWAYS AS ({expression}) {generated.group(1).upper()}")
    if re.search(r"\binvisible\b", text, re.IGNORECASE):
        parts.append("INVISIBLE")
    return " ".join(parts)


_COLUMNS = (
    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, "
    "GENERATION_EXPRESSION, DATA_TYPE FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION"
)


def _default(value: Any) -> str | None:
    # MariaDB reports "NULL" for a nullable column without a default; that is no default.
    if value is None or value == "NULL":
        return None
    return str(value)


class MysqlDatabase(DrillDatabase):
    """One database on a MySQL/MariaDB server, in autocommit mode."""

    dialect = "mysql"
    quote_char = "`"
    transactional_ddl = False

    def __init__(self, name: str, connect: dict[str, Any], url: str) -> None:
        super().__init__(name)
        pymysql = _import_pymysql()
        self._errors = pymysql.err.MySQLError
        self._url = url
        try:
            self._connection = pymysql.connect(**connect, database=name, autocommit=True)
        except pymysql.err.MySQLError as exc:
            raise DrillError(
                f"cannot connect to drill database {name}: {_error_text(exc)}"
            ) from None

    @property
    def url(self) -> str:
        """``mysql://user:password@host:port/name``."""
        return self._url

    @property
    def sqlalchemy_url(self) -> str:
        """``mysql+pymysql://…``, its query in the parameters SQLAlchemy's PyMySQL dialect
        reads (it hands any other one to ``connect()`` as a string)."""
        parts = urlsplit(self._url)
        options = connect_options(parts.query)
        query = {k: v for k, v in options.items() if isinstance(v, str)}
        if isinstance(options.get("ssl"), dict):
            query["ssl_check_hostname"] = "false"
        for flag in ("ssl_disabled", "ssl_verify_cert", "ssl_verify_identity"):
            if options.get(flag):
                query[flag] = "1"
        return urlunsplit(("mysql+pymysql", parts.netloc, parts.path, urlencode(query), ""))

    def schema_and_user(self) -> tuple[str, str]:
        """The drill database (MySQL's schema is its database) and the user without its
        ``@host``."""
        rows = self.query("SELECT DATABASE(), SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        return str(rows[0][0] or self.name), str(rows[0][1] or "")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        self.query(statement, params)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and fetch its rows."""
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(statement, tuple(params) if params else None)
                return list(cursor.fetchall())
        except self._errors as exc:
            raise StatementFailed(statement, _error_text(exc)) from None

    def begin(self) -> None:
        """``START TRANSACTION`` (DDL still commits implicitly)."""
        self._connection.begin()

    def commit(self) -> None:
        """``COMMIT``."""
        self._connection.commit()

    def rollback(self) -> None:
        """``ROLLBACK``."""
        with contextlib.suppress(self._errors):
            self._connection.rollback()

    def introspect(self) -> SchemaSnapshot:
        """Tables, columns, indexes and constraints from ``information_schema``; MariaDB's
        sequences too."""
        kinds = dict(
            self.query(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = DATABASE()"
            )
        )
        base_tables = {name for name, kind in kinds.items() if kind == "BASE TABLE"}
        sequences = {
            name: self._sequence(name) for name, kind in kinds.items() if kind == "SEQUENCE"
        }
        checks = self.query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM "
            "information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"
        )
        json_columns = {
            (table, match.group(1))
            for table, _name, clause in checks
            if (match := _JSON_CHECK.match(str(clause)))
        }
        columns: dict[str, list[ColumnShape]] = {}
        view_columns: dict[str, list[str]] = {}
        for table, name, type_, nullable, default, extra, expression, data_type in self.query(
            _COLUMNS
        ):
            if table in sequences:
                continue  # a sequence's state, read by _sequence
            if table not in base_tables:
                view_columns.setdefault(table, []).append(name)
                continue
            labels: tuple[str, ...] = ()
            if str(data_type).lower() in ("enum", "set"):
                labels = tuple(m.replace("''", "'") for m in _ENUM_LABEL.findall(str(type_)))
            described = _extra(extra, expression)
            if str(data_type).lower() == "longtext" and (table, name) in json_columns:
                type_ = "json"
            columns.setdefault(table, []).append(
                ColumnShape(
                    name,
                    str(type_),
                    nullable == "YES",
                    _default(default),
                    generated=described.startswith(("AUTO_INCREMENT", "GENERATED ALWAYS")),
                    labels=labels,
                    extra=described,
                )
            )
        index_columns: dict[tuple[str, str], list[str]] = {}
        unique: dict[tuple[str, str], bool] = {}
        unique_columns: dict[str, set[str]] = {}
        for table, index, non_unique, column, sub_part in self.query(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART "
            "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
            "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ):
            part = f"{column}({sub_part})" if sub_part else str(column)
            index_columns.setdefault((table, index), []).append(part)
            unique[(table, index)] = not int(non_unique)
            if not int(non_unique):
                unique_columns.setdefault(table, set()).add(str(column))
        indexes: dict[str, dict[str, str]] = {}
        primary_keys: dict[str, tuple[str, ...]] = {}
        for (table, index), cols in index_columns.items():
            if index == "PRIMARY":
                primary_keys[table] = tuple(cols)
            kind = "UNIQUE INDEX" if unique[(table, index)] else "INDEX"
            indexes.setdefault(table, {})[index] = f"{kind} ({', '.join(cols)})"
        constraints: dict[str, dict[str, str]] = {}
        fk_parts: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for table, name, column, parent, parent_column in self.query(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, "
            "REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL "
            "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
        ):
            fk_parts.setdefault((table, name), []).append((column, parent, parent_column))
        foreign_keys: dict[str, list[ForeignKey]] = {}
        for (table, name), parts in fk_parts.items():
            fk = ForeignKey(tuple(p[0] for p in parts), parts[0][1], tuple(p[2] for p in parts))
            foreign_keys.setdefault(table, []).append(fk)
            constraints.setdefault(table, {})[name] = (
                f"FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.parent} "
                f"({', '.join(fk.parent_columns)})"
            )
        for table, name, clause in checks:
            constraints.setdefault(table, {})[name] = f"CHECK ({clause})"
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
        # The definition names this drill database (`backout_drill_…`.`users`): left out, so
        # that it reads as written.
        here = f"`{self.name}`."
        views = {
            name: ViewShape(
                name,
                " ".join(str(definition).replace(here, "").split()),
                tuple(view_columns.get(name, ())),
            )
            for name, definition in self.query(
                "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS "
                "WHERE TABLE_SCHEMA = DATABASE()"
            )
        }
        return SchemaSnapshot(tables, sequences, views=views)

    def _sequence(self, name: str) -> str:
        """A MariaDB sequence as its definition (start, step, bounds, cache, cycle): what
        ``CREATE``/``ALTER SEQUENCE`` set, not the next value it gives."""
        quoted = "`" + name.replace("`", "``") + "`"
        rows = self.query(
            "SELECT start_value, increment, minimum_value, maximum_value, cache_size, "
            f"cycle_option FROM {quoted}"
        )
        if not rows:
            return "SEQUENCE"
        start, step, low, high, cache, cycle = rows[0]
        return f"START {start} INCREMENT {step} MINVALUE {low} MAXVALUE {high} CACHE {cache}" + (
            " CYCLE" if int(cycle) else ""
        )

    def column_states(self) -> dict[tuple[str, str], ColumnState]:
        """Every column of every table in one query."""
        return {
            (table, name): ColumnState(
                str(type_), nullable == "YES", _default(default), _extra(extra, expression)
            )
            for table, name, type_, nullable, default, extra, expression, _ in self.query(_COLUMNS)
        }

    def close(self) -> None:
        """Close the connection."""
        with contextlib.suppress(self._errors):
            self._connection.close()


class MysqlTarget(DrillTarget):
    """A MySQL/MariaDB server: drill databases are created beside the one the URL names."""

    dialect = "mysql"

    def __init__(self, url: str, origin: Origin = FLAG) -> None:
        pymysql = _import_pymysql()
        parts = urlsplit(url)
        self._scheme = parts.scheme
        self._connect: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": unquote(parts.username or "root"),
            "password": unquote(parts.password or ""),
            **connect_options(parts.query, origin),
        }
        self._netloc = parts.netloc
        self._query = parts.query
        self.description = f"MySQL/MariaDB at {self._connect['host']}:{self._connect['port']}"
        self.started = time.time()
        self._errors = pymysql.err.MySQLError
        try:
            self._admin = pymysql.connect(**self._connect, autocommit=True)
        except pymysql.err.MySQLError as exc:
            raise DrillError(f"cannot connect to {self.description}: {_error_text(exc)}") from None

    def _run(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._admin.cursor() as cursor:
            cursor.execute(statement, tuple(params) if params else None)
            return list(cursor.fetchall())

    def sweep(self) -> list[str]:
        """Drop drill databases whose process is dead."""
        dropped = []
        names = self._run(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
            (PREFIX.replace("_", r"\_") + "%",),
        )
        for (name,) in names:
            if is_stale(name, self.started):
                try:
                    self._run(f"DROP DATABASE IF EXISTS `{name}`")
                except self._errors:
                    continue
                dropped.append(name)
        return dropped

    def create(self) -> MysqlDatabase:
        """``CREATE DATABASE backout_drill_…``; refuse when the user may not."""
        name = drill_name(self.started)
        try:
            self._run(f"CREATE DATABASE `{name}`")
        except self._errors as exc:
            raise DrillError(
                f"cannot create a throwaway database on {self.description}: "
                f"{_error_text(exc)}. The drill never runs in an existing database: grant "
                "CREATE and DROP to the user"
            ) from None
        url = f"mysql://{self._netloc}/{name}" + (f"?{self._query}" if self._query else "")
        try:
            return MysqlDatabase(name, self._connect, url)
        except BaseException:
            # Made but not reachable (MAX_USER_CONNECTIONS): drop it now, the caller never
            # gets a database to drop.
            with contextlib.suppress(self._errors):
                self._run(f"DROP DATABASE IF EXISTS `{name}`")
            raise

    def drop(self, database: DrillDatabase) -> None:
        """Close the connection and drop the database."""
        try:
            database.close()
        finally:
            self._run(f"DROP DATABASE IF EXISTS `{database.name}`")

    def close(self) -> None:
        """Close the admin connection."""
        with contextlib.suppress(self._errors):
            self._admin.close()
