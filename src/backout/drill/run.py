"""The drill's steps: base → seed → snapshot → up → old release → down → diff → up again.

:func:`run_drill` returns findings (BK211, BK212, and BK208 confirmed) of the same shape as
``check``'s; the CLI hands them to :func:`backout.engine.finish`. Which migration a finding
points at is found, not guessed: after every step one catalog query records which columns
changed, so a failure on table ``t`` points at the last migration that changed ``t``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

from backout.config import Config
from backout.drill.database import FLAG, DrillDatabase, DrillError, DrillTarget, Origin, one_line
from backout.drill.placeholders import Placeholders, missing_message
from backout.drill.probe import (
    CommandResult,
    ProbeStatement,
    contract_probe,
    failures,
    old_queries,
    run_old_command,
)
from backout.drill.runners import (
    AlembicRunner,
    DjangoRunner,
    NoDownMigration,
    Runner,
    SqlRunner,
    StepFailed,
)
from backout.drill.safety import cleanup_on_signals, signals_ignored
from backout.drill.seed import DataLoss, Seeded, compare, parents_first, seed
from backout.drill.snapshot import ColumnState, SchemaSnapshot, diff
from backout.drill.targets import dialect_of_url, open_target
from backout.engine import Workspace
from backout.models import Finding, Location, RuleMeta, Severity, make_finding
from backout.redact import Redactor
from backout.rules import load_rule
from backout.schema_model import (
    DROP_TABLE,
    RENAME_TABLE,
    Migration,
    Operation,
    ordered_migrations,
    split_release,
)
from backout.sources.base import Misdecoded, Unreadable
from backout.sources.paths import is_spring_config, is_tool_config
from backout.sources.spring_config import SpringConfig
from backout.sources.tool_config import ToolConfig

DRILL_CODES = ("BK208", "BK211", "BK212")
"""The rules whose findings a drill reports."""


@dataclass(frozen=True)
class DrillOptions:
    """How to drill: where, with what of the old release, and how much to say."""

    database: str | None = None
    database_origin: Origin = FLAG
    """Where ``database`` was given (the flag, or ``drill.database`` of a configuration
    file), for the messages that refuse it."""
    old_queries: str | None = None
    """The old release's SQL file, relative to the current directory (the CLI resolves a
    ``drill.old-queries`` from the configuration file against that file's directory)."""
    old_command: str | None = None
    progress: bool = False
    verbose: bool = False


