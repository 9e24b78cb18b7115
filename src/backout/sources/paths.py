"""Which files each reader reads, told by their path alone.

Kept apart from the readers so that choosing the readers of a tree's files loads none of them:
:data:`backout.sources.ALL_READERS` pairs each reader's name with its test here, and a reader's
module (its fact classes, its patterns, its parser) is imported the first time a file it wants
is read. The readers' own ``wants`` methods call the same tests.
"""

from __future__ import annotations

import re

LOCK_NAME = "backout.lock"
LIQUIBASE_READER = "Liquibase changelog"
"""The Liquibase changelog reader's name (here, so the engine can know it without loading it)."""
SPRING_READER = "Spring Boot configuration"
MARKDOWN_SUFFIXES = (".md", ".markdown")
RST_SUFFIXES = (".rst",)
_YAML_SUFFIXES = (".yaml", ".yml")

_COMPOSE_FILE = re.compile(r"(?:docker-)?compose[^/]*\.ya?ml", re.IGNORECASE)
_COMPOSE_OR_KUSTOMIZE = re.compile(
    r"(?:docker-compose[^/]*|compose[^/]*|kustomization)\.ya?ml", re.IGNORECASE
)
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_VALUES_NAME = re.compile(r"values(?:[-._][\w.-]+)?\.ya?ml")
_SKIPPED_JSON = ("package-lock.json", "composer.lock", "tsconfig.json")


def is_manifest(path: str) -> bool:
    """YAML files that are not compose or Kustomize files.

    A file under a ``templates/`` directory is wanted too: whether it is a Helm template is
    for its content to say (see :func:`in_templates_folder`).
    """
    if not path.endswith(_YAML_SUFFIXES):
        return False
    return not _COMPOSE_OR_KUSTOMIZE.fullmatch(path.rpartition("/")[2])


def in_templates_folder(path: str) -> bool:
    """True for a file below a directory named ``templates`` (where Helm keeps templates)."""
    return "templates" in path.split("/")[:-1]


def is_compose_file(path: str) -> bool:
    """``docker-compose*.y*ml`` and ``compose*.y*ml`` files."""
    # The suffix first, here and in the other YAML tests: choosing the readers of a file
    # runs every test on every path, and most paths of a large tree are not YAML at all.
    # Compose names are matched in any case (``docker-compose.YML``), so is the suffix here.
    if not path[-5:].lower().endswith(_YAML_SUFFIXES):
        return False
    return _COMPOSE_FILE.fullmatch(path.rpartition("/")[2]) is not None


def is_compose_env(path: str) -> bool:
    """Files named ``.env``: compose's variables for the compose files beside them."""
    return path.rpartition("/")[2] == ".env"


def compose_files_with_env(paths: set[str], env_files: set[str]) -> set[str]:
    """The compose files of ``paths`` that take variables from one of ``env_files``: the
    ``.env`` in their directory."""
    directories = {path.rpartition("/")[0] for path in env_files if is_compose_env(path)}
    if not directories:
        return set()
    return {p for p in paths if is_compose_file(p) and p.rpartition("/")[0] in directories}


def is_kustomization(path: str) -> bool:
    """``kustomization.y*ml`` and ``Kustomization`` files."""
    return path.rpartition("/")[2] in KUSTOMIZATION_NAMES


def is_dockerfile(path: str) -> bool:
    """``Dockerfile``, ``Containerfile``, ``*.Dockerfile``, ``Dockerfile.*``."""
    base = path.rpartition("/")[2]
    if base in ("Dockerfile", "Containerfile") or base.endswith(".Dockerfile"):
        return True
    return base.startswith("Dockerfile.") and not base.endswith(".dockerignore")


def is_github_workflow(path: str) -> bool:
    """``.github/workflows/*.yml`` (GitHub reads that folder only, not subfolders)."""
    folder, _, name = path.rpartition("/")
    return (folder == ".github/workflows" or folder.endswith("/.github/workflows")) and (
        name.endswith(_YAML_SUFFIXES)
    )


def is_composite_action(path: str) -> bool:
    """``action.yml`` at the root or below ``.github/`` (local composite actions)."""
    name = path.rpartition("/")[2]
    return name in ("action.yml", "action.yaml") and (
        "/" not in path or path.startswith(".github/") or "/.github/" in path
    )


def is_gitlab_pipeline(path: str) -> bool:
    """``.gitlab-ci.yml``, ``*.gitlab-ci.yml`` and files under ``.gitlab/ci/``."""
    name = path.rpartition("/")[2]
    return (
        name in (".gitlab-ci.yml", ".gitlab-ci.yaml")
        or name.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml"))
        or (
            (path.startswith(".gitlab/ci/") or "/.gitlab/ci/" in path)
            and name.endswith(_YAML_SUFFIXES)
        )
    )


def maybe_included_gitlab_file(path: str) -> bool:
    """A YAML file that a GitLab pipeline may ``include: local:`` from anywhere in the repo.

    Only its content tells (the CI reader looks for GitLab jobs in it); Helm templates and
    ``.github/`` files never are.
    """
    if not path.endswith(_YAML_SUFFIXES) or path.startswith(".github/") or "/.github/" in path:
        return False
    return "templates" not in path.split("/")[:-1]


def is_ci_file(path: str) -> bool:
    """Workflow, composite-action and GitLab pipeline files, and YAML GitLab may include."""
    return path.endswith(_YAML_SUFFIXES) and (
        is_github_workflow(path)
        or is_composite_action(path)
        or is_gitlab_pipeline(path)
        or maybe_included_gitlab_file(path)
    )


def is_script(path: str) -> bool:
    """Shell scripts and Makefiles: ``*.sh``, ``*.bash``, ``*.mk``, ``Makefile``."""
    name = path.rpartition("/")[2]
    return name.endswith((".sh", ".bash", ".mk")) or name in ("Makefile", "makefile", "GNUmakefile")


