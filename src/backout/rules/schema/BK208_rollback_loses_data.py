"""BK208 rollback-loses-data."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import (
    ADD_COLUMN,
    CREATE_TABLE,
    CREATE_VIEW,
    DROP_COLUMN,
    DROP_TABLE,
    DROP_VIEW,
    RENAME_TABLE,
    Migration,
    Operation,
    ReleaseAnalysis,
    Schema,
    analyse,
    replay,
)


class RollbackLosesData(Rule):
    """The down migration drops what the up migration created.

    ## What it does
    Reports a release migration whose down migration drops a table or column that its up
    migration created (including Django, which reverses `AddField` and `CreateModel` by
    dropping). It is information for the rollback plan, not a defect. A down migration
    that drops a table or column its up migration did not create (and does not create again
    itself, as a SQLite table rebuild does) is an error: it destroys data from before the
    release, and the old release, which uses it, fails. So is a down migration that drops a
    view that existed before its up migration ran: Liquibase's automatic rollback of
    `createView replaceIfExists="true"`, or a `DROP VIEW` undoing a `CREATE OR REPLACE VIEW`,
    leaves the old release without the view it reads (a view the up created holds no data:
    its drop is not reported). `backout drill` proves losses: rows or
    values of the base release's (seeded) data gone after up and down are an error too.

    ## Why is this bad?
    After the deploy the new code writes into that table or column. Running the down migration
    during a rollback deletes everything written since: the schema is restored, the data is
    not. Rolling back the code alone, and leaving the schema, keeps it.

    ## Example
    ```sql
    -- migrate:up
    ALTER TABLE orders ADD COLUMN gift_note text;
    -- migrate:down
    ALTER TABLE orders DROP COLUMN gift_note;
    ```

    ## Use instead
    ```sql
    -- migrate:up
    ALTER TABLE orders ADD COLUMN gift_note text;
    -- migrate:down
    -- keep the column on rollback: the old code ignores it, and no data is lost.
    -- drop it in a later release if the feature is abandoned.
    ```
    """

    code = "BK208"
    name = "rollback-loses-data"
    severity = Severity.INFO
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per down step that drops what the up created."""
        analysis = analyse(context)
        if not analysis.base:
            # A first release has no previous release to go back to: nothing to lose to.
            return
        existing = _Existing(analysis)
        for migration in analysis.release:
            up, down = migration.operations(analysis.dialect)
            existing.extend(migration, up)
            if not down:
                continue  # no down migration, or one with no schema change backout reads
            if not any(op.kind in _DROPS for op in down):
                continue
            # Names as the dialect compares them (MySQL and SQLite ignore case).
            key = analysis.key_of_name
            created_tables = {key(op.table) for op in up if op.kind == CREATE_TABLE}
            added = {(key(op.table), key(op.column or "")) for op in up if op.kind == ADD_COLUMN}
            made_last = _made_last(down, key)
            seen: set[tuple[str, str, str | None]] = set()
            for position, op in enumerate(down):
                if op.kind not in _DROPS:
                    continue
                named = (key(op.table), key(op.column or ""))
                made = named if op.kind == DROP_COLUMN else named[:1]
                if made_last.get(made, -1) > position:
                    continue  # a table rebuilt by the down itself (SQLite), a column re-added
                if (op.kind, *named) in seen:
                    continue  # the same drop again (`DROP … IF EXISTS` repeated): said once
                seen.add((op.kind, *named))
                if op.kind == DROP_VIEW:
                    # A view holds no rows: dropping one this migration created loses
                    # nothing, one that was there before (``replaceIfExists``, ``CREATE OR
                    # REPLACE``) breaks the old release's queries on it.
                    if migration.readable and existing.before(migration, op):
                        yield self.finding(
                            op.location,
                            f"rolling back {migration.label} drops view {op.table}, which "
                            "existed before this migration, and the old release, which "
                            "reads it, fails",
                            "make the down migration create the view again as it was",
                            Severity.ERROR,
                        )
                    continue
                table = analysis.table_of(op.table)  # a Django model's db_table, if any
                # Only what exists before this migration holds data the rollback destroys; and
                # an up migration backout could not read whole may have created it.
                if op.kind == DROP_TABLE:
                    made_here = named[0] in created_tables
                else:
                    made_here = named in added or named[0] in created_tables
                lost_before = (
                    not made_here and migration.readable and existing.before(migration, op)
                )
                if lost_before:
                    if op.kind == DROP_TABLE:
                        what = f"table {table}, which this migration did not create: every row "
                        what += "it held before the release is lost"
                    else:
                        what = f"{table}.{op.column}, which this migration did not add: its "
                        what += "values from before the release are lost"
                    yield self.finding(
                        op.location,
                        f"rolling back {migration.label} drops {what}, and the old release, "
                        "which uses it, fails",
                        "make the down migration undo only what the up migration did",
                        Severity.ERROR,
                    )
                elif op.kind == DROP_TABLE and named[0] in created_tables:
                    yield self.finding(
                        op.location,
                        f"rolling back {migration.label} drops table {table}, which this "
                        "release creates; every row the new code writes there is lost",
                        f"plan the rollback without this down step (the old code ignores "
                        f"{table}), or export the table before running it",
                    )
                elif op.kind == DROP_COLUMN and named in added:
                    yield self.finding(
                        op.location,
                        f"rolling back {migration.label} drops {table}.{op.column}, which "
                        f"this release adds; every value the new code writes there is lost",
                        f"plan the rollback without this down step (the old code ignores "
                        f"{op.column}), or copy the column out before running it",
                    )


