"""BK203 column-or-table-renamed."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import RENAME_TABLE, analyse


class ColumnOrTableRenamed(Rule):
    """A column or table that the old release uses is renamed.

    ## What it does
    Flags `RENAME COLUMN`, `ALTER TABLE … RENAME TO`, MySQL `CHANGE COLUMN old new` and
    `RENAME TABLE`, Alembic `op.alter_column(new_column_name=…)`/`op.rename_table`, Django
    `RenameField`/`RenameModel` of a column or table that existed before the release (a
    `RenameField` of a `ForeignKey` `author` renames the column `author_id`; of a
    `ManyToManyField` `tags`, its join table `<model table>_tags`, unless the field names
    it with `db_table`; of a field with its own `db_column`, even `db_column="author_id"`,
    none: not flagged; an `AlterField` that changes the field's column renames it, as Django
    does: a `ForeignKey` `author` made an `IntegerField` renames `author_id` to `author`, and
    one that changes a `ManyToManyField`'s `db_table` renames its join table; a
    `RenameModel` `Book` → `Novel` also renames its join tables named after its table and
    the column `book_id` of every join table that joins it). The
    last rename of the release is flagged, naming the base name; a rename undone within the
    release is not, nor (PostgreSQL, MySQL) a table renamed while a view takes its old name
    later in the release (`CREATE VIEW users AS SELECT * FROM accounts`, GitLab's
    `rename_table_safely`): the old release reads and writes through the view. Only a view
    the engine writes through counts: one table, no join, grouping, DISTINCT, LIMIT, set
    operation or function in its columns, not MySQL's `ALGORITHM=TEMPTABLE`. SQLite views
    take no writes, so there it is still flagged.

    ## Why is this bad?
    The old release still uses the old name. After a rollback every query naming it fails,
    although the data is all there: the outage lasts until someone renames it back by hand.

    ## Example
    ```sql
    ALTER TABLE users RENAME COLUMN email TO email_address;
    ```

    ## Use instead
    ```sql
    -- release N: add the new column and write both (or a trigger keeps them in sync)
    ALTER TABLE users ADD COLUMN email_address text;
    UPDATE users SET email_address = email;
    -- release N+1: read the new column; release N+2: drop the old one
    ```

    ## References
    - squawk `renaming-column`, `renaming-table`; Atlas BC101/BC102
    """

    code = "BK203"
    name = "column-or-table-renamed"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per renamed table or column of the base schema."""
        for judged in analyse(context).base_objects_renamed:
            table, new_name = judged.table_name, judged.op.new_name
            if judged.op.kind == RENAME_TABLE:
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} renames table {table} to {new_name}; the old "
                    f"release still queries {table}, and after a rollback those queries fail "
                    "with 'relation does not exist'",
                    f"create {new_name} (or a view named {new_name}) and write both, deploy, "
                    f"move the readers, then drop {table} in a later release",
                )
            else:
                column = judged.column_name
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} renames {table}.{column} to {new_name}; the old "
                    f"release still names {column}, and after a rollback its queries fail with "
                    "'column does not exist'",
                    f"add {new_name} and write both columns, backfill, deploy, move the readers "
                    f"to {new_name}, then drop {column} in a later release",
                )
