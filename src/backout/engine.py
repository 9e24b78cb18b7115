"""The one way through: discover → read (facts) → rules (findings) → filter → report.

``check`` wires the steps for ``backout check``; the drill, the registry checks and the host
checks hand their own findings to :func:`finish` so that selection, per-file ignores,
suppressions and ``--base`` filtering work the same for every command.
"""

from __future__ import annotations

import functools
import gc
import importlib
import operator
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from backout.config import Config, ConfigError, closest, is_enabled, nearest
from backout.discovery import (
    MAX_FILE_BYTES,
    FileBytes,
    ReadFailure,
    Tree,
    changed_paths,
    directory_changes,
    git_tree,
    read_working_files,
    resolve_base_ref,
    single_file,
    working_tree,
)
from backout.models import Finding, Location, RuleMeta, Severity, Suppression
from backout.rules import ALL_RULES, RuleRef
from backout.rules.base import CheckContext, Rule
from backout.sources import ALL_READERS, LazyReader, ReaderLoadError
from backout.sources.base import (
    Fact,
    FactSet,
    Reader,
    SourceFile,
    Unlisted,
    Unopened,
    Unreadable,
)
from backout.sources.paths import LIQUIBASE_READER, compose_files_with_env
from backout.suppress import apply_suppressions, find_suppressions

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# Below this many files, a process pool costs more than it saves.
PARALLEL_THRESHOLD = 400

