"""Schema snapshots from catalog introspection, and the readable diff between two of them.

Column order is not compared: a column dropped and re-added comes back last, which no
statement that names its columns notices. Sequence positions are not compared either (seeding
moves them); their definitions are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnState:
    """A column as one cheap query sees it, to tell which migration step changed a table."""

    type: str
    nullable: bool
    default: str | None


@dataclass(frozen=True)
class ColumnShape:
    """One column: its type as the catalog prints it, nullability, default, generation."""

    name: str
    type: str
    nullable: bool
    default: str | None = None
    #: Filled by the database (identity, serial, AUTO_INCREMENT, generated, rowid alias).
    generated: bool = False
    #: Labels of an enum type (PostgreSQL enum or MySQL ``enum(...)``), for seeding.
    labels: tuple[str, ...] = ()

    def describe(self) -> str:
        """``type NOT NULL DEFAULT x`` as a reader of a diff expects it."""
        text = self.type + ("" if self.nullable else " NOT NULL")
        if self.default is not None:
            text += f" DEFAULT {self.default}"
        return text


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key, for seeding parents first and picking values that exist."""

    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableShape:
    """One table: columns, primary key, indexes and constraints (by name → definition)."""

    name: str
    columns: tuple[ColumnShape, ...]
    primary_key: tuple[str, ...] = ()
    indexes: Mapping[str, str] = field(default_factory=dict)
    constraints: Mapping[str, str] = field(default_factory=dict)
    foreign_keys: tuple[ForeignKey, ...] = ()
    #: CHECK texts, for seeding only (SQLite's is the whole CREATE TABLE); never diffed.
    checks: tuple[str, ...] = ()
    #: Columns of the primary key and unique indexes, for seeding only (the probe row may
    #: reuse a seeded row's value of any other column); the indexes themselves are diffed.
    unique_columns: frozenset[str] = frozenset()

    def column(self, name: str) -> ColumnShape | None:
        """The column called ``name``, if the table has it."""
        for column in self.columns:
            if column.name == name:
                return column
        return None


@dataclass(frozen=True)
class SchemaSnapshot:
    """Everything the catalog says about the user's schema at one moment."""

    tables: Mapping[str, TableShape]
    sequences: Mapping[str, str] = field(default_factory=dict)
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def without(self, ignored_tables: set[str]) -> SchemaSnapshot:
        """The snapshot minus migration-tool bookkeeping tables."""
        return SchemaSnapshot(
            {name: t for name, t in self.tables.items() if name not in ignored_tables},
            self.sequences,
            self.enums,
        )


@dataclass(frozen=True)
class SchemaDifference:
    """One way the schema after rollback differs from before the release, on one table or not."""

    table: str | None
    text: str


def _mapping_diff(kind: str, before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            lines.append(f"{kind} {name} is missing (was: {before[name]})")
        elif name not in before:
            lines.append(f"{kind} {name} was left behind ({after[name]})")
        elif before[name] != after[name]:
            lines.append(f"{kind} {name} changed: {before[name]} → {after[name]}")
    return lines


def _table_diff(before: TableShape, after: TableShape) -> list[str]:
    lines = []
    old = {c.name: c for c in before.columns}
    new = {c.name: c for c in after.columns}
    for name in sorted(set(old) | set(new)):
        if name not in new:
            lines.append(f"column {name} is missing (was {old[name].describe()})")
        elif name not in old:
            lines.append(f"column {name} was left behind ({new[name].describe()})")
        elif old[name].describe() != new[name].describe():
            lines.append(f"column {name} changed: {old[name].describe()} → {new[name].describe()}")
    if before.primary_key != after.primary_key:
        lines.append(
            f"primary key changed: ({', '.join(before.primary_key)}) → "
            f"({', '.join(after.primary_key)})"
        )
    lines += _mapping_diff("index", before.indexes, after.indexes)
    lines += _mapping_diff("constraint", before.constraints, after.constraints)
    return lines


def diff(before: SchemaSnapshot, after: SchemaSnapshot) -> list[SchemaDifference]:
    """Every difference between ``before`` and ``after``, table by table, readable."""
    found: list[SchemaDifference] = []
    for name in sorted(set(before.tables) | set(after.tables)):
        if name not in after.tables:
            found.append(SchemaDifference(name, f"table {name} is missing"))
        elif name not in before.tables:
            found.append(SchemaDifference(name, f"table {name} was left behind"))
        else:
            for line in _table_diff(before.tables[name], after.tables[name]):
                found.append(SchemaDifference(name, f"table {name}: {line}"))
    for line in _mapping_diff("sequence", before.sequences, after.sequences):
        found.append(SchemaDifference(None, line))
    enums_before = {k: ", ".join(v) for k, v in before.enums.items()}
    enums_after = {k: ", ".join(v) for k, v in after.enums.items()}
    for line in _mapping_diff("type", enums_before, enums_after):
        found.append(SchemaDifference(None, line))
    return found
