"""BK205 not-null-set-on-existing-column."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import analyse


class NotNullSetOnExistingColumn(Rule):
    """NOT NULL is set on a column that the old release may leave NULL.

    ## What it does
    Flags `ALTER COLUMN … SET NOT NULL`, Alembic `op.alter_column(nullable=False)`, MySQL
    `MODIFY … NOT NULL` and Django `AlterField` without `null=True` on a column that existed,
    nullable, before the release and that the release leaves NOT NULL (flagged at the
    release's last statement on its nullability). Alembic sets NOT NULL whenever `nullable=False`
    is given: `existing_nullable=False` beside it is believed only for a column whose
    nullability the migrations backout read never stated (older than them, and at most
    retyped or given a default since); one that the history created or made nullable is
    flagged.

    ## Why is this bad?
    The old release may insert rows without the column or write NULL into it. After a rollback
    those writes fail with a not-null violation.

    ## Example
    ```sql
    ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;
    ```

    ## Use instead
    ```sql
    -- release N: the code always writes shipped_at; backfill the NULLs
    UPDATE orders SET shipped_at = created_at WHERE shipped_at IS NULL;
    -- release N+1, once no rollback target writes NULL (backout cannot see that, so say so):
    -- backout: ignore[BK205] every release since N writes shipped_at
    ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;
    ```
    """

    code = "BK205"
    name = "not-null-set-on-existing-column"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per existing column made NOT NULL."""
        for judged in analyse(context).not_null_set:
            table, column = judged.table_name, judged.column_name
            if judged.final_has_default:
                # A row inserted without the column gets its default: only NULLs written into
                # it fail (SET DEFAULT before SET NOT NULL).
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} makes {table}.{column} NOT NULL; rows the old "
                    f"release inserts without {column} get its default, but it may write NULL "
                    "into it, and after a rollback those writes fail with a not-null violation",
                    f"deploy code that never writes NULL into {column} and backfill the NULLs "
                    "first; set NOT NULL in a later release, once no rollback target writes NULL",
                )
                continue
            yield self.finding(
                judged.op.location,
                f"{judged.migration.label} makes {table}.{column} NOT NULL; the old release "
                f"may insert rows without {column} or write NULL into it, and after a rollback "
                "those writes fail with a not-null violation",
                f"deploy code that always writes {column} and backfill the NULLs first; set "
                "NOT NULL in a later release, once no rollback target writes NULL",
            )
