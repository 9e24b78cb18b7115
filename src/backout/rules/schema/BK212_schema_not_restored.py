"""BK212 schema-not-restored.

Only ``backout drill`` reports this rule: it runs the new release's down migrations on a
throwaway database and compares the catalog with the base release's (:mod:`backout.drill.run`).
The class carries the code, name and docs.
"""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule


class SchemaNotRestored(Rule):
    """A down migration fails, or the schema after up and down differs from before (drill).

    ## What it does
    `backout drill` applies the new release's migrations, then their down migrations in
    reverse, and compares the schema (tables, columns with types, nullability, defaults and
    what else fills them — AUTO_INCREMENT, ON UPDATE, identity and generated columns —
    primary keys, indexes, constraints including SQLite's CHECKs, views, sequences, enum
    types) with the base release's, as
    the catalog describes both. It reports a migration without a down migration, a down
    migration that fails (with the statement and the database's error), every difference
    left after the round trip (as a readable diff), and an up migration that cannot be
    applied again after its down migration ran (up → down → up). An up migration that fails
    on the base release's schema and data is reported here too: the drill stops there.

    ## Why is this bad?
    A down migration is only tested when it is needed, mid-incident. A `downgrade()` that is
    `pass`, a down file that forgets an index or leaves a column behind, passes code review
    and every static check; the rollback then fails, or succeeds into a schema that neither
    release was tested against.

    ## Example
    ```sql
    -- 0005_add_discount.up.sql
    ALTER TABLE orders ADD COLUMN discount integer;
    CREATE INDEX orders_discount_idx ON orders (discount);
    -- 0005_add_discount.down.sql
    DROP INDEX orders_discount_idx;
    ```

    ## Use instead
    ```sql
    -- 0005_add_discount.down.sql
    DROP INDEX orders_discount_idx;
    ALTER TABLE orders DROP COLUMN discount;
    ```

    ## References
    - [Liquibase update-testing-rollback](https://docs.liquibase.com/commands/update/update-testing-rollback.html)
    - [pytest-alembic up/down consistency](https://pytest-alembic.readthedocs.io/en/latest/tests.html)
    """

    code = "BK212"
    name = "schema-not-restored"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """Nothing statically: :func:`backout.drill.run.run_drill` reports BK212."""
        return iter(())