@dataclass
class DrillOutcome:
    """What the drill found, what it could not do, and how long each step took."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_probed: list[str] = field(default_factory=list)
    """Contract probes that fail on the base schema already (table, statement kind, error):
    the result proves nothing about them, and the CLI says so after the report."""
    timings: list[tuple[str, float]] = field(default_factory=list)
    target: str = ""


class _Reporter:
    """Progress lines on stderr (on a tty, or with --verbose) and per-step timings."""

    def __init__(self, outcome: DrillOutcome, options: DrillOptions) -> None:
        self.outcome = outcome
        self.show = options.progress or options.verbose
        self.verbose = options.verbose

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        if self.show:
            print(f"drill: {title}…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.outcome.timings.append((title, elapsed))
            if self.verbose:
                print(f"drill:   {elapsed:.2f}s  {title}", file=sys.stderr, flush=True)


_Changes = dict[str, set[str]]
"""Per migration key: the ``table`` and ``table.column`` names its step changed."""


def _changed(
    before: dict[tuple[str, str], ColumnState], after: dict[tuple[str, str], ColumnState]
) -> set[str]:
    names: set[str] = set()
    for key in set(before) | set(after):
        if before.get(key) != after.get(key):
            names.update({key[0], f"{key[0]}.{key[1]}"})
    return names


def _objects(snapshot: SchemaSnapshot) -> set[str]:
    """``table.index name`` and ``table.constraint name`` of every index and constraint, as
    :func:`_blame` looks them up."""
    return {
        f"{table.name}.{kind} {name}"
        for table in snapshot.tables.values()
        for kind, names in (("index", table.indexes), ("constraint", table.constraints))
        for name in names
    }


def _blame(
    release: Sequence[Migration], changes: _Changes, table: str, *columns: str | None
) -> Migration:
    """The last release migration whose up step changed one of ``table.column`` (tried in
    order; a "column" may be ``index name`` or ``constraint name``), else ``table``."""
    for wanted in [f"{table}.{column}" for column in columns if column] + [table]:
        for migration in reversed(release):
            if wanted in changes.get(migration.key, set()):
                return migration
    return release[-1]


# Names in a database error: quoted ones (PostgreSQL "x", MySQL 'x' / `x`) and SQLite's bare
# ones ("no such column: x", "has no column named x", "NOT NULL constraint failed: t.x").
_QUOTED_NAME = re.compile(r"[\"'`]([\w.]+)[\"'`]")
_BARE_NAME = re.compile(
    r"(?:no such (?:column|table):|has no column named|constraint failed:)\s*([\w.]+)"
)


# A name read from a placeholder: `${x}` and longer became as many underscores.
_PLACEHOLDER_READ = re.compile(r"_{4,}")

# An index or constraint that a schema difference names (``index t_a_idx was left behind``).
_OBJECT_NAMED = re.compile(r"\b(index|constraint) (\S+) (?:is missing|was left behind|changed)")


def _error_names(error: str) -> list[str]:
    """The table and column names a database error mentions, in order, ``t.c`` split."""
    names: list[str] = []
    for match in _QUOTED_NAME.finditer(error):
        names.append(match[1])
    names += _BARE_NAME.findall(error)
    out: list[str] = []
    for name in names:
        for part in reversed(name.split(".")):
            if part and part not in out:
                out.append(part)
    return out


def _operation_at(
    migration: Migration, dialect: str, table: str | None, names: Sequence[str]
) -> Location:
    """Where in ``migration`` the change to one of ``names`` (a column of ``table``, or a
    table) is — the RENAME, DROP, ADD COLUMN… — else the migration itself.

    ``names`` are tried in order, as columns of ``table`` (any table when ``table`` is not
    known), then as tables; a table renamed in the migration is followed to its new name.
    """
    up, _ = migration.operations(dialect)
    tables = {table} if table else set()
    for op in up:
        if op.kind == RENAME_TABLE and op.table in tables and op.new_name:
            tables.add(op.new_name)

    # A table written with a placeholder (`${prefix}users`) was read with the placeholder as
    # underscores (sources/migrations.py): when no operation of the table names the column,
    # those operations match by column alone.
    def of_table(op: Operation) -> bool:
        return not tables or op.table in tables

    def of_placeholder_table(op: Operation) -> bool:
        return not tables or _PLACEHOLDER_READ.search(op.table or "") is not None

    for on_table in (of_table, of_placeholder_table):
        for name in names:
            for op in reversed(up):
                if not on_table(op):
                    continue
                named = {op.column, op.new_name, *op.constrained}
                if op.column_def is not None:
                    named.add(op.column_def.name)
                if op.kind != RENAME_TABLE and name in named:
                    return op.location
    for name in [*(t for t in tables if t), *names]:
        for op in reversed(up):
            if op.kind in (DROP_TABLE, RENAME_TABLE) and op.table == name:
                return op.location
    return migration.location


def _statement(failed: StepFailed) -> str:
    """`` (statement: …)`` for a database error; nothing for an error of the migration's
    own code (Alembic or Django Python), where no statement is to blame."""
    return f" (statement: {one_line(failed.statement)})" if failed.statement else ""


def _runner_for(
    workspace: Workspace, release: Sequence[Migration], all_: Sequence[Migration]
) -> Runner:
    changelogs = [m for m in (*all_, *release) if m.engine == "liquibase"]
    if changelogs:
        first = changelogs[0]
        raise DrillError(
            f"the migrations include Liquibase XML/YAML/JSON changesets ({first.label}, "
            f"{len({m.key for m in changelogs})} in all), which only Liquibase can apply and "
            "roll back: backout's drill runs SQL migrations and does not run Liquibase, so "
            "nothing was drilled; `backout check` judges these changesets, and Liquibase's "
            "`update-testing-rollback` against a throwaway database drills them"
        )
    engines = {m.engine for m in release}
    if len(engines) > 1:
        raise DrillError(
            "the release mixes migration engines (" + ", ".join(sorted(engines)) + "); "
            "drill one at a time with the `migrations` setting"
        )
    engine = engines.pop()
    if engine == "alembic":
        directories = {m.script_directory for m in release if m.script_directory}
        return AlembicRunner(workspace.root, sorted(directories)[0] if directories else ".")
    if engine == "django":
        return DjangoRunner(workspace.root, all_)
    _refuse_unreadable_tool_config(workspace, all_)
    spring = workspace.head.facts.of(SpringConfig)
    placeholders = Placeholders(
        workspace.head.facts.of(ToolConfig),
        workspace.config.drill.placeholders,
        workspace.root,
        workspace.config.drill.flyway_environment,
        spring=spring,
        spring_profiles=workspace.config.drill.spring_profiles,
    )
    # Flyway checks every placeholder before it runs a migration: so does the drill, before
    # it makes a database, rather than send `${…}` to the server.
    missing = placeholders.missing(all_)
    if missing:
        raise DrillError(missing_message(missing, spring=bool(spring)))
    return SqlRunner(placeholders)


def _refuse_unreadable_tool_config(workspace: Workspace, migrations: Sequence[Migration]) -> None:
    """Stop before any database is made when a configuration file that gives the Flyway
    (or Liquibase) migrations their placeholder values cannot be read: drilled without it,
    the migrations would run with other values than the tool gives them, or stop on a
    placeholder that the file does set."""
    tools = {m.layout for m in migrations} & {"flyway", "liquibase"}
    if not tools:
        return
    for fact in workspace.head.facts.of(Unreadable):
        if isinstance(fact, Misdecoded):
            continue  # read all the same, with the bytes that are not UTF-8 replaced
        path = fact.location.path
        name = path.rpartition("/")[2]
        tool = "liquibase" if name == "liquibase.properties" else "flyway"
        if tool in tools and (is_tool_config(path) or is_spring_config(path)):
            raise DrillError(
                f"cannot read {fact.location}: {fact.reason}; the drill takes the {tool.title()} "
                "placeholder values from this file, so nothing was drilled (BK901 in `backout "
                "check` reports it too)"
            )


class _Drill:
    """One drill run: the state the steps share."""

    def __init__(
        self,
        workspace: Workspace,
        options: DrillOptions,
        base_migrations: Sequence[Migration],
        release: Sequence[Migration],
        runner: Runner,
        outcome: DrillOutcome,
        dialect: str,
    ) -> None:
        self.workspace = workspace
        self.dialect = dialect
        self.options = options
        self.base_migrations = base_migrations
        self.release = release
        self.runner = runner
        self.outcome = outcome
        self.report = _Reporter(outcome, options)
        self.up_changes: _Changes = {}
        self.target: DrillTarget | None = None
        """Where the drill's database lives: a second, base-only one is made there for
        ``drill.old-command``'s run on the base release."""
        self.metas: dict[str, RuleMeta] = {code: load_rule(code).meta() for code in DRILL_CODES}

    def finding(
        self,
        code: str,
        location: Location,
        message: str,
        fix: str,
        severity: Severity | None = None,
    ) -> None:
        self.outcome.findings.append(
            make_finding(self.metas[code], location, message, fix, severity)
        )

    def snapshot(self, database: DrillDatabase) -> SchemaSnapshot:
        return database.introspect().without(set(self.runner.bookkeeping))

    def run(self, database: DrillDatabase) -> None:
        with self.report.step(f"base release: applying {len(self.base_migrations)} migrations"):
            try:
                self.runner.apply_base(database, self.base_migrations)
            except StepFailed as failed:
                raise DrillError(
                    f"the base release's migrations fail on an empty database at "
                    f"{failed.location}: {failed.error}{_statement(failed)}"
                ) from None
        with self.report.step("seeding every base table and taking the base snapshot"):
            base_schema = self.snapshot(database)
            seeded = seed(database, base_schema)
            self.outcome.notes.extend(seeded.skipped)
            self.seeded, self.base_schema = seeded, base_schema
            probes = self._validated_probes(database, base_schema, seeded)
        if not self._up_pass(database, "new release: applying", record=True):
            return
        self._require_bookkeeping(database)
        with self.report.step("old release against the new schema"):
            self._old_release(database, probes)
        with self.report.step(f"down migrations: reverting {len(self.release)}"):
            complete = self._down_pass(database)
        if complete is None:
            return
        with self.report.step("comparing schema and seeded data with the base release"):
            self._compare(database, base_schema, seeded)
        if complete:
            self._up_pass(database, "up again after down (up → down → up)", record=False)

    def _require_bookkeeping(self, database: DrillDatabase) -> None:
        """Stop when the migration tool ran but left no trace in the drill database.

        Alembic and Django record every applied migration in their own table; when it is
        missing, the project's env.py or settings sent the migrations somewhere else (or
        nowhere), and a clean result would prove nothing.
        """
        bookkeeping = set(self.runner.bookkeeping)
        if bookkeeping and not bookkeeping & set(database.introspect().tables):
            table = sorted(bookkeeping)[0]
            raise DrillError(
                f"the migrations ran but the drill database has no {table} table: the "
                "project's migration setup did not use the database backout gave it (Alembic: "
                "env.py must connect with config's sqlalchemy.url or DATABASE_URL); nothing "
                "was drilled"
            )

    def _validated_probes(
        self, database: DrillDatabase, base_schema: SchemaSnapshot, seeded: Seeded
    ) -> list[ProbeStatement]:
        probes = contract_probe(database, base_schema, seeded)
        if self.options.old_queries:
            path = Path(self.options.old_queries)
            probes += old_queries(path, self.options.old_queries, database, base_schema, seeded)
        failing_on_base = failures(database, probes)
        for probe, failed in failing_on_base:
            if probe.kind == "query":
                self.outcome.notes.append(
                    f"old query at {probe.location} fails on the base schema already, so it "
                    f"proves nothing: {one_line(failed.error, 160)}"
                )
                continue
            what = "view" if probe.table in base_schema.views else "table"
            self.outcome.not_probed.append(
                f"{what} {probe.table} was not probed: the old release's {probe.kind} fails on "
                f"the base schema already ({one_line(failed.error, 160)}), so the result says "
                f"nothing about the old release's {probe.kind}s on {probe.table}"
            )
        dropped = {id(probe) for probe, _ in failing_on_base}
        return [probe for probe in probes if id(probe) not in dropped]

    def _up_pass(self, database: DrillDatabase, title: str, record: bool) -> bool:
        """Apply the release; on the second pass (up → down → up) a failure is reported."""
        with self.report.step(f"{title} {len(self.release)} migrations"):
            states = database.column_states()
            # Indexes and constraints are not in the column states: on the recorded pass the
            # catalog says which step made each, so a leftover one is blamed on its maker.
            objects = _objects(database.introspect()) if record else set()
            for migration in self.release:
                try:
                    self.runner.up(database, migration)
                except StepFailed as failed:
                    if not record:
                        self._up_failed(migration, failed, again=True)
                        return False
                    if not self._retry_without_rows(database, migration, failed):
                        return False
                after = database.column_states()
                if record:
                    objects_after = _objects(database.introspect())
                    self.up_changes[migration.key] = _changed(states, after) | (
                        objects ^ objects_after
                    )
                    objects = objects_after
                states = after
        return True

    def _up_failed(self, migration: Migration, failed: StepFailed, again: bool) -> None:
        when = " again after its down migration ran" if again else ""
        self.finding(
            "BK212",
            failed.location,
            f"migration {migration.label} fails to apply{when}: {failed.error}"
            f"{_statement(failed)}; a deploy would stop here, half-migrated",
            "make the migration apply on the previous release's schema and data "
            "(backfill before NOT NULL, IF NOT EXISTS where the down left objects)",
        )

    def _retry_without_rows(
        self, database: DrillDatabase, migration: Migration, failed: StepFailed
    ) -> bool:
        """Report the failure; when seeded rows of the tables it names are the cause, empty
        those tables and apply the migration again, so the rest of the release is drilled."""
        self._up_failed(migration, failed, again=False)
        named = {
            table
            for table, rows in self.seeded.rows.items()
            if rows and re.search(rf"\b{re.escape(table)}\b", failed.statement)
        }
        if not named or not database.transactional_ddl:
            return False
        emptied = self._empty(database, named)
        try:
            self.runner.up(database, migration)
        except StepFailed:
            return False
        self.outcome.notes.append(
            f"{migration.label} fails on seeded rows; emptied {', '.join(sorted(emptied))} and "
            "applied it again to drill the rest of the release"
        )
        return True

    def _empty(self, database: DrillDatabase, tables: set[str]) -> set[str]:
        """Delete the seeded rows of ``tables`` and of the base tables that reference them."""
        emptied = set(tables)
        changed = True
        while changed:
            children = {
                table.name
                for table in self.base_schema.tables.values()
                if any(fk.parent in emptied for fk in table.foreign_keys)
            }
            changed = not children <= emptied
            emptied |= children
        for table in reversed(parents_first(self.base_schema)):
            if table.name in emptied:
                database.execute(f"DELETE FROM {database.quote(table.name)}")
                self.seeded.rows[table.name] = []
        return emptied

    def _old_release(self, database: DrillDatabase, probes: Sequence[ProbeStatement]) -> None:
        for probe, failed in failures(database, probes):
            named = _error_names(failed.error)
            culprit = _blame(self.release, self.up_changes, probe.table, *named)
            what = (
                f"the old release's {probe.kind} on {probe.table}"
                if probe.kind != "query"
                else f"old query at {probe.location}"
            )
            self.finding(
                "BK211",
                _operation_at(culprit, self.dialect, probe.table, named),
                f"{what} fails on the new schema after {culprit.label}: {failed.error} "
                f"(statement: {one_line(failed.statement)}); the old release breaks during the "
                "deploy and after a rollback of the code",
                "keep the schema backward compatible for one release: add columns nullable or "
                "with a default, rename and drop in a later release (expand, deploy, contract)",
            )
        if self.options.old_command:
            self._old_command(database)

    def _old_command(self, database: DrillDatabase) -> None:
        commit = self.workspace.base_label
        if commit is None or Path(commit).is_dir():
            self.outcome.notes.append("drill.old-command needs --base REF (a git ref); not run")
            return
        root = self.workspace.root
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        subdir = str(root.resolve().relative_to(Path(top).resolve())) if top else "."
        command = self.options.old_command or ""
        on_base = self._old_command_on_base(Path(top), commit, subdir)
        if on_base is not None and on_base.exit_code != 0:
            self.outcome.notes.append(
                f"drill.old-command `{command}` already exits {on_base.exit_code} on the base "
                "release's own schema, so it is broken on its own release and proves nothing "
                f"about the new schema (not judged): "
                f"{one_line(on_base.output_tail, 300) or '(it printed nothing)'}"
            )
            return
        result = run_old_command(command, Path(top), commit, subdir, database.url)
        if result.exit_code != 0:
            culprit = self.release[-1]
            self.finding(
                "BK211",
                culprit.location,
                f"the old release's command `{self.options.old_command}` exits "
                f"{result.exit_code} on the new schema: "
                f"{one_line(result.output_tail, 600) or '(it printed nothing)'}",
                "make the release's migrations backward compatible with the old code "
                "(expand, deploy, contract)",
            )

    def _old_command_on_base(self, top: Path, commit: str, subdir: str) -> CommandResult | None:
        """Run the old command on a second throwaway database holding only the base release
        (as the contract probes are tried on the base first): a command that fails there is
        broken on its own release, and its failure on the new schema would prove nothing.
        The command may write, so it never touches the drill's own database here."""
        if self.target is None:
            return None
        base_database = self.target.create()
        try:
            self.runner.apply_base(base_database, self.base_migrations)
            return run_old_command(
                self.options.old_command or "", top, commit, subdir, base_database.url
            )
        finally:
            with signals_ignored():
                self.target.drop(base_database)

    def _down_pass(self, database: DrillDatabase) -> bool | None:
        """Revert the release: True when every down ran, False when some had none (the
        earlier ones still ran), None when one failed (the schema is then in no known state)."""
        complete = True
        for migration in reversed(self.release):
            try:
                self.runner.down(database, migration)
            except NoDownMigration as missing:
                self.finding(
                    "BK212",
                    migration.location,
                    f"migration {migration.label} cannot be reverted: {missing}; what it did "
                    "stays after a rollback (the drill went on with the earlier down migrations)",
                    "write the down migration and let the drill prove it",
                )
                complete = False
                continue
            except StepFailed as failed:
                self.finding(
                    "BK212",
                    failed.location,
                    f"the down migration of {migration.label} fails: {failed.error}"
                    f"{_statement(failed)}; the rollback stops half-way",
                    "fix the down migration so that it runs on the new release's schema",
                )
                return None
        return complete

    def _compare(
        self, database: DrillDatabase, base_schema: SchemaSnapshot, seeded: Seeded
    ) -> None:
        after = self.snapshot(database)
        by_table: dict[str | None, list[str]] = {}
        for difference in diff(base_schema, after):
            by_table.setdefault(difference.table, []).append(difference.text)
        for table, lines in by_table.items():
            text = " ".join(lines)
            named = [f"{kind} {name}" for kind, name in _OBJECT_NAMED.findall(text)]
            named += re.findall(r"column (\w+)", text)
            culprit = (
                _blame(self.release, self.up_changes, table, *named) if table else self.release[0]
            )
            self.finding(
                "BK212",
                (culprit.down_location or culprit.location),
                "after the down migrations the schema differs from the base release's: "
                + "; ".join(lines),
                "make the down migration undo exactly what the up migration did",
            )
        for loss in compare(database, after, seeded):
            self._data_loss(loss)

    def _data_loss(self, loss: DataLoss) -> None:
        culprit = _blame(self.release, self.up_changes, loss.table, loss.column)
        if loss.column is None:
            what = f"{loss.lost} of {loss.total} seeded rows of {loss.table} are gone"
        else:
            what = (
                f"{loss.column} lost its values in {loss.lost} of {loss.total} seeded rows of "
                f"{loss.table}"
            )
        self.finding(
            "BK208",
            _operation_at(culprit, self.dialect, loss.table, [loss.column] if loss.column else []),
            f"rolling back {culprit.label} loses data (proved by the drill): after up and "
            f"down, {what} ({loss.example})",
            "keep the data until the release is proven: drop columns and tables in a later "
            "release, or have the down migration restore them from a copy",
            # The seeded rows are the base release's data, not what the new code wrote: the
            # rollback destroys what the old release had (BK208 is info only for the latter).
            Severity.ERROR,
        )


