"""Synthetic rows that satisfy the base schema's constraints, and what rollback did to them.

Every base table gets a few rows (parents before children, so foreign keys point at rows that
exist; values unique per row; CHECK literals tried for text columns). A row the database still
rejects is skipped and said so: seeding is pragmatic, not a constraint solver. After the down
migrations the same rows are read again; a row gone or a value changed is data that the
round trip lost (BK208 confirmed).
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from backout.drill.database import DrillDatabase, StatementFailed, one_line
from backout.drill.snapshot import ColumnShape, SchemaSnapshot, TableShape

ROWS_PER_TABLE = 3
_LENGTH = re.compile(r"\((\d+)(?:\s*,\s*(\d+))?\)")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class Literal(str):
    """SQL text that goes into a statement as is (``TRUE``, ``NULL``, ``X'00'``)."""


def render(value: Any, dialect: str) -> str:
    """``value`` as an SQL literal of ``dialect``."""
    if value is None:
        return "NULL"
    if isinstance(value, Literal):
        return str(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return f"'\\x{value.hex()}'" if dialect == "postgres" else f"X'{value.hex()}'"
    text = str(value)
    if dialect == "mysql":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def _fit(text: str, length: int | None) -> str:
    return text if length is None or len(text) <= length else text[-length:]


# Digits after the point, none of them 0: a narrower scale or precision rounds every one of
# them away, which the data comparison then shows (BK208).
_DIGITS = "123456"


def _fraction(index: int, size: re.Match[str] | None) -> Any:
    """A number with as many decimals as ``numeric(p, s)`` keeps (``numeric`` alone: one)."""
    if size is None:
        return Literal(f"{index}.5")
    precision, scale = int(size.group(1)), int(size.group(2) or 0)
    if scale == 0:
        return index
    if precision == scale:  # numeric(4, 4): below 1
        return Literal(f"0.{index % 10}{_DIGITS[: min(scale, 6) - 1]}")
    return Literal(f"{index}.{_DIGITS[: min(scale, 6)]}")


def _subsecond(precision: int | None) -> str:
    """Fractional seconds as many as the type keeps (unsaid: 6, which a server with less
    rounds away when it stores the value)."""
    digits = 6 if precision is None else min(precision, 6)
    return f".{_DIGITS[:digits]}" if digits else ""


def value_for(column: ColumnShape, index: int) -> Any:
    """A value of ``column``'s type, different for each ``index`` (1-based)."""
    type_ = column.type.lower()
    if type_.endswith("[]"):
        element = value_for(ColumnShape(column.name, type_[:-2], True), index)
        return "{" + str(element).replace('"', "") + "}"
    if column.labels:
        return column.labels[(index - 1) % len(column.labels)]
    match = _LENGTH.search(type_)
    length = int(match.group(1)) if match else None
    if "bool" in type_ or type_ in ("tinyint(1)", "bit(1)"):
        return Literal("TRUE") if index % 2 else Literal("FALSE")
    if "interval" in type_:
        return f"{index} days"
    if "int" in type_ or "serial" in type_ or type_.startswith("year"):
        return 2000 + index if type_.startswith("year") else index
    if "numeric" in type_ or "decimal" in type_:
        return _fraction(index, match)
    if any(word in type_ for word in ("real", "double", "float")):
        return index + 0.5
    if "money" in type_:
        return index
    if "timestamp" in type_ or "datetime" in type_:
        return f"2024-01-{index:02d} 12:00:00{_subsecond(length)}"
    if "date" in type_:
        return datetime.date(2024, 1, index).isoformat()
    if "time" in type_:
        return f"12:{index:02d}:00{_subsecond(length)}"
    if "uuid" in type_:
        return f"00000000-0000-4000-8000-{index:012d}"
    if "json" in type_:
        return f'{{"seed": {index}}}'
    if any(word in type_ for word in ("bytea", "blob", "binary")):
        return bytes([index % 256])
    if "inet" in type_ or "cidr" in type_:
        return f"10.0.0.{index}"
    if "macaddr" in type_:
        return f"08:00:2b:01:02:{index:02d}"
    if any(word in type_ for word in ("char", "text", "clob", "string", "name")) or not type_:
        return _fit(f"{column.name}{index}", length)
    # Anything else: a quoted literal that PostgreSQL coerces and the others store.
    return str(index)


def _is_number(type_: str) -> bool:
    words = ("int", "numeric", "decimal", "real", "double", "float", "serial")
    return any(word in type_.lower() for word in words)


