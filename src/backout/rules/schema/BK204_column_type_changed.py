"""BK204 column-type-changed."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import analyse


class ColumnTypeChanged(Rule):
    """An existing column's type changes so that the old release's values may not fit.

    ## What it does
    Flags a type change of a column that existed before the release when the new type is
    narrower (`bigint` → `integer`, `varchar(255)` → `varchar(50)`, fewer numeric digits),
    changes text to a number, or removes enum values. Widening (`integer` → `bigint`,
    `varchar(n)` → `text`, a longer `varchar`) is not flagged. The type the release leaves is
    compared with the base type, at the release's last type change of the column: a type
    widened and later narrowed back to the base type is not flagged. A type a Liquibase
    changelog property names (`type="${clobType}"`, as JHipster writes them) has a value per
    database that backout does not read: a change to or from one is not judged.

    ## Why is this bad?
    The old release still writes values of the old type. After a rollback its writes that do
    not fit the new type fail ("value too long", "invalid input syntax", "out of range",
    enum value not accepted), and going back to the old type may not restore what was
    truncated or rounded.

    ## Example
    ```sql
    ALTER TABLE products ALTER COLUMN sku TYPE varchar(16);
    ```

    ## Use instead
    ```sql
    -- add a column of the new type, write both, backfill, deploy,
    -- move the readers, then drop the old column in a later release
    ALTER TABLE products ADD COLUMN sku_short varchar(16);
    ```

    ## References
    - squawk `changing-column-type`; django-migration-linter `ALTER_COLUMN`
    """

    code = "BK204"
    name = "column-type-changed"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per type change that the old release's values may not survive."""
        for judged, problem in analyse(context).types_narrowed:
            table, column = judged.table_name, judged.column_name
            yield self.finding(
                judged.op.location,
                f"{judged.migration.label} {problem} on {table}.{column}; after a rollback the "
                f"old release's writes to {column} that do not fit the new type fail",
                f"add a new column of the new type next to {column}, write both, backfill, "
                f"deploy, move the readers, then drop {column} in a later release",
            )
