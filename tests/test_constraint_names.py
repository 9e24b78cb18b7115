"""The names the schema model gives unnamed constraints are the ones PostgreSQL gives them.

Each script runs on the PostgreSQL server of 127.0.0.1 (in a scratch database made and dropped
here; the test FAILS, never skips, when the server is missing) and through backout's SQL reader
and schema model: the foreign keys, unique, check and primary key constraints of every table
must have the same names in both.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pymysql
import pytest

from backout.schema_model import FOREIGN_KEY, UNIQUE, Schema, name_key, ordered_migrations, replay
from backout.sources.alembic import AlembicReader
from backout.sources.base import FactSet, SourceFile
from backout.sources.sql import SqlText, read_bodies
from tests.drill_repos import PG_URL, scratch_database

SCRIPTS = {
    "numbered_foreign_keys": """
        CREATE TABLE x (id int PRIMARY KEY);
        CREATE TABLE y (id int PRIMARY KEY);
        CREATE TABLE t (id int PRIMARY KEY, a int REFERENCES x, FOREIGN KEY (a) REFERENCES y);
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x;
        ALTER TABLE t DROP CONSTRAINT t_a_fkey1;
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x;
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x, ADD FOREIGN KEY (a) REFERENCES y;
    """,
    "name_taken_on_another_table": """
        CREATE TABLE x (id int PRIMARY KEY);
        CREATE TABLE t (a int REFERENCES x);
        ALTER TABLE t RENAME TO old_t;
        CREATE TABLE t (a int);
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x;
        CREATE TABLE w (a int, CONSTRAINT t_a_fkey2 FOREIGN KEY (a) REFERENCES x);
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x;
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x;
    """,
    "dropped_column_frees_the_name": """
        CREATE TABLE x (id int PRIMARY KEY);
        CREATE TABLE t (id int, a int REFERENCES x, b int);
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x;
        ALTER TABLE t DROP COLUMN a;
        ALTER TABLE t ADD COLUMN a int REFERENCES x;
        ALTER TABLE t ADD FOREIGN KEY (a, b) REFERENCES x2 (p, q);
    """,
    "keys_and_relations": """
        CREATE TABLE t_c_key (id int);
        CREATE TABLE p_pkey (id int);
        CREATE TABLE p (id int, b int UNIQUE, c int);
        ALTER TABLE p ADD PRIMARY KEY (id);
        ALTER TABLE p ADD UNIQUE (b);
        ALTER TABLE p ADD UNIQUE (c);
        CREATE TABLE t (c int UNIQUE, d int);
        ALTER TABLE t ADD UNIQUE (d), ADD UNIQUE (d);
    """,
    "check_constraints": """
        CREATE TABLE t (
            a int CHECK (a > 0), b int CHECK (b > a), c int CHECK (true),
            CHECK (a > 1), CHECK (a > b), d int CHECK (a > 2) CHECK (a > 3)
        );
        ALTER TABLE t ADD CHECK (a > 5), ADD CHECK (a > 6), ADD CHECK (b > 0 AND a > 0);
        ALTER TABLE t ADD COLUMN e int CHECK (e > 0);
        ALTER TABLE t DROP CONSTRAINT t_a_check, DROP CONSTRAINT t_check1;
        ALTER TABLE t ADD CHECK (a > 9), ADD CONSTRAINT t_check1 CHECK (e > 1);
        ALTER TABLE t ADD CHECK (c > 0 OR c < 0), ADD CHECK (e > 0 AND e < 9);
        ALTER TABLE t DROP COLUMN e;
        ALTER TABLE t ADD CHECK (b > 1);
    """,
    "keys_of_an_added_column": """
        CREATE TABLE w (a int);
        ALTER TABLE w ADD COLUMN b int UNIQUE;
        ALTER TABLE w ADD UNIQUE (b);
        ALTER TABLE w ADD COLUMN c int UNIQUE UNIQUE, ADD COLUMN d int PRIMARY KEY UNIQUE;
        ALTER TABLE w ADD UNIQUE (c), ADD UNIQUE (d);
    """,
    # PostgreSQL makes one key of identical ones in a CREATE TABLE (named or not: the first
    # one's name), where ALTER TABLE makes each (MariaDB makes each in both).
    "identical_keys": """
        CREATE TABLE u (id int PRIMARY KEY, a int, b int, c int, UNIQUE (a), UNIQUE (a),
            UNIQUE (b, c), UNIQUE (b, c), CONSTRAINT uq_c UNIQUE (c),
            CONSTRAINT uq_c2 UNIQUE (c), UNIQUE (c), d int UNIQUE, UNIQUE (d));
        ALTER TABLE u ADD UNIQUE (a), ADD UNIQUE (a);
        CREATE TABLE v (e int, UNIQUE (e), CONSTRAINT uq_e UNIQUE (e), CONSTRAINT uq_e2 UNIQUE (e),
            f int UNIQUE, CONSTRAINT uq_f UNIQUE (f), UNIQUE (g), g int UNIQUE,
            h int, UNIQUE (h) DEFERRABLE, UNIQUE (h), UNIQUE (e, h), UNIQUE (h, e),
            UNIQUE NULLS NOT DISTINCT (e, h));
        ALTER TABLE v ADD UNIQUE (f), ADD UNIQUE (g);
    """,
    "keys_of_one_column_are_one": """
        CREATE TABLE k (id int UNIQUE PRIMARY KEY, a int UNIQUE UNIQUE, b int UNIQUE NOT NULL);
        ALTER TABLE k ADD UNIQUE (id), ADD UNIQUE (a), ADD UNIQUE (b);
    """,
    "long_names_numbered": """
        CREATE TABLE authorities (id int PRIMARY KEY);
        CREATE TABLE certificate_notification_associations_history (
            notification_authority_identifier int REFERENCES authorities (id)
        );
        ALTER TABLE certificate_notification_associations_history
            ADD FOREIGN KEY (notification_authority_identifier) REFERENCES authorities (id);
        ALTER TABLE certificate_notification_associations_history
            ADD UNIQUE (notification_authority_identifier);
    """,
}
# ``x2`` of "dropped_column_frees_the_name", made first so that the script runs.
_PREPARE = {"dropped_column_frees_the_name": "CREATE TABLE x2 (p int, q int, UNIQUE (p, q));"}


@pytest.fixture(scope="module")
def scratch_url() -> Iterator[str]:
    """A database of its own on the server, dropped afterwards."""
    with scratch_database("postgres", "backout_test_names") as name:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"


def _server_names(url: str, schema: str, script: str) -> dict[str, set[str]]:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
        connection.execute(f"SET search_path = {schema}")
        connection.execute(_PREPARE.get(schema, "SELECT 1").encode())
        connection.execute(script.encode())
        rows = connection.execute(
            "SELECT c.relname, k.conname FROM pg_constraint k JOIN pg_class c "
            "ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND k.contype IN ('f', 'u', 'p', 'c')",
            (schema,),
        ).fetchall()
    names: dict[str, set[str]] = {}
    for table, constraint in rows:
        names.setdefault(table, set()).add(constraint)
    return names


def _model_names(schema_name: str, script: str) -> dict[str, set[str]]:
    schema = Schema(server_names="postgres")
    text = _PREPARE.get(schema_name, "") + script
    for op in read_bodies(SqlText(text, "script.sql"), None).up:
        schema.apply(op, True)
    return {name: set(t.constraints) for name, t in schema.tables.items() if t.constraints}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_unnamed_constraints_are_named_as_postgresql_names_them(
    scratch_url: str, name: str
) -> None:
    assert _model_names(name, SCRIPTS[name]) == _server_names(scratch_url, name, SCRIPTS[name])


# Scripts for MariaDB (10.11), whose default names are InnoDB's ``<table>_ibfk_<N>`` for a
# foreign key (N one more than the highest the table has) and, for a unique index, its first
# column's name, numbered ``_2``, ``_3``… while an index of the table holds it.
MARIADB_SCRIPTS = {
    "foreign_keys": """
        CREATE TABLE x (id int PRIMARY KEY);
        CREATE TABLE t (
            id int PRIMARY KEY, b int, FOREIGN KEY (b) REFERENCES x (id),
            a int REFERENCES x (id), c int, CONSTRAINT fk_c FOREIGN KEY (c) REFERENCES x (id)
        );
        ALTER TABLE t ADD FOREIGN KEY (c) REFERENCES x (id);
        ALTER TABLE t DROP FOREIGN KEY t_ibfk_3;
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x (id);
        ALTER TABLE t DROP FOREIGN KEY t_ibfk_1;
        ALTER TABLE t ADD CONSTRAINT t_ibfk_7 FOREIGN KEY (a) REFERENCES x (id);
        ALTER TABLE t ADD FOREIGN KEY (b) REFERENCES x (id);
        ALTER TABLE t RENAME TO u;
        RENAME TABLE u TO v;
        ALTER TABLE v DROP FOREIGN KEY v_ibfk_2;
        ALTER TABLE v ADD FOREIGN KEY (b) REFERENCES x (id);
    """,
    "unique_keys": """
        CREATE TABLE s (
            id int PRIMARY KEY, a int UNIQUE, b int, c int, UNIQUE (a), UNIQUE KEY (b, c),
            UNIQUE KEY uq (c), UNIQUE (c), d int UNIQUE
        );
        ALTER TABLE s ADD UNIQUE (a);
        ALTER TABLE s DROP INDEX a_2;
        ALTER TABLE s ADD UNIQUE (a), ADD COLUMN e int UNIQUE;
        CREATE UNIQUE INDEX e_2 ON s (e);
        ALTER TABLE s ADD UNIQUE (e);
        RENAME TABLE s TO r;
        ALTER TABLE r ADD UNIQUE (e);
        CREATE TABLE k (id int UNIQUE PRIMARY KEY, a int UNIQUE UNIQUE, b int UNIQUE NOT NULL);
        ALTER TABLE k ADD UNIQUE (id), ADD UNIQUE (a), ADD UNIQUE (b);
    """,
    # InnoDB numbers an unnamed foreign key after the keys the table had before the ALTER
    # TABLE, those it drops counted (t_ibfk_3, not t_ibfk_2, after dropping t_ibfk_2).
    "foreign_keys_dropped_by_the_same_alter": """
        CREATE TABLE x (id int PRIMARY KEY);
        CREATE TABLE t (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a) REFERENCES x (id),
            FOREIGN KEY (b) REFERENCES x (id));
        ALTER TABLE t DROP FOREIGN KEY t_ibfk_2, ADD FOREIGN KEY (b) REFERENCES x (id);
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x (id), DROP FOREIGN KEY t_ibfk_3;
        ALTER TABLE t DROP FOREIGN KEY t_ibfk_1, DROP FOREIGN KEY t_ibfk_4,
            ADD FOREIGN KEY (a) REFERENCES x (id), ADD FOREIGN KEY (b) REFERENCES x (id);
        ALTER TABLE t DROP FOREIGN KEY t_ibfk_5;
        ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES x (id);
    """,
    # Identical keys in one CREATE TABLE are two indexes on MariaDB (PostgreSQL makes one).
    "identical_keys": """
        CREATE TABLE u (id int PRIMARY KEY, a int, b int, c int, UNIQUE (a), UNIQUE (a),
            UNIQUE (b, c), UNIQUE (b, c), UNIQUE KEY (c), CONSTRAINT uq_c UNIQUE (c),
            CONSTRAINT uq_c2 UNIQUE (c));
        ALTER TABLE u ADD UNIQUE (a), ADD UNIQUE (a);
    """,
    # A plain index holds its name among the table's keys: the next unnamed one avoids it,
    # and dropping it leaves the unique key beside it.
    "plain_indexes": """
        CREATE TABLE p (id int PRIMARY KEY, a int, b int, c int, d text, KEY (a), INDEX (b),
            KEY named_c (c), FULLTEXT KEY (d));
        ALTER TABLE p ADD UNIQUE (a);
        CREATE INDEX b_2 ON p (b);
        ALTER TABLE p ADD UNIQUE (b), ADD INDEX (c), ADD KEY (c);
        ALTER TABLE p ADD UNIQUE (c), ADD UNIQUE (d(10));
        ALTER TABLE p DROP INDEX a;
        ALTER TABLE p ADD UNIQUE (a);
        DROP INDEX c ON p;
        ALTER TABLE p ADD UNIQUE (c);
    """,
}


@pytest.fixture(scope="module")
def mariadb_scratch() -> Iterator[str]:
    """A database of its own on the MariaDB server, dropped afterwards."""
    with scratch_database("mysql", "backout_test_names") as name:
        yield name


def _mariadb_names(database: str, script: str) -> dict[str, set[str]]:
    connection = pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=database
    )
    try:
        with connection.cursor() as cursor:
            for statement in script.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            cursor.execute(
                "SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS "
                "WHERE TABLE_SCHEMA = %s AND CONSTRAINT_TYPE IN ('FOREIGN KEY', 'UNIQUE')",
                (database,),
            )
            rows = cursor.fetchall()
            cursor.execute("SHOW TABLES")
            for (table,) in cursor.fetchall():
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                cursor.execute(f"DROP TABLE `{table}`")
    finally:
        connection.close()
    names: dict[str, set[str]] = {}
    for table, constraint in rows:
        names.setdefault(table, set()).add(constraint.lower())
    return names


def _mariadb_model_names(script: str) -> dict[str, set[str]]:
    schema = Schema(fold=name_key("mysql"), server_names="mysql")
    reads = read_bodies(SqlText(script, "script.sql"), None)
    operations = next((r.up for r in reads.dialect_reads if r.dialect == "mysql"), reads.up)
    for op in operations:
        schema.apply(op, True)
    return {
        name: {n for n, held in t.constraints.items() if held.kind in (FOREIGN_KEY, UNIQUE)}
        for name, t in schema.tables.items()
        if any(held.kind in (FOREIGN_KEY, UNIQUE) for held in t.constraints.values())
    }


@pytest.mark.parametrize("name", sorted(MARIADB_SCRIPTS))
def test_unnamed_keys_are_named_as_mariadb_names_them(mariadb_scratch: str, name: str) -> None:
    script = MARIADB_SCRIPTS[name]
    assert _mariadb_model_names(script) == _mariadb_names(mariadb_scratch, script)


def test_alembic_create_table_foreign_keys_hold_their_names() -> None:
    """``op.create_table``'s ``ForeignKeyConstraint`` and ``sa.ForeignKey`` are keys
    PostgreSQL names: the next unnamed key on the column is ``…_fkey1`` (the DDL SQLAlchemy
    emits for them is the SQL of "numbered_foreign_keys")."""
    source = (
        "revision = 'r1'\ndown_revision = None\n\ndef upgrade():\n"
        "    op.create_table('t', sa.Column('a', sa.Integer(), sa.ForeignKey('x.id')),\n"
        "        sa.Column('b', sa.Integer()), sa.ForeignKeyConstraint(['b'], ['public.x.id']),\n"
        "        sa.ForeignKeyConstraint(['a'], ['y.id'], name='t_named'))\n"
        "    op.create_foreign_key(None, 't', 'x', ['a'], ['id'])\n"
    )
    facts = FactSet()
    facts.extend(AlembicReader().read(SourceFile("alembic/versions/r1.py", source.encode())))
    schema = replay(ordered_migrations(facts))
    assert set(schema.tables["t"].constraints) == {"t_a_fkey", "t_b_fkey", "t_named", "t_a_fkey1"}
