"""Each SQL migration tool's transaction, mirrored on the PostgreSQL server of 127.0.0.1 (these
tests FAIL, never skip, when it is missing): ``CREATE INDEX CONCURRENTLY`` works where the tool
runs it outside a transaction and is BK212 where the tool would fail too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drill_repos import PG_URL, backout, codes, made_by, make_files_repo, pg_drill_databases

EVENTS = "CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL);\n"
INDEX = "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_kind_idx ON events (kind);\n"
UNINDEX = "DROP INDEX CONCURRENTLY IF EXISTS events_kind_idx;\n"
LIQUIBASE = "--liquibase formatted sql\n"

CASES = [
    pytest.param(
        {"db/0001_init.up.sql": EVENTS, "db/0001_init.down.sql": "DROP TABLE events;\n"},
        {"db/0002_idx.up.sql": INDEX, "db/0002_idx.down.sql": UNINDEX},
        [],
        id="golang-migrate-one-statement",
    ),
    pytest.param(
        {"db/0001_init.up.sql": EVENTS, "db/0001_init.down.sql": "DROP TABLE events;\n"},
        {
            "db/0002_idx.up.sql": "ALTER TABLE events ADD COLUMN note text;\n" + INDEX,
            "db/0002_idx.down.sql": UNINDEX,
        },
        ["BK212"],
        id="golang-migrate-two-statements-implicit-transaction",
    ),
    pytest.param(
        {"db/20240101000000_init.sql": "-- migrate:up\n" + EVENTS},
        {
            "db/20240201000000_idx.sql": "-- migrate:up transaction:false\n"
            + INDEX
            + "\n-- migrate:down transaction:false\n"
            + UNINDEX
        },
        [],
        id="dbmate-transaction-false",
    ),
    pytest.param(
        {"db/20240101000000_init.sql": "-- migrate:up\n" + EVENTS},
        {"db/20240201000000_idx.sql": "-- migrate:up\n" + INDEX + "\n-- migrate:down\nSELECT 1;\n"},
        ["BK212"],
        id="dbmate-in-transaction",
    ),
    pytest.param(
        {"db/20240101000000_init.sql": "-- +goose Up\n" + EVENTS},
        {
            "db/20240201000000_idx.sql": "-- +goose NO TRANSACTION\n-- +goose Up\n"
            + INDEX
            + "\n-- +goose Down\n"
            + UNINDEX
        },
        [],
        id="goose-no-transaction",
    ),
    pytest.param(
        {"db/20240101000000_init.sql": "-- +goose Up\n" + EVENTS},
        {"db/20240201000000_idx.sql": "-- +goose Up\n" + INDEX + "\n-- +goose Down\nSELECT 1;\n"},
        ["BK212"],
        id="goose-in-transaction",
    ),
    pytest.param(
        {"db/001_init.sql": LIQUIBASE + "--changeset a:1\n" + EVENTS},
        {
            "db/002_idx.sql": LIQUIBASE
            + "--changeset a:2 runInTransaction:false\n"
            + INDEX
            + "--rollback "
            + UNINDEX
        },
        [],
        id="liquibase-run-in-transaction-false",
    ),
    pytest.param(
        {"db/001_init.sql": LIQUIBASE + "--changeset a:1\n" + EVENTS},
        {"db/002_idx.sql": LIQUIBASE + "--changeset a:2\n" + INDEX + "--rollback " + UNINDEX},
        ["BK212"],
        id="liquibase-in-transaction",
    ),
    pytest.param(
        {"db/V1__init.sql": EVENTS},
        {"db/V2__idx.sql": INDEX, "db/U2__idx.sql": UNINDEX},
        [],
        id="flyway-detects-non-transactional",
    ),
    pytest.param(
        {"db/V1__init.sql": EVENTS},
        {
            "db/V2__idx.sql": "ALTER TABLE events ADD COLUMN note text;\n" + INDEX,
            "db/U2__idx.sql": UNINDEX + "ALTER TABLE events DROP COLUMN note;\n",
        },
        ["BK212"],
        id="flyway-mixed-refused",
    ),
    pytest.param(
        {"db/V1__init.sql": EVENTS, "flyway.conf": "flyway.mixed=true\n"},
        {
            "db/V2__idx.sql": "ALTER TABLE events ADD COLUMN note text;\n" + INDEX,
            "db/U2__idx.sql": UNINDEX + "ALTER TABLE events DROP COLUMN note;\n",
        },
        [],
        id="flyway-mixed-true",
    ),
]


@pytest.mark.parametrize(("base", "release", "expected"), CASES)
def test_concurrent_index_runs_as_the_tool_runs_it(
    tmp_path: Path, base: dict[str, str], release: dict[str, str], expected: list[str]
) -> None:
    repo = make_files_repo(tmp_path, base, release)
    result, pid = backout(
        repo, "drill", "--base", "HEAD~1", "--database", PG_URL, "--format", "concise"
    )
    assert codes(result.stdout) == expected, result.stdout + result.stderr
    assert result.returncode == (1 if expected else 0), result.stderr
    if expected:
        assert "transaction" in result.stdout
    # The retry without seeded rows failed the same way: no note claims it was applied.
    assert "applied it again" not in result.stderr
    assert made_by(pid, pg_drill_databases()) == []