_DROPS = (DROP_TABLE, DROP_COLUMN, DROP_VIEW)


def _made_last(down: Sequence[Operation], key: Callable[[str], str]) -> dict[tuple[str, ...], int]:
    """Where the down migration last creates each table (under its name, or a table renamed
    to it) and adds each column, by names keyed with ``key``: a drop before that is made good
    again by the down itself. One pass, so that a down of thousands of statements is not
    walked once per drop."""
    made: dict[tuple[str, ...], int] = {}
    for position, op in enumerate(down):
        if op.kind in (CREATE_TABLE, CREATE_VIEW):
            made[(key(op.table),)] = position
        elif op.kind == RENAME_TABLE and op.new_name:
            made[(key(op.new_name),)] = position
        elif op.kind == ADD_COLUMN:
            made[(key(op.table), key(op.column or ""))] = position
    return made


class _Existing:
    """The tables, views and columns that exist before each migration of the release: the base
    schema (replayed only if a down drops what its up did not create), then what the
    release's earlier up migrations create."""

    def __init__(self, analysis: ReleaseAnalysis) -> None:
        self.analysis = analysis
        self._base: Schema | None = None
        # The index in the release of each migration, and of the first up that created each
        # table and column: "before" is a comparison, not a copy of what exists per migration.
        self._index: dict[int, int] = {}
        self._tables: dict[str, int] = {}
        self._columns: dict[tuple[str, str], int] = {}
        self._views: dict[str, int] = {}
        self._key = analysis.key_of_name

    def extend(self, migration: Migration, up: Sequence[Operation]) -> None:
        """Record ``migration``'s place, then what its up creates."""
        index = self._index.setdefault(id(migration), len(self._index))
        key = self._key
        for op in up:
            if op.kind == CREATE_TABLE:
                self._tables.setdefault(key(op.table), index)
                for column in op.columns:
                    self._columns.setdefault((key(op.table), key(column.name)), index)
            elif op.kind == ADD_COLUMN:
                self._columns.setdefault((key(op.table), key(op.column or "")), index)
            elif op.kind == CREATE_VIEW:
                self._views.setdefault(key(op.table), index)

    def before(self, migration: Migration, drop: Operation) -> bool:
        """Whether the table or column ``drop`` removes exists before ``migration``."""
        index = self._index.get(id(migration), 0)
        table_key, column_key = self._key(drop.table), self._key(drop.column or "")
        if drop.kind == DROP_TABLE and self._tables.get(table_key, index) < index:
            return True
        if drop.kind == DROP_COLUMN and self._columns.get((table_key, column_key), index) < index:
            return True
        if drop.kind == DROP_VIEW and self._views.get(table_key, index) < index:
            return True
        if self._base is None:
            self._base = replay(self.analysis.base, self.analysis.dialect)
        if drop.kind == DROP_VIEW:
            return drop.table in self._base.views
        table = self._base.tables.get(drop.table)
        if table is None:
            return False
        return drop.kind == DROP_TABLE or (drop.column or "") in table.columns
