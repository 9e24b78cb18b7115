"""BK202 column-or-table-dropped."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import DROP_TABLE, DROP_VIEW, analyse


class ColumnOrTableDropped(Rule):
    """A column or table that the old release uses is dropped.

    ## What it does
    Flags `DROP COLUMN`, `DROP TABLE`, Alembic `op.drop_column`/`op.drop_table`, Django
    `RemoveField`/`DeleteModel`, Liquibase `dropColumn`/`dropTable` and the two columns a
    `mergeColumns` merges (it drops them) of a column or table that existed before the
    release, and
    `DROP VIEW`, `DROP MATERIALIZED VIEW`, Liquibase `dropView` of a view that did (created by
    a base migration, or by none backout read). Dropping what the same release created is not
    flagged, nor a view dropped and created again under its name later in the release (the
    way PostgreSQL changes a view's columns), nor a Django field or model that a base
    migration took out of the models' state alone (`SeparateDatabaseAndState` with the
    `RemoveField`/`DeleteModel` in `state_operations`, Sentry's `SafeRemoveField`/
    `SafeDeleteModel` with `DeletionAction.MOVE_TO_PENDING`): the old release's code no
    longer reads it, under whatever name a later `RenameModel` or SQL rename gives the table
    or column. That holds until the field or model comes back: an `AddField`/
    `CreateModel` (in `state_operations` alone too) or a column or table of that name dropped
    or created in the database by a later base migration; a drop after that is flagged again.
    A Django `ForeignKey`/`OneToOneField` `author` is the column `author_id` (or its
    `db_column`), so a `RunSQL` that drops `author_id` after a state-only removal of `author`
    is not flagged, and a `RemoveField` of it names `author_id`.
    Nor is a `DROP COLUMN IF EXISTS` of a column that the table, created by a migration
    backout read with the columns it names (not `AS SELECT` or `(LIKE other)`), does not have
    (it does nothing). A table rebuilt in one migration (SQLite's create, copy, `DROP TABLE
    t`, rename to `t`; PostgreSQL's `ALTER TABLE t RENAME TO t_old`, create `t`, copy, `DROP
    TABLE t_old`) is not dropped: the columns it loses are. backout does not know a view's
    columns, so a
    view replaced by one with fewer columns (`CREATE OR REPLACE VIEW` on MySQL, a drop and
    create) is not flagged for the columns it lost.

    ## Why is this bad?
    The previous release still selects, inserts and updates that column or table. After a
    rollback its queries fail with "column does not exist" or "relation does not exist", and
    the data is gone: the down migration can recreate the column, not its values.

    ## Example
    ```sql
    ALTER TABLE users DROP COLUMN legacy_flag;
    ```

    ## Use instead
    ```sql
    -- release N: the code stops reading and writing legacy_flag (no migration)
    -- release N+1, once no rollback target uses it; backout cannot see that release N
    -- stopped using the column, so say so where the statement is:
    -- backout: ignore[BK202] unused since release N
    ALTER TABLE users DROP COLUMN legacy_flag;
    ```

    ## References
    - squawk `ban-drop-column`, `ban-drop-table`; Atlas DS102/DS103
    """

    code = "BK202"
    name = "column-or-table-dropped"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per dropped table or column of the base schema."""
        for judged in analyse(context).base_objects_dropped:
            table = judged.table_name
            if judged.op.kind == DROP_TABLE:
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} drops table {table}, which the old release "
                    f"reads and writes; after a rollback its queries on {table} fail with "
                    "'relation does not exist' and the rows are gone",
                    f"stop using {table} in the code and deploy first; drop the table in a "
                    "later release, once no rollback target uses it",
                )
            elif judged.op.kind == DROP_VIEW:
                view = judged.op.table
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} drops view {view}, which the old release "
                    f"reads; after a rollback its queries on {view} fail with 'relation does "
                    "not exist'",
                    f"stop using {view} in the code and deploy first; drop the view in a "
                    "later release, once no rollback target uses it",
                )
            else:
                column = judged.column_name
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} drops {table}.{column}, which the old release "
                    f"still reads and writes; after a rollback its queries naming {column} "
                    "fail with 'column does not exist' and the values are gone",
                    f"stop using {column} in the code and deploy first; drop the column in a "
                    "later release, once no rollback target uses it",
                )
