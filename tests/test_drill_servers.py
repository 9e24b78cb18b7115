"""The drill for real on the PostgreSQL and MariaDB servers of 127.0.0.1; these tests FAIL
(never skip) when a server is missing. Safety: nothing left behind after success, a failing
migration, SIGINT and SIGTERM; a database with user tables is never modified; stale drills of
dead processes are swept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest

from backout.drill.safety import host_tag
from tests.conftest import one_line_error
from tests.drill_repos import (
    BAD_DOWN,
    BAD_UP,
    GOOD_DOWN,
    GOOD_DOWN_MYSQL,
    GOOD_UP,
    MARIADB_URL,
    PG_URL,
    backout,
    codes,
    made_by,
    make_files_repo,
    make_repo,
    mariadb_drill_databases,
    pg_drill_databases,
)

SERVERS = [
    pytest.param("postgres", PG_URL, pg_drill_databases, GOOD_DOWN, id="postgresql"),
    pytest.param("mysql", MARIADB_URL, mariadb_drill_databases, GOOD_DOWN_MYSQL, id="mariadb"),
]
Lister = Callable[[], list[str]]


@pytest.mark.parametrize(("dialect", "url", "listed", "good_down"), SERVERS)
def test_bad_release_findings_and_nothing_left(
    tmp_path: Path, dialect: str, url: str, listed: Lister, good_down: str
) -> None:
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, dialect)
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--format", "concise"
    )
    assert result.returncode == 1, result.stderr
    found = codes(result.stdout)
    assert "BK211" in found
    assert "BK208" in found
    assert "legacy_flag lost its values in 3 of 3 seeded rows of users" in result.stdout
    assert made_by(pid, listed()) == []


@pytest.mark.parametrize(("dialect", "url", "listed", "good_down"), SERVERS)
def test_good_release_is_clean(
    tmp_path: Path, dialect: str, url: str, listed: Lister, good_down: str
) -> None:
    repo = make_repo(tmp_path, GOOD_UP, good_down, dialect)
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--format", "concise"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert made_by(pid, listed()) == []


@pytest.mark.parametrize(("dialect", "url", "listed", "good_down"), SERVERS)
def test_failing_migration_leaves_nothing(
    tmp_path: Path, dialect: str, url: str, listed: Lister, good_down: str
) -> None:
    repo = make_repo(tmp_path, "ALTER TABLE nosuch ADD COLUMN x integer;\n", "SELECT 1;\n", dialect)
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--format", "concise"
    )
    assert result.returncode == 1
    assert codes(result.stdout) == ["BK212"]
    assert "nosuch" in result.stdout
    assert made_by(pid, listed()) == []


SLEEP = {"postgres": "SELECT pg_sleep(60);\n", "mysql": "SELECT SLEEP(60);\n"}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize(("dialect", "url", "listed", "good_down"), SERVERS)
def test_killed_mid_run_leaves_nothing(
    tmp_path: Path, dialect: str, url: str, listed: Lister, good_down: str, signum: int
) -> None:
    repo = make_repo(tmp_path, SLEEP[dialect], "SELECT 1;\n", dialect)
    process = subprocess.Popen(
        [sys.executable, "-m", "backout", "drill", "--base", "HEAD~1", "--database", url],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not made_by(process.pid, listed()):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "the drill never created its database"
        time.sleep(0.1)
    time.sleep(1.0)  # into the release's sleeping migration
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Traceback" not in stderr
    assert made_by(process.pid, listed()) == []


def _dead_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_stale_drill_of_a_dead_process_is_swept_on_postgresql(tmp_path: Path) -> None:
    stale = f"backout_drill_{host_tag()}_{_dead_pid()}_{int(time.time()) - 60}_abcd"
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{stale}"')
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "postgres")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", PG_URL)
    assert result.returncode == 0, result.stderr
    assert stale not in pg_drill_databases()


def test_stale_drill_of_a_dead_process_is_swept_on_mariadb(tmp_path: Path) -> None:
    stale = f"backout_drill_{host_tag()}_{_dead_pid()}_{int(time.time()) - 60}_abcd"
    connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{stale}`")
    connection.close()
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN_MYSQL, "mysql")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", MARIADB_URL)
    assert result.returncode == 0, result.stderr
    assert stale not in mariadb_drill_databases()


def test_a_live_drill_is_not_swept() -> None:
    from backout.drill.safety import is_stale

    mine = f"backout_drill_{host_tag()}_{os.getpid()}_{int(time.time()) - 60}_abcd"
    assert not is_stale(mine, time.time())
    assert is_stale(mine.replace(f"_{os.getpid()}_", f"_{_dead_pid()}_"), time.time())


def test_database_with_user_tables_is_never_modified(tmp_path: Path) -> None:
    name = f"drill_user_db_{os.getpid()}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    user_url = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(user_url, autocommit=True) as connection:
            connection.execute("CREATE TABLE users (id integer PRIMARY KEY, email text)")
            connection.execute("INSERT INTO users VALUES (1, 'real@example.com')")
        repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "postgres")
        result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", user_url)
        assert result.returncode == 1, result.stderr
        with psycopg.connect(user_url, autocommit=True) as connection:
            columns = connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'users' ORDER BY ordinal_position"
            ).fetchall()
            rows = connection.execute("SELECT * FROM users").fetchall()
        assert [c[0] for c in columns] == ["id", "email"]
        assert rows == [(1, "real@example.com")]
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _pg_role(prefix: str, options: str) -> Iterator[str]:
    """A login role made with ``options``; dropped after, with any database it owns."""
    role = f"{prefix}_{os.getpid()}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.execute(f'CREATE ROLE "{role}" LOGIN {options}')
    try:
        yield role
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            owned = admin.execute(
                "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE r.rolname = %s",
                (role,),
            ).fetchall()
            for (name,) in owned:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.parametrize(
    ("options", "said"),
    [
        pytest.param("NOCREATEDB", "never runs in an existing database", id="no-createdb"),
        # CREATE DATABASE works, the connection to it does not: what was made is dropped.
        pytest.param("CREATEDB CONNECTION LIMIT 1", "too many connections", id="one-connection"),
    ],
)
def test_role_that_cannot_drill_is_refused_leaving_nothing(
    tmp_path: Path, options: str, said: str
) -> None:
    with _pg_role("drill_role", options) as role:
        repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "postgres")
        url = f"postgresql://{role}@127.0.0.1:5432/postgres"
        result, pid = backout(repo, "drill", "--base", "HEAD~1", "--database", url)
        assert result.returncode == 2, result.stderr
        assert said in result.stderr
        assert made_by(pid, pg_drill_databases()) == []


def test_role_refused_by_the_config_url_is_told_to_remove_the_config_key(tmp_path: Path) -> None:
    with _pg_role("drill_cfgrole", "NOCREATEDB") as role:
        repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "postgres")
        url = f"postgresql://{role}@127.0.0.1:5432/postgres"
        with (repo / "backout.toml").open("a") as config:
            config.write(f'[drill]\ndatabase = "{url}"\n')
        result, _ = backout(repo, "drill", "--base", "HEAD~1")
        line = one_line_error(result)
        assert line.endswith(
            "grant CREATEDB to the role, or remove drill.database from backout.toml to use "
            "the embedded server"
        )
        assert "--database" not in line


def test_database_unreachable_after_create_is_dropped_on_mariadb(tmp_path: Path) -> None:
    user = f"drill_onelogin_{os.getpid()}"
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    pid = 0
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'%' WITH MAX_USER_CONNECTIONS 1")
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'")
        repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN_MYSQL, "mysql")
        url = f"mysql://{user}@127.0.0.1:3306/"
        result, pid = backout(repo, "drill", "--base", "HEAD~1", "--database", url)
        assert result.returncode == 2, result.stderr
        assert "max_user_connections" in result.stderr
        assert made_by(pid, mariadb_drill_databases()) == []
    finally:
        with admin.cursor() as cursor:
            for name in made_by(pid, mariadb_drill_databases()) if pid else []:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


@pytest.mark.parametrize(
    ("query", "exit_code", "said"),
    [
        # Port 1 answers nothing: the drill reached the server through the socket.
        ("?unix_socket=/run/mysqld/mysqld.sock&charset=utf8mb4", 0, ""),
        # The test server has no TLS: a required one must stop the drill, not be dropped.
        ("?ssl-mode=REQUIRED", 2, "SSL is required"),
        ("?sslca=/etc/ca.pem", 2, "unsupported --database parameter 'sslca' (did you mean"),
        ("?ssl_mode=requird", 2, "(did you mean 'REQUIRED'?)"),
    ],
    ids=["unix-socket", "ssl-required", "unknown-parameter", "unknown-ssl-mode"],
)
def test_mariadb_url_parameters_are_honoured_or_refused(
    tmp_path: Path, query: str, exit_code: int, said: str
) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN_MYSQL, "mysql")
    port = "1" if "unix_socket" in query else "3306"
    url = f"mysql://root@127.0.0.1:{port}/{query}"
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--database", url)
    assert result.returncode == exit_code, result.stderr
    assert said in result.stderr
    assert "/etc/ca.pem" not in result.stderr  # parameters are named, values never shown
    assert made_by(pid, mariadb_drill_databases()) == []


@pytest.mark.parametrize(("dialect", "url", "listed", "good_down"), SERVERS)
def test_leftover_index_is_blamed_on_the_migration_that_made_it(
    tmp_path: Path, dialect: str, url: str, listed: Lister, good_down: str
) -> None:
    base = {
        "db/0001_t.up.sql": "CREATE TABLE t (id integer PRIMARY KEY, a varchar(20));\n",
        "db/0001_t.down.sql": "DROP TABLE t;\n",
    }
    release = {
        "db/0002_add_x.up.sql": "ALTER TABLE t ADD COLUMN x integer;\n",
        "db/0002_add_x.down.sql": "ALTER TABLE t DROP COLUMN x;\n",
        "db/0003_idx.up.sql": "CREATE INDEX t_a_idx ON t (a);\n",
        "db/0003_idx.down.sql": "-- nothing to undo\nSELECT 1;\n",
    }
    repo = make_files_repo(tmp_path, base, release, dialect)
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--format", "concise"
    )
    assert result.returncode == 1, result.stderr
    leftover = [line for line in result.stdout.splitlines() if "t_a_idx was left behind" in line]
    assert len(leftover) == 1, result.stdout
    assert leftover[0].startswith("db/0003_idx.down.sql:"), leftover
    assert made_by(pid, listed()) == []


# goose MySQL triggers between StatementBegin/StatementEnd: goose sends each whole, and so must
# the drill. Split at its `;`s, MariaDB rejected the first piece; with END CASE counted as a
# block of its own, the trigger took in the CREATE TABLE after it.
GOOSE_TRIGGERS = {
    "if": (
        "CREATE TABLE users (id INT PRIMARY KEY, score INT, updated_at DATETIME);\n"
        "-- +goose StatementBegin\n"
        "CREATE TRIGGER users_bu BEFORE UPDATE ON users FOR EACH ROW\nBEGIN\n"
        "  SET NEW.updated_at = NOW();\n  IF NEW.score < 0 THEN\n    SET NEW.score = 0;\n"
        "  END IF;\nEND;\n-- +goose StatementEnd\n"
        "-- +goose Down\nDROP TRIGGER users_bu;\nDROP TABLE users;\n"
    ),
    "case statement": (
        "CREATE TABLE users (id INT PRIMARY KEY, kind INT, label VARCHAR(10));\n"
        "-- +goose StatementBegin\n"
        "CREATE TRIGGER users_bi BEFORE INSERT ON users FOR EACH ROW\nBEGIN\n"
        "  CASE NEW.kind\n    WHEN 1 THEN SET NEW.label = 'one';\n"
        "    ELSE SET NEW.label = 'other';\n  END CASE;\nEND;\n-- +goose StatementEnd\n"
        "CREATE TABLE audit (id INT PRIMARY KEY);\n"
        "-- +goose Down\nDROP TABLE audit;\nDROP TRIGGER users_bi;\nDROP TABLE users;\n"
    ),
}


@pytest.mark.parametrize("body", GOOSE_TRIGGERS)
def test_a_goose_trigger_body_runs_whole_on_mariadb(tmp_path: Path, body: str) -> None:
    base = {"db/migrations/00001_users.sql": "-- +goose Up\n" + GOOSE_TRIGGERS[body]}
    release = {
        "db/migrations/00002_nickname.sql": (
            "-- +goose Up\nALTER TABLE users ADD COLUMN nickname VARCHAR(20);\n"
            "-- +goose Down\nALTER TABLE users DROP COLUMN nickname;\n"
        )
    }
    repo = make_files_repo(tmp_path, base, release, "mysql")
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", MARIADB_URL, "--format", "concise"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert made_by(pid, mariadb_drill_databases()) == []


@pytest.mark.parametrize(
    ("down", "restored"),
    [
        ("ALTER SEQUENCE order_numbers INCREMENT BY 5 MAXVALUE 999999;\n", True),
        ("SELECT 1;\n", False),  # the sequence keeps the release's step and bound
    ],
)
def test_a_sequence_the_down_migration_leaves_changed_is_seen_on_mariadb(
    tmp_path: Path, down: str, restored: bool
) -> None:
    """MariaDB keeps a sequence as a table of type SEQUENCE: the schema compared before and
    after up+down holds it, with its bounds and step, not its next value."""
    base = {
        "db/migrations/001_orders.up.sql": (
            "CREATE SEQUENCE order_numbers START WITH 100 INCREMENT BY 5 MAXVALUE 999999;\n"
        ),
        "db/migrations/001_orders.down.sql": "DROP SEQUENCE order_numbers;\n",
    }
    release = {
        "db/migrations/002_orders.up.sql": (
            "ALTER SEQUENCE order_numbers INCREMENT BY 10 MAXVALUE 9999999;\n"
            "SELECT NEXTVAL(order_numbers);\n"
        ),
        "db/migrations/002_orders.down.sql": down,
    }
    repo = make_files_repo(tmp_path, base, release, "mysql")
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", MARIADB_URL, "--format", "concise"
    )
    if restored:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "BK212" in codes(result.stdout)
        assert "sequence order_numbers" in result.stdout, result.stdout
    assert made_by(pid, mariadb_drill_databases()) == []
