"""BK201 not-null-column-without-default."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import ADD_COLUMN, ORM_DEFAULT_ONLY, analyse

# How each engine spells a default the database itself applies: the old code's INSERTs come
# from outside the ORM, so an ORM-side default (Alembic `default=`, Django `default=`) is no help.
_DEFAULT_SPELLING = {
    "alembic": "a database default (`server_default=`; SQLAlchemy alone applies `default=`)",
    "django": "a database default (`db_default=`, Django 5+; Django alone applies `default=`)",
}

# What becomes of a `default=` given to the ORM rather than to the database.
_ORM_DEFAULT_NOTE = {
    "alembic": "SQLAlchemy applies (`default=`): the column itself gets none",
    "django": "fills the rows that exist when it runs (`default=`): Django then drops it from "
    "the column",
}


class NotNullColumnWithoutDefault(Rule):
    """A NOT NULL column without a default is added to a table the old release writes.

    ## What it does
    Flags a column added as `NOT NULL` with no default to a table that existed before the
    release: SQL `ADD COLUMN … NOT NULL`, Alembic `op.add_column(sa.Column(…, nullable=False))`
    without `server_default` (its `default=` is applied by SQLAlchemy, not the database),
    Django `AddField` without `null=True` or `db_default=` (Django fills the existing rows with
    a model `default=`, then drops the default from the column). Columns of tables created in
    the same release, generated, identity and serial columns (an Alembic integer primary key
    added with `autoincrement` left alone, which SQLAlchemy emits as `SERIAL`), and columns
    with a default are not flagged; a default of NULL is none (`DEFAULT NULL::text`,
    `server_default=sa.text("NULL")`, Liquibase `defaultValue="null"`). Taking the default of
    a NOT NULL column that existed before the release is flagged too (`ALTER COLUMN … DROP
    DEFAULT` or `SET DEFAULT NULL`, a MySQL `MODIFY` that restates the column without its
    `DEFAULT`, Alembic `server_default=None`, and with `sql-dialect = "mysql"` an Alembic
    `alter_column` of the type, nullability, name or comment without
    `existing_server_default`, which Alembic writes as such a `MODIFY`/`CHANGE`; Liquibase
    `dropDefaultValue` or an `addDefaultValue` of NULL): the old release may leave the column
    to its default. The
    release is judged as a whole: a column added nullable and made `NOT NULL` later in the
    release, or added with a default that a later statement drops, is flagged at that later
    statement; one given a default later in the release, or dropped again, is not.

    ## Why is this bad?
    The old release does not know the column, so its `INSERT`s leave it out. Once the
    migration has run, every one of those inserts fails with a not-null violation: rolling the
    code back does not bring writes back, and the migration usually cannot be undone quickly.

    ## Example
    ```sql
    ALTER TABLE orders ADD COLUMN currency text NOT NULL;
    ```

    ## Use instead
    ```sql
    -- release 1: the old code keeps working, new code writes the column
    ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
    -- or: add it nullable, backfill, deploy, then in a later release:
    -- ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
    ```

    ## References
    - squawk `adding-required-field`; django-migration-linter `NOT_NULL`
    """

    code = "BK201"
    name = "not-null-column-without-default"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per required column added to an existing table."""
        for judged in analyse(context).required_columns_added:
            table, column = judged.table_name, judged.op.column
            if judged.column_at_base:
                yield self.finding(
                    judged.op.location,
                    f"{judged.migration.label} takes the default of {table}.{column}, a NOT "
                    "NULL column the old release has; its INSERTs that leave the column to the "
                    "default fail with a not-null violation after a rollback",
                    "keep the default for as long as the old release may run; remove it in a "
                    "later release, once no deployed code leaves the column out",
                )
                continue
            if judged.op.kind != ADD_COLUMN:
                what = (
                    f"leaves {table}.{column}, a column this release adds, NOT NULL without a "
                    "default"
                )
            elif judged.op.detail == ORM_DEFAULT_ONLY:
                what = (
                    f"adds {table}.{column} as NOT NULL with a default that only "
                    f"{_ORM_DEFAULT_NOTE.get(judged.migration.engine, 'the ORM applies')}"
                )
            else:
                what = f"adds {table}.{column} as NOT NULL without a default"
            yield self.finding(
                judged.op.location,
                f"{judged.migration.label} {what}; "
                f"the old release's INSERTs into {table} do not set {column} and fail with a "
                "not-null violation after a rollback",
                f"add {column} with {_DEFAULT_SPELLING.get(judged.migration.engine, 'a DEFAULT')}"
                " (or nullable), backfill, deploy the code that writes it, then SET NOT NULL in "
                "a later release",
            )
