"""Liquibase XML, YAML and JSON changelogs: changesets, rollbacks, include order, positions,
unreadable files, and what the drill says about them."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from backout.config import Config
from backout.discovery import Tree
from backout.engine import PARALLEL_THRESHOLD, _read_one, check, load_workspace
from backout.models import Severity, Suppression
from backout.schema_model import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    CREATE_TABLE,
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DOWN_RAISES,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_NOT_NULL,
    DROP_TABLE,
    PRIMARY_KEY,
    RENAME_COLUMN,
    SET_NOT_NULL,
    UNIQUE,
    Migration,
    ordered_migrations,
    replay,
    split_release,
)
from backout.schema_operations import UNNAMED_PRIMARY_KEY
from backout.sources import ALL_READERS
from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.liquibase import LiquibaseChangelogReader
from backout.sources.liquibase_sql_files import SqlFileChange
from backout.sources.migrations import MigrationFileReader
from backout.sources.paths import LIQUIBASE_READER
from tests.conftest import run_backout

READERS = (LiquibaseChangelogReader(), MigrationFileReader())
FIXTURES = Path(__file__).parent / "fixtures" / "rules"

XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<databaseChangeLog xmlns="http://www.liquibase.org/xml/ns/dbchangelog">\n'
    "{body}"
    "</databaseChangeLog>\n"
)


def xml(body: str) -> str:
    return XML.format(body=body)


def changeset(ident: str, changes: str, extra: str = "", author: str = "shop") -> str:
    return f'  <changeSet id="{ident}" author="{author}"{extra}>\n{changes}  </changeSet>\n'


CREATE_USERS = (
    '    <createTable tableName="users">\n'
    '      <column name="id" type="bigint"><constraints primaryKey="true"/></column>\n'
    '      <column name="email" type="varchar(255)"/>\n'
    "    </createTable>\n"
)


def read(files: dict[str, str]) -> FactSet:
    facts = FactSet()
    for path, text in files.items():
        for reader in READERS:
            if reader.wants(path):
                facts.extend(reader.read(SourceFile(path, text.encode())))
    return facts


def migrations(files: dict[str, str]) -> list[Migration]:
    return ordered_migrations(read(files))


def labels(ordered: list[Migration]) -> list[str]:
    return [f"{m.location.path.rsplit('/', 1)[-1]}#{m.changeset}" for m in ordered]


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


# --- Order ----------------------------------------------------------------------------------


def test_changesets_follow_the_master_changelog_not_file_names() -> None:
    files = {
        "src/main/resources/db/changelog/db.changelog-master.xml": xml(
            '  <include file="changes/b-users.xml" relativeToChangelogFile="true"/>\n'
            + changeset("m1", '    <tagDatabase tag="v1"/>\n')
            + '  <include file="classpath:/db/changelog/changes/a-orders.yaml"/>\n'
        ),
        "src/main/resources/db/changelog/changes/b-users.xml": xml(
            changeset("1", CREATE_USERS) + changeset("2", '    <tagDatabase tag="x"/>\n')
        ),
        "src/main/resources/db/changelog/changes/a-orders.yaml": (
            "databaseChangeLog:\n"
            "  - changeSet:\n      id: 3\n      author: shop\n      changes:\n"
            "        - addColumn:\n            tableName: users\n            columns:\n"
            "              - column:\n                  name: nick\n                  type: text\n"
        ),
    }
    ordered = migrations(files)
    assert labels(ordered) == [
        "b-users.xml#shop:1",
        "b-users.xml#shop:2",
        "db.changelog-master.xml#shop:m1",
        "a-orders.yaml#shop:3",
    ]
    master = "src/main/resources/db/changelog/db.changelog-master.xml"
    assert {m.stream for m in ordered} == {master}
    # The newest changeset is the last one the master runs, not the last file by name.
    assert labels(list(split_release(read(files)).release)) == ["a-orders.yaml#shop:3"]


def test_include_all_takes_a_folder_in_path_order_and_formatted_sql_too() -> None:
    files = {
        "db/master.yaml": (
            "databaseChangeLog:\n"
            "  - includeAll:\n      path: db/changes/\n"
            "  - include:\n      file: late.xml\n      relativeToChangelogFile: true\n"
        ),
        "db/late.xml": xml(changeset("late", '    <tagDatabase tag="late"/>\n')),
        "db/changes/020-b.xml": xml(changeset("20", '    <tagDatabase tag="b"/>\n')),
        "db/changes/010-a.sql": "--liquibase formatted sql\n--changeset shop:10\nSELECT 1;\n",
        "db/changes/sub/030-c.json": (
            '{"databaseChangeLog": [{"changeSet": {"id": "30", "author": "shop", '
            '"changes": [{"tagDatabase": {"tag": "c"}}]}}]}'
        ),
    }
    assert labels(migrations(files)) == [
        "010-a.sql#shop:10",
        "020-b.xml#shop:20",
        "030-c.json#shop:30",
        "late.xml#shop:late",
    ]


def test_without_a_master_changelogs_are_ordered_by_their_paths() -> None:
    files = {
        "db/changelog/v2.yaml": (
            "databaseChangeLog:\n  - changeSet:\n      id: b\n      author: shop\n"
            "      changes:\n        - dropTable:\n            tableName: users\n"
        ),
        "db/changelog/v1.xml": xml(changeset("a", CREATE_USERS)),
    }
    ordered = migrations(files)
    assert labels(ordered) == ["v1.xml#shop:a", "v2.yaml#shop:b"]
    assert {m.stream for m in ordered} == {"db/changelog"}


def test_an_include_cycle_ends() -> None:
    files = {
        "db/master.xml": xml('  <include file="db/a.xml"/>\n'),
        "db/a.xml": xml('  <include file="db/b.xml"/>\n' + changeset("a", CREATE_USERS)),
        "db/b.xml": xml('  <include file="db/a.xml"/>\n' + changeset("b", CREATE_USERS)),
    }
    assert labels(migrations(files)) == ["b.xml#shop:b", "a.xml#shop:a"]


# --- Changes and rollbacks --------------------------------------------------------------------


def test_changes_become_operations_at_their_elements() -> None:
    body = changeset(
        "1",
        CREATE_USERS
        + '    <addColumn tableName="users">\n'
        + '      <column name="nick" type="text" defaultValue="x">\n'
        + '        <constraints nullable="false"/>\n'
        + "      </column>\n"
        + "    </addColumn>\n"
        + '    <renameColumn tableName="users" oldColumnName="nick" newColumnName="alias"/>\n'
        + '    <addNotNullConstraint tableName="users" columnName="email" defaultNullValue="?"/>\n'
        + "    <sql>\n      ALTER TABLE users DROP COLUMN email;\n    </sql>\n",
        ' runInTransaction="false"',
    )
    (migration,) = migrations({"db/changelog.xml": xml(body)})
    assert migration.engine == "liquibase" and migration.layout == "liquibase"
    assert migration.changeset == "shop:1" and migration.label == "changelog.xml changeset shop:1"
    assert str(migration.location) == "db/changelog.xml:3:3"
    assert not migration.up_transaction and not migration.down_transaction
    found = [(op.kind, op.table, op.column, str(op.location)) for op in migration.up]
    assert found == [
        (CREATE_TABLE, "users", None, "db/changelog.xml:4:5"),
        (ADD_COLUMN, "users", "nick", "db/changelog.xml:9:7"),
        (RENAME_COLUMN, "users", "nick", "db/changelog.xml:13:5"),
        (SET_NOT_NULL, "users", "email", "db/changelog.xml:14:5"),
        (DROP_COLUMN, "users", "email", "db/changelog.xml:16:37"),
    ]
    created, added = migration.up[0], migration.up[1]
    assert [(c.name, c.nullable, c.unique) for c in created.columns] == [
        ("id", False, True),
        ("email", True, False),
    ]
    assert added.column_def is not None
    assert (added.column_def.nullable, added.column_def.has_default) == (False, True)
    # sql has no automatic rollback: the changeset has no down, and the reason says why.
    assert migration.down_state == DOWN_MISSING
    assert migration.down_reason == (
        "changeset shop:1 has no <rollback>, and Liquibase cannot roll back sql by itself"
    )


def test_a_primary_key_constraint_makes_its_one_column_the_tables_key() -> None:
    # ``primaryKey: true`` on one column is the table's key, NOT NULL and unique like an
    # SQL ``PRIMARY KEY`` column (dropPrimaryKey then takes the unique mark away); on several
    # columns of a createTable they are unique only together.
    xml_body = changeset(
        "1",
        CREATE_USERS
        + '    <createTable tableName="pairs">\n'
        + '      <column name="a" type="int"><constraints primaryKey="true"/></column>\n'
        + '      <column name="b" type="int"><constraints primaryKey="true"/></column>\n'
        + "    </createTable>\n"
        + '    <addColumn tableName="tags">\n'
        + '      <column name="code" type="text"><constraints primaryKey="true"/></column>\n'
        + "    </addColumn>\n",
    )
    yaml_text = (
        "databaseChangeLog:\n"
        "  - changeSet:\n"
        "      id: 2\n"
        "      author: ana\n"
        "      changes:\n"
        "        - addColumn:\n"
        "            tableName: labels\n"
        "            columns:\n"
        "              - column:\n"
        "                  name: code\n"
        "                  type: text\n"
        "                  constraints:\n"
        "                    primaryKey: true\n"
    )
    xml_migration, yaml_migration = migrations(
        {"db/changelog.xml": xml(xml_body), "db/labels.yaml": yaml_text}
    )
    users, pairs, pairs_key, tags = xml_migration.up
    (labels,) = yaml_migration.up
    declared = [*users.columns, *pairs.columns]
    declared += [op.column_def for op in (tags, labels) if op.column_def is not None]
    assert [(c.name, c.nullable, c.unique, c.primary_key) for c in declared] == [
        ("id", False, True, True),
        ("email", True, False, False),
        ("a", False, False, False),
        ("b", False, False, False),
        ("code", False, True, True),
        ("code", False, True, True),
    ]
    # The key over both, after the table, as ``PRIMARY KEY (a, b)`` is in SQL.
    assert (pairs_key.kind, pairs_key.table, pairs_key.constraint) == (
        ADD_CONSTRAINT,
        "pairs",
        PRIMARY_KEY,
    )
    assert (pairs_key.constrained, pairs_key.detail, str(pairs_key.location)) == (
        ("a", "b"),
        "",
        "db/changelog.xml:9:7",
    )


def test_named_keys_are_constraints_of_their_own() -> None:
    # ``uniqueConstraintName`` and ``primaryKeyName`` name a key, which a drop of that name
    # drops: recorded as ``CONSTRAINT name UNIQUE (email)`` is, not as the column's own
    # unnamed key. A createTable's key takes the first key column's name, as
    # CreateTableStatement does (the second column's is not used).
    body = changeset(
        "1",
        '    <createTable tableName="accounts">\n'
        '      <column name="id" type="bigint">\n'
        '        <constraints primaryKey="true" primaryKeyName="pk_accounts"/>\n'
        "      </column>\n"
        '      <column name="email" type="text">\n'
        '        <constraints unique="true" uniqueConstraintName="uq_accounts_email"/>\n'
        "      </column>\n"
        '      <column name="login" type="text"><constraints unique="true"/></column>\n'
        "    </createTable>\n"
        '    <createTable tableName="grants">\n'
        '      <column name="a" type="int"><constraints primaryKey="true"/></column>\n'
        '      <column name="b" type="int">\n'
        '        <constraints primaryKey="true" primaryKeyName="pk_ignored"/>\n'
        "      </column>\n"
        "    </createTable>\n"
        '    <addColumn tableName="accounts">\n'
        '      <column name="phone" type="text">\n'
        '        <constraints unique="true" uniqueConstraintName="uq_accounts_phone"/>\n'
        "      </column>\n"
        "    </addColumn>\n"
        '    <dropPrimaryKey tableName="grants"/>\n'
        '    <dropPrimaryKey tableName="accounts" constraintName="pk_accounts"/>\n',
    )
    (migration,) = migrations({"db/changelog.xml": xml(body)})
    accounts = migration.up[0]
    assert [(c.name, c.unique, c.primary_key, c.unique_key) for c in accounts.columns] == [
        ("id", True, False, False),
        ("email", True, False, False),
        ("login", True, False, True),
    ]
    found = [
        (op.kind, op.table, op.column, op.constraint, op.constrained, op.detail)
        for op in migration.up[1:]
        if op.kind != CREATE_TABLE
    ]
    assert found == [
        (ADD_CONSTRAINT, "accounts", None, PRIMARY_KEY, ("id",), "pk_accounts"),
        (ADD_CONSTRAINT, "accounts", None, UNIQUE, ("email",), "uq_accounts_email"),
        (ADD_CONSTRAINT, "grants", None, PRIMARY_KEY, ("a", "b"), ""),
        (ADD_COLUMN, "accounts", "phone", None, (), ""),
        (ADD_CONSTRAINT, "accounts", None, UNIQUE, ("phone",), "uq_accounts_phone"),
        # Without a name, the table's key whatever it is called; with one, that key.
        (DROP_CONSTRAINT, "grants", None, PRIMARY_KEY, (), UNNAMED_PRIMARY_KEY),
        (DROP_CONSTRAINT, "accounts", None, PRIMARY_KEY, (), "pk_accounts"),
    ]
    added = migration.up[5].column_def
    assert added is not None and (added.unique, added.unique_key) == (True, False)
    # Replayed, the keys are there under their names, and the drops take them away.
    schema = replay([replace(migration, up=migration.up[:7], dialect_reads=())])
    assert schema.tables["accounts"].keys == {
        "pk_accounts": ("id",),
        "uq_accounts_email": ("email",),
        "unique (login)": ("login",),
        "uq_accounts_phone": ("phone",),
    }
    assert schema.tables["grants"].keys == {"primary key": ("a", "b")}
    schema = replay([migration])
    assert "pk_accounts" not in schema.tables["accounts"].keys
    assert schema.tables["grants"].keys == {}
    assert not schema.tables["accounts"].columns["id"].unique


def test_automatic_rollback_is_the_inverse_of_each_change_in_reverse_order() -> None:
    body = changeset(
        "1",
        CREATE_USERS
        + '    <addNotNullConstraint tableName="users" columnName="email"/>\n'
        + '    <renameColumn tableName="users" oldColumnName="email" newColumnName="mail"/>\n',
    )
    (migration,) = migrations({"db/changelog.xml": xml(body)})
    assert migration.down_state == DOWN_PRESENT
    assert [(op.kind, op.table, op.column, op.new_name) for op in migration.down] == [
        (RENAME_COLUMN, "users", "mail", "email"),
        (DROP_NOT_NULL, "users", "email", None),
        (DROP_TABLE, "users", None, None),
    ]


@pytest.mark.parametrize(
    ("rollback", "state", "down_kinds"),
    [
        ('<rollback><dropTable tableName="users"/></rollback>', DOWN_PRESENT, [DROP_TABLE]),
        ("<rollback>DROP TABLE users;</rollback>", DOWN_PRESENT, [DROP_TABLE]),
        ('<rollback changeSetId="0" changeSetAuthor="shop"/>', DOWN_PRESENT, [DROP_TABLE]),
        ("<rollback/>", DOWN_EMPTY, []),
        ("<rollback>empty</rollback>", DOWN_EMPTY, []),
    ],
)
def test_an_explicit_rollback_is_the_down(rollback: str, state: str, down_kinds: list[str]) -> None:
    body = changeset("0", '    <dropTable tableName="users"/>\n') + changeset(
        "1", f"    <sql>DROP TABLE users;</sql>\n    {rollback}\n"
    )
    first, second = migrations({"db/changelog.xml": xml(body)})
    assert first.down_state == DOWN_MISSING
    assert "cannot roll back dropTable by itself" in first.down_reason
    assert second.down_state == state
    assert [op.kind for op in second.down] == down_kinds
    assert second.down_location is not None and second.down_location.line == 8


@pytest.mark.parametrize(
    "path", ["src/main/resources/db/legacy.xml", "classpath:db/legacy.xml", "/db/legacy.xml"]
)
def test_a_rollback_changeset_path_names_a_changeset_of_another_file(path: str) -> None:
    """``changeSetPath`` is a classpath path (Liquibase's ``rollback changeSetId``): it names
    the changeset of that file, not the one with the same id in the referencing file."""
    root = "src/main/resources/db/"
    legacy = xml(changeset("1", CREATE_USERS))
    current = xml(
        changeset(
            "1", '    <createTable tableName="audit"><column name="id" type="int"/></createTable>\n'
        )
        + changeset(
            "2",
            "    <sql>CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255));</sql>\n"
            f'    <rollback changeSetId="1" changeSetAuthor="shop" changeSetPath="{path}"/>\n',
        )
    )
    master = xml('  <include file="db/legacy.xml"/>\n  <include file="db/current.xml"/>\n')
    ordered = migrations(
        {root + "master.xml": master, root + "legacy.xml": legacy, root + "current.xml": current}
    )
    referencing = ordered[-1]
    assert referencing.changeset == "shop:2" and referencing.down_state == DOWN_PRESENT
    assert [(op.kind, op.table) for op in referencing.down] == [(CREATE_TABLE, "users")]


def test_a_rollback_changeset_path_without_the_changeset_reads_no_down_from_elsewhere() -> None:
    body = changeset("1", CREATE_USERS) + changeset(
        "2",
        '    <dropTable tableName="users"/>\n'
        '    <rollback changeSetId="1" changeSetAuthor="shop" changeSetPath="db/gone.xml"/>\n',
    )
    _, second = migrations({"db/changelog.xml": xml(body)})
    assert second.down == ()
    # Not a rollback that does nothing: Liquibase has no changeset to roll back with.
    assert second.down_state == DOWN_RAISES
    assert "shop:1 of db/gone.xml" in second.down_reason


def test_yaml_changelog_positions_rollbacks_and_dbms() -> None:
    text = (
        "databaseChangeLog:\n"
        "  - changeSet:\n"
        "      id: 7\n"
        "      author: ana\n"
        "      changes:\n"
        "        - dropColumn:\n"
        "            tableName: users\n"
        "            columns:\n"
        "              - column:\n"
        "                  name: legacy\n"
        "        - sql:\n"
        "            dbms: mysql\n"
        "            sql: |\n"
        "              ALTER TABLE users DROP COLUMN nick;\n"
        "      rollback: ALTER TABLE users ADD COLUMN legacy int;\n"
    )
    (migration,) = migrations({"db/changelog/db.changelog-master.yaml": text})
    assert str(migration.location) == "db/changelog/db.changelog-master.yaml:2:5"
    assert [(op.kind, op.column, op.location.line) for op in migration.up] == [
        (DROP_COLUMN, "legacy", 9)
    ]
    up_mysql, down_mysql = migration.operations("mysql")
    assert [(op.column, op.location.line) for op in up_mysql] == [("legacy", 9), ("nick", 14)]
    assert migration.down_state == DOWN_PRESENT
    assert [(op.kind, op.column, op.location.line) for op in down_mysql] == [
        (ADD_COLUMN, "legacy", 15)
    ]


def test_a_sql_file_change_is_recorded_for_after_the_read_and_has_no_rollback() -> None:
    """The reader sees one file: it records where the file's operations go, and reads none."""
    body = changeset(
        "1",
        CREATE_USERS
        + '    <sqlFile path="sql/001.sql" relativeToChangelogFile="true" endDelimiter="GO"'
        ' encoding="ISO-8859-1" dbms="postgresql, mysql"/>\n',
    )
    facts = read({"db/changelog.xml": xml(body)})
    assert facts.of(Unreadable) == []
    (change,) = facts.of(SqlFileChange)
    assert str(change.location) == "db/changelog.xml:8:5"
    assert str(change.changeset) == "db/changelog.xml:3:3"
    assert (change.target, change.relative, change.rollback) == ("sql/001.sql", True, False)
    assert (change.end_delimiter, change.encoding) == ("GO", "ISO-8859-1")
    # After the createTable, in PostgreSQL and MySQL only.
    assert (change.places, change.dialects) == ((1, 1, 1), ("postgres", "mysql"))
    (migration,) = facts.of(Migration)
    assert "cannot roll back sqlFile by itself" in migration.down_reason


# --- sqlFile: the SQL files changesets run ----------------------------------------------------

ADD_NICKNAME = (
    "-- The new code writes a nickname.\nALTER TABLE users\n  ADD COLUMN nickname text NOT NULL;\n"
)


def sql_file(path: str, extra: str = "", indent: str = "    ") -> str:
    return f'{indent}<sqlFile path="{path}"{extra}/>\n'


def findings(root: Path, *codes: str, base: str | None = None) -> list[str]:
    config = Config(root=root).with_overrides(select=codes)
    return sorted(f"{f.location} {f.code}" for f in check(root, config, base).findings)


def test_a_sql_file_is_read_as_the_changesets_sql_at_its_place(tmp_path: Path) -> None:
    """The file's statements are the changeset's, between the changes around the sqlFile,
    located in the file; its rollback's file is the down."""
    changes = (
        '    <addColumn tableName="users"><column name="age" type="int"/></addColumn>\n'
        + sql_file("sql/002-nickname.sql", ' relativeToChangelogFile="true"')
        + '    <addColumn tableName="users"><column name="bio" type="text"/></addColumn>\n'
        + "    <rollback>\n"
        + '      <dropColumn tableName="users" columnName="bio"/>\n'
        + sql_file("classpath:/db/sql/002-nickname-rollback.sql", indent="      ")
        + '      <dropColumn tableName="users" columnName="age"/>\n'
        + "    </rollback>\n"
    )
    files = {
        "src/main/resources/db/changelog.xml": xml(
            changeset("1", CREATE_USERS) + changeset("2", changes)
        ),
        "src/main/resources/db/sql/002-nickname.sql": ADD_NICKNAME,
        "src/main/resources/db/sql/002-nickname-rollback.sql": (
            "ALTER TABLE users DROP COLUMN nickname;\n"
        ),
    }
    write(tmp_path, files)
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    # The numbered files are the changeset's SQL, not migrations of their own.
    assert [m.changeset for m in facts.of(Migration)] == ["shop:1", "shop:2"]
    migration = facts.of(Migration)[1]
    changelog = "src/main/resources/db/changelog.xml"
    assert [(op.kind, op.column, str(op.location)) for op in migration.up] == [
        (ADD_COLUMN, "age", f"{changelog}:10:34"),
        (ADD_COLUMN, "nickname", "src/main/resources/db/sql/002-nickname.sql:3:14"),
        (ADD_COLUMN, "bio", f"{changelog}:12:34"),
    ]
    assert migration.down_state == DOWN_PRESENT
    assert [(op.kind, op.column, op.location.path) for op in migration.down] == [
        (DROP_COLUMN, "bio", changelog),
        (DROP_COLUMN, "nickname", "src/main/resources/db/sql/002-nickname-rollback.sql"),
        (DROP_COLUMN, "age", changelog),
    ]
    assert facts.of(Unreadable) == []
    assert findings(tmp_path, "BK201", "BK207", "BK901") == [
        "src/main/resources/db/sql/002-nickname.sql:3:14 BK201"
    ]


def test_a_sql_file_is_read_in_the_changes_dialects_with_its_delimiter_and_encoding(
    tmp_path: Path,
) -> None:
    changes = sql_file("sql/mysql.sql", ' relativeToChangelogFile="true" dbms="mysql"') + sql_file(
        "sql/pg.sql",
        ' relativeToChangelogFile="true" dbms="postgresql" endDelimiter="GO" encoding="ISO-8859-1"',
    )
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(changeset("1", CREATE_USERS) + changeset("2", changes)),
            "db/sql/mysql.sql": "ALTER TABLE users ADD COLUMN m int NOT NULL;\n",
        },
    )
    # Latin-1 as `encoding` says (é is one byte), statements ended by `GO` lines.
    (tmp_path / "db/sql/pg.sql").write_bytes(
        "-- café\nALTER TABLE users ADD COLUMN p int NOT NULL\nGO\n".encode("latin-1")
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    migration = facts.of(Migration)[1]
    assert [op.column for op in migration.operations("postgres")[0]] == ["p"]
    assert [op.column for op in migration.operations("mysql")[0]] == ["m"]
    assert migration.operations("sqlite")[0] == ()
    assert facts.of(Unreadable) == []
    assert findings(tmp_path, "BK201", "BK901") == ["db/sql/pg.sql:2:30 BK201"]


def test_unreadable_sql_of_a_sql_file_is_reported_once_in_the_file(tmp_path: Path) -> None:
    """The file is read as the changeset's only: not again as a plain numbered migration."""
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(
                changeset("1", CREATE_USERS)
                + changeset("2", sql_file("sql/0002_bad.sql", ' relativeToChangelogFile="true"'))
            ),
            "db/sql/0002_bad.sql": "ALTER TABLE users\n  ADD COLUMN x int NOT NULL,,;\n",
        },
    )
    found = findings(tmp_path, "BK201", "BK207", "BK901")
    assert found == [
        "db/changelog.xml:9:3 BK207",  # sqlFile without a rollback: Liquibase has none
        "db/sql/0002_bad.sql:2:29 BK901",
    ]