# Reading a large tree allocates facts by the hundred thousand and keeps them all; at the
# default threshold (700) the cycle collector runs hundreds of times over objects that only
# ever grow: ~15% of reading 8,000 migrations, and most of unpickling the pool's results.
# A higher first-generation threshold keeps cycles collected, just less often.
_BULK_GC_THRESHOLD = 100_000


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Collect reference cycles less often while facts or findings are built in bulk."""
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], _BULK_GC_THRESHOLD), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


@dataclass
class Release:
    """One release as read: its facts, and the suppression comments of its files."""

    tree: Tree
    facts: FactSet
    suppressions: dict[str, list[Suppression]] = field(default_factory=dict)

    @property
    def files_read(self) -> int:
        """How many files some reader read."""
        return len(self.facts.paths)


@dataclass
class CheckResult:
    """What a command found, ready for a report."""

    root: Path
    findings: list[Finding]
    suppressed: list[Finding]
    rules: list[RuleMeta]
    files_read: int = 0
    base: str | None = None
    fail_on: Severity = Severity.ERROR
    """The ``--fail-on`` threshold: the findings at or above it fail the run (exit 1), and
    are the failures of the ``junit`` report."""
    workspace: Workspace | None = field(default=None, repr=False, compare=False)
    """What the findings were read from, when a check read it: kept so that its facts are
    freed with the result (a command that exits right after the report never frees them)."""


def _read_one(
    path: str, data: FileBytes, wanted: Sequence[Reader]
) -> tuple[list[Fact], list[Suppression]]:
    """Read one file with the readers that want it (``wanted``, never empty)."""
    if isinstance(data, ReadFailure):
        return [Unopened(Location(path, 1, 0), wanted[0].name, data.reason)], []
    if data is None:
        if all(reader.name == LIQUIBASE_READER for reader in wanted):
            # XML and JSON are wanted in case they are changelogs, which no one writes 16 MiB
            # of: a data file or build output, not part of the release's migrations.
            return [], []
        limit = MAX_FILE_BYTES // (1024 * 1024)
        too_large = f"larger than {limit} MiB: not read (a data dump or a build artefact?)"
        return [Unreadable(Location(path, 1, 0), wanted[0].name, too_large)], []
    file = SourceFile(path, data)
    facts: list[Fact] = []
    for reader in wanted:
        try:
            facts.extend(reader.read(file))
        except ReaderLoadError:
            raise  # every file of the reader's kind would go unread: stop, do not skip them
        except Exception as exc:  # a reader bug must not hide the rest of the release
            facts.append(
                Unreadable(
                    Location(path, 1, 0),
                    reader.name,
                    f"internal error while reading ({type(exc).__name__}: {exc})",
                )
            )
    text = file.text()
    suppressions = find_suppressions(path, text) if text is not None else []
    return facts, suppressions


_ReadRow = tuple[str, list[Fact], list[Suppression]]


_ReaderT = TypeVar("_ReaderT", bound=Reader)


def _wanted(path: str, readers: Sequence[_ReaderT]) -> list[_ReaderT]:
    """The readers that want ``path``."""
    return [reader for reader in readers if reader.wants(path)]


def _read_chunk(chunk: list[tuple[str, FileBytes]]) -> list[_ReadRow]:
    """Read a chunk of files given with their bytes (a git ref's blobs) in a worker."""
    return [(path, *_read_one(path, data, _wanted(path, ALL_READERS))) for path, data in chunk]


def _read_files(root: str, paths: list[str]) -> list[_ReadRow]:
    """Read a chunk of working-tree paths in a worker: which readers want a path is decided
    there and the files are opened there, so the parent neither goes through every path
    first nor reads the files and copies their bytes to the workers."""
    wanted: dict[str, Sequence[Reader]] = {}
    for path in paths:
        chosen = _wanted(path, ALL_READERS)
        if chosen:
            wanted[path] = chosen
    return [
        (path, *_read_one(path, data, wanted[path]))
        for path, data in read_working_files(root, wanted)
    ]


def _share_with_pool(
    pool: ProcessPoolExecutor, jobs: list[functools.partial[list[_ReadRow]]]
) -> list[_ReadRow]:
    """Run ``jobs`` in ``pool`` and in this process too, results in the jobs' order.

    The workers take jobs from the front; this process takes them from the back for as long
    as no worker has started them (a queued future can still be cancelled). Reading a share
    here costs no more than unpickling its facts from a worker would, and this process
    would otherwise wait.
    """
    futures = [pool.submit(job) for job in jobs]
    done: list[list[_ReadRow] | None] = [None] * len(jobs)
    for index in range(len(jobs) - 1, -1, -1):
        if not futures[index].cancel():
            break
        done[index] = jobs[index]()
    return [
        row
        for index, rows in enumerate(done)
        for row in (futures[index].result() if rows is None else rows)
    ]


def read_release(
    tree: Tree, readers: Sequence[Reader] = ALL_READERS, root_name: str | None = None
) -> Release:
    """Read every file of ``tree`` that some reader wants, each once; ``root_name`` names the
    directory its paths are relative to (:attr:`FactSet.root_name`; by default its root's)."""
    with _bulk_allocation():
        return _read_release(tree, readers, root_name)


def _read_release(tree: Tree, readers: Sequence[Reader], root_name: str | None) -> Release:
    facts = FactSet()
    facts.root_name = tree.root.resolve().name if root_name is None else root_name
    release = Release(tree=tree, facts=facts)
    workers = min(os.cpu_count() or 1, 8)
    results: list[_ReadRow]
    if len(tree.paths) >= PARALLEL_THRESHOLD and workers > 1 and readers is ALL_READERS:
        results = _read_in_pool(tree, workers)
    else:
        wanted = {path: _wanted(path, readers) for path in tree.paths}
        pending = tree.subset([path for path, chosen in wanted.items() if chosen])
        results = [
            (path, *_read_one(path, data, wanted[path])) for path, data in pending.read_all()
        ]
    for path, file_facts, suppressions in results:
        facts.paths.add(path)
        facts.extend(file_facts)
        if suppressions:
            release.suppressions[path] = suppressions
    for directory, reason in tree.unlisted:
        facts.add(Unlisted(Location(directory, 1, 0), "directory", reason))
    # Facts of several files that one tool joins: the files a GitLab pipeline includes, a
    # compose file and the `.env` beside it, the migrations of one Django app (its label),
    # a Liquibase changeset and the SQL files of its `sqlFile` changes (read from the tree
    # now: no reader knew they were SQL to read). Each step's facts exist only once its
    # module is loaded (by a reader, or by unpickling a worker's facts), so a check without
    # such files imports none of them.
    sql_files = sys.modules.get("backout.sources.liquibase_sql_files")
    if sql_files is None and _has_changelog_includes(facts):
        # Only includes came back from the workers: the module's own facts did not load it.
        from backout.sources import liquibase_sql_files as sql_files
    if sql_files is not None:
        sql_files.link_changelog_files(facts, tree)
    ecs_templates = sys.modules.get("backout.sources.ecs_templates")
    if ecs_templates is not None:  # the files Terraform task definitions read with file()
        ecs_templates.link_container_files(facts, tree)
    if _DJANGO not in sys.modules and _has_django_migrations(facts):
        # Only Migration facts came back from the workers, which do not load the reader.
        importlib.import_module(_DJANGO)
    for module, step in _LINK_STEPS:
        if module in sys.modules:
            getattr(sys.modules[module], step)(facts)
    return release


def _has_django_migrations(facts: FactSet) -> bool:
    """Whether ``facts`` hold a Django migration (its module loaded by reading one)."""
    migration_facts = sys.modules.get("backout.sources.migration_facts")
    return migration_facts is not None and any(
        m.engine == "django" for m in facts.of(migration_facts.Migration)
    )


def _has_changelog_includes(facts: FactSet) -> bool:
    """Whether ``facts`` hold a Liquibase include (its module loaded by reading one)."""
    migration_facts = sys.modules.get("backout.sources.migration_facts")
    return migration_facts is not None and bool(facts.of(migration_facts.ChangelogInclude))


_LINK_STEPS = (
    ("backout.sources.gitlab_includes", "link_included_pipelines"),
    ("backout.sources.compose_env", "link_compose_env"),
    ("backout.sources.django_migrations", "link_django_app_labels"),
)
_DJANGO = "backout.sources.django_migrations"
"""Steps run on a release's facts once every file is read: (module, function)."""


def _read_in_pool(tree: Tree, workers: int) -> list[_ReadRow]:
    """Read a large tree with a process pool and this process, in small chunks so that this
    process, taking them from the back while the workers take them from the front, and the
    workers all finish at about the same time."""
    # Imported here: multiprocessing is ~10 ms of start-up that small trees never use.
    from concurrent.futures import ProcessPoolExecutor

    # Reader modules are imported on first use (see backout.sources): the ones imported here
    # before the pool forks its workers are inherited, not imported again by every worker.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        if tree.git_ref is None:
            paths = list(tree.paths)
            size = max(50, len(paths) // (workers * 16))
            root = str(tree.root)
            jobs = [
                functools.partial(_read_files, root, paths[i : i + size])
                for i in range(0, len(paths), size)
            ]
            # This process reads the last paths first (see _share_with_pool) and loads their
            # readers anyway: loading them now costs nothing more, and in a tree of one kind
            # they are all it needs. Finding every reader the tree needs would cost a pass over
            # every path here, as much as the imports the workers are spared.
            _load_readers({r for path in paths[-size:] for r in _wanted(path, ALL_READERS)})
        else:
            # A git ref's blobs come from one `git cat-file` here: only the wanted ones.
            wanted = {path: _wanted(path, ALL_READERS) for path in tree.paths}
            pending = tree.subset([path for path, chosen in wanted.items() if chosen])
            _load_readers({r for chosen in wanted.values() for r in chosen})
            items = list(pending.read_all())
            size = max(50, len(items) // (workers * 16))
            jobs = [
                functools.partial(_read_chunk, items[i : i + size])
                for i in range(0, len(items), size)
            ]
        return _share_with_pool(pool, jobs)


def _load_readers(readers: Iterable[LazyReader]) -> None:
    """Import the modules of ``readers`` now, before a process pool forks."""
    for reader in readers:
        reader.load()


@dataclass
class Workspace:
    """The head release, the base release when one was given, and what changed between."""

    root: Path
    config: Config
    head: Release
    base: Release | None = None
    changed: set[str] | None = None
    """The files that changed since the base (None: no base): their findings are reported."""
    changed_lines: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """Parts of files that count as changed although the files did not, as first and last
    lines by path: the changesets of a changelog that run a changed SQL file, an include of a
    changelog the change deleted, the Flux source object that a new ``chartRef`` names."""
    base_label: str | None = None


def load_workspace(target: Path, config: Config, base: str | None = None) -> Workspace:
    """Read the release at ``target`` and, with ``base`` (git ref or directory), the previous."""
    if target.is_file():
        head_tree = single_file(target)
    else:
        head_tree = working_tree(target, config.exclude)
    head = read_release(head_tree)
    _use_given_dialect(config, head.facts)
    _check_migration_paths(config, head_tree.root, head.facts)
    workspace = Workspace(root=head_tree.root, config=config, head=head)
    if base is None:
        return workspace
    if not base.strip():
        # Path("") is the current directory: `--base "$UNSET"` would compare the release with
        # itself (or with whatever the current directory holds) and pass.
        raise ConfigError(
            "--base is empty: give a git ref or the previous release's directory (or leave "
            "--base out)"
        )
    base_dir = Path(base)
    if base_dir.is_dir():
        base_tree = working_tree(base_dir, config.exclude)
        workspace.changed = directory_changes(head_tree, base_tree)
    else:
        commit = resolve_base_ref(head_tree.root, base)
        base_tree = git_tree(head_tree.root, commit, config.exclude)
        workspace.changed = changed_paths(head_tree.root, commit)
    # What changed in a directory that could not be listed is unknown: it stays reported.
    workspace.changed.update(directory for directory, _ in head_tree.unlisted)
    # A compose file runs other images when the `.env` beside it changes (or goes).
    workspace.changed.update(compose_files_with_env(head.facts.paths, workspace.changed))
    # The previous release's directory may be called anything: the checked one names both.
    workspace.base = read_release(base_tree, root_name=head.facts.root_name)
    _use_given_dialect(config, workspace.base.facts)
    workspace.base_label = base
    # A GitLab pipeline is read with the files it includes: a change to one changes it all,
    # also to one that only the base's pipeline included (deleted, or moved out of a
    # wildcard). (Its module is loaded when a tree has GitLab files; see _LINK_STEPS.)
    gitlab = sys.modules.get("backout.sources.gitlab_includes")
    if gitlab is not None:
        workspace.changed.update(
            gitlab.pipeline_files_changed(workspace.changed, head.facts, workspace.base.facts)
        )
    # A Liquibase changeset is read from its changelog and the files of its `sqlFile`s: a
    # changed file changes the changesets that run it (their lines), and a new changeset its
    # files.
    sql_files = sys.modules.get("backout.sources.liquibase_sql_files")
    if sql_files is not None:
        base_facts = workspace.base.facts
        workspace.changed_lines = sql_files.changesets_with_changed_files(
            workspace.changed, head.facts, base_facts
        )
        workspace.changed.update(sql_files.sql_files_of_new_changesets(head.facts, base_facts))
        # An include of a changelog the change deleted now finds nothing: Liquibase stops.
        spans = sql_files.includes_of_changed_files(workspace.changed, head.facts)
        for path, lines in spans.items():
            workspace.changed_lines.setdefault(path, []).extend(lines)
    # A Terraform task definition reads its containers with file(): one that now reads another
    # file runs that file's images, though the file did not change.
    ecs_templates = sys.modules.get("backout.sources.ecs_templates")
    if ecs_templates is not None:
        workspace.changed.update(
            ecs_templates.container_files_of_new_reads(head.facts, workspace.base.facts)
        )
    # A Flux HelmRelease's `chartRef` takes its chart version from a source object, often in
    # another file: a release newly pointed at a floating source changes what it installs.
    gitops = sys.modules.get("backout.sources.gitops")
    if gitops is not None:
        spans = gitops.sources_of_new_references(head.facts, workspace.base.facts)
        for path, lines in spans.items():
            workspace.changed_lines.setdefault(path, []).extend(lines)
    return workspace


def _use_given_dialect(config: Config, facts: FactSet) -> None:
    """A ``sql-dialect`` the user set names the database Django's names are shortened for,
    over the backend the project's settings name (often the development database)."""
    django = sys.modules.get(_DJANGO)
    if config.sql_dialect_given and django is not None:
        django.forget_settings_backend(facts)


def _check_migration_paths(config: Config, root: Path, facts: FactSet) -> None:
    """Raise :class:`ConfigError` when a ``migrations`` path does not exist below ``root``.

    The paths keep only the migrations below them, relative to the checked path (as
    ``schema_model.ordered_migrations`` reads them): one that names nothing would keep none
    and switch the schema rules off without a word. The error names the nearest directory
    that holds migrations, when there is one.
    """
    for value in config.migrations:
        relative = value.strip("/").removeprefix("./")
        if not relative or relative == "." or (root / relative).exists():
            continue
        # Imported only on this error path: the migration facts pull in the schema model.
        from backout.sources.migration_facts import Migration

        directories = {m.location.path.rpartition("/")[0] or "." for m in facts.of(Migration)}
        best = nearest(relative, directories) or next(iter(closest(relative, directories, 1)), None)
        hint = f" (did you mean '{best}'?)" if best is not None else ""
        raise ConfigError(f"migrations path '{value}' does not exist below {root}{hint}")


def enabled_rules(config: Config, rules: Iterable[RuleRef] = ALL_RULES) -> list[type[Rule]]:
    """The rules that ``select``/``ignore`` leave on: only their modules are imported."""
    return [rule.load() for rule in rules if is_enabled(config, rule.code)]


def run_rules(workspace: Workspace, rules: Iterable[type[Rule]]) -> list[Finding]:
    """Run ``rules`` on the workspace's facts."""
    context = CheckContext(
        head=workspace.head.facts,
        config=workspace.config,
        base=workspace.base.facts if workspace.base else None,
        suppressions=workspace.head.suppressions,
    )
    findings: list[Finding] = []
    with _bulk_allocation():
        for rule in rules:
            findings.extend(rule().check(context))
    return findings


# Finding.sort_key's order (path, line, column, code, message), read by one C-level getter
# instead of a Python property per finding: half the sorting time on 14,000 findings.
REPORT_ORDER = operator.attrgetter(
    "location.path", "location.line", "location.column", "code", "message"
)


def finish(
    workspace: Workspace,
    findings: Iterable[Finding],
    rules: Iterable[type[Rule]],
) -> CheckResult:
    """Apply selection, per-file ignores, ``--base`` filtering and suppressions."""
    config = workspace.config
    rule_list = list(rules)
    codes = {rule.code for rule in rule_list}
    listed = list(findings)
    enabled = {code for code in {f.code for f in listed} & codes if is_enabled(config, code)}
    kept = [f for f in listed if f.code in enabled]
    split = apply_suppressions(kept, workspace.head.suppressions, codes)
    # Per-file ignores apply after the suppressions, so that they also cover the BK902
    # findings the suppression comments themselves produce (docs that show the syntax).
    active = _without_per_file_ignores(split.active, config)
    silenced = _without_per_file_ignores(split.suppressed, config)
    if workspace.changed is not None:
        changed, spans = workspace.changed, workspace.changed_lines
        active = [f for f in active if _is_changed(f.location, changed, spans)]
        silenced = [f for f in silenced if _is_changed(f.location, changed, spans)]
    return CheckResult(
        root=workspace.root,
        findings=sorted(active, key=REPORT_ORDER),
        suppressed=sorted(silenced, key=REPORT_ORDER),
        rules=[rule.meta() for rule in sorted(rule_list, key=lambda r: r.code)],
        files_read=workspace.head.files_read,
        base=workspace.base_label,
        fail_on=config.fail_on,
    )


def _is_changed(
    location: Location, changed: set[str], spans: dict[str, list[tuple[int, int]]]
) -> bool:
    """Whether ``location`` is in a changed file, or in a changed part of one."""
    if location.path in changed:
        return True
    return any(first <= location.line <= last for first, last in spans.get(location.path, ()))


def _without_per_file_ignores(findings: list[Finding], config: Config) -> list[Finding]:
    """``findings`` minus those that ``per-file-ignores`` switches off for their file."""
    if not config.per_file_ignores:
        return findings
    import pathspec  # ~25 ms of start-up, only for the configs that use per-file-ignores

    specs = [
        (pathspec.GitIgnoreSpec.from_lines([glob]), set(ignored))
        for glob, ignored in config.per_file_ignores.items()
    ]
    return [
        f
        for f in findings
        if not any(
            spec.match_file(f.location.path) and any(f.code.startswith(c) for c in ignored)
            for spec, ignored in specs
        )
    ]


def check(target: Path, config: Config, base: str | None = None) -> CheckResult:
    """``backout check``: every enabled static rule over the release at ``target``."""
    with _bulk_allocation():
        workspace = load_workspace(target, config, base)
        # The facts live until the report is written: set aside from the collector, they are
        # not traversed again by every collection the rules and the report trigger.
        gc.freeze()
        try:
            rules = enabled_rules(config)
            result = finish(workspace, run_rules(workspace, rules), rules)
            result.workspace = workspace
            return result
        finally:
            gc.unfreeze()