def plan(workspace: Workspace, config: Config) -> tuple[list[Migration], list[Migration]]:
    """The base release's migrations (as at the base) and the ones the release adds."""
    base_facts = workspace.base.facts if workspace.base is not None else None
    split = split_release(workspace.head.facts, base_facts, config)
    base = ordered_migrations(base_facts, config) if base_facts is not None else list(split.base)
    return base, list(split.release)


def run_drill(
    workspace: Workspace,
    config: Config,
    options: DrillOptions,
    make_target: Callable[[str | None, str, Origin], DrillTarget] = open_target,
) -> DrillOutcome:
    """Drill the release in ``workspace``; the throwaway database is always dropped.

    Every text the drill returns (notes, findings, the message of a :class:`DrillError`) is
    masked: a database error, a driver or the old release's command may echo the URL, and
    the password of ``--database`` is masked wherever it appears, percent-encoded or not.
    """
    secrets: set[str] = set()
    try:
        outcome = _run_drill(workspace, config, options, make_target, secrets)
    except DrillError as exc:
        raise DrillError(_redactor(options.database, secrets).redact(str(exc))) from None
    redactor = _redactor(options.database, secrets)
    outcome.notes = [redactor.redact(note) for note in outcome.notes]
    outcome.not_probed = [redactor.redact(gap) for gap in outcome.not_probed]
    outcome.findings = [
        replace(f, message=redactor.redact(f.message), fix=redactor.redact(f.fix))
        for f in outcome.findings
    ]
    return outcome


