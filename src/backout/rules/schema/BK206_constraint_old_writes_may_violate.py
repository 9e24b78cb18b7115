"""BK206 constraint-old-writes-may-violate."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import CHECK, FOREIGN_KEY, UNIQUE, analyse

# How messages name each kind of constraint, and what old writes fail on it.
_LABELS = {UNIQUE: "UNIQUE", CHECK: "CHECK", FOREIGN_KEY: "FOREIGN KEY"}
_WHAT_FAILS = {
    CHECK: "a row that fails the check",
    FOREIGN_KEY: "a value with no matching referenced row",
}


class ConstraintOldWritesMayViolate(Rule):
    """A new UNIQUE, CHECK, FOREIGN KEY or PRIMARY KEY constraint covers old-release columns.

    ## What it does
    Flags a new `UNIQUE` constraint or unique index, `CHECK` constraint or `FOREIGN KEY` on
    columns that existed before the release (SQL, Alembic `op.create_unique_constraint`,
    `op.create_check_constraint`, `op.create_foreign_key`, Django `AddConstraint`,
    `AlterUniqueTogether`, an `AlterField` that makes a field unique or a `ForeignKey` a
    `OneToOneField`, or that points a `ForeignKey` at another model: Django drops the
    column's foreign key and adds one to the new model's table), or a `PRIMARY KEY` added to
    an existing table's columns (it is unique, and makes them NOT NULL, which BK205
    reports). A constraint dropped and created
    again under its own name in the release is not new (`DROP CONSTRAINT`; MySQL `DROP
    INDEX`/`KEY`/`FOREIGN KEY`/`CHECK`; `DROP INDEX` or Alembic `op.drop_index` of an index
    that was unique; Django `RemoveConstraint`; Liquibase `dropUniqueConstraint`; on
    PostgreSQL an unnamed FOREIGN KEY, UNIQUE, PRIMARY KEY or CHECK goes by the name the
    server gives it, `<table>_<columns>_fkey`/`_key`, `<table>_pkey`, `<table>_<column>_check`
    for a check that reads one column and `<table>_check` otherwise (shortened to 63 bytes, and
    numbered `t_a_fkey1`, `t_a_fkey2`… while a constraint of the schema holds the name, as
    the server does), as Alembic autogenerate's `drop_constraint("t_a_fkey")` then
    `create_foreign_key(None, "t", …, ["a"], …)` relies on; on MySQL an unnamed FOREIGN KEY
    goes by InnoDB's `<table>_ibfk_<N>`, renamed with its table (N one more than the highest
    the table had, the keys its `ALTER TABLE` drops counted: an unnamed key added by the
    statement that drops one is that key added again), and an unnamed UNIQUE by its first
    column, `<column>_2`… on a clash with any index of the table (a plain `KEY (a)` holds
    `a`, so `ADD UNIQUE (a)` is `a_2`, and `DROP INDEX a` drops the plain one); but a
    constraint added again under the dropped one's name over other columns is new, a UNIQUE
    or CHECK as a FOREIGN KEY, and so is a FOREIGN KEY that references another table: ids
    the old release writes, valid for the table the old key referenced, may be missing from
    the new one; tables and columns renamed between the drop and the add are followed), nor
    is a UNIQUE or PRIMARY
    KEY over a column that is unique already, or over columns of which the base release held
    some unique together (a composite primary key, Liquibase's over several `primaryKey`
    columns too; a table rebuilt with it; a key added again under another name). A key the
    base release dropped is gone: a unique constraint, index or primary key dropped there (by
    its name, MySQL's `DROP PRIMARY KEY` and Liquibase's `dropPrimaryKey` whatever it is
    called, a Django `unique_together` group that an `AlterUniqueTogether` left out) and added
    again in the release is new. So is a plain index dropped and created again as a unique
    one, and a Django field made unique again
    after an `AlterField` without `unique=True` dropped its unique key (a `UniqueConstraint`
    over it is a key of its own, which stays). Identical keys of one `CREATE TABLE` are one
    key on PostgreSQL (named after the first that has a name) and an index each on MySQL
    and MariaDB: dropping one leaves the column unique there only. `NOT VALID` does not
    help: it skips existing rows only (the `VALIDATE CONSTRAINT` that follows adds nothing
    the old release meets). `NOT ENFORCED` does: a `CHECK` or `FOREIGN KEY` written so
    (PostgreSQL 18; MySQL 8.0.16 for checks) is recorded and never evaluated, so it is not
    new, and one at the base constrains none of the old release's writes. Nor is a UNIQUE
    key over a column the release adds nullable and without a default (`(kind,
    unique_key)`, `unique_key` new): the old release leaves it NULL, and NULLs are never
    equal to one another, unless the key is `NULLS NOT DISTINCT`.

    A SQL `CHECK` is compared by its condition: one added, under a dropped check's name or
    another, is not new when the checks the table had at the base admit only rows it admits
    too (columns renamed since are followed): a range widened (`quantity > 0` to
    `quantity >= 0`), a list lengthened (`status IN ('new', 'paid')` to one with
    `'refunded'`, or `= ANY (ARRAY[…])` as `pg_dump` writes it), a conjunct dropped. It is
    new, under its old name too, when backout cannot tell: a range narrowed, a value left
    out, a conjunct added, or a condition it does not read (`OR`, a function, `NOT IN`,
    strings compared otherwise than for being written alike: a case-insensitive collation
    takes `'x'` and `'X'` for equal). backout reads conjunctions of a column compared with a
    number (`<`, `<=`, `>`, `>=`, `<>`, `BETWEEN`) or listed with literals (`IN`, `=`).
    Where the migration does not give the condition (Alembic, Django, Liquibase), a check
    added again under its name over the same columns is taken for the same.

    ## Why is this bad?
    The old release was written without the rule. After a rollback it can still write a
    duplicate, a value outside the check, or an orphan reference, and those writes now fail.

    ## Example
    ```sql
    ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
    ```

    ## Use instead
    ```sql
    -- release N: the code stops writing duplicates (and cleans them up)
    -- release N+1, once no rollback target can write one (backout cannot see that, so say so):
    -- backout: ignore[BK206] no release since N writes a duplicate email
    ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
    ```
    """

    code = "BK206"
    name = "constraint-old-writes-may-violate"
    severity = Severity.WARNING
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per new constraint over existing columns."""
        for judged in analyse(context).old_writes_constrained:
            kind = judged.op.constraint or "unique"
            label = _LABELS.get(kind) or kind.replace("_", " ").upper()
            columns = ", ".join(judged.base_columns) or "existing columns"
            table = judged.table_name
            violation = _WHAT_FAILS.get(kind, "a duplicate value")
            if kind == FOREIGN_KEY and judged.op.references:
                violation = f"a value with no matching row in {judged.op.references}"
            yield self.finding(
                judged.op.location,
                f"{judged.migration.label} adds a {label} constraint on {table} ({columns}); "
                f"the old release does not know it and after a rollback its writes of "
                f"{violation} fail",
                "make the code respect the constraint and clean up existing rows in one "
                "release, then add the constraint in a later release",
            )
