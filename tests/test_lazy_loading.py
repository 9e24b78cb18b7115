"""Start-up loads only what a run needs: the readers of the files read, the rules enabled.

Each run here is a fresh interpreter, so ``sys.modules`` shows what it imported. The light list
of readers (names and path tests) must agree with the reader classes it stands for, and the
read pool's workers must read files whose reader their parent has not imported yet.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import backout.sources
from backout.sources import ALL_READERS, LazyReader
from tests.conftest import git

# Paths each reader wants or must not want: one or more of each kind, and near misses.
_PATHS = (
    "k8s/deploy.yaml",
    "k8s/deploy.yml",
    "docker-compose.yml",
    "compose.override.yaml",
    "deploy/.env",
    ".env.example",
    "kustomization.yaml",
    "overlays/prod/Kustomization",
    "Dockerfile",
    "api.Dockerfile",
    "Dockerfile.dev",
    "Dockerfile.dockerignore",
    "Containerfile",
    "conf/flyway.conf",
    "flyway.toml",
    "db/liquibase.properties",
    "flyway.conf.example",
    "shop/pom.xml",
    "src/main/resources/application.yml",
    "shop/src/main/resources/config/application-prod.properties",
    "src/test/resources/application.yml",
    "charts/shop/Chart.yaml",
    "charts/shop/values.yaml",
    "charts/shop/values-prod.yaml",
    "charts/shop/templates/deployment.yaml",
    "charts/shop/templates/_helpers.tpl",
    "charts/shop/crds/crd.yaml",
    ".github/workflows/deploy.yml",
    ".github/workflows/sub/deploy.yml",
    ".github/actions/deploy/action.yml",
    "action.yaml",
    ".github/dependabot.yml",
    ".gitlab-ci.yml",
    "ci/deploy.gitlab-ci.yml",
    ".gitlab/ci/deploy.yml",
    "ci/included.yml",
    "deploy.sh",
    "scripts/release.bash",
    "Makefile",
    "rules.mk",
    "migrations/0001_init.up.sql",
    "migrations/V2__add.SQL",
    "alembic/versions/abc_add.py",
    "alembic/versions/__init__.py",
    "shop/migrations/0002_add.py",
    "shop/migrations/__init__.py",
    "shop/settings.py",
    "config/settings/base.py",
    "lifecycle-policy.json",
    "package-lock.json",
    "main.tf",
    "docs/RUNBOOK.md",
    "docs/rollback.rst",
    "RUNBOOK",
    "backout.lock",
    "src/main/resources/db/changelog/db.changelog-master.xml",
    "pom.xml",
    "src/app.py",
    "README.txt",
)


def _modules_after(script: str, *args: str, prefix: str = "backout") -> set[str]:
    """The ``prefix`` modules a fresh interpreter has imported after running ``script``."""
    report = f"{script}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    done = subprocess.run(
        [sys.executable, "-c", report, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    modules: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return {m for m in modules if m.startswith(prefix)}


@pytest.mark.parametrize("reader", ALL_READERS, ids=lambda r: r.name)
def test_light_reader_entry_agrees_with_its_reader(reader: LazyReader) -> None:
    loaded = reader.load()
    assert type(loaded).__name__ == reader.class_name
    assert loaded.name == reader.name
    assert [p for p in _PATHS if reader.wants(p)] == [p for p in _PATHS if loaded.wants(p)]
    assert any(reader.wants(p) for p in _PATHS), "no sample path for this reader"


def test_every_reader_class_is_listed() -> None:
    """A reader class left out of ALL_READERS would never read a file: none is."""
    found = set()
    for module_info in pkgutil.iter_modules(backout.sources.__path__):
        module = importlib.import_module(f"backout.sources.{module_info.name}")
        for name, value in inspect.getmembers(module, inspect.isclass):
            if value.__module__ == module.__name__ and name.endswith("Reader"):
                found.add((module.__name__, name))
    found.discard(("backout.sources.base", "Reader"))  # the protocol the readers follow
    assert found == {(reader.module, reader.class_name) for reader in ALL_READERS}


def test_importing_the_cli_imports_no_reader_and_no_rule() -> None:
    modules = _modules_after("import backout.cli")
    assert {m for m in modules if m.startswith("backout.sources.")} == {
        "backout.sources.base",
        "backout.sources.paths",
    }
    assert {m for m in modules if m.startswith("backout.rules.")} == {"backout.rules.base"}


def test_importing_one_reader_does_not_import_the_others() -> None:
    modules = _modules_after("import backout.sources.dockerfile")
    assert "backout.sources.helm" not in modules
    assert "backout.sources.ci" not in modules
    assert "backout.sources.sql" not in modules


_CHECK = """
import sys
from backout.cli import main
try:
    main.main(["check", sys.argv[1], "--output-format", "concise"], standalone_mode=False)
except SystemExit:
    pass
