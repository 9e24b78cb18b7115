"""No password in anything the drill prints, on the real servers of 127.0.0.1 (these tests
FAIL, never skip, when one is missing): connection errors, notes, DrillError texts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.drill_repos import (
    GOOD_DOWN_MYSQL,
    GOOD_UP,
    backout,
    made_by,
    make_repo,
    mariadb_drill_databases,
)

PASSWORD = "S3cretPw!x"


def test_driver_suffix_is_stripped_and_the_password_never_shown(tmp_path: Path) -> None:
    role = f"drill_absent_{os.getpid()}"
    repo = make_repo(tmp_path, GOOD_UP, None)
    url = f"postgresql+psycopg://{role}:PgS3cret77@127.0.0.1:5432/postgres"
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", url)
    assert result.returncode == 2, result.stderr
    assert "PgS3cret77" not in result.stderr + result.stdout
    # libpq read it as a URL (not as a key=value string): the server answered for the role.
    assert f'role "{role}" does not exist' in result.stderr


@pytest.fixture
def mariadb_user() -> Iterator[str]:
    """A MariaDB user with a password that needs percent-encoding in a URL; dropped after."""
    user = f"drill_pw_{os.getpid()}"
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'")
        yield user
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def test_old_command_echoing_the_url_is_masked_in_notes(tmp_path: Path, mariadb_user: str) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN_MYSQL, "mysql")
    url = f"mysql://{mariadb_user}:S3cretPw%21x@127.0.0.1:3306/"
    command = f'echo "connecting to $DATABASE_URL"; echo "password {PASSWORD}"; exit 3'
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", url, "--old-command", command
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert "drill: note: drill.old-command" in result.stderr
    assert "S3cretPw" not in printed
    assert f"mysql://{mariadb_user}:***@127.0.0.1" in result.stderr
    assert made_by(pid, mariadb_drill_databases()) == []