def _check_numbers(table: TableShape, column: str) -> list[Literal]:
    """Numbers that a CHECK lists for ``column``: ``col IN (1, 2)`` (MySQL, SQLite) or
    ``col = ANY (ARRAY[1, 2])`` (PostgreSQL's rendering of the same)."""
    listed = re.compile(
        r"\b" + re.escape(column) + r"\b[\"`]?\)*(?:::[\w ]+?)?\s*"
        r"(?:\bIN\s*\(|=\s*ANY\s*\(\s*ARRAY\[)([^)\]]*)",
        re.IGNORECASE,
    )
    numbers: list[Literal] = []
    for definition in table.checks:
        for match in listed.finditer(definition):
            numbers += [Literal(n) for n in _NUMBER.findall(match.group(1))]
    return numbers


def _check_literals(table: TableShape, column: str) -> list[str]:
    named = re.compile(r"\b" + re.escape(column) + r"\b")
    literals: list[str] = []
    for definition in table.checks:
        for clause in re.split(r"(?i)\bcheck\b", definition)[1:] or [definition]:
            if named.search(clause.split(",")[0] if "(" not in clause else clause):
                literals += [m.replace("''", "'") for m in _QUOTED.findall(clause)]
    return literals


@dataclass
class Seeded:
    """The seeded rows of every base table, read back, and the rows that could not go in."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    #: Per table, the last row the database accepted, as it was written.
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: One more row per table, not inserted: what the contract probe's INSERT writes.
    probe_rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        """How many rows went in."""
        return sum(len(rows) for rows in self.rows.values())


def parents_first(schema: SchemaSnapshot) -> list[TableShape]:
    """Tables ordered so that each comes after the tables its foreign keys point at."""
    ordered: list[TableShape] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name in visiting or name not in schema.tables:
            return  # a cycle is broken here: its nullable foreign keys get NULL
        visiting.add(name)
        for fk in schema.tables[name].foreign_keys:
            place(fk.parent)
        visiting.discard(name)
        placed.add(name)
        ordered.append(schema.tables[name])

    for name in sorted(schema.tables):
        place(name)
    return ordered


def build_row(table: TableShape, index: int, seeded: Seeded, use_checks: bool) -> dict[str, Any]:
    """Column → value for row ``index`` of ``table`` (generated columns left to the database)."""
    row: dict[str, Any] = {}
    fk_columns: dict[str, Any] = {}
    for fk in table.foreign_keys:
        parent_rows = seeded.rows.get(fk.parent) or []
        for child_column, parent_column in zip(fk.columns, fk.parent_columns, strict=False):
            if parent_rows and parent_column in parent_rows[0]:
                parent_row = parent_rows[(index - 1) % len(parent_rows)]
                fk_columns[child_column] = parent_row[parent_column]
            else:
                fk_columns[child_column] = None
    for column in table.columns:
        if column.generated:
            continue
        if column.name in fk_columns:
            row[column.name] = fk_columns[column.name]
            continue
        textual = any(w in column.type.lower() for w in ("char", "text", "string", "clob"))
        literals: list[str] = []
        if use_checks and textual:
            literals = _check_literals(table, column.name)
        elif use_checks and _is_number(column.type):
            literals = list(_check_numbers(table, column.name))
        if literals:
            row[column.name] = literals[(index - 1) % len(literals)]
        else:
            row[column.name] = value_for(column, index)
    return row


def insert_statement(database: DrillDatabase, table: str, row: Mapping[str, Any]) -> str:
    """``INSERT INTO table (cols) VALUES (literals)`` in the database's dialect."""
    q = database.quote
    if not row:
        if database.dialect == "mysql":
            return f"INSERT INTO {q(table)} () VALUES ()"
        return f"INSERT INTO {q(table)} DEFAULT VALUES"
    columns = ", ".join(q(c) for c in row)
    values = ", ".join(render(v, database.dialect) for v in row.values())
    return f"INSERT INTO {q(table)} ({columns}) VALUES ({values})"


def select_statement(database: DrillDatabase, table: str, columns: Iterable[str]) -> str:
    """``SELECT cols FROM table``."""
    q = database.quote
    return f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)}"


