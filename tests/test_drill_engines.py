"""Alembic and Django projects drilled through their own engines (never reimplemented), on
SQLite and on the PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drill_repos import PG_URL, backout, codes, git

ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
engine = engine_from_config(
    config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
    poolclass=pool.NullPool,
)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""

ALEMBIC_BASE = """
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None


def upgrade():
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100), nullable=False),
        sa.Column("legacy_flag", sa.Integer),
    )


def downgrade():
    op.drop_table("customers")
"""

# The release drops a column and its downgrade does nothing (pytest-alembic issue #35).
ALEMBIC_RELEASE = """
from alembic import op

revision = "b2"
down_revision = "a1"


def upgrade():
    op.drop_column("customers", "legacy_flag")


def downgrade():
    pass
"""


def _commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def _init(repo: Path, dialect: str) -> None:
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "drill@example.com")
    git(repo, "config", "user.name", "drill")
    (repo / "backout.toml").write_text(f'sql-dialect = "{dialect}"\n')


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_alembic_release_through_alembic(tmp_path: Path, where: str) -> None:
    repo = tmp_path / "app"
    _init(repo, "sqlite" if where == "sqlite" else "postgres")
    versions = repo / "alembic" / "versions"
    versions.mkdir(parents=True)
    (repo / "alembic" / "env.py").write_text(ENV_PY)
    (versions / "a1_customers.py").write_text(ALEMBIC_BASE)
    _commit_all(repo, "base")
    (versions / "b2_drop_flag.py").write_text(ALEMBIC_RELEASE)
    _commit_all(repo, "release")
    flags = ["--database", PG_URL] if where == "postgresql" else []
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise", *flags)
    assert result.returncode == 1, result.stdout + result.stderr
    found = codes(result.stdout)
    assert "BK211" in found
    assert "BK212" in found
    assert "column legacy_flag is missing" in result.stdout
    assert "alembic/versions/b2_drop_flag.py" in result.stdout


def _branch(revision: str, column: str, downgrade: str) -> str:
    return f"""
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "a1"


def upgrade():
    op.add_column("customers", sa.Column("{column}", sa.Integer))


def downgrade():
    {downgrade}
"""


def _alembic_project(tmp_path: Path) -> tuple[Path, Path]:
    """A git repository with an Alembic project at its first revision: (repo, versions)."""
    repo = tmp_path / "app"
    _init(repo, "sqlite")
    versions = repo / "alembic" / "versions"
    versions.mkdir(parents=True)
    (repo / "alembic" / "env.py").write_text(ENV_PY)
    (versions / "a1_customers.py").write_text(ALEMBIC_BASE)
    return repo, versions


def test_alembic_release_of_two_branches(tmp_path: Path) -> None:
    """Two heads on one parent: each branch is applied and reversed on its own (a plain
    ``alembic downgrade a1`` would undo both), and both are judged as the release."""
    repo, versions = _alembic_project(tmp_path)
    drop_score = 'op.drop_column("customers", "score")'
    (versions / "b1_score.py").write_text(_branch("b1", "score", drop_score))
    (versions / "b2_rank.py").write_text(_branch("b2", "rank", "pass"))
    result, _ = backout(repo, "drill", "--format", "concise")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "b2_rank.py" in result.stdout and "BK212" in codes(result.stdout)
    assert "column rank" in result.stdout, result.stdout
    assert "score" not in result.stdout, result.stdout
    check, _ = backout(repo, "check", "--output-format", "concise", "--select", "BK207")
    assert "b2_rank.py" in check.stdout and "b1_score.py" not in check.stdout, check.stdout


def test_alembic_release_ending_in_a_merge_revision(tmp_path: Path) -> None:
    """Two branches and the empty merge that joins them are the release: each goes up and
    down on its own (`downgrade <merge>@-1` is an ambiguous walk: a false BK212)."""
    repo, versions = _alembic_project(tmp_path)
    drop_score = 'op.drop_column("customers", "score")'
    (versions / "b1_score.py").write_text(_branch("b1", "score", drop_score))
    drop_rank = 'op.drop_column("customers", "rank")'
    (versions / "b2_rank.py").write_text(_branch("b2", "rank", drop_rank))
    (versions / "m3_merge.py").write_text(
        'revision = "m3"\ndown_revision = ("b1", "b2")\n\n\n'
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    result, _ = backout(repo, "drill", "--format", "concise")
    assert "BK212" not in codes(result.stdout), result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr


DJANGO_BASE = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Customer",
            fields=[
                ("id", models.AutoField(primary_key=True)),
                ("email", models.CharField(max_length=100)),
                ("legacy_flag", models.IntegerField(null=True)),
            ],
        ),
    ]
"""

