"""Small parts of the drill: statement splitting, placeholders, names, snapshot diff, seeding."""

from __future__ import annotations

import time

import pytest

from backout.drill.probe import fill_placeholders
from backout.drill.runners import split_statements
from backout.drill.safety import drill_name, is_stale, parse_drill_name
from backout.drill.seed import Seeded, build_row, parents_first, value_for
from backout.drill.snapshot import ColumnShape, ForeignKey, SchemaSnapshot, TableShape, diff


def test_split_keeps_dollar_quotes_and_points_at_lines() -> None:
    sql = (
        "-- header\nCREATE TABLE a (x int);\n\nCREATE FUNCTION f() RETURNS int AS $$\n"
        "SELECT 1; $$ LANGUAGE sql;\n"
    )
    statements = split_statements(sql, "postgres", first_line=10)
    assert [s.sql.split()[0:2] for s in statements] == [["CREATE", "TABLE"], ["CREATE", "FUNCTION"]]
    assert [s.line for s in statements] == [11, 13]


def test_split_mysql_ignores_semicolons_in_strings() -> None:
    statements = split_statements("INSERT INTO t VALUES (';');\n-- done\n", "mysql")
    assert [s.sql for s in statements] == ["INSERT INTO t VALUES (';')"]


@pytest.mark.parametrize(
    ("dialect", "name"), [("sqlite", "trigger"), ("sqlite", '"trigger"'), ("mysql", "`trigger`")]
)
def test_split_a_column_called_trigger_makes_no_trigger(dialect: str, name: str) -> None:
    # A table with columns `trigger` and `begin` (SQLite takes both unquoted, MariaDB `begin`)
    # was taken for a trigger whose body the BEGIN opened: the next statement was sent with it.
    sql = f"CREATE TABLE jobs (id INT, {name} VARCHAR(20), begin INT);\nDROP TABLE other;\n"
    statements = split_statements(sql, dialect)
    assert [(s.sql.split()[0:2], s.line) for s in statements] == [
        (["CREATE", "TABLE"], 1),
        (["DROP", "TABLE"], 2),
    ]


def test_split_a_mysql_trigger_with_a_case_statement_ends_at_its_end() -> None:
    # END CASE closes the CASE statement; its CASE opened no block of its own.
    sql = (
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n  CASE NEW.kind\n"
        "    WHEN 1 THEN SET NEW.label = 'one';\n    ELSE SET NEW.label = 'other';\n"
        "  END CASE;\nEND;\nCREATE TABLE audit (id INT);\n"
    )
    statements = split_statements(sql, "mysql")
    assert [(s.sql.split()[0:2], s.line) for s in statements] == [
        (["CREATE", "TRIGGER"], 1),
        (["CREATE", "TABLE"], 8),
    ]


def test_split_a_mysql_delimiter_block_sends_each_routine_whole() -> None:
    # kestra-io/kestra's Flyway migrations: DELIMITER // … END // … DELIMITER ;. The server
    # knows no DELIMITER: it was sent "DELIMITER //\nCREATE PROCEDURE … BEGIN DECLARE …" and
    # the procedure's body in pieces.
    sql = (
        "DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  DECLARE x INT;\n"
        "  ALTER TABLE t ADD COLUMN c INT;\nEND //\nDELIMITER ;\nCALL p();\n"
    )
    statements = split_statements(sql, "mysql")
    assert [(s.sql.split()[0:2], s.line) for s in statements] == [
        (["CREATE", "PROCEDURE"], 2),
        (["CALL", "p()"], 8),
    ]
    assert statements[0].sql.rstrip().endswith("END")


def _users() -> SchemaSnapshot:
    users = TableShape(
        "users",
        (ColumnShape("id", "integer", False, generated=True), ColumnShape("email", "text", False)),
        ("id",),
    )
    orders = TableShape(
        "orders",
        (ColumnShape("id", "integer", False), ColumnShape("user_id", "integer", True)),
        ("id",),
        foreign_keys=(ForeignKey(("user_id",), "users", ("id",)),),
    )
    return SchemaSnapshot({"orders": orders, "users": users})


