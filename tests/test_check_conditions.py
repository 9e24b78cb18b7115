"""Whether a new CHECK condition admits every row an old one admits, as the servers decide it.

backout reads both conditions (``ALTER TABLE t ADD CHECK (…)`` through its PostgreSQL, MySQL or
SQLite reader) and :func:`backout.check_conditions.implies` decides. The servers are the
oracle: PostgreSQL (127.0.0.1:5432), MariaDB (127.0.0.1:3306) and SQLite evaluate both
conditions over probe rows (a CHECK passes a row its condition makes TRUE or NULL). Where
backout says "implied", no probe may pass the old condition and fail the new one; where the
case says the new condition is stricter, a probe must show it, so each verdict is the
server's too. The tests FAIL, never skip, when a server is missing.
"""

from __future__ import annotations

import sqlite3

import psycopg
import pymysql
import pytest

from backout.check_conditions import Condition, implies
from backout.schema_model import CHECK
from backout.sources.sql import SqlText, read_postgres, read_sqlglot
from tests.drill_repos import PG_URL

# (old condition, new condition, whether the new one admits every row the old one admits;
# ``None``: backout does not decide, which is taken for "no"). Columns: ``a`` a number, ``s`` a
# string.
CASES: list[tuple[str, str, bool | None]] = [
    ("a > 0", "a > -5", True),
    ("a > 0", "a >= 0", True),
    ("a >= 0", "a > 0", False),
    ("a > 0", "a > 10", False),
    ("a BETWEEN 1 AND 5", "a >= 0 AND a <= 5", True),
    ("a BETWEEN 1 AND 5", "a BETWEEN 2 AND 5", False),
    ("0 < a", "a > 0", True),
    ("a > 0 AND a < 100", "a < 100", True),
    ("a > 0", "a > 0 AND a < 100", False),
    ("a IN (1, 2)", "a IN (1, 2, 3)", True),
    ("a IN (1, 2, 3)", "a IN (1, 2)", False),
    ("a IN (1, 2)", "a > 0", True),
    ("a IN (1, 2)", "a <> 3", True),
    ("a IN (1, 2)", "a <> 2", False),
    ("a = 1", "a IN (1, 2)", True),
    ("a > 5", "a <> 5", True),
    ("a >= 5", "a <> 5", False),
    ("a IN (1.0, 2)", "a IN (1, 2)", True),
    ("s IN ('x', 'y')", "s IN ('x', 'y', 'z')", True),
    ("s IN ('x', 'y')", "s IN ('x')", False),
    # Strings written differently may be equal under a collation (MariaDB's default one
    # ignores case: 'x' = 'X' there), so backout decides only for strings written alike.
    ("s = 'x'", "s <> 'y'", None),
    ("s = 'x'", "s <> 'X'", None),
    ("s IN ('x')", "s IN ('X')", None),
    ("a > 0 AND s <> ''", "s <> ''", True),
    ("a > 0 AND s <> ''", "a > 0 AND s <> 'z'", False),
    ("a > 0", "a > 0 AND s IS NOT NULL", False),
    ("a IS NOT NULL", "a IS NOT NULL", True),
    ("a > 0", "a IS NOT NULL", False),
    # Admitted, but not decided: an OR, a list with NULL (which passes every row), NOT IN.
    ("a > 0", "a > 0 OR a IS NULL", None),
    ("a IN (1, 2)", "a IN (1, NULL)", None),
    ("a < 10", "a NOT IN (20)", None),
    ("a IN (1, 2)", "a NOT IN (3)", None),
]
# Probe rows: (a, s).
PROBES = [
    (a, s)
    for a in (None, -10, -5, -4, -1, 0, 0.5, 1, 2, 3, 4, 5, 6, 10, 11, 20, 99, 100, 1000)
    for s in (None, "", "x", "y", "z", "X")
]


def _condition(condition: str, dialect: str) -> Condition:
    text = SqlText(f"ALTER TABLE t ADD CONSTRAINT c CHECK ({condition});", "m.sql")
    read = read_postgres(text) if dialect == "postgres" else read_sqlglot(text, dialect)
    assert not read.problems
    (op,) = read.operations
    assert op.constraint == CHECK
    return op.condition


def _rows_sql(dialect: str) -> str:
    def literal(value: object) -> str:
        if value is None:
            return "NULL"
        return f"'{value}'" if isinstance(value, str) else str(value)

    if dialect == "postgres":
        values = ", ".join(f"({literal(a)}::numeric, {literal(s)}::text)" for a, s in PROBES)
        return f"(VALUES {values}) AS t (a, s)"
    rows = " UNION ALL ".join(f"SELECT {literal(a)} AS a, {literal(s)} AS s" for a, s in PROBES)
    return f"({rows}) AS t"


def _counterexamples(dialect: str, old: str, new: str) -> list[tuple[object, ...]]:
    """The probe rows the server passes through ``old`` and fails through ``new``."""
    query = (
        f"SELECT a, s FROM {_rows_sql(dialect)} WHERE (({old}) IS NOT FALSE) AND (({new}) IS FALSE)"
    )
    if dialect == "postgres":
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            return list(connection.execute(query.encode()).fetchall())
    if dialect == "mysql":
        connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        try:
            with connection.cursor() as cursor:
                cursor.execute(query)
                return list(cursor.fetchall())
        finally:
            connection.close()
    with sqlite3.connect(":memory:") as database:
        return database.execute(query).fetchall()


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
@pytest.mark.parametrize(("old", "new", "admitted"), CASES)
def test_implication_is_the_servers(
    dialect: str, old: str, new: str, admitted: bool | None
) -> None:
    found = _counterexamples(dialect, old, new)
    if admitted is not None:
        # The case's verdict is the server's: a stricter condition fails some probe row.
        assert (not found) == admitted, found
    assert implies(_condition(old, dialect), _condition(new, dialect)) == bool(admitted)


# Literals that differ only beyond a double's precision: a double column (PostgreSQL's double
# precision, MariaDB's DOUBLE, SQLite's REAL) compares them as the same double.
DOUBLE_CASES = [
    ("a >= 0.10000000000000000001", "a > 0.1"),
    ("a IN (0.10000000000000000001)", "a > 0.1"),
    ("a >= 0.1", "a > 0.09999999999999999999"),
]


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
@pytest.mark.parametrize(("old", "new"), DOUBLE_CASES)
def test_numbers_are_also_compared_as_doubles(dialect: str, old: str, new: str) -> None:
    # The server: a double column holding 0.1 passes the old condition and fails the new one.
    query = f"SELECT (({old}) IS NOT FALSE) AND (({new}) IS FALSE) FROM t"
    if dialect == "postgres":
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(b"CREATE TEMP TABLE t (a double precision)")
            connection.execute(b"INSERT INTO t VALUES (0.1)")
            assert connection.execute(query.encode()).fetchone() == (True,)
    elif dialect == "mysql":
        connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        try:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TEMPORARY TABLE test.t (a DOUBLE)")
                cursor.execute("INSERT INTO test.t VALUES (0.1)")
                cursor.execute(query.replace("FROM t", "FROM test.t"))
                assert cursor.fetchone() == (1,)
        finally:
            connection.close()
    else:
        with sqlite3.connect(":memory:") as database:
            database.execute("CREATE TABLE t (a REAL)")
            database.execute("INSERT INTO t VALUES (0.1)")
            assert database.execute(query).fetchone() == (1,)
    assert not implies(_condition(old, dialect), _condition(new, dialect))