def test_a_formatted_sql_changelog_that_a_sql_file_runs_keeps_its_own_changesets(
    tmp_path: Path,
) -> None:
    """A formatted SQL changelog is a changelog of its own, whatever else runs its text: a
    ``sqlFile`` naming it does not drop its changesets (only a plain reading of a file)."""
    formatted = (
        "--liquibase formatted sql\n--changeset shop:f1\nALTER TABLE users ADD COLUMN f1 int;\n"
    )
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(
                changeset("1", CREATE_USERS)
                + changeset("2", sql_file("sql/formatted.sql", ' relativeToChangelogFile="true"'))
                + '  <include file="sql/formatted.sql" relativeToChangelogFile="true"/>\n'
            ),
            "db/sql/formatted.sql": formatted,
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert sorted(m.changeset or "" for m in facts.of(Migration)) == ["shop:1", "shop:2", "shop:f1"]
    assert "db/sql/formatted.sql:2:1 BK207" in findings(tmp_path, "BK207")


def test_a_sql_file_in_utf_16_as_its_encoding_says_is_read(tmp_path: Path) -> None:
    """UTF-16 text has a NUL byte in every ASCII character: the declared encoding decides
    whether the file is text, not the NUL bytes a UTF-8 file would have only if binary."""
    changes = sql_file("sql/002.sql", ' relativeToChangelogFile="true" encoding="UTF-16"')
    # The same bytes read as UTF-8, the default, are a binary file.
    changes += sql_file("sql/002.sql", ' relativeToChangelogFile="true"')
    write(
        tmp_path, {"db/changelog.xml": xml(changeset("1", CREATE_USERS) + changeset("2", changes))}
    )
    (tmp_path / "db/sql").mkdir()
    (tmp_path / "db/sql/002.sql").write_bytes(
        "ALTER TABLE users ADD COLUMN nick text NOT NULL;\r\n".encode("utf-16")
    )
    assert findings(tmp_path, "BK201", "BK901") == [
        "db/sql/002.sql:1 BK901",
        "db/sql/002.sql:1:30 BK201",
    ]


