"""The drill for real on SQLite: findings, a clean release, cleanup, refusing a used file."""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import one_line_error, run_backout
from tests.drill_repos import (
    BAD_DOWN,
    BAD_UP,
    GOOD_DOWN,
    GOOD_UP,
    backout,
    codes,
    make_files_repo,
    make_repo,
)


def _leftovers(pid: int) -> list[Path]:
    return [p for p in Path(tempfile.gettempdir()).glob(f"backout_drill_*_{pid}_*")]


def test_bad_release_reports_old_code_failure_and_lost_data(tmp_path: Path) -> None:
    # SQLite rebuilds nothing here: the down migration restores the schema but not the values.
    down = BAD_DOWN
    repo = make_repo(tmp_path, BAD_UP, down, "sqlite")
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    findings = report["findings"] if isinstance(report, dict) else report
    found = {finding["code"] for finding in findings}
    assert "BK211" in found
    assert "BK208" in found
    assert _leftovers(pid) == []


def test_findings_point_at_the_statement_that_changed_the_column(tmp_path: Path) -> None:
    # The old INSERT/SELECT fail on the renamed email (line 2, at the column name), and
    # legacy_flag's values are lost through the DROP COLUMN (line 3); not at the file's 1:1.
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1, result.stderr
    located = sorted(line.split(" [")[0] for line in result.stdout.splitlines() if ": BK2" in line)
    assert located == [
        "migrations/0002_release.up.sql:2:33: BK211",
        "migrations/0002_release.up.sql:2:33: BK211",
        "migrations/0002_release.up.sql:3:31: BK208",
    ]
    # The value the down migration brought back is a database NULL, said as SQL says it.
    lost = next(line for line in result.stdout.splitlines() if ": BK208" in line)
    assert "now NULL" in lost and "None" not in lost, lost
    # The seeded rows are the base release's data: losing them is an error, not information.
    assert ": BK208 [error]" in lost, lost


def test_good_release_is_clean_and_leaves_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr
    assert codes(result.stdout) == []
    assert _leftovers(pid) == []


