"""BK207 irreversible-migration."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, Rule
from backout.schema_model import (
    DOWN_PRESENT,
    IRREVERSIBLE_STEP,
    Migration,
    analyse,
)
from backout.schema_operations import IN_DATABASE_OPERATIONS
from backout.sources.migration_facts import RAW_CHANGESET


class IrreversibleMigration(Rule):
    """A migration of the release cannot be reversed.

    ## What it does
    Flags a release migration with no down or undo migration (golang-migrate `.down.sql`,
    dbmate `-- migrate:down`, goose `-- +goose Down`, Flyway `U` file, Liquibase
    `--rollback`, or a `<rollback>` for a changeset whose changes Liquibase cannot undo by
    itself: `dropTable`, `dropColumn`, `modifyDataType`, `sql`…), an empty down section,
    an Alembic `downgrade()` that is `pass` or only raises, and Django `RunPython` without
    `reverse_code` or `RunSQL` without `reverse_sql`. It is an error when the same migration
    also breaks the old release (BK201–BK206), a warning otherwise; a hazard whose finding a
    `backout: ignore[...]` comment suppresses does not count. A Liquibase changeset without a
    rollback whose only change Liquibase cannot invert is a `customChange` is a warning that
    says backout cannot tell: Liquibase rolls it back when the class implements
    `CustomSqlRollback` or `CustomTaskRollback`, which the changelog does not show. A
    `rollback changeSetId=… changeSetPath=…` naming a changeset that no changelog in the
    repository holds is flagged too: Liquibase has nothing to roll the changeset back with.

    ## Why is this bad?
    A rollback of the code that needs the schema back cannot get it: the down step is missing
    or fails, and the team writes reverse SQL by hand during the incident. When the migration
    also breaks the old code, nothing short of a forward fix brings service back.

    ## Example
    ```python
    def upgrade():
        op.drop_column("users", "legacy_flag")

    def downgrade():
        pass
    ```

    ## Use instead
    ```python
    def upgrade():
        op.add_column("users", sa.Column("nickname", sa.Text(), nullable=True))

    def downgrade():
        op.drop_column("users", "nickname")
    ```

    ## References
    - pytest-alembic `test_up_down_consistency`; django-migration-linter `RUNPYTHON_REVERSIBLE`
    """

    code = "BK207"
    name = "irreversible-migration"
    severity = Severity.WARNING
    family = Family.SCHEMA

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per migration without a working down, and per irreversible step."""
        analysis = analyse(context)
        with_steps = {id(judged.migration) for judged in analysis.of_kind(IRREVERSIBLE_STEP)}
        for migration in analysis.release:
            has_step = id(migration) in with_steps
            if migration.down_state == DOWN_PRESENT and not has_step:
                continue  # reversible: nothing to report
            # A hazard whose finding a comment suppresses was judged acceptable by the team
            # (say, the old release never writes that table): it no longer makes this an error.
            breaking = sorted(
                {
                    code
                    for code, location in analysis.hazards(migration)
                    if not context.suppressed(code, location)
                }
            )
            severity = Severity.ERROR if breaking else Severity.WARNING
            also = (
                f"; the migration also breaks the old release ({', '.join(breaking)}), so "
                "neither rolling back the code alone nor migrating back works"
                if breaking
                else ""
            )
            if migration.down_custom_classes and migration.down_state != DOWN_PRESENT:
                yield self._custom_change(migration)
            elif migration.down_state != DOWN_PRESENT:
                where = migration.down_location or Location(migration.location.path, 1, 1)
                if migration.changeset:
                    where = migration.down_location or migration.location
                yield self.finding(
                    where,
                    f"{migration.label} cannot be reversed: {migration.down_reason}{also}",
                    _fix(migration),
                    severity,
                )
            if not has_step:
                continue
            up, _ = migration.operations(analysis.dialect)
            for op in up:
                if op.kind == IRREVERSIBLE_STEP:
                    error = (
                        "NotImplementedError"
                        if op.detail.endswith(IN_DATABASE_OPERATIONS)
                        else "IrreversibleError"
                    )
                    yield self.finding(
                        op.location,
                        f"{migration.label} has {op.detail}: `migrate` back past it fails "
                        f"with {error}{also}",
                        _STEP_FIXES[op.detail.split()[0]],
                        severity,
                    )

    def _custom_change(self, migration: Migration) -> Finding:
        """The finding for a changeset that Liquibase rolls back only if its ``customChange``
        classes implement a rollback: a warning, whatever else the changeset does, since
        backout cannot tell (the hazards it brings are reported by their own rules)."""
        classes = migration.down_custom_classes
        names = ", ".join(classes)
        verb = "implements" if len(classes) == 1 else "implement"
        return self.finding(
            migration.down_location or migration.location,
            f"cannot tell whether {names} {verb} a rollback (CustomSqlRollback or "
            f"CustomTaskRollback); if not, {migration.label} cannot be reversed: "
            f"{migration.down_reason}",
            f"give the changeset a rollback that undoes it; or, when {names} {verb} "
            "CustomSqlRollback or CustomTaskRollback, say so with a `backout: ignore[BK207]` "
            "comment",
            Severity.WARNING,
        )


# What to do about a Django step that cannot be reversed, by the operation it is.
_STEP_FIXES = {
    "RunPython": "pass reverse_code= (RunPython.noop when undoing needs nothing)",
    "RunSQL": "pass reverse_sql= (RunSQL.noop when undoing needs nothing)",
}

# What to do about a missing or empty down migration, by layout.
_FIXES = {
    "golang-migrate": "add the matching .down.sql file that undoes the up migration",
    "pop": "add the matching .<dialect>.down.sql file that undoes the up migration",
    "dbmate": "write the `-- migrate:down` section that undoes the up section",
    "goose": "write the `-- +goose Down` section that undoes the up section",
    "flyway": "add the U<version>__*.sql undo file that reverses this migration",
    "liquibase": "add `--rollback` lines that undo the changeset",
    "plain": "keep a down script next to the migration (or switch to a layout with "
    "up/down files) so the release can be reversed",
    "alembic": "write downgrade() so that it reverses upgrade() step by step",
    "django": "make every RunPython/RunSQL reversible",
}


def _fix(migration: Migration) -> str:
    if migration.changeset == RAW_CHANGESET:  # a plain SQL file that a changelog includes
        return (
            "make the file formatted SQL (`--liquibase formatted sql`, `--changeset "
            "author:id`) with `--rollback` lines that undo it"
        )
    if migration.engine == "liquibase":  # an XML, YAML or JSON changelog, not formatted SQL
        return (
            "give the changeset a rollback (`<rollback>` in XML, `rollback:` in YAML and JSON) "
            "that undoes its changes"
        )
    return _FIXES.get(migration.layout, "write the down migration that reverses this one")