@pytest.mark.parametrize(
    ("path", "extra"),
    [("sql/current.sql", ' relativeToChangelogFile="true"'), ("db/sql/current.sql", "")],
)
def test_a_sql_file_that_is_a_link_to_another_file_of_the_tree_is_read(
    tmp_path: Path, path: str, extra: str
) -> None:
    """A link to a file checked under its own path is no path of the tree (nothing is read
    twice), but Liquibase opens it: the file it points to is the SQL."""
    changes = '    <addColumn tableName="users"><column name="nick" type="text"/></addColumn>\n'
    changes += "    <rollback>" + sql_file(path, extra, indent="") + "    </rollback>\n"
    write(
        tmp_path,
        {
            "src/main/resources/db/changelog.xml": xml(
                changeset("1", CREATE_USERS) + changeset("2", changes)
            ),
            "src/main/resources/db/sql/002-drop-nick.sql": "ALTER TABLE users DROP COLUMN nick;\n",
        },
    )
    (tmp_path / "src/main/resources/db/sql/current.sql").symlink_to("002-drop-nick.sql")
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert facts.of(Unreadable) == []
    migration = next(m for m in facts.of(Migration) if m.changeset == "shop:2")
    assert [(op.kind, str(op.location)) for op in migration.down] == [
        (DROP_COLUMN, "src/main/resources/db/sql/002-drop-nick.sql:1:31")
    ]


