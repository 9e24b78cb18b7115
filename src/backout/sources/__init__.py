"""Every source reader, named explicitly. A reader is the only code that parses files.

Choosing which readers read a file loads none of them: an entry of ``ALL_READERS`` holds the
reader's name, its test of a path (in :mod:`backout.sources.paths`, a light module) and where
its class is, and imports the reader's module the first time a file it wants is read. So a
check of SQL migrations never loads the Helm or CI readers, and importing one reader (or
:mod:`backout.sources.base`) does not import the others.

To add an input kind: write one module here with a class that has ``name``, ``wants(path)`` and
``read(file)`` (see :class:`backout.sources.base.Reader`), put the path test that ``wants``
calls in :mod:`backout.sources.paths`, and list the reader in ``ALL_READERS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from backout.sources import paths
from backout.sources.base import Fact, Reader, SourceFile


class ReaderLoadError(ImportError):
    """A reader's module could not be imported: a broken install, not one file's problem.

    Raised, never turned into an :class:`~backout.sources.base.Unreadable` fact: as a BK901
    finding it would vanish under a ``select`` without BK901 and the check would pass having
    read none of the reader's files.
    """


class LazyReader:
    """A reader known by its name and path test, its module imported on the first read."""

    def __init__(
        self, name: str, wants: Callable[[str], bool], module: str, class_name: str
    ) -> None:
        self.name = name
        self.wants = wants
        """True if the file at this root-relative POSIX path is this reader's to read."""
        self.module = f"backout.sources.{module}"
        self.class_name = class_name
        self._reader: Reader | None = None

    def load(self) -> Reader:
        """The reader itself, its module imported if this is its first use."""
        if self._reader is None:
            try:
                reader_class = getattr(importlib.import_module(self.module), self.class_name)
            except Exception as exc:
                raise ReaderLoadError(
                    f"the {self.name} reader ({self.module}) could not be loaded: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            self._reader = reader_class()
        return self._reader

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """The reader's facts for ``file``."""
        return self.load().read(file)


ALL_READERS: tuple[LazyReader, ...] = (
    LazyReader("kubernetes", paths.is_manifest, "manifests", "ManifestReader"),
    LazyReader("compose", paths.is_compose_file, "compose", "ComposeReader"),
    LazyReader("compose .env", paths.is_compose_env, "compose_env", "ComposeEnvReader"),
    LazyReader("kustomize", paths.is_kustomization, "kustomize", "KustomizeReader"),
    LazyReader("dockerfile", paths.is_dockerfile, "dockerfile", "DockerfileReader"),
    LazyReader("ci", paths.is_ci_file, "ci", "CiReader"),
    LazyReader("script", paths.is_script, "ci", "ScriptReader"),
    LazyReader("SQL migration", paths.is_sql_file, "migrations", "MigrationFileReader"),
    LazyReader(
        "migration tool configuration", paths.is_tool_config, "tool_config", "ToolConfigReader"
    ),
    LazyReader(paths.SPRING_READER, paths.is_spring_config, "spring_config", "SpringConfigReader"),
    LazyReader(
        paths.LIQUIBASE_READER,
        paths.is_liquibase_changelog,
        "liquibase",
        "LiquibaseChangelogReader",
    ),
    LazyReader("Alembic", paths.is_alembic_revision, "alembic", "AlembicReader"),
    LazyReader(
        "Django migration", paths.is_django_migration, "django_migrations", "DjangoMigrationReader"
    ),
    LazyReader(
        "Django settings", paths.is_django_settings, "django_settings", "DjangoSettingsReader"
    ),
    LazyReader("ECS task definition", paths.is_json_file, "ecs", "EcsTaskDefinitionReader"),
    LazyReader(
        "ECS task definition template",
        paths.is_ecs_template,
        "ecs_templates",
        "EcsTemplateReader",
    ),
    LazyReader("retention", paths.is_retention_file, "retention", "RetentionReader"),
    LazyReader("lock", paths.is_lock_file, "lockfile", "LockReader"),
    LazyReader("helm", paths.is_helm_file, "helm", "HelmReader"),
    LazyReader("runbook", paths.is_runbook, "runbook", "RunbookReader"),
)
