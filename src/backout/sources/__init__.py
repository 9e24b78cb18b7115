"""Every source reader, named explicitly. A reader is the only code that parses files.

To add an input kind: write one module here with a class that has ``name``, ``wants(path)``
and ``read(file)`` (see :class:`backout.sources.base.Reader`), and list it in ``ALL_READERS``.
"""

from __future__ import annotations

from backout.sources.alembic import AlembicReader
from backout.sources.base import Reader
from backout.sources.ci import CiReader, ScriptReader
from backout.sources.compose import ComposeReader
from backout.sources.django_migrations import DjangoMigrationReader
from backout.sources.dockerfile import DockerfileReader
from backout.sources.helm import HelmReader
from backout.sources.kustomize import KustomizeReader
from backout.sources.lockfile import LockReader
from backout.sources.manifests import ManifestReader
from backout.sources.migrations import MigrationFileReader
from backout.sources.retention import RetentionReader
from backout.sources.runbook import RunbookReader

ALL_READERS: tuple[Reader, ...] = (
    ManifestReader(),
    ComposeReader(),
    KustomizeReader(),
    DockerfileReader(),
    CiReader(),
    ScriptReader(),
    MigrationFileReader(),
    AlembicReader(),
    DjangoMigrationReader(),
    RetentionReader(),
    LockReader(),
    HelmReader(),
    RunbookReader(),
)