def test_missing_down_migration_is_bk212(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, None, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1
    # The missing down, and what it leaves behind in the schema diff.
    assert codes(result.stdout) == ["BK212", "BK212"]
    assert "cannot be reverted" in result.stdout
    assert "column nickname was left behind" in result.stdout


def test_down_that_leaves_an_index_is_bk212_with_the_diff(tmp_path: Path) -> None:
    up = "CREATE INDEX users_email ON users (email);\n"
    repo = make_repo(tmp_path, up, "SELECT 1;\n", "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    # The diff after down, and the up migration failing again (up → down → up).
    assert codes(result.stdout) == ["BK212", "BK212"]
    assert "index users_email was left behind" in result.stdout
    assert "fails to apply again after its down migration ran" in result.stdout
    assert "index users_email already exists" in result.stdout


def test_failing_up_migration_is_reported_with_statement(tmp_path: Path) -> None:
    up = "ALTER TABLE users ADD COLUMN a integer;\nALTER TABLE nosuch ADD COLUMN b integer;\n"
    repo = make_repo(tmp_path, up, "SELECT 1;\n", "sqlite")
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1
    assert "migrations/0002_release.up.sql:2:1: BK212" in result.stdout
    assert "no such table: nosuch" in result.stdout
    assert _leftovers(pid) == []


def test_sqlite_url_with_tables_is_refused_and_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    used = tmp_path / "app.db"
    connection = sqlite3.connect(used)
    connection.execute("CREATE TABLE precious (id integer)")
    connection.execute("INSERT INTO precious VALUES (42)")
    connection.commit()
    connection.close()
    before = used.read_bytes()
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", f"sqlite:///{used}")
    assert result.returncode == 2
    assert "already holds 1 table(s)" in result.stderr
    assert used.read_bytes() == before


def test_sqlite_url_to_a_new_file_is_deleted_afterwards(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    fresh = tmp_path / "drill.db"
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", f"sqlite:///{fresh}")
    assert result.returncode == 0, result.stderr
    assert not fresh.exists()


def test_bad_scheme_names_the_nearest(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", "postgresq://x/y")
    assert result.returncode == 2
    assert "did you mean 'postgresql'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sqlite_url_to_a_directory_is_one_line_and_leaves_it_alone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine\n")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", f"sqlite:///{kept}")
    assert one_line_error(result) == (
        f"backout: error: --database {kept} is a directory; give the path of a SQLite file "
        f"that does not exist yet, e.g. {kept}/drill.sqlite3"
    )
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]


def test_sqlite_url_with_three_slashes_names_the_four_slash_spelling(tmp_path: Path) -> None:
    """``sqlite:///tmp/x.db`` is ``tmp/x.db`` relative to the current directory (SQLAlchemy's
    rule); when that directory is missing but ``/tmp`` is there, the message says so."""
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    meant = tmp_path / "drill.db"
    url = "sqlite://" + meant.as_posix()  # one slash short of the absolute path
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", url)
    relative = meant.as_posix().lstrip("/")
    assert one_line_error(result) == (
        f"backout: error: --database {relative}: directory {Path(relative).parent} does not "
        f"exist (sqlite:/// is followed by a relative path; for {meant} write "
        f"sqlite:///{meant})"
    )


@pytest.mark.parametrize("value", ["drill.db", "/tmp/drill.db", "admin:S3cret@db.internal/app"])
def test_database_that_is_no_url_says_what_a_url_looks_like(tmp_path: Path, value: str) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", value)
    assert one_line_error(result) == (
        "backout: error: invalid --database: not a URL; give one such as "
        "postgresql://user@host:5432/db, mysql://user@host:3306/db or "
        "sqlite:////absolute/path/new.db"
    )


def _database_in_config(repo: Path, url: str) -> None:
    with (repo / "backout.toml").open("a") as config:
        config.write(f'[drill]\ndatabase = "{url}"\n')


def test_bad_scheme_in_the_config_names_the_config_key_not_the_flag(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    _database_in_config(repo, "postgress://app:secret@db/app")
    result, _ = backout(repo, "drill", "--base", "HEAD~1")
    assert result.returncode == 2, result.stderr
    assert one_line_error(result) == (
        "backout: error: invalid drill.database scheme 'postgress://' in backout.toml "
        "(did you mean 'postgres'?)"
    )
    # The flag wins over the config, and its errors name the flag.
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", "mysq://x/y")
    assert result.returncode == 2, result.stderr
    assert one_line_error(result) == (
        "backout: error: invalid --database scheme 'mysq://' (did you mean 'mysql'?)"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root:secret@127.0.0.1:notaport/", "invalid drill.database URL in backout.toml"),
        ("mysql://root:secret@127.0.0.1:1/?sslca=/ca.pem", "unsupported drill.database parameter"),
        ("mysql://root:secret@127.0.0.1:1/?ssl_mode=requird", "invalid drill.database ssl_mode"),
    ],
)
def test_bad_url_in_the_config_names_the_config_key(tmp_path: Path, url: str, says: str) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    _database_in_config(repo, url)
    result, _ = backout(repo, "drill", "--base", "HEAD~1")
    assert result.returncode == 2, result.stderr
    line = one_line_error(result)
    assert says in line
    assert "--database" not in line
    assert "secret" not in line and "/ca.pem" not in line


def test_used_sqlite_file_in_the_config_names_the_config_key(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    used = tmp_path / "app.db"
    connection = sqlite3.connect(used)
    connection.execute("CREATE TABLE precious (id integer)")
    connection.commit()
    connection.close()
    _database_in_config(repo, f"sqlite:///{used}")
    result, _ = backout(repo, "drill", "--base", "HEAD~1")
    assert result.returncode == 2, result.stderr
    assert one_line_error(result).startswith(
        f"backout: error: drill.database {used} (backout.toml) already holds 1 table(s)"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root:secret@127.0.0.1:notaport/", "'notaport'"),
        ("mysql://root:secret@[::1/db", "Invalid IPv6 URL"),
        ("postgresql://postgres:secret@127.0.0.1:99999/x", "Port out of range"),
        ("postgresql://postgres:secret@127.0.0.1:1/x", "Connection refused"),
    ],
)
def test_bad_database_url_is_one_line_without_the_password(
    tmp_path: Path, url: str, says: str
) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--database", url)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert says in result.stderr
    assert "secret" not in result.stderr


# The old release's own code, as a command: it runs in a worktree of --base (0002 is not there
# yet) and reads the column the release renames, from the drill's DATABASE_URL.
_OLD_CODE = (
    "test ! -e migrations/0002_release.up.sql && "
    f'{sys.executable} -c "import os, sqlite3; '
    "path = os.environ['DATABASE_URL'].removeprefix('sqlite:///'); "
    "sqlite3.connect(path).execute('SELECT email FROM users').fetchall()\""
)


def test_old_command_failing_on_the_new_schema_is_bk211(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    result, _ = backout(
        repo, "drill", "--base", "HEAD~1", "--old-command", _OLD_CODE, "--format", "concise"
    )
    assert result.returncode == 1, result.stderr
    command_findings = [line for line in result.stdout.splitlines() if "command `" in line]
    assert len(command_findings) == 1
    assert "BK211" in command_findings[0]
    assert "exits 1 on the new schema" in command_findings[0]
    assert "no such column: email" in command_findings[0]


def test_old_command_passing_on_the_new_schema_is_clean(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    result, _ = backout(
        repo, "drill", "--base", "HEAD~1", "--old-command", _OLD_CODE, "--format", "concise"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert codes(result.stdout) == []


def test_silent_failing_old_command_says_it_printed_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    silent = _OLD_CODE + " 2>/dev/null"
    result, _ = backout(
        repo, "drill", "--base", "HEAD~1", "--old-command", silent, "--format", "concise"
    )
    assert result.returncode == 1, result.stderr
    command_findings = [line for line in result.stdout.splitlines() if "command `" in line]
    assert len(command_findings) == 1
    assert "exits 1 on the new schema: (it printed nothing)" in command_findings[0]


def test_old_command_failing_on_the_base_release_is_a_note_not_bk211(tmp_path: Path) -> None:
    # `exit 3` fails whatever the schema: it is run on a base-only database first, and a
    # command broken on its own release proves nothing about the new schema.
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "sqlite")
    url_file = tmp_path / "drill.db"
    result, pid = backout(
        repo,
        "drill",
        "--base",
        "HEAD~1",
        "--database",
        f"sqlite:///{url_file}",
        "--old-command",
        "exit 3",
        "--format",
        "concise",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert codes(result.stdout) == []
    assert "already exits 3 on the base release's own schema" in result.stderr
    assert "broken on its own release" in result.stderr
    # Both the drill's database and the base-only one for the command are gone.
    assert not url_file.exists()
    assert _leftovers(pid) == []


def test_old_command_runs_on_the_base_schema_first(tmp_path: Path) -> None:
    # The command records the columns it saw; its first run is on the base release's schema.
    seen = tmp_path / "seen.txt"
    record = (
        f'{sys.executable} -c "import os, sqlite3; '
        "path = os.environ['DATABASE_URL'].removeprefix('sqlite:///'); "
        "names = [r[1] for r in sqlite3.connect(path).execute('PRAGMA table_info(users)')]; "
        f"open({str(seen)!r}, 'a').write(','.join(names) + '\\n')\""
    )
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--old-command", record)
    assert result.returncode == 1, result.stderr
    runs = seen.read_text().splitlines()
    assert runs[0] == "id,email,legacy_flag"
    assert runs[1] == "id,email_address,tenant_id"


def test_old_queries_flag_is_relative_to_the_current_directory(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    (tmp_path / "oq.sql").write_text("SELECT email FROM users WHERE id = ?;\n")
    args = ("drill", "repo", "--base", "HEAD~1", "--format", "concise", "--old-queries")
    done = run_backout(*args, "oq.sql", cwd=tmp_path)
    assert "old query at oq.sql:1:1 fails on the new schema" in done.stdout, done.stderr
    # Not looked for below the checked path, and said in one line without Python's errno.
    (repo / "missing.sql").write_text("SELECT 1;\n")
    line = one_line_error(run_backout(*args, "missing.sql", cwd=tmp_path))
    assert line == "backout: error: --old-queries file 'missing.sql' does not exist"


def test_old_queries_setting_is_relative_to_the_configuration_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    (repo / "sql").mkdir()
    (repo / "sql" / "old.sql").write_text("SELECT email FROM users WHERE id = ?;\n")
    config = (repo / "backout.toml").read_text()
    (repo / "backout.toml").write_text(config + '[drill]\nold-queries = "sql/old.sql"\n')
    args = ("drill", "repo", "--base", "HEAD~1", "--format", "concise")
    done = run_backout(*args, cwd=tmp_path)
    assert "old query at repo/sql/old.sql:1:1 fails on the new schema" in done.stdout, done.stderr
    (repo / "backout.toml").write_text(config + '[drill]\nold-queries = "sql/gone.sql"\n')
    line = one_line_error(run_backout(*args, cwd=tmp_path))
    assert line == (
        "backout: error: drill.old-queries of repo/backout.toml file 'repo/sql/gone.sql' "
        "does not exist (did you mean 'repo/sql/old.sql'?)"
    )


def test_old_queries_are_replayed_with_placeholders_filled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, BAD_UP, BAD_DOWN, "sqlite")
    (repo / "old.sql").write_text(
        "SELECT email FROM users WHERE id = ?;\nUPDATE orders SET status = :status WHERE id = 1;\n"
    )
    result, _ = backout(
        repo, "drill", "--base", "HEAD~1", "--old-queries", "old.sql", "--format", "concise"
    )
    assert "old query at old.sql:1:1 fails on the new schema" in result.stdout
    assert "old.sql:2" not in result.stdout


def test_a_down_that_loses_a_check_constraint_is_bk212(tmp_path: Path) -> None:
    # SQLite keeps a CHECK only in the CREATE TABLE text: a table rebuilt by the down
    # migration without it is a schema the old release never had.
    columns = "id integer PRIMARY KEY, user_id integer REFERENCES users(id), status varchar(10)"
    up = (
        f"CREATE TABLE orders_new ({columns} NOT NULL\n"
        "  CHECK (status IN ('new', 'paid', 'refunded')));\n"
        "INSERT INTO orders_new SELECT * FROM orders;\n"
        "DROP TABLE orders;\nALTER TABLE orders_new RENAME TO orders;\n"
    )
    down = (
        f"CREATE TABLE orders_old ({columns} NOT NULL);\n"
        "INSERT INTO orders_old SELECT * FROM orders;\n"
        "DROP TABLE orders;\nALTER TABLE orders_old RENAME TO orders;\n"
    )
    repo = make_repo(tmp_path, up, down, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BK212" in codes(result.stdout)
    assert (
        "constraint check(status IN ('new', 'paid')) is missing "
        "(was: CHECK (status IN ('new', 'paid')) on column status)"
    ) in result.stdout


def test_a_view_left_without_its_table_is_no_crash(tmp_path: Path) -> None:
    # SQLite lets a release drop a table a view reads; the view no longer compiles.
    base = (
        "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n"
        "CREATE TABLE legacy (id integer PRIMARY KEY, v text);\n"
        "CREATE VIEW legacy_v AS SELECT id, v FROM legacy;\n",
        "DROP VIEW legacy_v;\nDROP TABLE legacy;\nDROP TABLE users;\n",
    )
    up, down = "DROP TABLE legacy;\n", "CREATE TABLE legacy (id integer PRIMARY KEY, v text);\n"
    repo = make_repo(tmp_path, up, down, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert "BK211" in codes(result.stdout)


def test_a_view_sqlite_requoted_on_a_rename_is_the_same_view(tmp_path: Path) -> None:
    # Renaming a table rewrites the text of the views that read it (FROM audit becomes
    # FROM "audit" once renamed back): the down restored the schema exactly.
    base = (
        "CREATE TABLE audit (id integer PRIMARY KEY, v text);\n"
        "CREATE VIEW audit_v AS SELECT id, v FROM audit;\n",
        "DROP VIEW audit_v;\nDROP TABLE audit;\n",
    )
    up = (
        "ALTER TABLE audit RENAME TO audit_log;\n"
        "CREATE VIEW audit AS SELECT id, v FROM audit_log;\n"
    )
    down = "DROP VIEW audit;\nALTER TABLE audit_log RENAME TO audit;\n"
    repo = make_repo(tmp_path, up, down, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert "Traceback" not in result.stderr, result.stderr
    assert "BK212" not in codes(result.stdout), result.stdout


def test_a_down_leaving_not_null_on_a_key_column_is_bk212(tmp_path: Path) -> None:
    # SQLite leaves a TEXT PRIMARY KEY nullable (pragma_table_info.notnull is 0): a down
    # that keeps the NOT NULL its up added does not restore the base. The drill took every
    # key column for NOT NULL and saw no difference.
    base = (
        "CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT);\n",
        "DROP TABLE codes;\n",
    )
    up = (
        "CREATE TABLE codes_new (code TEXT NOT NULL PRIMARY KEY, label TEXT);\n"
        "INSERT INTO codes_new SELECT code, label FROM codes;\n"
        "DROP TABLE codes;\n"
        "ALTER TABLE codes_new RENAME TO codes;\n"
    )
    repo = make_repo(tmp_path, up, "SELECT 1;\n", "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert "BK212" in codes(result.stdout), result.stdout + result.stderr
    assert "code" in next(line for line in result.stdout.splitlines() if "BK212" in line)


def test_an_integer_key_declared_desc_is_seeded_not_left_to_the_rowid(tmp_path: Path) -> None:
    # INTEGER PRIMARY KEY DESC is no rowid alias (an index of origin pk backs it): the
    # drill left it to the database as if it were, so the seeded rows had NULL ids and a
    # rebuild that makes the key NOT NULL failed on them (BK212) though real rows have ids.
    base = (
        "CREATE TABLE events (id INTEGER PRIMARY KEY DESC, kind TEXT NOT NULL);\n",
        "DROP TABLE events;\n",
    )
    up = (
        "CREATE TABLE events_new (id INTEGER NOT NULL PRIMARY KEY DESC, kind TEXT NOT NULL,"
        " note TEXT);\n"
        "INSERT INTO events_new (id, kind) SELECT id, kind FROM events;\n"
        "DROP TABLE events;\n"
        "ALTER TABLE events_new RENAME TO events;\n"
    )
    down = (
        "CREATE TABLE events_old (id INTEGER PRIMARY KEY DESC, kind TEXT NOT NULL);\n"
        "INSERT INTO events_old (id, kind) SELECT id, kind FROM events;\n"
        "DROP TABLE events;\n"
        "ALTER TABLE events_old RENAME TO events;\n"
    )
    repo = make_repo(tmp_path, up, down, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert "NOT NULL constraint failed" not in result.stdout, result.stdout
    assert "BK212" not in codes(result.stdout), result.stdout + result.stderr


def test_a_goose_trigger_body_runs_whole(tmp_path: Path) -> None:
    # A goose SQLite file (StatementBegin/StatementEnd around a trigger): split at the body's
    # `;`s, the drill failed on the base release with "incomplete input".
    base = {
        "db/migrations/00001_users.sql": (
            "-- +goose Up\nCREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT,"
            " updated_at DATETIME);\n-- +goose StatementBegin\n"
            "CREATE TRIGGER users_touch AFTER UPDATE ON users FOR EACH ROW\nBEGIN\n"
            "    UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;\nEND;\n"
            "-- +goose StatementEnd\n-- +goose Down\nDROP TRIGGER users_touch;\n"
            "DROP TABLE users;\n"
        )
    }
    release = {
        "db/migrations/00002_nickname.sql": (
            "-- +goose Up\nALTER TABLE users ADD COLUMN nickname TEXT;\n"
            "-- +goose Down\nALTER TABLE users DROP COLUMN nickname;\n"
        )
    }
    repo = make_files_repo(tmp_path, base, release, "sqlite")
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BK212" not in result.stdout