def _redactor(url: str | None, secrets: set[str]) -> Redactor:
    """A redactor that knows the password of ``url`` (as written and percent-decoded) and the
    placeholder values that may be credentials (``secrets``)."""
    return Redactor([url, unquote(url)] if url else [], secrets)


def _run_drill(
    workspace: Workspace,
    config: Config,
    options: DrillOptions,
    make_target: Callable[[str | None, str, Origin], DrillTarget],
    secrets: set[str],
) -> DrillOutcome:
    """:func:`run_drill`, unmasked; ``secrets`` receives the placeholder values to mask."""
    outcome = DrillOutcome()
    base, release = plan(workspace, config)
    if not release:
        outcome.notes.append("the release adds no migrations: there is nothing to drill")
        return outcome
    dialect = (
        dialect_of_url(options.database, options.database_origin)
        if options.database
        else config.sql_dialect
    )
    runner = _runner_for(workspace, release, [*base, *release])
    if isinstance(runner, SqlRunner) and runner.placeholders is not None:
        secrets.update(runner.placeholders.secrets())
    drill = _Drill(workspace, options, base, release, runner, outcome, dialect)
    target: DrillTarget | None = None
    with cleanup_on_signals():
        try:
            # The try starts before the target exists: an interrupt that lands once it is made
            # (in the step's timing, say) still closes it. Interrupted while it is made, an
            # embedded server stops and deletes what it started.
            with drill.report.step("starting the throwaway database"):
                target = make_target(options.database, dialect, options.database_origin)
            outcome.target = target.description
            swept = target.sweep()
            if swept:
                outcome.notes.append(f"dropped {len(swept)} database(s) of dead drills")
            database = target.create()
            drill.target = target
            try:
                drill.run(database)
            finally:
                with signals_ignored():
                    runner.close()
                    target.drop(database)
        finally:
            if target is not None:
                with signals_ignored():
                    target.close()
    return outcome
