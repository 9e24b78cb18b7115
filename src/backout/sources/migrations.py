"""Plain SQL migration layouts → :class:`~backout.sources.migration_facts.Migration` facts.

Layouts are recognised from the file name and, where names are ambiguous, the first lines:

* golang-migrate: ``0003_add_email.up.sql`` with ``0003_add_email.down.sql``;
* pop (gobuffalo/pop, the Ory projects): ``0003_add_email.mysql.up.sql``, one file per
  dialect (``postgres``, ``mysql``, ``sqlite3``, ``cockroach``); pop runs the files of the
  database's dialect, so each is read with its dialect's grammar alone and counts only for that
  dialect (``cockroach`` files for none: backout has no CockroachDB dialect);
* dbmate: ``20240101120000_name.sql`` holding ``-- migrate:up`` and ``-- migrate:down``;
* goose (pressly/goose): ``20240101120000_name.sql`` or ``00003_name.sql`` holding
  ``-- +goose Up`` and ``-- +goose Down`` (any case); ``-- +goose NO TRANSACTION`` turns the
  file's transaction off;
* Flyway: ``V1_2__name.sql`` with the optional undo ``U1_2__name.sql`` (``R__`` repeatable
  migrations are not versioned and are not part of the apply order);
* Liquibase formatted SQL: ``--liquibase formatted sql``, one migration per ``--changeset``,
  its ``--rollback`` lines (or a ``/* liquibase rollback */`` block) as the down SQL;
  (XML, YAML and JSON changelogs are :mod:`backout.sources.liquibase`'s);
* plain numbered files: ``0003_name.sql`` (no down migration exists in this layout).

A separate down file becomes a :class:`~backout.sources.migration_facts.DownScript` that
:func:`backout.schema_model.ordered_migrations` joins to its migration. The stream of a
migration is its directory. The ``migrations`` setting narrows the migrations considered (in
:func:`~backout.schema_model.ordered_migrations`); readers see no configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

from backout.lines import LINE_BREAK, line_number, split_lines
from backout.models import Location
from backout.schema_operations import (
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DialectRead,
)
from backout.sources.base import Fact, SourceFile
from backout.sources.migration_facts import DownScript, Migration, version_key
from backout.sources.paths import is_sql_file
from backout.sources.sql import BodyReads, SqlText, read_bodies, read_sqlglot

_POP = re.compile(
    r"^(?P<version>\d+)_(?P<name>[^.]+)\.(?P<dialect>postgres|cockroach|mysql|mariadb|sqlite3?)"
    r"\.(?P<direction>up|down)\.sql$",
    re.I,
)
# pop's dialect names → backout's ``sql-dialect`` values.
_POP_DIALECTS = {"postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}
_POP_DIALECTS.update({"sqlite3": "sqlite", "sqlite": "sqlite"})
_GOLANG = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.(?P<direction>up|down)\.sql$", re.I)
_FLYWAY = re.compile(r"^(?P<prefix>[VU])(?P<version>\d+(?:[._]\d+)*)__(?P<name>.+)\.sql$")
_NUMBERED = re.compile(r"^(?P<version>\d+)[_-](?P<name>.+)\.sql$", re.I)
# A marker line with its line ending (a lone ``\r`` ends a line too: see backout.lines).
_DBMATE_UP = re.compile(r"(?:^|(?<=\r))--\s*migrate:up\b[^\r\n]*(?:\r\n?|\n)?", re.M)
_DBMATE_DOWN = re.compile(r"(?:^|(?<=\r))--\s*migrate:down\b[^\r\n]*(?:\r\n?|\n)?", re.M)
# The first line of a Liquibase formatted SQL changelog (blank lines before it allowed, as
# Liquibase does since 3.10); a ``.sql`` changelog without it is one raw changeset.
LIQUIBASE_HEADER = re.compile(r"^\s*--\s*liquibase\s+formatted\s+sql\b", re.I)
_CHANGESET = re.compile(r"^--\s*changeset\s+(?P<id>\S+)", re.I)
_ROLLBACK_LINE = re.compile(r"^--\s*rollback\b ?(?P<sql>.*)$", re.I)
_ROLLBACK_BLOCK = re.compile(r"/\*\s*liquibase\s+rollback\b(?P<sql>.*?)\*/", re.I | re.S)
_END_DELIMITER = re.compile(r"\bendDelimiter:(?P<delimiter>\S+)", re.I)
_NO_ROLLBACK = re.compile(r"^\s*(empty|not\s+required)\s*;?\s*$", re.I)
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_DBMATE_NO_TRANSACTION = re.compile(r"\btransaction:false\b", re.I)
# goose's annotations: case-insensitive, each on its own line (goose's `^--\s\+goose\s.*$`).
_GOOSE_UP = re.compile(r"(?:^|(?<=\r))--\s*\+goose\s+up\b[^\r\n]*(?:\r\n?|\n)?", re.M | re.I)
_GOOSE_DOWN = re.compile(r"(?:^|(?<=\r))--\s*\+goose\s+down\b[^\r\n]*(?:\r\n?|\n)?", re.M | re.I)
_GOOSE_NO_TRANSACTION = re.compile(r"(?:^|(?<=\r))--\s*\+goose\s+no\s+transaction\b", re.M | re.I)
_RUN_IN_TRANSACTION_OFF = re.compile(r"\brunInTransaction:false\b", re.I)


def has_sql(text: str) -> bool:
    """Whether ``text`` holds SQL besides comments, blanks and semicolons."""
    return bool(_SQL_COMMENT.sub("", text).strip(" \t\r\n;"))


class MigrationFileReader:
    """Reads the plain SQL migration layouts (see the module docstring)."""

    name: ClassVar[str] = "SQL migration"

    def wants(self, path: str) -> bool:
        """Every ``.sql`` file: dbmate and Liquibase files are told apart by their content."""
        return is_sql_file(path)

    def read(self, file: SourceFile) -> list[Fact]:
        """The file's migration (or down script) and any SQL that could not be read."""
        # A list rather than a generator, and the name and directory from one rpartition:
        # the per-file cost adds up on trees of thousands of migrations.
        path = file.path
        directory, slash, name = path.rpartition("/")
        stream = directory if slash else "."
        text = file.text()
        if text is not None:
            return _read_text(path, stream, name, text)
        # A migration with a stray Latin-1 byte in a comment still changes the schema: it is
        # read with that byte replaced (and BK901 says so), not left out, which would make
        # the migration before it look like the newest.
        lenient = file.lenient_text()
        if lenient is None:  # binary
            if _GOLANG.match(name) or _FLYWAY.match(name) or _NUMBERED.match(name):
                error = file.decode_error()
                return [error] if error is not None else []
            return []
        text, misdecoded = lenient
        facts = _read_text(path, stream, name, text)
        return [misdecoded, *facts] if facts and misdecoded is not None else facts