def test_a_rollback_naming_a_changeset_with_a_sql_file_runs_its_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(
                changeset("1", CREATE_USERS)
                + changeset(
                    "drop-nick", sql_file("sql/drop.sql", ' relativeToChangelogFile="true"')
                )
                + changeset(
                    "2",
                    '    <addColumn tableName="users"><column name="nick" type="text"/>'
                    "</addColumn>\n"
                    '    <rollback changeSetId="drop-nick" changeSetAuthor="shop"/>\n',
                )
            ),
            "db/sql/drop.sql": "ALTER TABLE users DROP COLUMN nick;\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    last = next(m for m in facts.of(Migration) if m.changeset == "shop:2")
    assert [(op.kind, str(op.location)) for op in last.down] == [
        (DROP_COLUMN, "db/sql/drop.sql:1:31")
    ]


@pytest.mark.parametrize(
    ("changelog", "text", "looked_for"),
    [
        (
            "src/main/resources/db/changelog.yaml",
            "databaseChangeLog:\n  - changeSet:\n      id: 1\n      author: shop\n"
            "      changes:\n        - sqlFile:\n            path: sql/001.sql\n"
            "            relativeToChangelogFile: true\n",
            "src/main/resources/db/sql/001.sql, relative to the changelog, is not in the "
            "checked tree",
        ),
        (
            "src/main/resources/db/changelog.json",
            '{"databaseChangeLog": [{"changeSet": {"id": "1", "author": "shop", "changes": '
            '[{"sqlFile": {"path": "classpath:db/sql/001.sql"}}]}}]}',
            "no file of the checked tree is db/sql/001.sql of the search path, below the "
            "changelog's folder or one above it (such as src/main/resources/db/sql/001.sql)",
        ),
        (
            "db/changelog.xml",
            xml(changeset("1", sql_file("../../001.sql", ' relativeToChangelogFile="true"'))),
            "../001.sql, relative to the changelog, is outside the checked tree",
        ),
    ],
)
def test_a_sql_file_not_in_the_tree_is_bk901_naming_the_path_looked_for(
    tmp_path: Path, changelog: str, text: str, looked_for: str
) -> None:
    # A file of that name elsewhere is not the one Liquibase looks for.
    write(tmp_path, {changelog: text, "other/sql/001.sql": "DROP TABLE users;\n"})
    config = Config(root=tmp_path).with_overrides(select=("BK901",))
    (finding,) = check(tmp_path, config).findings
    assert finding.location.path == changelog
    assert f"found no file: {looked_for}, so" in finding.message
    assert finding.fix == "correct the path or add the file"


