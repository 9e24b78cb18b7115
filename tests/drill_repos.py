"""Real git repositories with migrations for the drill tests, and ways to look at servers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pymysql

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB_URL = "mysql://root@127.0.0.1:3306/"

BASE_UP = {
    "postgres": (
        "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, legacy_flag integer);\n"
        "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer REFERENCES users(id),\n"
        "  status varchar(10) NOT NULL CHECK (status IN ('new', 'paid')));\n"
    ),
}
BASE_UP["mysql"] = BASE_UP["postgres"]
BASE_UP["sqlite"] = BASE_UP["postgres"]
BASE_DOWN = "DROP TABLE orders;\nDROP TABLE users;\n"

# The release: renames a column the old code reads, drops one it writes, and its down
# migration brings the dropped column back empty (schema equal, data lost).
BAD_UP = (
    "ALTER TABLE users ADD COLUMN tenant_id integer NOT NULL DEFAULT 0;\n"
    "ALTER TABLE users RENAME COLUMN email TO email_address;\n"
    "ALTER TABLE users DROP COLUMN legacy_flag;\n"
)
BAD_DOWN = (
    "ALTER TABLE users ADD COLUMN legacy_flag integer;\n"
    "ALTER TABLE users RENAME COLUMN email_address TO email;\n"
    "ALTER TABLE users DROP COLUMN tenant_id;\n"
)
# A backward-compatible release whose down migration restores everything.
GOOD_UP = (
    "ALTER TABLE users ADD COLUMN nickname text;\nCREATE INDEX users_nick ON users (nickname);\n"
)
GOOD_DOWN = "DROP INDEX users_nick;\nALTER TABLE users DROP COLUMN nickname;\n"
GOOD_DOWN_MYSQL = "DROP INDEX users_nick ON users;\nALTER TABLE users DROP COLUMN nickname;\n"


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo``."""
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def make_repo(
    root: Path,
    release_up: str,
    release_down: str | None,
    dialect: str = "postgres",
    base: tuple[str, str] | None = None,
) -> Path:
    """A git repo: base commit with 0001 (``base``: its up and down, else the users/orders
    tables), HEAD adds 0002 (golang-migrate layout)."""
    base_up, base_down = base or (BASE_UP[dialect], BASE_DOWN)
    release = {"migrations/0002_release.up.sql": release_up}
    if release_down is not None:
        release["migrations/0002_release.down.sql"] = release_down
    base_files = {
        "migrations/0001_users.up.sql": base_up,
        "migrations/0001_users.down.sql": base_down,
    }
    return make_files_repo(root, base_files, release, dialect)


def backout(
    repo: Path, *args: str, timeout: float = 180
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the installed ``backout`` CLI in ``repo``; the result and the process's PID."""
    process = subprocess.Popen(
        [sys.executable, "-m", "backout", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(
        process.args, process.returncode, stdout, stderr
    ), process.pid


def made_by(pid: int, names: list[str]) -> list[str]:
    """The drill database names that the process ``pid`` made."""
    return [name for name in names if f"_{pid}_" in name]


def codes(output: str) -> list[str]:
    """The rule codes of a ``--format concise`` report, in order."""
    return [line.split()[1] for line in output.splitlines() if " BK" in line]


def pg_drill_databases() -> list[str]:
    """``backout_drill_*`` databases on the PostgreSQL server."""
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'backout\\_drill\\_%'"
        ).fetchall()
    return [row[0] for row in rows]


@contextmanager
def scratch_database(server: str, prefix: str) -> Iterator[str]:
    """A database of its own named ``<prefix>_<random>`` on the ``server`` (``postgres`` or
    ``mysql``, the MariaDB server) of 127.0.0.1, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if server == "postgres":
        with psycopg.connect(PG_URL, autocommit=True) as pg:
            pg.execute(f'CREATE DATABASE "{name}"')
            try:
                yield name
            finally:
                pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()


def mariadb_drill_databases() -> list[str]:
    """``backout_drill_*`` databases on the MariaDB server."""
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE 'backout\\_drill\\_%'")
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


def make_files_repo(
    root: Path, base: dict[str, str], release: dict[str, str], dialect: str = "postgres"
) -> Path:
    """A git repo: a base commit with the files ``base``, HEAD adds (or changes) ``release``."""
    repo = root / "repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "drill@example.com")
    git(repo, "config", "user.name", "drill")
    (repo / "backout.toml").write_text(f'sql-dialect = "{dialect}"\n')
    for files, message in ((base, "base"), (release, "release")):
        for name, text in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message)
    return repo