# Reversible for Django, yet the values of the removed field do not come back.
DJANGO_RELEASE = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shopapp", "0001_initial")]
    operations = [migrations.RemoveField(model_name="customer", name="legacy_flag")]
"""


def _django_site(tmp_path: Path, where: str) -> tuple[Path, Path]:
    """A git repository with the app ``shopapp`` at its first migration: (repo, app)."""
    repo = tmp_path / "site"
    _init(repo, "sqlite" if where == "sqlite" else "postgres")
    app = repo / "shopapp"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "migrations" / "0001_initial.py").write_text(DJANGO_BASE)
    return repo, app


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_django_release_through_django(tmp_path: Path, where: str) -> None:
    repo, app = _django_site(tmp_path, where)
    _commit_all(repo, "base")
    (app / "migrations" / "0002_remove_flag.py").write_text(DJANGO_RELEASE)
    _commit_all(repo, "release")
    flags = ["--database", PG_URL] if where == "postgresql" else []
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise", *flags)
    assert result.returncode == 1, result.stdout + result.stderr
    found = codes(result.stdout)
    assert "BK211" in found
    assert "BK208" in found
    assert "shopapp_customer" in result.stdout
    assert "shopapp/migrations/0002_remove_flag.py" in result.stdout


# Django's model `default` fills the existing rows, then Django drops the database default
# (`ALTER COLUMN … DROP DEFAULT`): the old release's INSERTs leave the column out and fail.
DJANGO_ADD_WITH_MODEL_DEFAULT = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shopapp", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="customer", name="score", field=models.IntegerField(default=0)
        ),
    ]
"""


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_django_model_default_is_no_database_default(tmp_path: Path, where: str) -> None:
    """What the drill proves on the real engine, `check` says without it (BK201)."""
    repo, app = _django_site(tmp_path, where)
    (app / "migrations" / "0002_score.py").write_text(DJANGO_ADD_WITH_MODEL_DEFAULT)
    flags = ["--database", PG_URL] if where == "postgresql" else []
    drill, _ = backout(repo, "drill", "--format", "concise", *flags)
    assert "BK211" in codes(drill.stdout), drill.stdout + drill.stderr
    assert "score" in drill.stdout
    check, _ = backout(repo, "check", "--output-format", "concise", "--select", "BK201")
    assert codes(check.stdout) == ["BK201"], check.stdout
    assert "shopapp/migrations/0002_score.py:9:41:" in check.stdout


# A RunPython without reverse_code (Django refuses to unapply it) and one whose reverse
# function raises: Python errors, not the database's.
DJANGO_RUN_PYTHON = """
from django.db import migrations


def dedupe(apps, schema_editor):
    pass


def restore(apps, schema_editor):
    raise ValueError("cannot restore the duplicates")


class Migration(migrations.Migration):
    dependencies = [("shopapp", "0001_initial")]
    operations = [
        migrations.RunPython({forwards}),
    ]
"""


@pytest.mark.parametrize(
    ("operation", "error", "line"),
    [
        ("dedupe", "Operation <RunPython <function dedupe>> in shopapp.0002_dedupe is not", 16),
        ("dedupe, restore", "ValueError: cannot restore the duplicates", 10),
    ],
    ids=["no-reverse", "reverse-raises"],
)
@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_django_python_down_failure_names_no_statement(
    tmp_path: Path, where: str, operation: str, error: str, line: int
) -> None:
    repo, app = _django_site(tmp_path, where)
    _commit_all(repo, "base")
    (app / "migrations" / "0002_dedupe.py").write_text(
        DJANGO_RUN_PYTHON.replace("{forwards}", operation)
    )
    _commit_all(repo, "release")
    flags = ["--database", PG_URL] if where == "postgresql" else []
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise", *flags)
    down = [line for line in result.stdout.splitlines() if "the down migration of" in line]
    assert len(down) == 1, result.stdout + result.stderr
    assert down[0].startswith(f"shopapp/migrations/0002_dedupe.py:{line}:"), down
    assert error in down[0]
    assert "statement:" not in down[0]
