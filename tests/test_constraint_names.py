"""The names the schema model gives unnamed constraints are the ones PostgreSQL gives them.

Each script runs on the PostgreSQL server of 127.0.0.1 (in a scratch database made and dropped
here; the test FAILS, never skips, when the server is missing) and through backout's SQL reader
and schema model: the foreign keys, unique, check and primary key constraints of every table
must have the same names in both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from backout.schema_model import Schema, ordered_migrations, replay
from backout.sources.alembic import AlembicReader
from backout.sources.base import FactSet, SourceFile
from backout.sources.sql import SqlText, read_bodies
from tests.drill_repos import PG_URL

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
    name = f"backout_test_names_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


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
    schema = Schema(server_names=True)
    text = _PREPARE.get(schema_name, "") + script
    for op in read_bodies(SqlText(text, "script.sql"), None).up:
        schema.apply(op, True)
    return {name: set(t.constraints) for name, t in schema.tables.items() if t.constraints}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_unnamed_constraints_are_named_as_postgresql_names_them(
    scratch_url: str, name: str
) -> None:
    assert _model_names(name, SCRIPTS[name]) == _server_names(scratch_url, name, SCRIPTS[name])


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