def is_sql_file(path: str) -> bool:
    """Every ``.sql`` file: dbmate and Liquibase files are told apart by their content."""
    return path.lower().endswith(".sql")


TOOL_CONFIG_NAMES = ("flyway.conf", "flyway.toml", "liquibase.properties", "pom.xml")


def is_tool_config(path: str) -> bool:
    """Flyway's ``flyway.conf`` and ``flyway.toml``, Maven's ``pom.xml`` (for its Flyway
    plugin), Liquibase's ``liquibase.properties``."""
    return path.rpartition("/")[2] in TOOL_CONFIG_NAMES


_SPRING_CONFIG_NAME = re.compile(r"application(?:-[^/]+)?\.(?:properties|ya?ml)")
SPRING_RESOURCES = "src/main/resources"


def is_spring_config(path: str) -> bool:
    """Spring Boot's ``application.properties``/``.yml``/``.yaml`` and their profile files
    (``application-dev.yml``) where Spring finds them on the classpath: in a module's
    ``src/main/resources/`` or its ``config/`` folder."""
    folder, _, name = path.rpartition("/")
    if not name.startswith("application") or not _SPRING_CONFIG_NAME.fullmatch(name):
        return False
    if folder.endswith("/config") or folder == "config":
        folder = folder[: -len("config")].rstrip("/")
    return folder == SPRING_RESOURCES or folder.endswith("/" + SPRING_RESOURCES)


def is_alembic_revision(path: str) -> bool:
    """Python files in a ``versions/`` directory, Alembic's layout."""
    return path.endswith(".py") and "versions/" in path and not path.endswith("__init__.py")


def is_django_migration(path: str) -> bool:
    """Python files in a ``migrations/`` package, Django's layout."""
    parts = path.split("/")
    return (
        path.endswith(".py")
        and len(parts) >= 2
        and parts[-2] == "migrations"
        and parts[-1] != "__init__.py"
    )


def is_django_settings(path: str) -> bool:
    """Python files that may be a Django project's settings: ``settings.py`` (and
    ``settings_<name>.py``) or a module of a ``settings/`` package, outside ``migrations/``."""
    if not path.endswith(".py") or is_django_migration(path):
        return False
    parts = path.split("/")
    return parts[-1].startswith("settings") or "settings" in parts[:-1]


def is_retention_file(path: str) -> bool:
    """JSON files (recognised by content), Terraform files, and YAML files that may be
    CloudFormation templates (recognised by content)."""
    base = path.rsplit("/", 1)[-1]
    if base.endswith((".tf", ".template", *_YAML_SUFFIXES)):
        return True
    return base.endswith(".json") and base not in _SKIPPED_JSON


def is_ecs_template(path: str) -> bool:
    """Terraform files, and YAML, JSON and ``.template`` files that may be CloudFormation
    templates defining ECS task definitions (recognised by content)."""
    return is_retention_file(path)


def is_json_file(path: str) -> bool:
    """JSON files but lock files and ``tsconfig.json``: what they are is for their content to
    say (an ECS task definition holds ``"containerDefinitions"``)."""
    return path.endswith(".json") and path.rpartition("/")[2] not in _NOT_CHANGELOGS


_CHANGELOG_SUFFIXES = (".xml", ".yaml", ".yml", ".json")
_NOT_CHANGELOGS = (*_SKIPPED_JSON, "pom.xml", "package.json")


def is_liquibase_changelog(path: str) -> bool:
    """XML, YAML and JSON files: Liquibase changelogs are told apart by their content (the
    reader looks for ``databaseChangeLog`` in the bytes before it parses anything)."""
    if not path.endswith(_CHANGELOG_SUFFIXES):
        return False
    return path.rpartition("/")[2] not in _NOT_CHANGELOGS


def is_lock_file(path: str) -> bool:
    """Only files named ``backout.lock``."""
    return path.rsplit("/", 1)[-1] == LOCK_NAME


def chart_of_template(path: str) -> tuple[str, str] | None:
    """``(chart directory, folder)`` for a file under a chart's ``templates/`` or ``crds/``.

    A directory right below ``charts/`` is a subchart, whatever its name: kube-prometheus-stack
    ships its CRDs as a subchart ``charts/crds/`` (``Chart.yaml``, ``crds/``, ``templates/``),
    whose own ``crds/`` folder is the CRD folder, not the chart directory itself.
    """
    parts = path.split("/")
    for folder in ("templates", "crds"):
        for index in range(len(parts) - 2, -1, -1):
            if parts[index] == folder and (index == 0 or parts[index - 1] != "charts"):
                return "/".join(parts[:index]), folder
    return None


def is_values_file(path: str) -> bool:
    """``values.yaml``, ``values-prod.yaml``, ``values.staging.yaml`` (not inside templates)."""
    return bool(_VALUES_NAME.fullmatch(path.rpartition("/")[2])) and chart_of_template(path) is None


def is_helm_file(path: str) -> bool:
    """Chart files, template and CRD files, values files."""
    if not path.endswith((*_YAML_SUFFIXES, ".tpl")):
        return False
    name = path.rpartition("/")[2]
    if name == "Chart.yaml":
        return True
    if chart_of_template(path) is not None:
        return name.endswith((".yaml", ".yml", ".tpl"))
    return is_values_file(path)


def is_runbook(path: str) -> bool:
    """Markdown and rst files, and any ``RUNBOOK*`` file."""
    lower = path.lower()
    base = lower.rsplit("/", 1)[-1]
    return lower.endswith(MARKDOWN_SUFFIXES + RST_SUFFIXES) or base.startswith("runbook")