def test_placeholders_take_seeded_values_of_their_columns() -> None:
    seeded = Seeded(rows={"users": [{"id": 7, "email": "a@b"}]})
    filled = fill_placeholders(
        "SELECT id FROM users WHERE email = %s AND id = :id", _users(), seeded, "postgres"
    )
    assert filled == "SELECT id FROM users WHERE email = 'a@b' AND id = 7"
    insert = fill_placeholders("INSERT INTO users (email) VALUES (?)", _users(), seeded, "sqlite")
    assert insert == "INSERT INTO users (email) VALUES ('a@b')"


def test_parents_are_seeded_first() -> None:
    assert [t.name for t in parents_first(_users())] == ["users", "orders"]


def test_values_fit_their_types() -> None:
    assert value_for(ColumnShape("code", "character varying(3)", False), 12) == "e12"
    assert value_for(ColumnShape("n", "bigint", False), 2) == 2
    assert value_for(ColumnShape("s", "mood", False, labels=("ok", "sad")), 2) == "sad"


def test_numbers_and_times_carry_every_decimal_their_type_keeps() -> None:
    def value(type_: str) -> object:
        return value_for(ColumnShape("x", type_, False), 2)

    assert value("numeric(10,3)") == "2.123"
    assert value("decimal(10,0)") == 2
    assert value("numeric(4,4)") == "0.2123"
    assert value("numeric") == "2.5"
    assert value("double precision") == 2.5
    assert value("timestamp(3) with time zone") == "2024-01-02 12:00:00.123"
    assert value("timestamp(0) without time zone") == "2024-01-02 12:00:00"
    assert value("datetime") == "2024-01-02 12:00:00.123456"
    assert value("time without time zone") == "12:02:00.123456"


def test_diff_is_readable() -> None:
    before = _users()
    users = before.tables["users"]
    after = SchemaSnapshot(
        {
            "users": TableShape(
                "users",
                (users.columns[0], ColumnShape("email", "varchar(5)", True)),
                ("id",),
                {"users_x": "CREATE INDEX users_x ON users (email)"},
            )
        }
    )
    lines = [d.text for d in diff(before, after)]
    assert lines == [
        "table orders is missing",
        "table users: column email changed: text NOT NULL → varchar(5)",
        "table users: index users_x was left behind (CREATE INDEX users_x ON users (email))",
    ]


def test_drill_names_say_who_made_them() -> None:
    started = time.time()
    name = drill_name(started)
    parsed = parse_drill_name(name)
    assert parsed is not None and parsed.started == int(started)
    assert len(name) <= 63  # PostgreSQL's identifier limit
    assert not is_stale(name, started + 10)  # this process is alive
    assert not is_stale("backout_drill_users", started)
    assert not is_stale("production", started)


def test_numeric_check_lists_feed_seeding_as_written_by_each_database() -> None:
    checks = (
        "CHECK ((priority = ANY (ARRAY[5, 7])))",  # PostgreSQL
        "CHECK (`level` in (2,4))",  # MariaDB
        "CREATE TABLE t (pinned integer CHECK (pinned IN (0, 1)))",  # SQLite
    )
    columns = tuple(
        ColumnShape(name, "smallint", False) for name in ("priority", "level", "pinned")
    )
    table = TableShape("t", columns, checks=checks)
    rows = [build_row(table, index, Seeded(), use_checks=True) for index in (1, 2, 3)]
    assert [row["priority"] for row in rows] == ["5", "7", "5"]
    assert [row["level"] for row in rows] == ["2", "4", "2"]
    assert [row["pinned"] for row in rows] == ["0", "1", "0"]


def test_mysql_url_parameters_become_pymysql_arguments() -> None:
    from backout.drill.mysql import MysqlDatabase, connect_options

    assert connect_options("ssl_ca=/ca.pem&ssl-mode=VERIFY_IDENTITY&charset=utf8mb4") == {
        "ssl_ca": "/ca.pem",
        "charset": "utf8mb4",
        "ssl_verify_cert": True,
        "ssl_verify_identity": True,
    }
    assert connect_options("ssl_mode=required") == {"ssl": {"check_hostname": False}}
    assert connect_options("ssl_mode=DISABLED") == {"ssl_disabled": True}
    database = MysqlDatabase.__new__(MysqlDatabase)
    database._url = "mysql://u:p@db:3306/d?ssl_mode=REQUIRED&unix_socket=/s.sock"
    assert database.sqlalchemy_url == (
        "mysql+pymysql://u:p@db:3306/d?unix_socket=%2Fs.sock&ssl_check_hostname=false"
    )
