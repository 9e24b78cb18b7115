"""SQL text → schema :class:`~backout.schema_model.Operation` lists, with exact positions.

PostgreSQL SQL is parsed with pglast (libpg_query: the server's own grammar, in C); MySQL and
SQLite SQL with sqlglot's dialect grammars. Readers have no configuration, so the dialect
reaches the parse like this: every SQL body is parsed with PostgreSQL's grammar; when that
grammar rejects it, the body is parsed again with sqlglot for ``mysql`` and ``sqlite`` and both
reads are kept on the fact. :meth:`Migration.operations` then picks the read for the configured
``sql-dialect``, and each failed read is a :class:`SqlUnreadable` fact tagged with its dialect,
which rule BK901 reports only when that dialect is the configured one. SQL that PostgreSQL's
grammar accepts is parsed once, in C, whatever the dialect.

sqlglot's opaque ``Command`` fallback (syntax it does not model) counts as unreadable, never as
clean. PostgreSQL ``DO`` blocks are read with the PL/pgSQL parser: each SQL statement inside is
judged like any other; a dynamic ``EXECUTE`` of a computed string is reported unreadable.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pglast

try:  # orjson decodes libpg_query's JSON in about half the time; the standard library's if absent
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover - orjson is a dependency, but a wheel may be missing
    from json import loads as _json_loads  # type: ignore[assignment]

from backout.check_conditions import (
    FLIPPED,
    IN_LIST,
    NUMBER,
    OPAQUE,
    STRING,
    Atom,
    Condition,
    between,
    compared,
)
from backout.lines import line_starts as _line_starts
from backout.models import Location
from backout.schema_model import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    CHECK,
    COLUMNS_UNKNOWN,
    CREATE_ENUM,
    CREATE_TABLE,
    CREATE_VIEW,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEFAULT,
    DROP_ENUM,
    DROP_NOT_NULL,
    DROP_TABLE,
    DROP_VIEW,
    DROPPED_INDEX,
    FOREIGN_KEY,
    PRIMARY_KEY,
    RENAME_COLUMN,
    RENAME_TABLE,
    SET_DEFAULT,
    SET_NOT_NULL,
    UNIQUE,
    Column,
    DialectRead,
    Operation,
)
from backout.schema_operations import (
    IF_EXISTS,
    PLAIN_INDEX,
    with_primary_key,
    written_integer,
)
from backout.sources.base import ComputedSql, SqlUnreadable


@dataclass
class SqlRead:
    """The operations read from one SQL body with one grammar, and what could not be read."""

    operations: list[Operation] = field(default_factory=list)
    problems: list[SqlUnreadable] = field(default_factory=list)
    postgres_only: bool = False
    """The read holds what PostgreSQL alone does (identical keys of a CREATE TABLE made one,
    :func:`_pg_merged_keys`): MySQL and SQLite need reads of their own."""


class SqlText:
    """A SQL body inside a file: turns character and byte offsets into file locations."""

    __slots__ = (
        "_ascii",
        "_encoded",
        "_line_starts",
        "_lowered",
        "first_column",
        "first_line",
        "path",
        "pieces",
        "text",
    )

    def __init__(
        self,
        text: str,
        path: str,
        first_line: int = 1,
        first_column: int = 1,
        pieces: tuple[tuple[int, int, int], ...] = (),
    ) -> None:
        self.text = text
        self.path = path
        self.first_line = first_line
        self.first_column = first_column
        self.pieces = pieces
        """Where the body's parts start in the file when it is not one run of text there
        (Python's adjacent string literals): ``(offset, line, column)`` each, in order."""
        self._ascii = text.isascii()
        # Computed on first use: many bodies (``SELECT 1;`` down files) never need a position.
        self._encoded: bytes | None = None
        self._line_starts: list[int] | None = None
        self._lowered: str | None = None

    def char_offset(self, byte_offset: int) -> int:
        """The character offset of a byte offset (libpg_query counts bytes)."""
        if byte_offset <= 0:
            return 0
        if self._ascii:
            return byte_offset
        if self._encoded is None:
            self._encoded = self.text.encode("utf-8")
        return len(self._encoded[:byte_offset].decode("utf-8", errors="ignore"))

    def location(self, offset: int) -> Location:
        """The file location of a character offset in the body."""
        line_starts = self._line_starts
        if line_starts is None:
            line_starts = self._line_starts = _line_starts(self.text)
        if offset < 0:
            offset = 0
        elif offset > len(self.text):
            offset = len(self.text)
        if self.pieces:
            return self._piece_location(offset)
        # The line is the last one starting at or before ``offset`` (the first starts at 0).
        line = bisect_right(line_starts, offset) - 1
        column = offset - line_starts[line] + 1
        if line == 0:
            column += self.first_column - 1
        return Location(self.path, self.first_line + line, column)

    def _piece_location(self, offset: int) -> Location:
        """:meth:`location` in the part of :attr:`pieces` that holds ``offset``."""
        pieces = self.pieces
        index = max(bisect_right(pieces, (offset, sys.maxsize)) - 1, 0)
        start, line, column = pieces[index]
        newline = self.text.rfind("\n", start, offset)
        if newline < 0:
            return Location(self.path, line, column + offset - start)
        return Location(self.path, line + self.text.count("\n", start, offset), offset - newline)

    def find_name(self, name: str, start: int, end: int) -> int | None:
        """Character offset of identifier ``name`` (bare or quoted) in ``text[start:end]``."""
        end = min(end, len(self.text)) if end > start else len(self.text)
        if self._ascii and name.isascii():
            return self._find_ascii_name(name.lower(), start, end)
        match = _name_pattern(name).search(self.text, start, end)
        return match.start() if match else None

    def _find_ascii_name(self, name: str, start: int, end: int) -> int | None:
        """:func:`_name_pattern`'s match, without compiling a pattern per name.

        Migrations name thousands of distinct columns, and compiling a regular expression for
        each was most of the reading time. On ASCII text, ASCII case folding is the whole of
        ``re.IGNORECASE`` and ``[\\w$]`` is ``_IDENTIFIER_CHARS``; like the pattern, the
        boundary checks look before ``start`` and treat ``end`` as the end of the text.
        """
        text = self._lowered
        if text is None:
            text = self._lowered = self.text.lower()
        size = len(name)
        found = text.find(name, start, end)
        while found >= 0:
            after = found + size
            before = text[found - 1] if found > 0 else ""
            if (
                before in _QUOTES
                and found > start
                and after < end
                and text[after] == before
                and _is_boundary(text, found - 2, end)
                and _is_boundary(text, after + 1, end)
            ):
                return found - 1
            # ``text.find`` keeps the match inside ``[start, end)``: only its neighbours
            # remain to be checked.
            if before not in _IDENTIFIER_CHARS and (
                after == end or text[after] not in _IDENTIFIER_CHARS
            ):
                return found
            found = text.find(name, found + 1, end)
        return None

    def statement_start(self, offset: int) -> int:
        """Skip the whitespace and comments that libpg_query counts into a statement."""
        if offset >= len(self.text):
            return offset
        first = self.text[offset]
        if not first.isspace() and first not in "-/":  # most statements: nothing to skip
            return offset
        gap = _LEADING_GAP.match(self.text, offset)
        return gap.end() if gap else offset


# Whitespace (``\s`` is exactly ``str.isspace``), ``--`` comments up to and with their line
# break, and ``/* */`` comments, an unclosed one running to the end: what libpg_query counts
# into a statement before its first token. It matches (possibly empty) at every offset.
_LEADING_GAP = re.compile(r"(?:\s+|--[^\n]*\n?|/\*(?:.*?\*/|.*))*", re.DOTALL)


_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
_QUOTES = ('"', "`")


def _is_boundary(text: str, position: int, end: int) -> bool:
    """Whether ``position`` of lower-cased ASCII ``text`` is outside ``[0, end)`` or not an
    identifier character: what the look-arounds of :func:`_name_pattern` check."""
    return position < 0 or position >= end or text[position] not in _IDENTIFIER_CHARS


@functools.lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    """An identifier, bare or quoted, not inside a longer word (compiled once per name)."""
    quoted = re.escape(name)
    return re.compile(rf'(?<![\w$])(?:"{quoted}"|`{quoted}`|{quoted})(?![\w$])', re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# PostgreSQL through pglast.
#
# libpg_query's JSON output (``pglast.parser.parse_sql_json``) is read as plain dicts: the same
# parse tree as pglast's ``ast`` classes, without building a validated Python object per node,
# which was most of the reading time on large trees. Each node is ``{"NodeType": {fields}}``;
# like the C structs' JSON writer, fields that are zero, false, empty or null are left out.

Node = dict[str, Any]

_PG_TYPE_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "bpchar": "char",
    "int": "integer",
    "serial4": "serial",
    "serial8": "bigserial",
    "serial2": "smallserial",
}
_SERIAL = {"serial", "bigserial", "smallserial"}


def _fields(node: Any, kind: str) -> Node | None:
    """The fields of ``node`` when it is a ``kind`` node, else None."""
    if isinstance(node, dict):
        found = node.get(kind)
        if isinstance(found, dict):
            return found
    return None


def _pg_type(type_name: Node | None) -> str | None:
    if type_name is None or not type_name.get("names"):
        return None
    base = ""
    for name in reversed(type_name["names"]):  # the type's own name is the last one
        string = _fields(name, "String")
        if string is not None:
            base = string.get("sval", "").lower()
            break
    base = _PG_TYPE_NAMES.get(base, base)
    modifiers: list[str] = []
    for mod in type_name.get("typmods") or ():
        const = _fields(mod, "A_Const")
        if const is not None and isinstance(const.get("ival"), dict):
            modifiers.append(str(const["ival"].get("ival", 0)))
        elif const is not None and isinstance(const.get("sval"), dict):
            # MySQL's ENUM('a','b') parses here too: keep the labels, rules compare them.
            label = str(const["sval"].get("sval", "")).replace("'", "''")
            modifiers.append(f"'{label}'")
    rendered = f"{base}({','.join(modifiers)})" if modifiers else base
    if type_name.get("arrayBounds"):
        rendered += "[]"
    return rendered


def _pg_column(stmt: _PgStatement, column: Node) -> Column:
    type_name = column.get("typeName")
    type_text = _pg_type(type_name)
    declared_nullable = not column.get("is_not_null", False)
    primary_key = own_primary_key = False
    has_default = False
    unique = unique_key = False
    generated = type_text in _SERIAL
    for item in column.get("constraints") or ():
        constraint = _fields(item, "Constraint")
        if constraint is None:
            continue
        kind = constraint.get("contype")
        if kind == "CONSTR_NOTNULL":
            declared_nullable = False
        elif kind == "CONSTR_PRIMARY":
            primary_key = True
        if kind in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
            unique = True
            # A key given a name (``CONSTRAINT uq UNIQUE``) is a constraint of its own
            # (:func:`_pg_named_keys`), which a drop of that name drops.
            own = not constraint.get("conname")
            unique_key = unique_key or (own and kind == "CONSTR_UNIQUE")
            own_primary_key = own_primary_key or (own and kind == "CONSTR_PRIMARY")
        elif kind == "CONSTR_DEFAULT":
            # DEFAULT NULL gives old inserts a NULL, which NOT NULL then rejects.
            has_default = not _pg_null(constraint.get("raw_expr"))
        elif kind in ("CONSTR_IDENTITY", "CONSTR_GENERATED"):
            generated = True
    if (column.get("identity") or "").strip("\x00") or (column.get("generated") or "").strip(
        "\x00"
    ):
        generated = True
    # SQLite: a key column is NOT NULL only as the rowid alias (see Column.sqlite_nullable).
    rowid_alias = (
        primary_key
        and type_name is not None
        and written_integer(stmt.body.text, stmt.after(type_name.get("location")))
    )
    return Column(
        column.get("colname") or "",
        type_text,
        declared_nullable and not primary_key,
        has_default,
        generated,
        unique,
        sqlite_nullable=declared_nullable and primary_key and not rowid_alias,
        primary_key=own_primary_key,
        # A column's UNIQUE is its PRIMARY KEY's index (PostgreSQL and MariaDB make one).
        unique_key=unique_key and not primary_key,
    )


def _pg_null(expression: Any) -> bool:
    """Whether ``expression`` is NULL, cast or not (``NULL``, ``NULL::text``): as a default,
    no value an INSERT that leaves the column out can rely on."""
    while (cast := _fields(expression, "TypeCast")) is not None:
        expression = cast.get("arg")
    const = _fields(expression, "A_Const")
    return const is not None and bool(const.get("isnull", False))


def _pg_named_keys(stmt: _PgStatement, table: str, column: Node, after: int) -> list[Operation]:
    """The keys a column declares under a name (``email text CONSTRAINT uq UNIQUE``, ``id int
    CONSTRAINT pk PRIMARY KEY``), as the same constraints written for the table are read:
    their names are known, so a drop of one drops it; and its foreign keys and checks, named
    or not."""
    keys = []
    items = column.get("constraints") or ()
    for index, item in enumerate(items):
        constraint = _fields(item, "Constraint")
        if constraint is None:
            continue
        following = _fields(items[index + 1], "Constraint") if index + 1 < len(items) else None
        enforced = (following or {}).get("contype") != "CONSTR_ATTR_NOT_ENFORCED"
        if constraint.get("contype") == "CONSTR_CHECK":
            # Named or not: PostgreSQL names an unnamed one after the column its condition
            # reads, in the order of the statement (``t_a_check``, ``t_a_check1``).
            check = _pg_constraint(stmt, table, constraint, after, enforced)
            if check is not None:
                keys.append(check)
            continue
        if constraint.get("contype") == "CONSTR_FOREIGN":
            if not enforced:
                continue  # ``REFERENCES x NOT ENFORCED`` (PostgreSQL 18): never evaluated
            # ``a int REFERENCES x``, named or not: PostgreSQL names the next unnamed key on
            # the column around it (``t_a_fkey1``), and a drop of it drops it.
            keys.append(
                Operation(
                    ADD_CONSTRAINT,
                    stmt.at_name(constraint.get("conname") or column.get("colname"), after),
                    table,
                    constraint=FOREIGN_KEY,
                    constrained=(column.get("colname") or "",),
                    detail=constraint.get("conname") or "",
                    references=_referenced_table(constraint),
                )
            )
            continue
        if not constraint.get("conname"):
            continue
        label = _NAMED_KEYS.get(constraint.get("contype") or "")
        if label:
            keys.append(
                Operation(
                    ADD_CONSTRAINT,
                    stmt.at_name(constraint["conname"], after),
                    table,
                    constraint=label,
                    constrained=(column.get("colname") or "",),
                    detail=constraint["conname"],
                )
            )
    return keys


_NAMED_KEYS = {"CONSTR_UNIQUE": UNIQUE, "CONSTR_PRIMARY": PRIMARY_KEY}


def _column_refs(node: Any) -> Iterator[str]:
    """Names of the columns an expression refers to."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("ColumnRef")
            if isinstance(ref, dict) and len(current) == 1:
                names = [
                    s.get("sval", "")
                    for f in ref.get("fields") or ()
                    if (s := _fields(f, "String")) is not None
                ]
                if names:
                    yield names[-1]
            else:
                stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def condition_columns(condition: str) -> tuple[str, ...] | None:
    """The columns a CHECK condition (``price > 0 AND code <> ''``) refers to, each once.

    The condition is read as the ``WHERE`` of ``SELECT 1``, with PostgreSQL's grammar; a
    condition that grammar rejects, or that is not one expression, gives ``None``.
    """
    try:
        statements = _parse_postgres(f"SELECT 1 WHERE ({condition}\n)")
    except pglast.parser.ParseError:
        return None
    if len(statements) != 1:
        return None
    select = _fields(statements[0].get("stmt"), "SelectStmt")
    if select is None or set(select) - {"targetList", "whereClause", "limitOption", "op"}:
        return None
    return tuple(dict.fromkeys(_column_refs(select.get("whereClause"))))


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(s.get("sval", "") for v in values or () if (s := _fields(v, "String")) is not None)


def _list_strings(value: Any) -> tuple[str, ...]:
    """The strings of a ``List`` node (how a qualified name like ``public.t`` arrives)."""
    items = _fields(value, "List")
    return _strings(items.get("items")) if items is not None else ()


class _PgStatement:
    """One parsed PostgreSQL statement and where it sits in the body."""

    __slots__ = ("body", "end", "start")

    def __init__(self, body: SqlText, start: int, end: int) -> None:
        self.body = body
        self.start = start
        self.end = end

    def at(self, byte_location: int | None) -> Location:
        """The location of a libpg_query byte offset; the statement's start when unknown."""
        if byte_location is None or byte_location < 0:
            return self.body.location(self.start)
        return self.body.location(self.body.char_offset(byte_location))

    def at_name(self, name: str | None, after: int | None = None) -> Location:
        """Where identifier ``name`` first appears in the statement, from character offset
        ``after`` (from :meth:`after`; the statement's start by default) on; the statement's
        start when it does not appear."""
        if name:
            found = self.body.find_name(name, self.start if after is None else after, self.end)
            if found is not None:
                return self.body.location(found)
        return self.body.location(self.start)

    def after(self, byte_location: int | None) -> int:
        """The character offset of a libpg_query byte offset, not before the statement."""
        if byte_location is None or byte_location < 0:
            return self.start
        return max(self.start, self.body.char_offset(byte_location))


def _constraint_columns(constraint: Node) -> tuple[str, tuple[str, ...]]:
    """The kind of a constraint backout models and the columns it names; ``("", ())`` for
    the other kinds."""
    kind = constraint.get("contype")
    if kind == "CONSTR_UNIQUE":
        return UNIQUE, _strings(constraint.get("keys"))
    if kind == "CONSTR_PRIMARY":
        return PRIMARY_KEY, _strings(constraint.get("keys"))
    if kind == "CONSTR_CHECK":
        return CHECK, tuple(dict.fromkeys(_column_refs(constraint.get("raw_expr"))))
    if kind == "CONSTR_FOREIGN":
        return FOREIGN_KEY, _strings(constraint.get("fk_attrs"))
    return "", ()


def _referenced_table(constraint: Node) -> str:
    """The table a FOREIGN KEY constraint references (``""`` for other kinds)."""
    table = constraint.get("pktable")
    return (table.get("relname") or "") if isinstance(table, dict) else ""


def _constraint_anchor(constraint: Node, columns: tuple[str, ...]) -> str | None:
    """The name a constraint's position is given by: its own, else its first column's."""
    name: str | None = constraint.get("conname")
    return name or (columns[0] if columns else None)


def _pg_constraint(
    stmt: _PgStatement, table: str, constraint: Node, after: int, enforced: bool = True
) -> Operation | None:
    """The constraint ``constraint`` adds (``enforced`` ``False``: a column's check that a
    ``NOT ENFORCED`` follows, which the grammar writes as a constraint of its own)."""
    label, columns = _constraint_columns(constraint)
    if not label or constraint.get("indexname"):
        # `… UNIQUE USING INDEX idx`: the unique index already holds the rows to the rule
        # (it is judged where it is created), the constraint adds nothing the old code meets.
        return None
    if label in (CHECK, FOREIGN_KEY) and not (constraint.get("is_enforced") and enforced):
        # NOT ENFORCED (PostgreSQL 18, MySQL 8.0.16 for checks): recorded, never evaluated; it
        # rejects no write of the old release, and a base one constrains none of its writes.
        return None
    return Operation(
        ADD_CONSTRAINT,
        stmt.at_name(_constraint_anchor(constraint, columns), after),
        table,
        constraint=label,
        constrained=columns,
        detail=constraint.get("conname") or "",
        references=_referenced_table(constraint),
        condition=_pg_condition(constraint.get("raw_expr")) if label == CHECK else (),
        nulls_not_distinct=bool(constraint.get("nulls_not_distinct")),
    )


def _pg_rowid_alias(stmt: _PgStatement, elements: Sequence[Any], keys: Sequence[str]) -> bool:
    """Whether a table-level ``PRIMARY KEY (keys)`` is SQLite's rowid alias: one column, its
    type written ``INTEGER``."""
    if len(keys) != 1:
        return False
    for element in elements:
        column = _fields(element, "ColumnDef")
        if column is not None and (column.get("colname") or "").lower() == keys[0].lower():
            type_name = column.get("typeName")
            return type_name is not None and written_integer(
                stmt.body.text, stmt.after(type_name.get("location"))
            )
    return False


def _pg_create_table(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    operations = result.operations
    relation = node.get("relation")
    if relation is None:
        return
    elements = node.get("tableElts") or ()
    columns = tuple(
        _pg_column(stmt, column)
        for element in elements
        if (column := _fields(element, "ColumnDef")) is not None
    )
    table = relation.get("relname") or ""
    after = relation.get("location", 0)
    merged, named, inline_merged = _pg_merged_keys(elements)
    if merged or inline_merged:
        result.postgres_only = True
        columns = tuple(
            replace(c, unique_key=False) if c.name in inline_merged else c for c in columns
        )
    # Table-level constraints: recorded after the table, so that their names are known (one
    # dropped and created again later is not new) and a one-column UNIQUE makes it unique.
    constraints = []
    for element in elements:
        constraint = _fields(element, "Constraint")
        if constraint is not None and id(constraint) in merged:
            continue
        if constraint is not None and id(constraint) in named:
            constraint = {**constraint, "conname": named[id(constraint)]}
        if constraint is None:
            column = _fields(element, "ColumnDef")
            if column is not None and column.get("constraints"):
                constraints.extend(_pg_named_keys(stmt, table, column, after))
            continue
        if constraint.get("contype") == "CONSTR_PRIMARY":
            keys = _strings(constraint.get("keys"))
            columns = with_primary_key(
                columns, keys, sqlite_enforced=_pg_rowid_alias(stmt, elements, keys)
            )
        op = _pg_constraint(stmt, table, constraint, after)
        if op is not None:
            constraints.append(op)
    # ``(LIKE other INCLUDING ALL)`` copies columns the statement does not name.
    copied = any(_fields(element, "TableLikeClause") is not None for element in elements)
    detail = COLUMNS_UNKNOWN if copied else ""
    operations.append(
        Operation(CREATE_TABLE, stmt.at(after), table, columns=columns, detail=detail)
    )
    operations.extend(constraints)


def _pg_key_shape(constraint: Node, keys: tuple[str, ...]) -> tuple[object, ...]:
    """What PostgreSQL compares two keys of a CREATE TABLE by (``transformIndexConstraints``:
    the columns in order, INCLUDE, NULLS NOT DISTINCT, the deferral)."""
    return (
        keys,
        _strings(constraint.get("including")),
        bool(constraint.get("nulls_not_distinct")),
        bool(constraint.get("deferrable")),
        bool(constraint.get("initdeferred")),
    )


def _pg_merged_keys(elements: Sequence[Any]) -> tuple[set[int], dict[int, str], set[str]]:
    """PostgreSQL's merge of identical UNIQUE and PRIMARY KEY constraints of a CREATE TABLE
    (checked on PostgreSQL 15: ``UNIQUE (a), UNIQUE (a)`` is one key ``t_a_key``; MariaDB
    makes two, ``a`` and ``a_2``): the ids of the table-level constraints merged into an
    earlier one, the names table-level ones take from a named one merged into them, and the
    columns whose own unnamed UNIQUE is merged into another key (or gives way to a named
    one, which carries the key)."""
    shapes: list[tuple[tuple[object, ...], Node, str]] = []
    for element in elements:
        column = _fields(element, "ColumnDef")
        items = (column.get("constraints") or ()) if column is not None else (element,)
        for item in items:
            constraint = _fields(item, "Constraint")
            kind = constraint.get("contype") if constraint is not None else None
            if constraint is None or kind not in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
                continue
            if constraint.get("indexname"):
                continue
            keys = (column.get("colname") or "",) if column is not None else None
            shape = _pg_key_shape(constraint, keys or _strings(constraint.get("keys")))
            owner = "" if keys is None else keys[0]
            entry = (shape, constraint, owner)
            if kind == "CONSTR_PRIMARY":
                shapes.insert(0, entry)  # kept in preference to the others
            else:
                shapes.append(entry)
    merged: set[int] = set()
    named: dict[int, str] = {}
    inline_merged: set[str] = set()
    kept: list[tuple[tuple[object, ...], Node, str]] = []
    for shape, constraint, owner in shapes:
        prior = next((k for k in kept if k[0] == shape), None)
        if prior is None:
            kept.append((shape, constraint, owner))
            continue
        _, first, first_owner = prior
        name = constraint.get("conname")
        if owner:
            if not name and first_owner != owner:
                inline_merged.add(owner)  # the column's own key is a table-level one
            continue
        if name and not (first.get("conname") or named.get(id(first))):
            if first_owner:
                # The column's own unnamed key takes the name: the named one stands for it.
                if first.get("contype") == "CONSTR_UNIQUE":
                    inline_merged.add(first_owner)
                    kept[kept.index(prior)] = (shape, constraint, "")
                    continue
            else:
                named[id(first)] = name
        merged.add(id(constraint))
    return merged, named, inline_merged


# ALTER TABLE commands on one named column that carry nothing else backout models.
_PG_COLUMN_COMMANDS = {
    "AT_DropColumn": DROP_COLUMN,
    "AT_SetNotNull": SET_NOT_NULL,
    "AT_DropNotNull": DROP_NOT_NULL,
}


def _pg_alter(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    operations = result.operations
    relation = node.get("relation")
    if node.get("objtype") not in ("OBJECT_TABLE", None) or relation is None:
        return
    table = relation.get("relname") or ""
    after = stmt.after(relation.get("location", 0))

    def at_name(name: str | None) -> Location:
        """Where the clause being read names ``name``: the clauses are in the order written,
        so from the previous clause's name on (``ALTER COLUMN a DROP DEFAULT, DROP COLUMN
        a`` reports the drop at its own line, where a suppression comment goes)."""
        nonlocal after
        found = stmt.body.find_name(name, after, stmt.end) if name else None
        if found is None:
            return stmt.at_name(name, after)
        after = found + 1
        return stmt.body.location(found)

    for item in node.get("cmds") or ():
        cmd = _fields(item, "AlterTableCmd")
        if cmd is None:
            continue
        sub = cmd.get("subtype", "")
        name = cmd.get("name")
        column_kind = _PG_COLUMN_COMMANDS.get(sub)
        if column_kind is not None:
            detail = IF_EXISTS if column_kind == DROP_COLUMN and cmd.get("missing_ok") else ""
            operations.append(Operation(column_kind, at_name(name), table, name, detail=detail))
        elif sub == "AT_AddColumn":
            column_def = _fields(cmd.get("def"), "ColumnDef")
            if column_def is not None:
                after = max(after, stmt.after(column_def.get("location")))
                _pg_add_column(stmt, table, column_def, after, operations)
        elif sub == "AT_AlterColumnType":
            column_def = _fields(cmd.get("def"), "ColumnDef")
            if column_def is not None:
                new_type = _pg_type(column_def.get("typeName"))
                operations.append(
                    Operation(
                        ALTER_TYPE,
                        at_name(name),
                        table,
                        name,
                        column_def=Column(name or "", new_type),
                    )
                )
        elif sub == "AT_ColumnDefault":
            # SET DEFAULT NULL leaves the column as DROP DEFAULT does.
            default = cmd.get("def")
            kind = SET_DEFAULT if default is not None and not _pg_null(default) else DROP_DEFAULT
            operations.append(Operation(kind, at_name(name), table, name))
        elif sub == "AT_AddConstraint":
            constraint_def = _fields(cmd.get("def"), "Constraint")
            if constraint_def is not None:
                # From the constraint on: its name may stand earlier in the statement too
                # (`DROP CONSTRAINT c, ADD CONSTRAINT c CHECK (…)`).
                at = max(after, stmt.after(constraint_def.get("location")))
                after = at
                op = _pg_constraint(stmt, table, constraint_def, at)
                if op is not None:
                    operations.append(op)
                    if op.constraint == PRIMARY_KEY:
                        # A primary key makes its columns NOT NULL, as SET NOT NULL would.
                        operations.extend(
                            Operation(SET_NOT_NULL, op.location, table, column)
                            for column in op.constrained
                        )
        elif sub == "AT_DropConstraint":
            operations.append(Operation(DROP_CONSTRAINT, at_name(name), table, detail=name or ""))


# Constraints declared with an added column that are recorded as constraints of their own
# (an unnamed UNIQUE is the column's own key, :attr:`Column.unique_key`).
_NEW_COLUMN_CONSTRAINTS = ("CONSTR_CHECK", "CONSTR_FOREIGN")


def _pg_add_column(
    stmt: _PgStatement, table: str, column_def: Node, after: int, operations: list[Operation]
) -> None:
    column = _pg_column(stmt, column_def)
    operations.append(
        Operation(
            ADD_COLUMN,
            stmt.at_name(column.name, after),
            table,
            column.name,
            column_def=column,
        )
    )
    for entry in column_def.get("constraints") or ():
        constraint = _fields(entry, "Constraint")
        if constraint is None:
            continue
        name = constraint.get("conname") or ""
        kind = constraint.get("contype")
        if kind not in _NEW_COLUMN_CONSTRAINTS and not (name and kind in _NAMED_KEYS):
            continue
        # On a new column the constraint binds only new writes of new code; the schema
        # model sees that the column is new and does not flag it. A named key is known by
        # its name (an unnamed one is the column's own: see _pg_column).
        label, columns = _constraint_columns(constraint)
        operations.append(
            Operation(
                ADD_CONSTRAINT,
                stmt.at_name(_constraint_anchor(constraint, columns), after),
                table,
                constraint=label,
                constrained=columns or (column.name,),
                detail=name,
                references=_referenced_table(constraint),
            )
        )


def _pg_rename(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    operations = result.operations
    relation = node.get("relation")
    if relation is None:
        return
    table = relation.get("relname") or ""
    rename_type = node.get("renameType")
    if rename_type == "OBJECT_COLUMN":
        operations.append(
            Operation(
                RENAME_COLUMN,
                stmt.at_name(node.get("subname"), stmt.after(relation.get("location", 0))),
                table,
                node.get("subname"),
                new_name=node.get("newname"),
            )
        )
    elif rename_type == "OBJECT_TABLE":
        operations.append(
            Operation(
                RENAME_TABLE,
                stmt.at(relation.get("location", 0)),
                table,
                new_name=node.get("newname"),
            )
        )


def _pg_drop(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    operations = result.operations
    remove_type = node.get("removeType")
    if remove_type == "OBJECT_TABLE":
        for names in node.get("objects") or ():
            parts = _list_strings(names)
            if parts:
                operations.append(Operation(DROP_TABLE, stmt.at_name(parts[-1]), parts[-1]))
    elif remove_type in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
        for names in node.get("objects") or ():
            parts = _list_strings(names)
            if parts:
                operations.append(Operation(DROP_VIEW, stmt.at_name(parts[-1]), parts[-1]))
    elif remove_type == "OBJECT_INDEX":
        # Index names are unique in their schema: a unique index created again under its name
        # later in the release is not new (the table is not named here).
        for names in node.get("objects") or ():
            parts = _list_strings(names)
            if parts:
                operations.append(
                    Operation(
                        DROP_CONSTRAINT,
                        stmt.at_name(parts[-1]),
                        "",
                        detail=parts[-1],
                        constraint=DROPPED_INDEX,
                    )
                )
    elif remove_type == "OBJECT_TYPE":
        for names in node.get("objects") or ():
            type_name = _fields(names, "TypeName")
            parts = (
                _strings(type_name.get("names")) if type_name is not None else _list_strings(names)
            )
            if parts:
                operations.append(Operation(DROP_ENUM, stmt.at_name(parts[-1]), parts[-1]))


def _pg_create_table_as(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    """``CREATE TABLE t AS SELECT …``: a new table, columns unknown; ``CREATE MATERIALIZED
    VIEW``: a view that nothing writes through."""
    objtype = node.get("objtype", "OBJECT_TABLE")
    if objtype == "OBJECT_TABLE":
        _pg_table_from_query(stmt, node.get("into"), result)
    elif objtype == "OBJECT_MATVIEW":
        relation = (node.get("into") or {}).get("rel") or {}
        if relation.get("relname"):
            where = stmt.at(relation.get("location", 0))
            result.operations.append(Operation(CREATE_VIEW, where, relation["relname"]))


def _pg_select_into(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    """``SELECT … INTO t FROM …`` makes the table ``t``; another SELECT changes none."""
    into = node.get("intoClause")
    if into is not None:
        _pg_table_from_query(stmt, into, result)


def _pg_table_from_query(stmt: _PgStatement, into: Node | None, result: SqlRead) -> None:
    relation = (into or {}).get("rel")
    if relation is None or not relation.get("relname") or relation.get("relpersistence") == "t":
        return  # a temporary table is gone with the session
    result.operations.append(
        Operation(
            CREATE_TABLE,
            stmt.at(relation.get("location", 0)),
            relation["relname"],
            detail=COLUMNS_UNKNOWN,
        )
    )


def _pg_create_view(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    view = node.get("view")
    if view is not None and view.get("relname"):
        result.operations.append(
            Operation(
                CREATE_VIEW,
                stmt.at(view.get("location", 0)),
                view["relname"],
                detail=_pg_updatable_from(_fields(node.get("query"), "SelectStmt")),
            )
        )


# Parts of a SELECT that make its view read-only (PostgreSQL's auto-updatable view rules).
_READ_ONLY_VIEW_PARTS = (
    "groupClause",
    "havingClause",
    "distinctClause",
    "windowClause",
    "limitCount",
    "limitOffset",
    "withClause",
    "larg",
)


def _pg_updatable_from(select: Node | None) -> str:
    """The one table a view's SELECT reads when the view is one that INSERT, UPDATE and
    DELETE write through (a single table, no grouping, set operation, DISTINCT, LIMIT or
    function in its columns); ``""`` otherwise."""
    if select is None or any(select.get(part) for part in _READ_ONLY_VIEW_PARTS):
        return ""
    sources = select.get("fromClause") or []
    table = _fields(sources[0], "RangeVar") if len(sources) == 1 else None
    if table is None or any(
        _fields((_fields(target, "ResTarget") or {}).get("val"), "FuncCall") is not None
        for target in select.get("targetList") or ()
    ):
        return ""
    return str(table.get("relname") or "").lower()


def _pg_unique_index(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    operations = result.operations
    relation = node.get("relation")
    if relation is None:
        return
    indexed = tuple(
        element["name"]
        for param in node.get("indexParams") or ()
        if (element := _fields(param, "IndexElem")) is not None and element.get("name")
    )
    relname = relation.get("relname")
    operations.append(
        Operation(
            ADD_CONSTRAINT,
            stmt.at_name(node.get("idxname") or relname),
            relname or "",
            constraint=UNIQUE if node.get("unique") else PLAIN_INDEX,
            constrained=indexed,
            detail=node.get("idxname") or "",
            nulls_not_distinct=bool(node.get("nulls_not_distinct")),
        )
    )


def _pg_create_enum(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    operations = result.operations
    parts = _strings(node.get("typeName"))
    if parts:
        operations.append(
            Operation(
                CREATE_ENUM, stmt.at_name(parts[-1]), parts[-1], values=_strings(node.get("vals"))
            )
        )


def _parse_postgres(text: str) -> list[Node]:
    """libpg_query's statements for ``text``; raises ``ParseError`` like ``pglast.parse_sql``."""
    statements: list[Node] = _json_loads(pglast.parser.parse_sql_json(text)).get("stmts") or []
    return statements


def _statements_to_read(text: str) -> list[Node]:
    """The statements of ``text`` that backout reads (:data:`_PG_STATEMENT_READERS`; a SELECT
    only with ``INTO``), and in a small JSON the others too, as libpg_query's raw
    statements; raises ``ParseError``.

    In a large JSON (:data:`_SLICED_ABOVE`) only those are loaded, each from its own slice of
    the text, when they are less than half of it: the others (INSERT, UPDATE, GRANT,
    COMMENT…) are often most of a seed migration's JSON, and loading it cost more than the
    parse itself. A raw statement starts with ``{"stmt":{"Kind":`` (no
    other node has a ``stmt`` field, and a quote inside a JSON string is escaped) and ends
    at the comma before the next one, or at the array's closing bracket."""
    tree = pglast.parser.parse_sql_json(text)
    if len(tree) < _SLICED_ABOVE:
        statements: list[Node] = _json_loads(tree).get("stmts") or []
        return statements  # the others are passed over by the reader of each statement
    found = [(match.start(), match.group(1)) for match in _RAW_STATEMENT.finditer(tree)]
    pieces: list[str] = []
    for index, (start, kind) in enumerate(found):
        if kind not in _PG_STATEMENT_READERS:
            continue
        end = found[index + 1][0] - 1 if index + 1 < len(found) else tree.rindex("]")
        piece = tree[start:end]
        if kind != "SelectStmt" or '"intoClause"' in piece:
            pieces.append(piece)
    if sum(map(len, pieces)) * 2 > len(tree):
        # Most of it is read anyway: one load costs less than a load per statement.
        statements = _json_loads(tree).get("stmts") or []
        return [raw for raw in statements if _wanted_statement(raw)]
    return [_json_loads(piece) for piece in pieces]


# The size of libpg_query's JSON from which the statements backout reads are sought in its
# text first: below it, loading all of it costs less than the search (a typical migration's
# JSON is 1–5 KB; a seed migration's megabytes).
_SLICED_ABOVE = 32 * 1024


def _wanted_statement(raw: Node) -> bool:
    """Whether the raw statement ``raw`` is one :func:`_statements_to_read` returns."""
    node = raw.get("stmt")
    if not isinstance(node, dict) or len(node) != 1:
        return False
    ((kind, fields),) = node.items()
    return kind in _PG_STATEMENT_READERS and (kind != "SelectStmt" or "intoClause" in fields)


# Where a raw statement starts in libpg_query's JSON, and its kind.
_RAW_STATEMENT = re.compile(r'\{"stmt":\{"(\w+)":')


# Adds what one statement changes to the read of its body.
_StatementReader = Callable[[_PgStatement, Node, SqlRead], None]


def _statement_to_read(node: Any) -> tuple[_StatementReader, Node] | None:
    """The reader and fields of a statement backout reads (:data:`_PG_STATEMENT_READERS`),
    else None."""
    if isinstance(node, dict) and len(node) == 1:
        ((kind, fields),) = node.items()
        reader = _PG_STATEMENT_READERS.get(kind)
        if reader is not None:
            return reader, fields
    return None


def read_postgres(body: SqlText) -> SqlRead:
    """Read a SQL body with PostgreSQL's grammar."""
    result = SqlRead()
    try:
        statements = _statements_to_read(body.text)
    except pglast.parser.ParseError as exc:
        return _read_postgres_piecewise(body, exc)
    for raw in statements:
        statement = _statement_to_read(raw.get("stmt"))
        if statement is None:
            continue
        location = raw.get("stmt_location", 0)
        length = raw.get("stmt_len", 0)
        start = body.statement_start(body.char_offset(location))
        end = body.char_offset(location + length) if length else len(body.text)
        reader, fields = statement
        reader(_PgStatement(body, start, end), fields, result)
    return result


def _read_postgres_piecewise(body: SqlText, first_error: pglast.parser.ParseError) -> SqlRead:
    """Parse statement by statement so one bad statement does not hide the others."""
    result = SqlRead()
    try:
        pieces = pglast.split(body.text, with_parser=False)
    except pglast.Error:
        pieces = ()
    if not pieces:
        result.problems.append(_pg_problem(body, first_error, 0))
        return result
    position = 0
    for piece in pieces:
        found = body.text.find(piece, position)
        start = found if found >= 0 else position
        position = start + len(piece)
        try:
            parsed = _statements_to_read(piece)
        except pglast.parser.ParseError as exc:
            result.problems.append(_pg_problem(body, exc, start, piece))
            continue
        piece_text = SqlText(piece, body.path)
        for raw in parsed:
            statement = _statement_to_read(raw.get("stmt"))
            if statement is None:
                continue
            # Offsets inside the piece, shifted to the body.
            location = raw.get("stmt_location", 0)
            length = raw.get("stmt_len", 0)
            local = piece_text.char_offset(location)
            local_end = piece_text.char_offset(location + length) if length else len(piece)
            stmt = _PgStatement(body, body.statement_start(start + local), start + local_end)
            reader, fields = statement
            reader(stmt, fields, result)
    return result


def _pg_problem(
    body: SqlText, exc: pglast.parser.ParseError, start: int, piece: str | None = None
) -> SqlUnreadable:
    message = str(exc.args[0]) if exc.args else str(exc)
    offset = start
    if len(exc.args) > 1 and isinstance(exc.args[1], int):
        local = exc.args[1]
        if piece is not None:
            local = len(piece.encode("utf-8")[:local].decode("utf-8", errors="ignore"))
            offset = start + local
        else:
            offset = body.char_offset(local)
    return SqlUnreadable(
        body.location(offset),
        "SQL",
        f"PostgreSQL's parser rejects it: {message}",
        "postgres",
    )


_DO_WRAPPER = "CREATE FUNCTION backout_do_block() RETURNS void LANGUAGE plpgsql AS $backout$"


def _read_do_block(stmt: _PgStatement, node: Node, result: SqlRead) -> None:
    source = language = None
    for arg in node.get("args") or ():
        element = _fields(arg, "DefElem")
        value = _fields(element.get("arg"), "String") if element is not None else None
        if element is not None and value is not None:
            if element.get("defname") == "as":
                source = value.get("sval", "")
            elif element.get("defname") == "language":
                language = value.get("sval", "")
    if source is None or (language or "plpgsql").lower() != "plpgsql":
        result.problems.append(
            SqlUnreadable(
                stmt.body.location(stmt.start),
                "SQL",
                f"DO block in language {language!r} cannot be read; its statements were "
                "not checked",
            )
        )
        return
    body_offset = stmt.body.text.find(source, stmt.start, stmt.end + len(source) + 2)
    body_offset = stmt.start if body_offset < 0 else body_offset
    try:
        tree = pglast.parser.parse_plpgsql_json(f"{_DO_WRAPPER}{source}$backout$;")
    except (pglast.parser.ParseError, ValueError) as exc:
        result.problems.append(
            SqlUnreadable(
                stmt.body.location(stmt.start),
                "SQL",
                f"PL/pgSQL parser rejects the DO block: {exc}",
            )
        )
        return
    search_from = body_offset
    for kind, query in _plpgsql_statements(tree):
        if kind == "dynamic":
            literal = _sql_literal(query)
            if literal is None:
                found = stmt.body.text.find(query, search_from, stmt.end + len(source))
                result.problems.append(
                    ComputedSql(
                        stmt.body.location(found if found >= 0 else body_offset),
                        "SQL",
                        f"DO block runs EXECUTE {query.strip()[:60]}: a statement built at run "
                        "time cannot be checked",
                    )
                )
                continue
            query = literal
        found = stmt.body.text.find(query, search_from, stmt.end + len(source))
        offset = found if found >= 0 else body_offset
        if found >= 0:
            search_from = found + len(query)
        inner = SqlText(query, stmt.body.path, *_line_col(stmt.body, offset))
        read = read_postgres(inner)
        result.operations.extend(read.operations)
        result.problems.extend(read.problems)


def _line_col(body: SqlText, offset: int) -> tuple[int, int]:
    location = body.location(offset)
    return location.line, location.column


def _plpgsql_statements(tree: str) -> list[tuple[str, str]]:
    """``("sql", text)`` for each embedded SQL statement, ``("dynamic", expr)`` for EXECUTE,
    in the order they are written (a THEN branch before its ELSE), from the PL/pgSQL parser's
    JSON ``tree``. Found in its text, not by loading and walking it (a tenth of the time): a
    statement's key, its quotes unescaped, cannot appear inside a JSON string, and the
    variables (``datums``) hold expressions only, never statements."""
    return [
        ("sql" if match.group("kind") == "execsql" else "dynamic", _json_loads(match.group(2)))
        for match in _PLPGSQL_STATEMENT.finditer(tree)
        if match.group("kind") == "dynexecute" or len(match.group(2)) > 2
    ]


# A statement that runs SQL, and its query as a JSON string: ``"PLpgSQL_stmt_execsql":
# {"lineno":3,"sqlstmt":{"PLpgSQL_expr":{"query":"…"``, EXECUTE's ``"query":{"PLpgSQL_expr":…``.
_PLPGSQL_STATEMENT = re.compile(
    r'"PLpgSQL_stmt_(?P<kind>execsql|dynexecute)":\{[^{}]*?"(?:sqlstmt|query)":'
    r'\{"PLpgSQL_expr":\{"query":("(?:[^"\\]|\\.)*")'
)


def _sql_literal(expression: str) -> str | None:
    text = expression.strip()
    if (
        len(text) >= 2
        and text[0] == "'"
        and text[-1] == "'"
        and "'" not in text[1:-1].replace("''", "")
    ):
        return text[1:-1].replace("''", "'")
    dollar = re.fullmatch(r"(\$[A-Za-z_]*\$)(.*)\1", text, re.S)
    return dollar.group(2) if dollar else None


# The statements that change the schema in ways backout models, by libpg_query node type.
# ``DO`` blocks are read for the statements inside; every other statement yields nothing, so
# its position is never worked out.
_PG_STATEMENT_READERS: dict[str, _StatementReader] = {
    "CreateStmt": _pg_create_table,
    "CreateTableAsStmt": _pg_create_table_as,
    "SelectStmt": _pg_select_into,
    "AlterTableStmt": _pg_alter,
    "RenameStmt": _pg_rename,
    "DropStmt": _pg_drop,
    "IndexStmt": _pg_unique_index,
    "CreateEnumStmt": _pg_create_enum,
    "ViewStmt": _pg_create_view,
    "DoStmt": _read_do_block,
}


# ---------------------------------------------------------------------------------------------
# MySQL and SQLite through sqlglot (:mod:`backout.sources.sql_dialects`, imported on first use).

SQLGLOT_DIALECTS = {"mysql": "mysql", "sqlite": "sqlite"}

# sqlglot logs a warning for every statement it falls back to `Command` on; backout reports
# those itself (as unreadable SQL), so the log line would only repeat it on stderr.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def read_sqlglot(body: SqlText, dialect: str) -> SqlRead:
    """Read a SQL body with sqlglot's grammar for ``dialect`` (``mysql`` or ``sqlite``)."""
    from backout.sources.sql_dialects import read_sqlglot as read_dialect

    return read_dialect(body, dialect)


def _read_body(body: SqlText | None) -> tuple[SqlRead, dict[str, SqlRead]]:
    if body is None:
        return SqlRead(), {}
    postgres = read_postgres(body)
    if not postgres.problems and not postgres.postgres_only:
        return postgres, {}
    return postgres, {dialect: read_sqlglot(body, dialect) for dialect in SQLGLOT_DIALECTS}


@dataclass
class BodyReads:
    """A migration's up and down SQL read with every grammar that is needed.

    ``up``/``down`` are the PostgreSQL reads; ``dialect_reads`` the MySQL and SQLite reads,
    present when PostgreSQL's grammar rejected either body (a body it accepted serves every
    dialect); ``problems`` every failed read, each tagged with its dialect.
    """

    up: tuple[Operation, ...]
    down: tuple[Operation, ...]
    readable: bool
    dialect_reads: tuple[DialectRead, ...]
    problems: list[SqlUnreadable]


def read_bodies(up: SqlText | None, down: SqlText | None) -> BodyReads:
    """Read a migration's up and down SQL (either may be absent)."""
    up_pg, up_other = _read_body(up)
    down_pg, down_other = _read_body(down)
    problems = [*up_pg.problems, *down_pg.problems]
    reads = []
    if up_other or down_other:
        for dialect in SQLGLOT_DIALECTS:
            up_read = up_other.get(dialect, up_pg)
            down_read = down_other.get(dialect, down_pg)
            if dialect in up_other:
                problems.extend(up_read.problems)
            if dialect in down_other:
                problems.extend(down_read.problems)
            reads.append(
                DialectRead(
                    dialect,
                    tuple(up_read.operations),
                    tuple(down_read.operations),
                    not up_read.problems and not down_read.problems,
                )
            )
    return BodyReads(
        tuple(up_pg.operations),
        tuple(down_pg.operations),
        not up_pg.problems and not down_pg.problems,
        tuple(reads),
        problems,
    )


def _pg_condition(node: Any) -> Condition:
    """The conjuncts of a CHECK condition (:mod:`backout.check_conditions`)."""
    if node is None:
        return ()
    atoms: list[Atom] = []
    stack = [node]
    while stack:
        current = stack.pop()
        both = _fields(current, "BoolExpr")
        if both is not None and both.get("boolop") == "AND_EXPR":
            stack.extend(reversed(both.get("args") or ()))
            continue
        atoms.extend(_pg_atoms(current))
    return tuple(dict.fromkeys(atoms))


def _pg_atoms(node: Any) -> list[Atom]:
    """One conjunct as :class:`Atom` (two for a ``BETWEEN``)."""
    expression = _fields(node, "A_Expr")
    if expression is not None:
        kind = expression.get("kind")
        name = _strings(expression.get("name"))
        operator = name[0] if len(name) == 1 else ""
        left, right = expression.get("lexpr"), expression.get("rexpr")
        column = _pg_column_name(left)
        if kind == "AEXPR_OP" and operator in FLIPPED:
            value = _pg_literal(right)
            if column is None or value is None:
                column, value = _pg_column_name(right), _pg_literal(left)
                operator = FLIPPED[operator]
            if column is not None and value is not None:
                return [compared(column, operator, value)]
        elif column is not None and operator == "=" and kind in ("AEXPR_IN", "AEXPR_OP_ANY"):
            items = _fields(right, "List") or _fields(right, "A_ArrayExpr") or {}
            values = [_pg_literal(item) for item in items.get("items", items.get("elements")) or ()]
            known = tuple(v for v in values if v is not None)
            if known and len(known) == len(values):
                return [Atom(IN_LIST, (column,), values=known)]
        elif column is not None and kind == "AEXPR_BETWEEN":
            bounds = [
                _pg_literal(item) for item in (_fields(right, "List") or {}).get("items") or ()
            ]
            if len(bounds) == 2 and bounds[0] is not None and bounds[1] is not None:
                return between(column, bounds[0], bounds[1])
    return [_pg_opaque(node)]


def _pg_column_name(node: Any) -> str | None:
    """The column a plain column reference names (``None`` for anything else)."""
    ref = _fields(node, "ColumnRef")
    if ref is None:
        return None
    names = _strings(ref.get("fields"))
    return names[-1] if names and len(names) == len(ref.get("fields") or ()) else None


# Casts of a string literal that compare it as the string it is (not ``bpchar``, which pads).
_STRING_CASTS = frozenset({"text", "varchar"})


def _pg_literal(node: Any) -> tuple[str, str] | None:
    """A number or string literal (a string cast to ``text``/``varchar``, as ``pg_dump``
    writes them); ``None`` for anything else, NULL among them."""
    cast = _fields(node, "TypeCast")
    if cast is not None:
        type_names = _strings((cast.get("typeName") or {}).get("names"))
        if not type_names or type_names[-1] not in _STRING_CASTS:
            return None
        value = _pg_literal(cast.get("arg"))
        return value if value is not None and value[0] == STRING else None
    const = _fields(node, "A_Const")
    if const is None or const.get("isnull"):
        return None
    if "ival" in const:
        return NUMBER, str(const["ival"].get("ival", 0))
    if "fval" in const:
        return NUMBER, str(const["fval"].get("fval", ""))
    if "sval" in const:
        return STRING, str(const["sval"].get("sval", ""))
    return None


# The fields of libpg_query's nodes that say where the node is in the text.
_POSITIONS = ("location", "_start", "_end")


def _pg_opaque(node: Any) -> Atom:
    """A conjunct backout does not read, as its parse tree without positions and with its
    columns numbered."""
    columns: list[str] = []

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            name = _pg_column_name(value)
            if name is not None:
                if name not in columns:
                    columns.append(name)
                return {"$": columns.index(name)}
            return {k: strip(v) for k, v in value.items() if not k.endswith(_POSITIONS)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    text = repr(strip(node))
    return Atom(OPAQUE, tuple(columns), text)
