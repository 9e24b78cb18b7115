"""BK211 old-code-fails-on-new-schema.

Only ``backout drill`` reports this rule: it runs the old release's statements against the
new schema on a throwaway database (:mod:`backout.drill.run`). The class carries the code,
name and docs.
"""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule


class OldCodeFailsOnNewSchema(Rule):
    """A statement of the old release fails on the new schema (proved by `backout drill`).

    ## What it does
    `backout drill` applies the base release's migrations to a throwaway database, seeds it,
    applies the new release's migrations, and then runs what the old release would run: for
    every base table an INSERT of the old columns with values of the old types and a SELECT
    of every old column, and for every base view a SELECT of its columns (the contract
    probe), the statements of `drill.old-queries`, and the
    command of `drill.old-command`. Each statement that worked on the base schema and fails on
    the new one is reported with the database's error, the statement, and the migration that
    changed the table.

    ## Why is this bad?
    During a rolling deploy, and after any rollback of the code, the old release runs against
    the new schema: migrations are not undone by `kubectl rollout undo` or `helm rollback`.
    If its INSERT misses a new NOT NULL column, or its SELECT names a renamed or dropped
    column, the old release crashes — the rollback that should end the incident extends it.

    ## Example
    ```sql
    -- 0004_rename_email.up.sql
    ALTER TABLE customers RENAME COLUMN email TO email_address;
    ALTER TABLE customers ADD COLUMN tier text NOT NULL;
    ```

    ## Use instead
    ```sql
    -- release N (expand): old and new code both work
    ALTER TABLE customers ADD COLUMN email_address text;
    ALTER TABLE customers ADD COLUMN tier text NOT NULL DEFAULT 'basic';
    -- release N+1 (contract), once no old code runs: drop email
    ```

    ## References
    - [Expand and contract](https://martinfowler.com/bliki/ParallelChange.html)
    """

    code = "BK211"
    name = "old-code-fails-on-new-schema"
    severity = Severity.ERROR
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """Nothing statically: :func:`backout.drill.run.run_drill` reports BK211."""
        return iter(())