def _read_text(path: str, stream: str, name: str, text: str) -> list[Fact]:
    """The facts of one SQL file's text, by its layout."""
    if LIQUIBASE_HEADER.match(text):
        return list(_liquibase(path, stream, text))
    pop = _POP.match(name)
    if pop:
        dialect = _POP_DIALECTS.get(pop["dialect"].lower())
        if dialect is None:
            return []  # CockroachDB's files: no configurable dialect runs them
        return _single(path, stream, text, "pop", pop, pop["direction"], dialect)
    golang = _GOLANG.match(name)
    if golang:
        return _single(path, stream, text, "golang-migrate", golang, golang["direction"])
    flyway = _FLYWAY.match(name)
    if flyway:
        direction = "up" if flyway["prefix"] == "V" else "down"
        return _single(path, stream, text, "flyway", flyway, direction)
    numbered = _NUMBERED.match(name)
    if numbered is None:
        return []
    if _DBMATE_UP.search(text):
        return list(_sections(path, stream, text, numbered, _DBMATE))
    if "+goose" in text and _GOOSE_UP.search(text):
        return list(_sections(path, stream, text, numbered, _GOOSE))
    return _single(path, stream, text, "plain", numbered, "up")


# A Flyway placeholder (``${schema}``, ``${flyway:defaultSchema}``) or a Liquibase changelog
# property (``${table.prefix}``), replaced when the tool runs the migration.
_PLACEHOLDER = re.compile(r"\$\{[^{}\s]+\}")


def _without_placeholders(text: str) -> str:
    """``text`` with each placeholder replaced by an identifier of the same length (``_`` as
    many times), for the parser: the tool substitutes them at run time, and no SQL grammar
    reads ``${…}``. The same placeholder always becomes the same name, so a table it prefixes
    or qualifies is one table throughout the history, and every position stays where it is."""
    if "${" not in text:
        return text
    return _PLACEHOLDER.sub(lambda match: "_" * len(match.group(0)), text)