"""


def _migrations_only(root: Path, select: str | None) -> Path:
    migrations = root / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_users.up.sql").write_text("CREATE TABLE users (id int);\n")
    (migrations / "0001_users.down.sql").write_text("DROP TABLE users;\n")
    (migrations / "0002_name.up.sql").write_text("ALTER TABLE users ADD name text NOT NULL;\n")
    if select is not None:
        (root / "backout.toml").write_text(f'select = ["{select}"]\n')
    return root


def test_check_of_schema_rules_loads_no_image_rule_nor_their_readers(tmp_path: Path) -> None:
    modules = _modules_after(_CHECK, str(_migrations_only(tmp_path, "BK2")))
    assert "backout.sources.migrations" in modules
    assert "backout.rules.schema.BK201_not_null_column_without_default" in modules
    assert not {"backout.sources.helm", "backout.sources.ci", "backout.sources.manifests"} & modules
    image_rules = ("backout.rules.images", "backout.rules.artifacts")
    assert not any(m.startswith(image_rules) for m in modules)


def test_check_of_every_rule_loads_every_rule(tmp_path: Path) -> None:
    """The control for the test above: the image rules import the Helm and CI readers."""
    modules = _modules_after(_CHECK, str(_migrations_only(tmp_path, None)))
    assert {"backout.sources.helm", "backout.sources.ci"} <= modules
    assert "backout.rules.images.BK101_mutable_image_reference" in modules


def test_check_without_sql_files_never_loads_pglast(tmp_path: Path) -> None:
    """Every rule on (BK901 among them), no SQL file: neither the SQL reader nor pglast loads."""
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
        "spec:\n  containers:\n  - name: app\n    image: shop:latest\n"
    )
    modules = _modules_after(_CHECK, str(tmp_path), prefix="")
    assert "backout.rules.inputs.BK901_unreadable_input" in modules
    assert "backout.sources.manifests" in modules
    assert not {"pglast", "backout.sources.sql", "backout.sources.migrations"} & modules


_POOL = """
import sys
from pathlib import Path
from backout import engine
from backout.discovery import git_tree, resolve_base_ref, working_tree
from backout.sources import ALL_READERS

root = Path(sys.argv[1])
tree = working_tree(root, ()) if sys.argv[2] == "working" else git_tree(
    root, resolve_base_ref(root, "HEAD"), ()
)
assert "backout.sources.manifests" not in sys.modules
pooled = engine._read_in_pool(tree, workers=2)
serial = engine.read_release(tree, list(ALL_READERS))  # not ALL_READERS itself: no pool
assert sorted(repr(f) for _, facts, _ in pooled for f in facts) == sorted(map(repr, serial.facts))
assert any(type(f).__name__ == "ImageUse" for _, facts, _ in pooled for f in facts)
"""


@pytest.mark.parametrize("kind", ["working", "git"])
def test_pool_workers_load_the_readers_their_parent_has_not(tmp_path: Path, kind: str) -> None:
    """Every file is read, whichever process reads it. On a working tree the parent loads only
    the readers of the paths it reads itself (SQL files, sorted last), and the manifests, first,
    are read by a worker that imports their reader itself; on a git ref the parent loads every
    reader the wanted blobs need before the pool starts."""
    root = _migrations_only(tmp_path / "repo", None)
    for number in range(3, 460):
        (root / "db" / "migrations" / f"{number:04}_c.up.sql").write_text(
            f"ALTER TABLE users ADD c{number} int;\n"
        )
    (root / "a-k8s").mkdir()
    for number in range(20):
        (root / "a-k8s" / f"pod{number}.yaml").write_text(
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{number}\n"
            "spec:\n  containers:\n  - name: app\n    image: shop:latest\n"
        )
    if kind == "git":
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "release")
    subprocess.run([sys.executable, "-c", _POOL, str(root), kind], check=True, timeout=120)


_BROKEN_SQL_READER = """
import sys
sys.modules["pglast"] = None  # as a broken install would: the SQL reader cannot be imported
from backout.cli import run
sys.argv = ["backout", "check", sys.argv[1], "--output-format", "concise"]
run()
"""


@pytest.mark.parametrize("files", [3, 460], ids=["serial", "pool"])
def test_a_reader_that_cannot_be_imported_is_an_error_not_a_skip(
    tmp_path: Path, files: int
) -> None:
    """Not a BK901 finding per file, which `select = ["BK2"]` would hide: the check would pass
    having read no migration at all."""
    root = _migrations_only(tmp_path, "BK2")
    for number in range(3, files):
        (root / "db" / "migrations" / f"{number:04}_c.up.sql").write_text(
            f"ALTER TABLE users ADD c{number} int;\n"
        )
    _assert_one_error_line(_BROKEN_SQL_READER, root, "the SQL migration reader")


_BROKEN_RULE = """
import sys
# As a broken install would: BK201's module cannot be imported.
sys.modules["backout.rules.schema.BK201_not_null_column_without_default"] = None
from backout.cli import run
sys.argv = ["backout", "check", sys.argv[1], "--output-format", "concise"]
run()
"""


def test_a_rule_that_cannot_be_imported_is_an_error_not_findings(tmp_path: Path) -> None:
    """Exit 2 and one line, not a traceback's exit 1, which CI would read as findings."""
    root = _migrations_only(tmp_path, "BK2")
    _assert_one_error_line(_BROKEN_RULE, root, "rule BK201 (")


def _assert_one_error_line(script: str, root: Path, names: str) -> None:
    """``script`` checking ``root`` exits 2 with one error line that starts by ``names``."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"backout: error: {names}"), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


_DRILL = """
import os, sys
os.chdir(sys.argv[1])
from backout.cli import main
try:
    main.main(["drill", "--base", "HEAD~1", "--format", "json"], standalone_mode=False)
except SystemExit:
    pass
"""


def test_drill_loads_only_the_drill_rules(tmp_path: Path) -> None:
    """BK208, BK211 and BK212 are what a drill reports; no other rule module is imported."""
    from tests.drill_repos import BAD_DOWN, BAD_UP, make_repo

    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    modules = _modules_after(_DRILL, str(repo), prefix="backout.rules.")
    assert {m.rsplit(".", 1)[1][:5] for m in modules if ".BK" in m} == {
        "BK208",
        "BK211",
        "BK212",
    }