def test_an_include_or_include_all_that_finds_nothing_is_bk901_at_the_include(
    tmp_path: Path,
) -> None:
    """Liquibase stops at an ``include`` whose file is missing and at an ``includeAll``
    whose folder is missing or empty (``errorIfMissing``/``errorIfMissingOrEmpty`` default
    true: ``DatabaseChangeLog.handleInclude``/``includeAll``), so the changesets it names
    were not checked: a BK901 at the include. Set false, it is not; ``ignore="true"`` does
    not spare a missing file (see the next test)."""
    write(
        tmp_path,
        {
            "db/master.xml": xml(
                '  <include file="db/changes/001.xml"/>\n'
                '  <include file="changes/002.xml" relativeToChangelogFile="true"/>\n'
                '  <include file="changes/003.xml" relativeToChangelogFile="true"'
                ' errorIfMissing="false"/>\n'
                '  <include file="changes/004.xml" relativeToChangelogFile="true"'
                ' ignore="true"/>\n'
                '  <includeAll path="empty/" relativeToChangelogFile="true"/>\n'
                '  <includeAll path="gone/" errorIfMissingOrEmpty="false"/>\n'
                '  <includeAll path="db/changes/"/>\n'
            ),
            "db/changes/001.xml": xml(changeset("1", "    <sql>SELECT 1</sql>\n")),
            "other/changes/002.xml": xml(changeset("2", "    <sql>SELECT 2</sql>\n")),
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK901",))
    findings = check(tmp_path, config).findings
    assert [(f.location.path, f.location.line) for f in findings] == [
        ("db/master.xml", 4),
        ("db/master.xml", 6),
        ("db/master.xml", 7),
    ]
    missing, _, empty = findings
    assert missing.message.startswith(
        "include changes/002.xml found no file: db/changes/002.xml, relative to the "
        "changelog, is not in the checked tree (Liquibase stops here too), so what it holds "
        "was not checked"
    )
    assert 'errorIfMissing="false"' in missing.fix
    assert "includeAll empty/ found nothing: no file of the checked tree is below db/empty/" in (
        empty.message
    )
    assert 'errorIfMissingOrEmpty="false"' in empty.fix


def test_an_include_path_starting_with_dots_climbs_from_a_search_root(
    tmp_path: Path,
) -> None:
    """Without ``relativeToChangelogFile``, ``./x.xml`` and ``../x.xml`` are search-path
    paths, resolved against the root folder as file system paths: run from the changelog's
    folder, ``../shared/001.xml`` is the folder beside it; ``./003.xml`` is found at the
    tree's root."""
    write(
        tmp_path,
        {
            "db/changelog/master.yaml": "databaseChangeLog:\n"
            "  - include:\n      file: ../shared/001.xml\n"
            "  - include:\n      file: ./002.xml\n"
            "  - include:\n      file: ./003.xml\n      relativeToChangelogFile: false\n",
            "db/shared/001.xml": xml(changeset("1", "    <sql>SELECT 1</sql>\n")),
            "db/changelog/002.xml": xml(changeset("2", "    <sql>SELECT 2</sql>\n")),
            "003.xml": xml(changeset("3", "    <sql>SELECT 3</sql>\n")),
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert labels(ordered_migrations(facts)) == [
        "001.xml#shop:1",
        "002.xml#shop:2",
        "003.xml#shop:3",
    ]
    assert not [u for u in facts.of(Unreadable) if u.reader == LIQUIBASE_READER]


def test_check_with_base_reports_a_new_changesets_unchanged_sql_file(tmp_path: Path) -> None:
    """End to end: the installed command, a git repository, ``--base``. The new changeset
    runs a SQL file that the base already had: its finding is in that file, which counts as
    changed with the changelog; a SQL file changed alone makes its changelog changed."""
    from tests.conftest import git

    repo = tmp_path / "repo"
    changelog = "src/main/resources/db/changelog/db.changelog-master.yaml"
    first = (
        "databaseChangeLog:\n  - changeSet:\n      id: 1\n      author: shop\n"
        "      changes:\n        - sqlFile: {path: sql/001.sql, relativeToChangelogFile: true}\n"
        "      rollback:\n        - sql: DROP TABLE users\n"
    )
    write(
        repo,
        {
            changelog: first,
            "src/main/resources/db/changelog/sql/001.sql": "CREATE TABLE users (id int);\n",
            "src/main/resources/db/changelog/sql/002.sql": ADD_NICKNAME,
        },
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    (repo / changelog).write_text(
        first + "  - changeSet:\n      id: 2\n      author: shop\n"
        "      changes:\n        - sqlFile: {path: sql/002.sql, relativeToChangelogFile: true}\n"
    )
    done = run_backout("check", ".", "--base", "main", "--format", "concise", cwd=repo)
    assert done.returncode == 1, done.stderr
    lines = sorted(
        line.split(": ")[0] + ": " + line.split(": ")[1][:5] for line in done.stdout.splitlines()
    )
    assert lines == [
        f"{changelog}:9:5: BK207",
        "src/main/resources/db/changelog/sql/002.sql:3:14: BK201",
    ]


def test_with_base_a_new_changeset_makes_only_its_own_sql_files_changed(tmp_path: Path) -> None:
    """Adding a changeset to a changelog does not make the files of the changesets that ran
    already count as changed: what was found in them before is not this change's."""
    from tests.conftest import git

    first = changeset(
        "1",
        CREATE_USERS
        + sql_file("sql/001.sql", ' relativeToChangelogFile="true"')
        + "    <rollback>DROP TABLE users;</rollback>\n",
    )
    files = {
        "db/changelog.xml": xml(first),
        "db/sql/001.sql": "INSERT INTO users (id) VALUES (1),,;\n",  # a BK901 of the base
        "db/sql/002.sql": ADD_NICKNAME,
    }
    write(tmp_path, files)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    second = changeset("2", sql_file("sql/002.sql", ' relativeToChangelogFile="true"'))
    write(tmp_path, {"db/changelog.xml": xml(first + second)})
    assert findings(tmp_path, "BK201", "BK901", base="main") == ["db/sql/002.sql:3:14 BK201"]
    # A statement edited in the file of a changeset changes the changeset.
    git(tmp_path, "commit", "-q", "-am", "second")
    write(tmp_path, {"db/sql/001.sql": "INSERT INTO users (id) VALUES (2),,;\n"})
    assert findings(tmp_path, "BK901", base="main") == ["db/sql/001.sql:1:35 BK901"]


# --- What is not a changelog, and what cannot be read -----------------------------------------


def test_other_xml_yaml_and_json_files_give_nothing() -> None:
    reader = LiquibaseChangelogReader()
    for path, text in {
        "pom.xml": "<project><artifactId>databaseChangeLog</artifactId></project>",
        "src/main/resources/beans.xml": "<beans><bean id='databaseChangeLog'/></beans>",
        "conf/broken.xml": "<not xml",
        "k8s/deploy.yaml": "kind: Deployment\nmetadata: {name: databaseChangeLog}\n",
        "package.json": '{"name": "x"}',
    }.items():
        assert list(reader.read(SourceFile(path, text.encode()))) == [], path


@pytest.mark.parametrize(
    ("path", "text", "where", "words"),
    [
        (
            "db/changelog.xml",
            xml(changeset("1", "    <dropTable tableName='t'>\n")),
            "db/changelog.xml:5:5",
            "invalid XML: mismatched tag",
        ),
        (
            "db/changelog.yaml",
            "databaseChangeLog:\n  - changeSet:\n      id: 1\n     author: x\n",
            "db/changelog.yaml:4:",
            "invalid YAML",
        ),
        (
            "db/changelog.json",
            '{"databaseChangeLog": [ {"changeSet": ',
            "db/changelog.json:",
            "invalid JSON",
        ),
        (
            "db/changelog.xml",
            '<?xml version="1.0"?>\n<!DOCTYPE d [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
            "<databaseChangeLog>&xxe;</databaseChangeLog>\n",
            "db/changelog.xml:3:",
            "declares the XML entity 'xxe'",
        ),
    ],
)
def test_unreadable_changelogs_are_located(path: str, text: str, where: str, words: str) -> None:
    (fact,) = LiquibaseChangelogReader().read(SourceFile(path, text.encode()))
    assert isinstance(fact, Unreadable) and fact.reader == LIQUIBASE_READER
    assert str(fact.location).startswith(where) and words in fact.reason


def test_billion_laughs_is_refused_at_once() -> None:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE databaseChangeLog [\n'
        + "\n".join(entities)
        + "\n]>\n<databaseChangeLog><changeSet id='1' author='x'>"
        + "<sql>&lol9;</sql></changeSet></databaseChangeLog>\n"
    )
    started = time.perf_counter()
    (fact,) = LiquibaseChangelogReader().read(SourceFile("db/changelog.xml", text.encode()))
    assert time.perf_counter() - started < 1
    assert isinstance(fact, Unreadable) and "lol0" in fact.reason


def test_bk901_reports_a_broken_changelog(tmp_path: Path) -> None:
    write(tmp_path, {"db/changelog.xml": xml(changeset("1", "    <dropTable>\n"))})
    result = check(tmp_path, Config(root=tmp_path).with_overrides(select=("BK901",)))
    assert [(f.code, str(f.location)) for f in result.findings] == [
        ("BK901", "db/changelog.xml:5:5")
    ]


def test_a_yaml_changelog_is_parsed_once_for_all_its_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    calls = []
    real = yaml.compose_all

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(yaml, "compose_all", counting)
    path = "src/main/resources/db/changelog/db.changelog-master.yaml"
    wanted = [reader for reader in ALL_READERS if reader.wants(path)]
    assert len(wanted) > 1  # the manifest and CI readers want it too
    text = "databaseChangeLog:\n  - include:\n      file: a.yaml\n"
    facts, _ = _read_one(path, text.encode(), wanted)
    assert len(calls) == 1
    assert [type(f).__name__ for f in facts] == ["ChangelogInclude"]


def test_an_oversized_xml_file_is_skipped_not_reported() -> None:
    wanted = [reader for reader in ALL_READERS if reader.wants("data/export.xml")]
    assert [r.name for r in wanted] == [LIQUIBASE_READER]
    assert _read_one("data/export.xml", None, wanted) == ([], [])


def test_every_liquibase_rule_fixture_is_read_as_changesets() -> None:
    """The pass fixtures prove something only if their changelogs are read."""
    cases = sorted(FIXTURES.glob("BK2*/*/liquibase_xml_*")) + sorted(
        FIXTURES.glob("BK2*/*/liquibase_yaml_*")
    )
    assert len(cases) >= 36
    for case in cases:
        files = {
            str(path.relative_to(case)): path.read_text()
            for path in case.rglob("*")
            if path.suffix in (".xml", ".yaml")
        }
        facts = read(files)
        found = facts.of(Migration)
        assert len(found) >= 2 and all(m.engine == "liquibase" for m in found), case
        # (A changeset for another database is read, then left out of PostgreSQL's order.)
        assert len({m.stream for m in ordered_migrations(facts)}) == 1, case


# --- The drill ------------------------------------------------------------------------------


def test_drill_refuses_liquibase_changelogs_with_a_clear_message(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(
                changeset("1", CREATE_USERS)
                + changeset("2", '    <dropColumn tableName="users" columnName="email"/>\n')
            )
        },
    )
    done = run_backout("drill", str(tmp_path), "--database", "postgresql://127.0.0.1:1/none")
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "changelog.xml changeset shop:1" in line and "only Liquibase can apply" in line
    assert "update-testing-rollback" in line


def test_bk207_names_the_change_and_the_rollback_to_write(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(
                changeset("1", CREATE_USERS)
                + changeset(
                    "2",
                    '    <modifyDataType tableName="users" columnName="email" '
                    'newDataType="text"/>\n',
                )
            )
        },
    )
    result = check(tmp_path, Config(root=tmp_path).with_overrides(select=("BK207",)))
    (finding,) = result.findings
    assert str(finding.location) == "db/changelog.xml:9:3"
    assert "Liquibase cannot roll back modifyDataType by itself" in finding.message
    assert "`<rollback>` in XML" in finding.fix


CUSTOM_CHANGE = '    <customChange class="com.shop.db.BackfillNicknames"/>\n'
ADD_REQUIRED = (
    '    <addColumn tableName="users"><column name="nickname" type="text">\n'
    '      <constraints nullable="false"/></column></addColumn>\n'
)


@pytest.mark.parametrize(
    ("changes", "severity", "words"),
    [
        # Only the custom change stands between Liquibase and a rollback: whether its class
        # implements CustomSqlRollback/CustomTaskRollback decides, which the changelog does not
        # say. A warning even though the changeset breaks the old release (BK201 says so).
        (
            ADD_REQUIRED + CUSTOM_CHANGE,
            Severity.WARNING,
            "cannot tell whether com.shop.db.BackfillNicknames implements a rollback",
        ),
        # A dropColumn, which Liquibase cannot invert, breaks the old release: an error still.
        (
            '    <dropColumn tableName="users" columnName="email"/>\n' + CUSTOM_CHANGE,
            Severity.ERROR,
            "cannot roll back dropColumn, customChange by itself",
        ),
    ],
)
def test_bk207_cannot_tell_whether_a_custom_change_rolls_back(
    tmp_path: Path, changes: str, severity: Severity, words: str
) -> None:
    body = changeset("1", CREATE_USERS) + changeset("2", changes)
    write(tmp_path, {"db/changelog.xml": xml(body)})
    result = check(tmp_path, Config(root=tmp_path).with_overrides(select=("BK207",)))
    (finding,) = result.findings
    assert finding.severity == severity
    assert words in finding.message


def test_a_yaml_file_that_only_mentions_changelogs_is_no_unreadable_changelog(
    tmp_path: Path,
) -> None:
    # A Helm template is not YAML until rendered; this one carries a changelog as ConfigMap
    # data. And a broken manifest whose comment names the word is one BK901, the manifest
    # reader's, not a second one from the changelog reader.
    files = {
        "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        "chart/templates/configmap.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-db\n"
            "data:\n  db.changelog-master.yaml: |\n    databaseChangeLog:\n"
            "      - include:\n          file: db/changelog/changes/001.yaml\n"
        ),
        "k8s/bad.yaml": (
            "# applies the databaseChangeLog at start-up\napiVersion: apps/v1\n"
            "kind: Deployment\nmetadata: {name: app\nspec:\n"
        ),
    }
    reader = LiquibaseChangelogReader()
    for path, text in files.items():
        assert reader.read(SourceFile(path, text.encode())) == [], path
    write(tmp_path, files)
    result = check(tmp_path, Config(root=tmp_path).with_overrides(select=("BK901",)))
    assert [(f.code, f.location.path) for f in result.findings] == [("BK901", "k8s/bad.yaml")]


def test_a_broken_changelog_is_reported_by_the_changelog_reader_whoever_parsed_it_first() -> None:
    file = SourceFile("db/changelog.yaml", b"databaseChangeLog:\n  - changeSet: {id: 1\n")
    from backout.sources import yamlfile

    assert isinstance(yamlfile.yaml_documents(file, "kubernetes"), Unreadable)
    (fact,) = LiquibaseChangelogReader().read(file)
    assert isinstance(fact, Unreadable) and fact.reader == LIQUIBASE_READER


@pytest.mark.parametrize(
    ("conditions", "dialects"),
    [
        ("      - onFail: MARK_RAN\n      - dbms:\n          type: postgresql\n", ("postgres",)),
        (
            "      - onFail: CONTINUE\n      - or:\n          - dbms:\n              type: mysql\n"
            "          - dbms:\n              type: mariadb\n",
            ("mysql",),
        ),
        (
            "      - onFail: MARK_RAN\n      - not:\n          - dbms:\n"
            "              type: sqlite\n      - tableExists:\n          tableName: t\n",
            ("mysql", "postgres"),
        ),
        # Another check may pass where the dbms one fails: nothing is known.
        (
            "      - onFail: MARK_RAN\n      - or:\n          - dbms:\n              type: h2\n"
            "          - tableExists:\n              tableName: t\n",
            None,
        ),
        # WARN runs the changeset whatever the check says.
        ("      - onFail: WARN\n      - dbms:\n          type: oracle\n", None),
        # HALT (the default) stops the update there: the changeset never runs on PostgreSQL.
        ("      - dbms:\n          type: oracle\n", ()),
    ],
)
def test_yaml_preconditions_on_the_database_keep_a_changeset_to_it(
    conditions: str, dialects: tuple[str, ...] | None
) -> None:
    text = (
        "databaseChangeLog:\n  - changeSet:\n      id: 1\n      author: a\n      preConditions:\n"
        + conditions
        + "      changes:\n        - dropTable:\n            tableName: t\n"
    )
    (migration,) = read({"db/changelog.yaml": text}).of(Migration)
    assert migration.dialects == dialects
    for dialect in ("postgres", "mysql", "sqlite"):
        config = Config(root=Path(".")).with_overrides(sql_dialect=dialect)
        kept = ordered_migrations(read({"db/changelog.yaml": text}), config)
        assert len(kept) == (dialects is None or dialect in dialects), dialect


def counted_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker counts of the read pools the engine starts from now on."""
    from backout import engine

    pooled: list[int] = []
    read_in_pool = engine._read_in_pool

    def counted(tree: Tree, workers: int) -> list[tuple[str, list[Fact], list[Suppression]]]:
        pooled.append(workers)
        return read_in_pool(tree, workers)

    monkeypatch.setattr(engine, "_read_in_pool", counted)
    return pooled


def test_the_read_pool_reads_sql_files_into_their_changesets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With enough files the changelogs are read by worker processes: their sqlFile changes
    come back pickled, and the files are read into the changesets the same."""
    pooled = counted_pools(monkeypatch)

    fixture = FIXTURES / "BK201" / "fail" / "liquibase_xml_sql_file"
    for path in fixture.rglob("*"):
        if path.is_file() and path.name != "expected.txt":
            target = tmp_path / path.relative_to(fixture)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    # After the project's files in path order: the workers, which take the first, read them.
    for index in range(PARALLEL_THRESHOLD):
        write(tmp_path, {f"zz/cm{index}.yaml": f"kind: ConfigMap\nmetadata: {{name: c{index}}}\n"})
    (expected,) = (fixture / "expected.txt").read_text().splitlines()
    assert findings(tmp_path, "BK201", "BK207", "BK901") == [expected]
    assert pooled, "the tree was not read in a process pool"


def test_a_missing_sql_file_that_a_rollback_reuses_is_reported_once(tmp_path: Path) -> None:
    missing = sql_file("sql/gone.sql", ' relativeToChangelogFile="true"')
    reuse = '    <rollback changeSetId="1" changeSetAuthor="shop"/>\n'
    body = changeset("1", missing) + changeset("2", CREATE_USERS + reuse)
    write(tmp_path, {"db/changelog.xml": xml(body)})
    assert findings(tmp_path, "BK207", "BK901") == [
        "db/changelog.xml:4:5 BK207",  # changeset 2's rollback runs it: it fails
        "db/changelog.xml:4:5 BK901",
    ]


# --- Plain SQL files a changelog includes: one raw changeset each ---------------------------

INCLUDE_CHANGES = '  <includeAll path="changes/" relativeToChangelogFile="true"/>\n'


def test_include_all_runs_plain_sql_files_as_raw_changesets_in_path_order(tmp_path: Path) -> None:
    """Liquibase's SqlChangeLogParser makes a ``.sql`` file without the formatted SQL header
    one changeset (id ``raw``, author ``includeAll``) of its whole text, in includeAll's
    path order; a formatted file in the same folder keeps its changesets."""
    write(
        tmp_path,
        {
            "db/master.xml": xml(
                '  <includeAll path="changes/" relativeToChangelogFile="true"/>\n'
                '  <include file="db/late.sql"/>\n'
            ),
            "db/changes/001-create-users.sql": "CREATE TABLE users (id int);\n",
            "db/changes/002-formatted.sql": (
                "--liquibase formatted sql\n--changeset shop:2\n"
                "ALTER TABLE users ADD COLUMN email text;\n"
                "--rollback ALTER TABLE users DROP COLUMN email;\n"
            ),
            "db/changes/add_nickname.sql": (
                "-- no header: one raw changeset\n"
                "ALTER TABLE users ADD COLUMN nickname text NOT NULL;\n"
            ),
            "db/changes/README.md": "The release's migrations.\n",
            "db/late.sql": "ALTER TABLE users ADD COLUMN age int;\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    ordered = ordered_migrations(facts)
    assert labels(ordered) == [
        "001-create-users.sql#includeAll:raw",
        "002-formatted.sql#shop:2",
        "add_nickname.sql#includeAll:raw",
        "late.sql#includeAll:raw",
    ]
    assert {m.stream for m in ordered} == {"db/master.xml"}
    raw = ordered[2]
    assert (raw.layout, raw.down_state) == ("liquibase", DOWN_MISSING)
    assert [(op.kind, op.column, str(op.location)) for op in raw.up] == [
        (ADD_COLUMN, "nickname", "db/changes/add_nickname.sql:2:30")
    ]
    # Not also a plain numbered migration of its own.
    assert [m.layout for m in facts.of(Migration)].count("plain") == 0
    config = Config(root=tmp_path).with_overrides(select=("BK201", "BK207"), release_size=2)
    result = check(tmp_path, config)
    assert sorted(f"{f.location} {f.code}" for f in result.findings) == [
        "db/changes/add_nickname.sql:1:1 BK207",
        "db/changes/add_nickname.sql:2:30 BK201",
        "db/late.sql:1:1 BK207",
    ]
    bk207 = next(f for f in result.findings if f.code == "BK207")
    assert "--liquibase formatted sql" in bk207.message


@pytest.mark.parametrize(
    "master",
    [
        "databaseChangeLog:\n  - includeAll:\n      path: db/changes/\n"
        "      endsWithFilter: .sql\n",
        '{"databaseChangeLog": [{"includeAll": {"path": "changes", '
        '"relativeToChangelogFile": true, "endsWithFilter": ".sql"}}]}',
    ],
)
def test_yaml_and_json_include_all_of_plain_sql_files_with_an_ends_with_filter(
    tmp_path: Path, master: str
) -> None:
    name = "db/master.yaml" if master.startswith("databaseChangeLog") else "db/master.json"
    write(
        tmp_path,
        {
            name: master,
            "db/changes/1.sql": "CREATE TABLE users (id int);\n",
            "db/changes/2.sql": "ALTER TABLE users DROP COLUMN id;\n",
            # Not taken: the filter keeps the .sql files (in any case).
            "db/changes/3.xml": xml(changeset("3", '    <tagDatabase tag="v3"/>\n')),
            "db/changes/4.SQL": "ALTER TABLE users ADD COLUMN nick text;\n",
        },
    )
    ordered = ordered_migrations(load_workspace(tmp_path, Config(root=tmp_path)).head.facts)
    assert labels([m for m in ordered if m.stream == name]) == [
        "1.sql#includeAll:raw",
        "2.sql#includeAll:raw",
        "4.SQL#includeAll:raw",
    ]
    config = Config(root=tmp_path).with_overrides(select=("BK202", "BK207"), release_size=2)
    assert sorted(f"{f.location} {f.code}" for f in check(tmp_path, config).findings) == [
        "db/changes/2.sql:1:1 BK207",
        "db/changes/2.sql:1:31 BK202",
        "db/changes/4.SQL:1:1 BK207",
    ]


def test_a_plain_sql_file_that_no_changelog_includes_is_no_raw_changeset(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/master.xml": xml(INCLUDE_CHANGES),
            "db/changes/1.sql": "CREATE TABLE users (id int);\n",
            "flyway/V1__init.sql": "CREATE TABLE orders (id int);\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert sorted((m.location.path, m.layout) for m in facts.of(Migration)) == [
        ("db/changes/1.sql", "liquibase"),
        ("flyway/V1__init.sql", "flyway"),
    ]


def test_the_read_pool_reads_included_plain_sql_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read by worker processes, the includes come back pickled: the raw changesets are
    made the same."""
    pooled = counted_pools(monkeypatch)
    write(
        tmp_path,
        {
            "db/master.xml": xml(INCLUDE_CHANGES),
            "db/changes/add.sql": "ALTER TABLE users ADD COLUMN nickname text NOT NULL;\n",
        },
    )
    for index in range(PARALLEL_THRESHOLD):
        write(tmp_path, {f"zz/cm{index}.yaml": f"kind: ConfigMap\nmetadata: {{name: c{index}}}\n"})
    assert findings(tmp_path, "BK201") == ["db/changes/add.sql:1:30 BK201"]
    assert pooled, "the tree was not read in a process pool"


def test_include_all_depths_keep_the_folder_levels_they_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/master.yaml": (
                "databaseChangeLog:\n  - includeAll:\n      path: db/changes\n      maxDepth: 1\n"
            ),
            "db/changes/1.sql": "CREATE TABLE users (id int);\n",
            "db/changes/old/0.sql": "CREATE TABLE old (id int);\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert labels(ordered_migrations(facts)) == ["1.sql#includeAll:raw"]


# --- Search-path paths: below the changelog's folders, not anywhere in the tree ---------------


def test_a_search_path_sql_file_is_not_another_tools_file_elsewhere(tmp_path: Path) -> None:
    """``db/sql/0002_nick.sql`` is looked for below the changelog's folder and the folders
    above it (the search path a Maven, Spring or CLI project has), not at the end of any
    path: the golang-migrate file of another service stays its own migration."""
    changes = sql_file("db/sql/0002_nick.sql") + "    <rollback/>\n"
    other = "services/billing/db/sql/0002_nick.sql"
    write(
        tmp_path,
        {
            "app/src/main/resources/db/changelog.xml": xml(
                changeset("1", CREATE_USERS) + changeset("2", changes)
            ),
            other: "ALTER TABLE invoices ADD COLUMN nick text NOT NULL;\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert [m.layout for m in facts.of(Migration) if m.location.path == other] == ["plain"]
    (change,) = facts.of(SqlFileChange)
    assert change.found is None
    (problem,) = [u for u in facts.of(Unreadable) if u.reader == LIQUIBASE_READER]
    assert "app/src/main/resources/db/sql/0002_nick.sql" in problem.reason
    # Where it is: below a folder above the changelog.
    write(tmp_path, {"app/src/main/resources/db/sql/0002_nick.sql": "SELECT 1;\n"})
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    (change,) = facts.of(SqlFileChange)
    assert change.found == "app/src/main/resources/db/sql/0002_nick.sql"


def test_a_search_path_include_reaches_the_modules_other_resources(tmp_path: Path) -> None:
    """A test changelog on the test classpath includes the main one: Maven puts both
    ``src/*/resources`` folders of the module on the classpath."""
    write(
        tmp_path,
        {
            "app/src/test/resources/db/test-master.xml": xml(
                '  <include file="classpath:db/changelog.xml"/>\n'
                + changeset("t", '    <tagDatabase tag="t"/>\n')
            ),
            "app/src/main/resources/db/changelog.xml": xml(changeset("1", CREATE_USERS)),
            "other/src/main/resources/db/changelog.xml": xml(changeset("9", CREATE_USERS)),
        },
    )
    ordered = ordered_migrations(load_workspace(tmp_path, Config(root=tmp_path)).head.facts)
    master = "app/src/test/resources/db/test-master.xml"
    assert [m.location.path for m in ordered if m.stream == master] == [
        "app/src/main/resources/db/changelog.xml",
        master,
    ]


def test_a_search_path_include_all_is_not_another_projects_folder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/db/master.xml": xml(
                '  <includeAll path="db/changes/"/>\n  <includeAll path="db/migrations/"/>\n'
            ),
            "app/db/changes/1.sql": "CREATE TABLE users (id int);\n",
            # No app/db/migrations/: Liquibase finds no such folder on its search path.
            "tools/db/migrations/0001_init.up.sql": "CREATE TABLE tools (id int);\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert sorted((m.location.path, m.layout) for m in facts.of(Migration)) == [
        ("app/db/changes/1.sql", "liquibase"),
        ("tools/db/migrations/0001_init.up.sql", "golang-migrate"),
    ]


def test_with_base_a_changed_sql_file_changes_only_the_changesets_that_run_it(
    tmp_path: Path,
) -> None:
    """A SQL file edited or gone changes the changesets that run it, not every changeset of
    their changelog: what was found in the others before is not this change's."""
    from tests.conftest import git

    relative = ' relativeToChangelogFile="true"'
    body = (
        changeset(
            "1", sql_file("sql/001.sql", relative) + "    <rollback>DROP TABLE users;</rollback>\n"
        )
        + changeset("2", sql_file("sql/gone.sql", relative) + "    <rollback/>\n")  # a base BK901
        + changeset(
            "3",
            sql_file("sql/003.sql", relative) + '    <sqlFile path="x.sql" encoding="nope"/>\n'
            "    <rollback/>\n",
        )
    )
    write(
        tmp_path,
        {
            "db/changelog.xml": xml(body),
            "db/sql/001.sql": "CREATE TABLE users (id int);\n",
            "db/sql/003.sql": "SELECT 1;\n",
        },
    )
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    lines = xml(body).splitlines()
    first = next(n for n, line in enumerate(lines, 1) if "sql/001.sql" in line)
    # Changeset 1's file goes: its sqlFile is this change's BK901; changeset 2's is not.
    (tmp_path / "db/sql/001.sql").unlink()
    assert findings(tmp_path, "BK901", base="main") == [f"db/changelog.xml:{first}:5 BK901"]
    # Changeset 3's file is edited: its other change's BK901 is the changeset's again.
    git(tmp_path, "checkout", "-q", "--", "db/sql/001.sql")
    write(tmp_path, {"db/sql/003.sql": "SELECT 2;\n"})
    third = next(n for n, line in enumerate(lines, 1) if 'encoding="nope"' in line)
    assert findings(tmp_path, "BK901", base="main") == [f"db/changelog.xml:{third}:5 BK901"]


def test_check_with_base_judges_the_new_plain_sql_files_of_an_include_all_folder(
    tmp_path: Path,
) -> None:
    """End to end: the installed command, a git repository, ``--base``. The folder's new file
    is the release; the files that ran already are not judged again."""
    from tests.conftest import git

    write(
        tmp_path,
        {
            "src/main/resources/db/changelog/db.changelog-master.yaml": (
                "databaseChangeLog:\n  - includeAll:\n      path: db/changelog/changes/\n"
            ),
            "src/main/resources/db/changelog/changes/2024-01-users.sql": (
                "CREATE TABLE users (id int);\nALTER TABLE users DROP COLUMN id;\n"
            ),
        },
    )
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    new = "src/main/resources/db/changelog/changes/2024-02-nickname.sql"
    write(tmp_path, {new: ADD_NICKNAME})
    done = run_backout("check", ".", "--base", "main", "--format", "concise", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert sorted(
        line.split(" ")[0] + " " + line.split(" ")[1] for line in done.stdout.splitlines()
    ) == [
        f"{new}:1:1: BK207",
        f"{new}:3:14: BK201",
    ]


# --- Changelog properties in paths ---------------------------------------------------------


def test_properties_expand_include_include_all_and_sql_file_paths(tmp_path: Path) -> None:
    """``${…}`` in a path takes the value of a ``property`` of the changelog or, when global
    (the default), of a changelog that includes it, defined before; the first definition
    wins. A local one (``global="false"``) is its changelog's alone."""
    write(
        tmp_path,
        {
            "db/master.xml": xml(
                '  <property name="changes" value="changes"/>\n'
                '  <property name="sql.dir" value="sql" global="false"/>\n'
                '  <include file="${changes}/a.xml" relativeToChangelogFile="true"/>\n'
                + changeset("m", sql_file("${sql.dir}/m.sql", ' relativeToChangelogFile="true"'))
                + '  <includeAll path="db/${later}/"/>\n'
            ),
            "db/changes/a.xml": xml(
                '  <property name="changes" value="ignored"/>\n'
                '  <property name="later" value="more"/>\n'
                + changeset(
                    "a",
                    sql_file("db/${changes}/a.sql")
                    + sql_file("${sql.dir}/x.sql", ' relativeToChangelogFile="true"'),
                )
            ),
            "db/sql/m.sql": "ALTER TABLE users ADD COLUMN m int NOT NULL;\n",
            "db/changes/a.sql": "ALTER TABLE users ADD COLUMN a int NOT NULL;\n",
            "db/more/b.sql": "ALTER TABLE users ADD COLUMN b int NOT NULL;\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert labels(ordered_migrations(facts)) == [
        "a.xml#shop:a",
        "master.xml#shop:m",
        "b.sql#includeAll:raw",
    ]
    assert sorted(c.found or c.target for c in facts.of(SqlFileChange)) == [
        "${sql.dir}/x.sql",
        "db/changes/a.sql",
        "db/sql/m.sql",
    ]
    (problem,) = [u for u in facts.of(Unreadable) if u.reader == LIQUIBASE_READER]
    assert "sqlFile ${sql.dir}/x.sql found no file: no changelog that runs it" in problem.reason
    assert "sql.dir" in problem.reason.partition("file:")[2]


def test_liquibase_properties_parameters_come_first(tmp_path: Path) -> None:
    """``parameter.<name>`` of the ``liquibase.properties`` beside the master changelog (or
    above it) is set before any changelog property, which cannot change it."""
    write(
        tmp_path,
        {
            "liquibase.properties": "changelog-file=db/master.yaml\nparameter.sqlDir=scripts\n",
            "db/master.yaml": (
                "databaseChangeLog:\n  - property:\n      name: sqlDir\n      value: sql\n"
                "  - changeSet:\n      id: 1\n      author: shop\n      changes:\n"
                "        - sqlFile: {path: '${sqlDir}/1.sql', relativeToChangelogFile: true}\n"
                "      rollback: DROP TABLE users\n"
            ),
            "db/scripts/1.sql": "CREATE TABLE users (id int);\n",
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert [c.found for c in facts.of(SqlFileChange)] == ["db/scripts/1.sql"]
    assert facts.of(Unreadable) == []


def test_include_all_folders_are_found_without_a_scan_of_every_tree_path() -> None:
    # A monorepo of many files and a master of many includeAll folders: each folder's files
    # are the paths below it, looked up in the sorted paths, not found by reading them all.
    from backout.changelog_order import PathResolver
    from backout.models import Location
    from backout.sources.migration_facts import ChangelogInclude

    resources = "db/src/main/resources/"
    paths = [f"svc{i}/src/main/java/F{j}.java" for i in range(400) for j in range(1000)]
    paths += [f"{resources}db/r{k:03d}/{n}.sql" for k in range(300) for n in ("a", "b")]
    paths.append(f"{resources}db/r000x/c.sql")  # a folder whose name starts like r000
    resolver = PathResolver(paths)
    master = f"{resources}db/master.yaml"
    includes = [
        ChangelogInclude(
            Location(master, k + 2, 5), target=f"db/r{k:03d}/", position=k, directory=True
        )
        for k in range(300)
    ]
    # Counted, not timed: a full scan iterates the sorted paths; a bisection only indexes.
    scans = 0

    class Counted(list[str]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            nonlocal scans
            scans += 1
            return super().__iter__()

    resolver.paths = Counted(resolver.paths)
    found = [resolver.directory(include) for include in includes]
    assert scans == 0
    assert found[0] == [f"{resources}db/r000/a.sql", f"{resources}db/r000/b.sql"]
    assert all(len(files) == 2 for files in found)
    root = ChangelogInclude(Location("master.yaml", 1, 1), target="", position=0, directory=True)
    assert len(resolver.directory(root)) == len(paths)


def test_an_include_path_starting_with_a_dot_is_a_search_path_path(tmp_path: Path) -> None:
    """``relativeToChangelogFile`` defaults to false whatever the path starts with
    (``DatabaseChangeLog``/``ChangeLogInclude``: ``getChildValue(…, false)``), so
    ``./db/changelog/x.xml`` in a Spring changelog is the classpath's
    ``db/changelog/x.xml``, not one below the changelog's folder: found, not a BK901."""
    write(
        tmp_path,
        {
            "src/main/resources/db/changelog/master.xml": xml(
                '  <include file="./db/changelog/changes/001.xml"/>\n'
            ),
            "src/main/resources/db/changelog/changes/001.xml": xml(
                changeset("1", "    <sql>SELECT 1</sql>\n")
            ),
        },
    )
    facts = load_workspace(tmp_path, Config(root=tmp_path)).head.facts
    assert labels(ordered_migrations(facts)) == ["001.xml#shop:1"]
    assert not [u for u in facts.of(Unreadable) if u.reader == LIQUIBASE_READER]


def test_an_ignored_include_of_a_missing_file_is_bk901(tmp_path: Path) -> None:
    """``ignore="true"`` marks the included changesets ignored, but Liquibase looks for the
    file first (``ChangeLogIncludeHelper.getChangeLog``/``DatabaseChangeLog.include``: "The
    file … was not found" before ``setIncludeIgnore``), so a missing one still stops it;
    ``errorIfMissing="false"`` beside it does not."""
    write(
        tmp_path,
        {
            "db/master.xml": xml(
                '  <include file="changes/001.xml" relativeToChangelogFile="true"'
                ' ignore="true"/>\n'
                '  <include file="changes/002.xml" relativeToChangelogFile="true"'
                ' ignore="true" errorIfMissing="false"/>\n'
                '  <include file="changes/003.xml" relativeToChangelogFile="true"'
                ' ignore="true"/>\n'
            ),
            "db/changes/003.xml": xml(changeset("3", "    <sql>SELECT 3</sql>\n")),
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK901",))
    findings = check(tmp_path, config).findings
    assert [(f.location.path, f.location.line) for f in findings] == [("db/master.xml", 3)]
    assert findings[0].message.startswith("include changes/001.xml found no file")


def test_the_changesets_of_an_ignored_include_are_not_judged(tmp_path: Path) -> None:
    """Liquibase runs none of the changesets an ``ignore="true"`` include names (they are
    marked ignored), so their hazards are not the release's; a file that another include
    runs is judged there."""
    add_column = '    <addColumn tableName="users"><column name="{0}" type="int">' + (
        '<constraints nullable="false"/></column></addColumn>\n'
    )
    write(
        tmp_path,
        {
            "db/master.xml": xml(
                changeset("1", CREATE_USERS)
                + '  <include file="changes/a.xml" relativeToChangelogFile="true"'
                ' ignore="true"/>\n'
                + '  <include file="changes/b.xml" relativeToChangelogFile="true"'
                ' ignore="true"/>\n'
                + '  <include file="changes/b.xml" relativeToChangelogFile="true"/>\n'
            ),
            "db/changes/a.xml": xml(changeset("a", add_column.format("a"))),
            "db/changes/b.xml": xml(changeset("b", add_column.format("b"))),
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK201",), release_size=1)
    findings = check(tmp_path, config).findings
    assert [f.location.path for f in findings] == ["db/changes/b.xml"]


def test_check_with_base_reports_an_include_whose_file_the_change_deleted(
    tmp_path: Path,
) -> None:
    """``--base``: deleting a changelog that the master still includes breaks the next
    ``update`` ("The file … was not found"), though the master did not change: the BK901 at
    its include is this change's. An include whose file was missing before is not."""
    master = xml(
        '  <include file="changes/001.xml" relativeToChangelogFile="true"/>\n'
        '  <include file="changes/gone.xml" relativeToChangelogFile="true"/>\n'
        '  <includeAll path="more/" relativeToChangelogFile="true"/>\n'
    )
    one = xml(changeset("1", "    <sql>SELECT 1</sql>\n"))
    write(
        tmp_path / "base",
        {"db/master.xml": master, "db/changes/001.xml": one, "db/more/002.xml": one},
    )
    write(tmp_path / "head", {"db/master.xml": master})
    config = Config(root=tmp_path / "head").with_overrides(select=("BK901",))
    findings = check(tmp_path / "head", config, base=str(tmp_path / "base")).findings
    assert [(f.location.path, f.location.line) for f in findings] == [
        ("db/master.xml", 3),
        ("db/master.xml", 5),
    ]