def _read_in(text: SqlText, dialect: str | None) -> BodyReads:
    """An up or down file's SQL read with every grammar, or with ``dialect``'s alone (a file
    that only that dialect runs; its read serves as PostgreSQL's, the one facts hold first)."""
    if dialect is None or dialect == "postgres":
        return read_bodies(text, None)
    read = read_sqlglot(text, dialect)
    return BodyReads(tuple(read.operations), (), not read.problems, (), read.problems)


def _single(
    path: str,
    stream: str,
    text: str,
    layout: str,
    match: re.Match[str],
    direction: str,
    dialect: str | None = None,
) -> list[Fact]:
    version = match["version"].replace("_", ".") if layout == "flyway" else match["version"]
    parsed = _without_placeholders(text) if layout == "flyway" else text
    reads = _read_in(SqlText(parsed, path), dialect)
    facts: list[Fact] = list(reads.problems)
    if direction == "down":
        facts.append(
            DownScript(
                Location(path, 1, 1),
                layout,
                stream,
                version,
                text,
                reads.up,
                reads.readable,
                tuple([_as_down(read) for read in reads.dialect_reads]),
                dialect,
            )
        )
        return facts
    if not has_sql(text):
        state, reason = DOWN_PRESENT, ""  # an empty migration: nothing to undo
    elif layout == "plain":
        state, reason = DOWN_MISSING, "plain numbered SQL migrations have no down migration"
    elif layout == "flyway":
        state, reason = DOWN_MISSING, f"no undo file U{match['version']}__*.sql"
    elif layout == "pop":
        down_file = f"{match['version']}_{match['name']}.{match['dialect']}.down.sql"
        state, reason = DOWN_MISSING, f"no down file {down_file}"
    else:
        state, reason = DOWN_MISSING, f"no down file {match['version']}_{match['name']}.down.sql"
    facts.append(
        Migration(
            Location(path, 1, 1),
            layout=layout,
            engine="sql",
            stream=stream,
            version=version,
            sort_key=version_key(version),
            name=match["name"],
            up_sql=text,
            down_state=state,
            down_reason=reason,
            up=reads.up,
            readable=reads.readable,
            dialect_reads=reads.dialect_reads,
            dialect=dialect,
        )
    )
    return facts


def _as_down(read: DialectRead) -> DialectRead:
    """A down file's reads hold its statements as ``down``, the way a migration's do."""
    return replace(read, up=(), down=read.up)


@dataclass(frozen=True)
class _SectionedLayout:
    """A layout that keeps the up and down SQL in one file, each after its marker line."""

    layout: str
    up_marker: re.Pattern[str]
    down_marker: re.Pattern[str]
    down_name: str
    """The down marker as the user writes it, for the reasons BK207 gives."""

    def in_transaction(self, text: str, marker: re.Match[str]) -> bool:
        """False when the file turns the tool's transaction off for the marker's section:
        dbmate on the marker line (``transaction:false``), goose for the whole file."""
        if self.layout == "goose":
            return not _GOOSE_NO_TRANSACTION.search(text)
        return not _DBMATE_NO_TRANSACTION.search(marker.group(0))


_DBMATE = _SectionedLayout("dbmate", _DBMATE_UP, _DBMATE_DOWN, "-- migrate:down")
_GOOSE = _SectionedLayout("goose", _GOOSE_UP, _GOOSE_DOWN, "-- +goose Down")


def _sections(
    path: str, stream: str, text: str, match: re.Match[str], tool: _SectionedLayout
) -> Iterator[Fact]:
    up_marker = tool.up_marker.search(text)
    assert up_marker is not None
    down_marker = tool.down_marker.search(text)
    up_start = up_marker.end()
    if down_marker is not None and down_marker.start() > up_marker.start():
        up_text = text[up_start : down_marker.start()]
        down_start = down_marker.end()
        down_text: str | None = text[down_start:]
    elif down_marker is not None:
        # Down written first: the up section runs to the end of the file.
        up_text = text[up_start:]
        down_start = down_marker.end()
        down_text = text[down_start : up_marker.start()]
    else:
        up_text, down_text, down_start = text[up_start:], None, 0
    up_line = line_number(text, up_start)
    down_line = line_number(text, down_start) if down_text is not None else 1
    reads = read_bodies(
        SqlText(up_text, path, up_line),
        SqlText(down_text, path, down_line) if down_text is not None else None,
    )
    yield from reads.problems
    if down_text is None:
        state, reason = DOWN_MISSING, f"the file has no `{tool.down_name}` section"
    elif not has_sql(down_text):
        state, reason = DOWN_EMPTY, f"the `{tool.down_name}` section is empty"
    else:
        state, reason = DOWN_PRESENT, ""
    down_location = (
        Location(path, line_number(text, down_marker.start()), 1)
        if down_marker is not None
        else None
    )
    yield Migration(
        Location(path, 1, 1),
        layout=tool.layout,
        engine="sql",
        stream=stream,
        version=match["version"],
        sort_key=version_key(match["version"]),
        name=match["name"],
        up_sql=up_text,
        down_sql=down_text,
        up_line=up_line,
        down_line=down_line,
        down_location=down_location,
        down_state=state,
        down_reason=reason,
        up=reads.up,
        down=reads.down,
        readable=reads.readable,
        dialect_reads=reads.dialect_reads,
        up_transaction=tool.in_transaction(text, up_marker),
        down_transaction=down_marker is None or tool.in_transaction(text, down_marker),
    )


