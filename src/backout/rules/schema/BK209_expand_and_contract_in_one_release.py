"""BK209 expand-and-contract-in-one-release."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import (
    ADD_COLUMN,
    CREATE_TABLE,
    DROP_COLUMN,
    DROP_TABLE,
    RENAME_COLUMN,
    RENAME_TABLE,
    analyse,
    drops_base_object,
    renames_base_object,
)


class ExpandAndContractInOneRelease(Rule):
    """One release both adds the new shape and removes or renames the old one.

    ## What it does
    Flags a drop or rename of a table or column that existed before the release when the same
    release also adds a column to that table, or creates a table while dropping or renaming
    one: the expand and the contract steps of a change ship together.

    ## Why is this bad?
    Expand-and-contract works because each step ships on its own: after the expand, old and
    new code both run, so either can be rolled back. Shipping both at once leaves no release
    that the old code can run on.

    ## Example
    ```sql
    ALTER TABLE users ADD COLUMN email_address text;
    UPDATE users SET email_address = email;
    ALTER TABLE users DROP COLUMN email;
    ```

    ## Use instead
    ```sql
    -- release N (expand): add, backfill, write both
    ALTER TABLE users ADD COLUMN email_address text;
    UPDATE users SET email_address = email;
    -- release N+1 (contract), once no rollback target reads email:
    -- ALTER TABLE users DROP COLUMN email;
    ```
    """

    code = "BK209"
    name = "expand-and-contract-in-one-release"
    severity = Severity.WARNING
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per contract step that ships with its expand step."""
        analysis = analyse(context)
        # The first column the release adds to each base table, and the first table it creates.
        expanded: dict[str, str] = {}
        for judged in analysis.of_kind(ADD_COLUMN):
            table = judged.table_name
            if judged.table_at_base and table not in expanded:
                expanded[table] = f"adds {table}.{judged.op.column}"
        created = analysis.of_kind(CREATE_TABLE)
        creates = f"creates table {created[0].op.table}" if created else None
        for judged in analysis.of_kind(DROP_TABLE, DROP_COLUMN, RENAME_TABLE, RENAME_COLUMN):
            dropped = drops_base_object(judged)
            if not (dropped or renames_base_object(judged)):
                continue
            table = judged.table_name
            table_level = judged.op.kind in (DROP_TABLE, RENAME_TABLE)
            expand = expanded.get(table)
            if expand is None and table_level:
                expand = creates
            if expand is None:
                continue
            target = table if table_level else f"{table}.{judged.column_name}"
            verb = "drops" if dropped else "renames"
            yield self.finding(
                judged.op.location,
                f"this release {expand} and also {verb} {target}: the expand and the contract "
                "ship together, so no release exists that both the old and the new code can "
                "run on",
                f"ship the expand step alone, deploy, move the code over, and {verb[:-1]} "
                f"{target} in a later release",
            )