def _insert_one(database: DrillDatabase, table: TableShape, index: int, seeded: Seeded) -> bool:
    error = ""
    for use_checks in (False, True):
        row = build_row(table, index, seeded, use_checks)
        try:
            database.execute(insert_statement(database, table.name, row))
            seeded.accepted[table.name] = row
            return True
        except StatementFailed as failed:
            error = failed.error
    seeded.skipped.append(f"{table.name}: row {index} not seeded ({one_line(error, 160)})")
    return False


def seed(database: DrillDatabase, schema: SchemaSnapshot) -> Seeded:
    """Insert a few rows into every table of ``schema`` and read them back."""
    seeded = Seeded()
    for table in parents_first(schema):
        if table.rows_of:
            continue  # its rows are those of the table it indexes, seeded as that table
        for index in range(1, ROWS_PER_TABLE + 1):
            _insert_one(database, table, index, seeded)
        names = [c.name for c in table.columns]
        try:
            rows = database.query(select_statement(database, table.name, names))
        except StatementFailed as failed:
            # A table that keeps no values (SQLite's contentless FTS4): nothing to compare.
            seeded.skipped.append(
                f"{table.name}: its rows cannot be read back ({one_line(failed.error, 160)}), "
                "so they are not compared after the round trip"
            )
            rows = []
        seeded.rows[table.name] = [dict(zip(names, row, strict=True)) for row in rows]
        seeded.probe_rows[table.name] = _probe_row(database, table, seeded)
    return seeded


def _probe_row(database: DrillDatabase, table: TableShape, seeded: Seeded) -> dict[str, Any]:
    """The row the contract probe's INSERT writes: a new one, or, when the base schema rejects
    it (a CHECK seeding does not read, a trigger), a seeded row's accepted values with new
    ones only where a unique index needs them."""
    fresh = build_row(table, ROWS_PER_TABLE + 1, seeded, True)
    accepted = seeded.accepted.get(table.name)
    candidates = [fresh]
    if accepted is not None:
        unique = table.unique_columns | set(table.primary_key)
        reused = {c: fresh[c] if c in unique else accepted.get(c, fresh[c]) for c in fresh}
        candidates.append(reused)
    for row in candidates:
        if database.try_rolled_back([insert_statement(database, table.name, row)]) is None:
            return row
    return fresh


@dataclass(frozen=True)
class DataLoss:
    """Seeded data that did not survive up and down: whole rows, or one column's values."""

    table: str
    column: str | None
    lost: int
    total: int
    example: str


def _same(before: Any, after: Any) -> bool:
    return bool(before == after) or str(before) == str(after)


def _key(row: Mapping[str, Any], key: list[str]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in key)


def _describe(row: Mapping[str, Any], key: list[str]) -> str:
    return "row " + ", ".join(f"{k}={_sql_value(row[k])}" for k in key)


def _sql_value(value: Any) -> str:
    """A value as SQL writes it in a message: ``NULL`` for a database NULL, not ``None``;
    ``1.123`` and ``'2024-01-01 12:00:00.123456+00:00'``, not the driver's Python objects."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return f"'{value}'"
    return repr(value)


def compare(
    database: DrillDatabase, schema_after: SchemaSnapshot, seeded: Seeded
) -> list[DataLoss]:
    """The seeded rows and values that are gone after the round trip."""
    losses: list[DataLoss] = []
    for table_name, rows in seeded.rows.items():
        table = schema_after.tables.get(table_name)
        if table is None or not rows:
            continue  # a missing table is the schema diff's to report
        present = [c for c in rows[0] if table.column(c) is not None]
        key = [c for c in (table.primary_key or tuple(present)) if c in present]
        if not key:
            continue
        current: dict[tuple[str, ...], dict[str, Any]] = {}
        for values in database.query(select_statement(database, table_name, present)):
            now = dict(zip(present, values, strict=True))
            current[_key(now, key)] = now
        missing = [row for row in rows if _key(row, key) not in current]
        if missing:
            example = _describe(missing[0], key)
            losses.append(DataLoss(table_name, None, len(missing), len(rows), example))
        for column in present:
            if column in key:
                continue
            changed = [
                (row, current[_key(row, key)][column])
                for row in rows
                if _key(row, key) in current
                and not _same(row[column], current[_key(row, key)][column])
            ]
            if changed:
                row, now = changed[0]
                example = (
                    f"{_describe(row, key)}: {column} was {_sql_value(row[column])}, "
                    f"now {_sql_value(now)}"
                )
                losses.append(DataLoss(table_name, column, len(changed), len(rows), example))
    return losses