def _with_semicolons(sql: str, delimiter: str) -> str:
    """``sql`` with each line that is only the changeset's ``endDelimiter`` (``GO``, ``/``)
    made a ``;``, so the SQL parsers see the statements Liquibase sends; lines stay put."""
    wanted = delimiter.strip().lower()
    return "".join(
        (line[: len(line) - len(line.lstrip())] + ";" + line[len(line.rstrip("\r\n")) :])
        if line.strip().lower() == wanted
        else line
        for line in split_lines(sql, keepends=True)
    )


def _liquibase(path: str, stream: str, text: str) -> Iterator[Fact]:
    lines = split_lines(text, keepends=True)
    starts = [i for i, line in enumerate(lines) if _CHANGESET.match(line)]
    file_key = version_key(path.rsplit("/", 1)[-1])
    for index, first in enumerate(starts):
        last = starts[index + 1] if index + 1 < len(starts) else len(lines)
        changeset = _CHANGESET.match(lines[first])
        assert changeset is not None
        up_lines: list[str] = []
        down_lines: list[str] = []
        down_line = 0
        for number in range(first + 1, last):
            line = lines[number]
            rollback = _ROLLBACK_LINE.match(line)
            if rollback:
                down_line = down_line or number + 1
                down_lines.append(rollback["sql"] + "\n")
                # Keep line numbers of the up SQL aligned with the file.
                up_lines.append("\n")
            else:
                up_lines.append(line)
        up_text = "".join(up_lines)
        block = _ROLLBACK_BLOCK.search(up_text)
        if block is not None:
            down_line = down_line or first + 1 + line_number(up_text, block.start())
            down_lines.append(block["sql"])
            up_text = (
                up_text[: block.start()]
                + "\n" * len(LINE_BREAK.findall(block.group(0)))
                + up_text[block.end() :]
            )
        down_text = "".join(down_lines) if down_lines else None
        delimiter = _END_DELIMITER.search(lines[first])
        in_transaction = not _RUN_IN_TRANSACTION_OFF.search(lines[first])
        if delimiter is not None and delimiter["delimiter"] != ";":
            up_text = _with_semicolons(up_text, delimiter["delimiter"])
            if down_text is not None:
                down_text = _with_semicolons(down_text, delimiter["delimiter"])
        declared_none = down_text is not None and bool(_NO_ROLLBACK.match(down_text.strip()))
        reads = read_bodies(
            SqlText(_without_placeholders(up_text), path, first + 2),
            SqlText(_without_placeholders(down_text), path, down_line)
            if down_text is not None and not declared_none
            else None,
        )
        yield from reads.problems
        if down_text is None:
            state, reason = (
                DOWN_MISSING,
                (
                    f"changeset {changeset['id']} has no --rollback, and Liquibase cannot roll "
                    "back formatted SQL by itself"
                ),
            )
        elif declared_none or not has_sql(down_text):
            state, reason = DOWN_EMPTY, f"changeset {changeset['id']} declares an empty rollback"
        else:
            state, reason = DOWN_PRESENT, ""
        yield Migration(
            Location(path, first + 1, 1),
            layout="liquibase",
            engine="sql",
            stream=stream,
            version=changeset["id"],
            sort_key=(*file_key, (index, "")),
            name=changeset["id"],
            up_sql=up_text,
            down_sql=None if declared_none else down_text,
            up_line=first + 2,
            down_line=down_line or 1,
            down_location=Location(path, down_line, 1) if down_line else None,
            down_state=state,
            down_reason=reason,
            changeset=changeset["id"],
            up=reads.up,
            down=reads.down,
            readable=reads.readable,
            dialect_reads=reads.dialect_reads,
            up_transaction=in_transaction,
            down_transaction=in_transaction,
        )
