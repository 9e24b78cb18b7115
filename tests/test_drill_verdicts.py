"""Wrong verdicts the drill used to give, each on the server where it was found: seeding that
the base schema rejected (so nothing was probed), column properties and views the comparison
did not see, and narrowings the seeded values could not show. These tests FAIL (never skip)
when a server is missing, and check that the drill database is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drill_repos import (
    MARIADB_URL,
    PG_URL,
    backout,
    codes,
    made_by,
    make_repo,
    mariadb_drill_databases,
    pg_drill_databases,
)

_LISTERS = {PG_URL: pg_drill_databases, MARIADB_URL: mariadb_drill_databases}


def _drill(repo: Path, url: str | None, dialect: str = "postgres") -> tuple[str, str, int]:
    """Drill ``repo`` (on ``url``, else SQLite); stdout, stderr and the exit code, after
    checking that the drill database is gone."""
    flags = ["--database", url] if url else []
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise", *flags)
    if url:
        assert made_by(pid, _LISTERS[url]()) == []
    return result.stdout, result.stderr, result.returncode


def test_mariadb_json_column_is_seeded_and_the_insert_probed(tmp_path: Path) -> None:
    # MariaDB's JSON is LONGTEXT with CHECK (json_valid(...)): text that is not JSON was
    # rejected, nothing was seeded or probed, and the drill said "No rollback hazards".
    base = (
        "CREATE TABLE customer (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "email VARCHAR(190) NOT NULL, settings JSON NULL);\n",
        "DROP TABLE customer;\n",
    )
    up = "ALTER TABLE customer ADD COLUMN tier VARCHAR(10) NOT NULL;\n"
    repo = make_repo(tmp_path, up, "ALTER TABLE customer DROP COLUMN tier;\n", "mysql", base)
    stdout, stderr, code = _drill(repo, MARIADB_URL)
    assert code == 1, stdout + stderr
    assert codes(stdout) == ["BK211"], stdout
    assert "Field 'tier' doesn't have a default value" in stdout
    assert "not seeded" not in stderr and "not probed" not in stderr, stderr


def test_a_table_the_probe_cannot_write_on_the_base_schema_is_said_not_probed(
    tmp_path: Path,
) -> None:
    # No seeded value satisfies this CHECK: the INSERT probe fails on the base schema, and a
    # clean result must not hide that the table's writes were never tried.
    base = (
        "CREATE TABLE codes (id integer PRIMARY KEY, code text NOT NULL "
        "CHECK (length(code) = 7));\n",
        "DROP TABLE codes;\n",
    )
    up = "ALTER TABLE codes ADD COLUMN note text;\n"
    repo = make_repo(tmp_path, up, "ALTER TABLE codes DROP COLUMN note;\n", "sqlite", base)
    stdout, stderr, code = _drill(repo, None)
    assert code == 0, stdout + stderr
    assert "drill: warning: table codes was not probed: the old release's INSERT fails" in stderr
    assert stderr.rstrip().splitlines()[-1].startswith("drill: warning: table codes"), stderr


_OWNER_WITHOUT_DEFAULT = (
    "ALTER TABLE tasks ADD COLUMN owner text NOT NULL DEFAULT 'nobody';\n"
    "ALTER TABLE tasks ALTER COLUMN owner DROP DEFAULT;\n"
)
_SQLITE_TASKS = "CREATE TABLE {name} (id integer PRIMARY KEY, title text NOT NULL, {pinned}{owner})"
_SQLITE_PINNED = "pinned integer NOT NULL DEFAULT 0 CHECK (pinned IN (0,1))"


def _sqlite_rebuild(owner: str, columns: str) -> str:
    new = _SQLITE_TASKS.format(name="tasks_new", pinned=_SQLITE_PINNED, owner=owner)
    return (
        f"{new};\nINSERT INTO tasks_new SELECT {columns} FROM tasks;\n"
        "DROP TABLE tasks;\nALTER TABLE tasks_new RENAME TO tasks;\n"
    )


@pytest.mark.parametrize(
    ("dialect", "url", "check", "release_up", "release_down", "error"),
    [
        pytest.param(
            "postgres",
            PG_URL,
            "priority smallint NOT NULL DEFAULT 1 CHECK (priority IN (1, 2, 3))",
            _OWNER_WITHOUT_DEFAULT,
            "ALTER TABLE tasks DROP COLUMN owner;\n",
            'null value in column "owner"',
            id="postgresql-in-list",
        ),
        pytest.param(
            # A CHECK seeding does not read: the probe row reuses a seeded row's value.
            "postgres",
            PG_URL,
            "priority smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 3)",
            _OWNER_WITHOUT_DEFAULT,
            "ALTER TABLE tasks DROP COLUMN owner;\n",
            'null value in column "owner"',
            id="postgresql-between",
        ),
        pytest.param(
            "mysql",
            MARIADB_URL,
            "priority smallint NOT NULL DEFAULT 1 CHECK (priority IN (1, 2, 3))",
            _OWNER_WITHOUT_DEFAULT.replace("text", "varchar(20)"),
            "ALTER TABLE tasks DROP COLUMN owner;\n",
            "Field 'owner' doesn't have a default value",
            id="mariadb-in-list",
        ),
        pytest.param(
            "sqlite",
            None,
            _SQLITE_PINNED,
            _sqlite_rebuild(", owner text NOT NULL", "id, title, pinned, 'nobody'"),
            _sqlite_rebuild("", "id, title, pinned"),
            "NOT NULL constraint failed: tasks.owner",
            id="sqlite-in-list",
        ),
    ],
)
def test_a_numeric_check_list_does_not_disable_the_insert_probe(
    tmp_path: Path,
    dialect: str,
    url: str | None,
    check: str,
    release_up: str,
    release_down: str,
    error: str,
) -> None:
    # The probe row used to take the value 4, which the CHECK rejects on the base schema: the
    # probe was dropped and the drill passed a release that breaks the old INSERTs.
    base = (
        f"CREATE TABLE tasks (id integer PRIMARY KEY, title text NOT NULL, {check});\n",
        "DROP TABLE tasks;\n",
    )
    repo = make_repo(tmp_path, release_up, release_down, dialect, base)
    stdout, stderr, code = _drill(repo, url)
    assert code == 1, stdout + stderr
    assert codes(stdout) == ["BK211"], stdout
    assert "the old release's INSERT on tasks fails on the new schema" in stdout
    assert error in stdout
    assert "not seeded" not in stderr and "not probed" not in stderr, stderr


def test_mariadb_down_that_loses_auto_increment_and_on_update_is_bk212(tmp_path: Path) -> None:
    # information_schema.COLUMNS.EXTRA was read but never compared: the down passed.
    base = (
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, "
        "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP "
        "ON UPDATE CURRENT_TIMESTAMP);\n",
        "DROP TABLE items;\n",
    )
    up = (
        "ALTER TABLE items MODIFY id BIGINT NOT NULL AUTO_INCREMENT;\n"
        "ALTER TABLE items MODIFY updated_at DATETIME NULL;\n"
    )
    down = (
        "ALTER TABLE items MODIFY id INT NOT NULL;\n"
        "ALTER TABLE items MODIFY updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP;\n"
    )
    repo = make_repo(tmp_path, up, down, "mysql", base)
    stdout, stderr, code = _drill(repo, MARIADB_URL)
    assert code == 1, stdout + stderr
    assert "BK212" in codes(stdout), stdout
    assert "column id changed: int(11) NOT NULL AUTO_INCREMENT → int(11) NOT NULL" in stdout
    assert (
        "column updated_at changed: timestamp NOT NULL DEFAULT current_timestamp() "
        "ON UPDATE current_timestamp() → timestamp NOT NULL DEFAULT current_timestamp()"
    ) in stdout


def test_postgresql_generated_column_reads_as_generated_not_as_a_default(
    tmp_path: Path,
) -> None:
    base = (
        "CREATE TABLE products (id integer PRIMARY KEY, price_cents int NOT NULL DEFAULT 0, "
        "price numeric GENERATED ALWAYS AS (price_cents / 100.0) STORED);\n",
        "DROP TABLE products;\n",
    )
    up = "ALTER TABLE products ALTER COLUMN price DROP EXPRESSION;\n"
    repo = make_repo(tmp_path, up, "SELECT 1;\n", "postgres", base)
    stdout, stderr, code = _drill(repo, PG_URL)
    assert code == 1, stdout + stderr
    assert (
        "column price changed: numeric GENERATED ALWAYS AS "
        "(((price_cents)::numeric / 100.0)) STORED → numeric\n"
    ) in stdout, stdout


_VIEW_BASE = (
    "CREATE TABLE users (id integer PRIMARY KEY, email varchar(100) NOT NULL, "
    "active integer NOT NULL DEFAULT 1);\n"
    "CREATE VIEW active_users AS SELECT id, email FROM users WHERE active = 1;\n",
    "DROP VIEW active_users;\nDROP TABLE users;\n",
)
_VIEW_WITHOUT_FILTER = "CREATE VIEW active_users AS SELECT id, email FROM users;\n"


@pytest.mark.parametrize(
    ("dialect", "url", "down", "compared"),
    [
        pytest.param("postgres", PG_URL, "SELECT 1;\n", "view active_users is missing", id="pg"),
        pytest.param(
            "mysql", MARIADB_URL, _VIEW_WITHOUT_FILTER, "view active_users changed", id="mariadb"
        ),
        pytest.param(
            "sqlite", None, _VIEW_WITHOUT_FILTER, "view active_users changed", id="sqlite"
        ),
    ],
)
def test_views_are_probed_and_compared(
    tmp_path: Path, dialect: str, url: str | None, down: str, compared: str
) -> None:
    # Views were neither snapshotted nor probed: a release that drops the view the old code
    # reads, with a down that does not bring it back as it was, passed.
    repo = make_repo(tmp_path, "DROP VIEW IF EXISTS active_users;\n", down, dialect, _VIEW_BASE)
    stdout, stderr, code = _drill(repo, url)
    assert code == 1, stdout + stderr
    assert "the old release's SELECT on active_users fails on the new schema" in stdout, stdout
    assert compared in stdout, stdout


_PG_PRICES = "ALTER TABLE prices ALTER COLUMN amount TYPE numeric(10,{});\n" + (
    "ALTER TABLE prices ALTER COLUMN seen_at TYPE timestamptz({});\n"
)
_MARIADB_PRICES = "ALTER TABLE prices MODIFY amount decimal(10,{}) NOT NULL;\n" + (
    "ALTER TABLE prices MODIFY seen_at datetime({}) NOT NULL;\n"
)


@pytest.mark.parametrize(
    ("dialect", "url", "columns", "narrowing", "losses"),
    [
        pytest.param(
            "postgres",
            PG_URL,
            "amount numeric(10,3) NOT NULL, seen_at timestamptz(6) NOT NULL DEFAULT now()",
            _PG_PRICES,
            (
                "amount was 1.123, now 1.000",
                "seen_at was '2024-01-01 12:00:00.123456+00:00', now '2024-01-01 12:00:00+00:00'",
            ),
            id="postgresql",
        ),
        pytest.param(
            "mysql",
            MARIADB_URL,
            "amount decimal(10,3) NOT NULL, seen_at datetime(6) NOT NULL",
            _MARIADB_PRICES,
            (
                "amount was 1.123, now 1.000",
                "seen_at was '2024-01-01 12:00:00.123456', now '2024-01-01 12:00:00'",
            ),
            id="mariadb",
        ),
    ],
)
def test_scale_and_precision_narrowing_loses_seeded_fractions(
    tmp_path: Path,
    dialect: str,
    url: str,
    columns: str,
    narrowing: str,
    losses: tuple[str, str],
) -> None:
    # Integers and whole seconds survived numeric(10,0) and timestamptz(0): the drill said
    # nothing where `check` reports BK204.
    base = (f"CREATE TABLE prices (id integer PRIMARY KEY, {columns});\n", "DROP TABLE prices;\n")
    repo = make_repo(tmp_path, narrowing.format(0, 0), narrowing.format(3, 6), dialect, base)
    stdout, stderr, _ = _drill(repo, url)
    assert codes(stdout) == ["BK208", "BK208"], stdout + stderr
    for loss in losses:
        assert loss in stdout, stdout
