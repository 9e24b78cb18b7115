"""Migration readers and the schema model: layouts, dialects, apply order, base/release split."""

from __future__ import annotations

import json
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from backout.config import Config
from backout.engine import PARALLEL_THRESHOLD, check
from backout.models import Severity
from backout.schema_model import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    COLUMNS_UNKNOWN,
    CREATE_TABLE,
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DOWN_RAISES,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_TABLE,
    UNIQUE,
    Migration,
    judge_release,
    ordered_migrations,
    replay,
    split_release,
    type_change_problem,
)
from backout.schema_operations import UNIQUE_TOGETHER
from backout.sources.alembic import AlembicReader
from backout.sources.base import FactSet, SourceFile, SqlUnreadable
from backout.sources.django_migrations import DjangoMigrationReader
from backout.sources.migration_facts import version_key
from backout.sources.migrations import MigrationFileReader
from backout.sources.sql import SqlText, read_sqlglot
from tests.conftest import run_backout

READERS = (MigrationFileReader(), AlembicReader(), DjangoMigrationReader())


def read(files: dict[str, str]) -> FactSet:
    """Read ``files`` the way the engine does, with the migration readers."""
    facts = FactSet()
    for path, text in files.items():
        for reader in READERS:
            if reader.wants(path):
                facts.extend(reader.read(SourceFile(path, text.encode())))
    return facts


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def codes(root: Path, **config: object) -> list[tuple[str, str, Severity]]:
    result = check(root, Config(root=root).with_overrides(**config))
    return [(f.code, str(f.location), f.severity) for f in result.findings]


@pytest.mark.parametrize(
    "module",
    [
        "backout.schema_model",
        "backout.schema_operations",
        "backout.sources.migration_facts",
        "backout.sources.sql",
        "backout.sources.migrations",
        "backout.sources.alembic",
        "backout.sources.django_migrations",
        "backout.rules.schema.BK207_irreversible_migration",
        "backout.drill.runners",
        "backout.plan",
    ],
)
def test_schema_modules_import_first_in_a_fresh_interpreter(module: str) -> None:
    # schema_model -> sources -> alembic -> schema_model was a cycle that only broke when
    # schema_model was the first module imported, which the test session never does.
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_golang_down_file_is_joined_to_its_up_file() -> None:
    facts = read(
        {
            "db/0001_a.up.sql": "CREATE TABLE t (id int);",
            "db/0001_a.down.sql": "DROP TABLE t;",
            "db/0002_b.up.sql": "ALTER TABLE t ADD COLUMN x int;",
        }
    )
    first, second = ordered_migrations(facts)
    assert (first.down_sql, first.down_state) == ("DROP TABLE t;", DOWN_PRESENT)
    assert first.down_location is not None and first.down_location.path == "db/0001_a.down.sql"
    assert (second.down_sql, second.down_state) == (None, DOWN_MISSING)
    assert [op.kind for op in second.up] == [ADD_COLUMN]


def test_dbmate_sections_are_split_with_their_lines() -> None:
    text = (
        "-- migrate:up\nALTER TABLE t ADD COLUMN x int;\n\n"
        "-- migrate:down\nALTER TABLE t DROP COLUMN x;\n"
    )
    (migration,) = read({"db/migrations/20240101_x.sql": text}).of(Migration)
    assert migration.layout == "dbmate"
    assert migration.up_sql == "ALTER TABLE t ADD COLUMN x int;\n\n"
    assert migration.down_sql == "ALTER TABLE t DROP COLUMN x;\n"
    assert migration.up[0].location.line == 2
    assert migration.down[0].kind == DROP_COLUMN and migration.down[0].location.line == 5


def test_goose_sections_are_split_with_their_lines_and_transaction() -> None:
    # gophish's db/db_mysql/migrations: goose files, read before as plain numbered SQL with the
    # Down section's statements taken for the up migration's.
    text = (
        "-- +goose up\n-- +goose StatementBegin\nALTER TABLE t ADD COLUMN x int;\n"
        "-- +goose StatementEnd\n\n-- +GOOSE DOWN\nALTER TABLE t DROP COLUMN x;\n"
    )
    files = {
        "db/migrations/00001_x.sql": text,
        "db/migrations/00002_y.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n",
        "db/migrations/00003_z.sql": "-- +goose Up\nALTER TABLE t ADD COLUMN z int;\n",
    }
    first, second, third = ordered_migrations(read(files))
    assert (first.layout, first.down_state) == ("goose", DOWN_PRESENT)
    assert [op.kind for op in first.up] == [ADD_COLUMN] and first.up[0].location.line == 3
    assert first.down[0].kind == DROP_COLUMN and first.down[0].location.line == 7
    assert (first.up_transaction, second.up_transaction, second.down_transaction) == (
        True,
        False,
        True,  # no down section: nothing runs outside a transaction
    )
    assert (third.down_state, third.down_reason) == (
        DOWN_MISSING,
        "the file has no `-- +goose Down` section",
    )


def test_flyway_versions_order_numerically_and_undo_joins() -> None:
    facts = read(
        {
            "sql/V10__c.sql": "ALTER TABLE t ADD COLUMN c int;",
            "sql/V2__b.sql": "ALTER TABLE t ADD COLUMN b int;",
            "sql/V1_1__a.sql": "CREATE TABLE t (id int);",
            "sql/U2__b.sql": "ALTER TABLE t DROP COLUMN b;",
        }
    )
    ordered = ordered_migrations(facts)
    assert [m.version for m in ordered] == ["1.1", "2", "10"]
    assert [m.down_state for m in ordered] == [DOWN_MISSING, DOWN_PRESENT, DOWN_MISSING]


def test_liquibase_changesets_are_migrations_with_their_rollback() -> None:
    text = (
        "--liquibase formatted sql\n"
        "--changeset shop:1\nCREATE TABLE t (id int);\n--rollback DROP TABLE t;\n"
        "--changeset shop:2\nALTER TABLE t ADD COLUMN x int;\n"
        "--changeset shop:3\nALTER TABLE t ADD COLUMN y int;\n--rollback empty\n"
    )
    ordered = ordered_migrations(read({"changelog.sql": text}))
    assert [m.changeset for m in ordered] == ["shop:1", "shop:2", "shop:3"]
    assert ordered[0].down_sql == "DROP TABLE t;\n"
    assert [m.down_state for m in ordered] == [DOWN_PRESENT, DOWN_MISSING, DOWN_EMPTY]
    assert ordered[1].location.line == 5 and ordered[1].up[0].location.line == 6


def _alembic(revision: str, down: str | None, downgrade: str = "    pass") -> str:
    return (
        f"revision = {revision!r}\ndown_revision = {down!r}\n\n"
        "def upgrade():\n    op.add_column('t', sa.Column('c', sa.Integer()))\n\n"
        f"def downgrade():\n{downgrade}\n"
    )


def test_alembic_order_follows_down_revision_not_file_names() -> None:
    facts = read(
        {
            "alembic/versions/aaa.py": _alembic("r3", "r2"),
            "alembic/versions/bbb.py": _alembic("r1", None),
            "alembic/versions/ccc.py": _alembic("r2", "r1", "    raise NotImplementedError"),
        }
    )
    ordered = ordered_migrations(facts)
    assert [m.revision for m in ordered] == ["r1", "r2", "r3"]
    assert ordered[1].down_state == DOWN_RAISES and ordered[0].down_state == DOWN_EMPTY
    assert ordered[0].script_directory == "alembic"


_ALEMBIC_BODY = (
    "\n\ndef upgrade():\n    op.add_column('t', sa.Column('c', sa.Integer()))\n\n"
    "def downgrade():\n    op.drop_column('t', 'c')\n"
)


@pytest.mark.parametrize(
    "header",
    [
        # A project's own form (revision, down_revision = "0027", "0026"; the corpus).
        "revision, down_revision = {rev!r}, {down!r}\nbranch_labels = depends_on = None",
        "(revision, down_revision) = ({rev!r}, {down!r})",
        "[revision, down_revision, branch_labels] = [{rev!r}, {down!r}, None]",
        # Alembic's own template since 1.13: annotated assignments.
        "revision: str = {rev!r}\ndown_revision: Union[str, Sequence[str], None] = {down!r}",
    ],
)
def test_alembic_revision_ids_assigned_together_or_annotated(header: str) -> None:
    facts = read(
        {
            f"alembic/versions/{name}.py": header.format(rev=rev, down=down) + _ALEMBIC_BODY
            for name, rev, down in (("aaa", "r3", "r2"), ("bbb", "r2", "r1"))
        }
        | {"alembic/versions/ccc.py": _alembic("r1", None)}
    )
    ordered = ordered_migrations(facts)
    assert [(m.revision, m.down_revisions) for m in ordered] == [
        ("r1", ()),
        ("r2", ("r1",)),
        ("r3", ("r2",)),
    ]


def test_alembic_revision_ids_not_known_from_a_tuple_are_not_guessed() -> None:
    # Values of another number (Python's import fails), or computed at run time, bind
    # nothing known.
    facts = read(
        {
            "alembic/versions/aaa.py": 'revision, down_revision = "r2", "r1", None' + _ALEMBIC_BODY,
            "alembic/versions/bbb.py": "revision, down_revision = ids()" + _ALEMBIC_BODY,
        }
    )
    assert ordered_migrations(facts) == []


@pytest.mark.parametrize(
    ("condition", "constrained"),
    [
        ("\"code <> '' AND Total >= 0\"", {"code", "total"}),
        ("sa.text('length(code) = 8')", {"code"}),
        ("sa.and_(sa.column('a') > 0, sa.column('b').in_([1, 2]))", {"a", "b"}),
        # Unknown columns stay unknown (BK206 then flags the CHECK): never a guess.
        ("'code >'", set()),
        ("'0 < 1); DROP TABLE t; SELECT (1'", set()),
        ("Order.total > 0", set()),
        ("sa.column('a') > limit", set()),
    ],
)
def test_alembic_check_constraint_columns_come_from_its_condition(
    condition: str, constrained: set[str]
) -> None:
    source = (
        "revision = 'r1'\ndown_revision = None\n\ndef upgrade():\n"
        f"    op.create_check_constraint('ck', 'orders', {condition})\n"
    )
    (migration,) = ordered_migrations(read({"alembic/versions/r1.py": source}))
    ((operation,), _down) = migration.operations("postgres")
    assert (operation.constraint, set(operation.constrained)) == ("check", constrained)


def _django(name: str, deps: str, replaces: str = "[]") -> str:
    return (
        "from django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = {deps}\n    replaces = {replaces}\n"
        "    operations = []\n"
    )


def test_django_squash_is_used_only_once_the_replaced_migrations_are_gone() -> None:
    squash = _django("0001_squashed", "[]", "[('shop', '0001_a'), ('shop', '0002_b')]")
    files = {
        "shop/migrations/0001_a.py": _django("0001_a", "[]"),
        "shop/migrations/0002_b.py": _django("0002_b", "[('shop', '0001_a')]"),
        "shop/migrations/0001_squashed.py": squash,
        "shop/migrations/0003_c.py": _django("0003_c", "[('shop', '0002_b')]"),
    }
    with_originals = ordered_migrations(read(files))
    assert [m.migration_name for m in with_originals] == ["0001_a", "0002_b", "0003_c"]
    del files["shop/migrations/0001_a.py"], files["shop/migrations/0002_b.py"]
    squashed_only = ordered_migrations(read(files))
    assert [m.migration_name for m in squashed_only] == ["0001_squashed", "0003_c"]


def test_django_constraint_drops_are_read() -> None:
    # RemoveConstraint drops the key of its name; each AlterUniqueTogether states the whole
    # set, so the groups it leaves out are dropped (Django's schema editor drops them). A
    # tuple of names is one group; set() and None are none; a computed value is not read.
    # Django undoes them itself: the down holds no drop of a table or column for BK208.
    source = (
        "from django.db import migrations, models\n\n"
        "GROUPS = {('team', 'code')}\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = []\n"
        "    operations = [\n"
        "        migrations.CreateModel(\n"
        "            name='Membership',\n"
        "            fields=[('id', models.BigAutoField(primary_key=True)),\n"
        "                    ('team', models.CharField(max_length=9)),\n"
        "                    ('email', models.CharField(max_length=9)),\n"
        "                    ('code', models.CharField(max_length=9))],\n"
        "            options={'unique_together': {('team', 'email'), ('team', 'code')}},\n"
        "        ),\n"
        "        migrations.AddConstraint(\n"
        "            model_name='membership',\n"
        "            constraint=models.UniqueConstraint(fields=['code'], name='code_uniq'),\n"
        "        ),\n"
        "        migrations.AlterUniqueTogether(name='membership', unique_together=GROUPS),\n"
        "        migrations.AlterUniqueTogether(\n"
        "            name='membership', unique_together=('Team', 'email')\n"
        "        ),\n"
        "        migrations.RemoveConstraint(model_name='membership', name='code_uniq'),\n"
        "    ]\n"
    )
    (migration,) = ordered_migrations(read({"shop/migrations/0001_initial.py": source}))
    together = ("unique together (team, email)", "unique together (team, code)")
    assert [
        (op.kind, op.constraint, op.constrained, op.detail, op.values) for op in migration.up[1:]
    ] == [
        (ADD_CONSTRAINT, UNIQUE, ("team", "email"), together[0], ()),
        (ADD_CONSTRAINT, UNIQUE, ("team", "code"), together[1], ()),
        (ADD_CONSTRAINT, UNIQUE, ("code",), "code_uniq", ()),
        (DROP_CONSTRAINT, UNIQUE_TOGETHER, (), "", together[:1]),
        (ADD_CONSTRAINT, UNIQUE, ("team", "email"), together[0], ()),
        (DROP_CONSTRAINT, None, (), "code_uniq", ()),
    ]
    assert [(op.kind, op.table) for op in migration.down] == [(DROP_TABLE, "shop_membership")]
    table = replay([migration]).tables["shop_membership"]
    assert table.keys == {"primary key": ("id",), together[0]: ("team", "email")}
    assert not table.columns["code"].unique
    # set() (and None) leave no group at all.
    for nothing in ("set()", "None"):
        emptied = source.replace("('Team', 'email')", nothing)
        (migration,) = ordered_migrations(read({"shop/migrations/0001_initial.py": emptied}))
        assert replay([migration]).tables["shop_membership"].keys == {"primary key": ("id",)}


def test_split_by_base_facts_and_by_release_size() -> None:
    files = {f"db/000{i}_m.up.sql": f"ALTER TABLE t ADD COLUMN c{i} int;" for i in range(1, 5)}
    head = read(files)
    base = read({k: v for k, v in files.items() if k < "db/0003"})
    split = split_release(head, base)
    assert [m.version for m in split.release] == ["0003", "0004"]
    sized = split_release(head, None, Config(release_size=3))
    assert [m.version for m in sized.base] == ["0001"]


def test_facts_survive_pickling_for_the_process_pool() -> None:
    facts = read({"db/0001_a.up.sql": "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$;"})
    for fact in facts:
        assert pickle.loads(pickle.dumps(fact)) == fact


def test_do_block_dynamic_execute_is_reported_not_skipped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE t (id int, c int);",
            "db/0001_a.down.sql": "DROP TABLE t;",
            "db/0002_b.up.sql": (
                "DO $$\nBEGIN\n  EXECUTE 'ALTER TABLE t DROP COLUMN c';\n"
                "  EXECUTE format('DROP TABLE %I', 't');\nEND $$;\n"
            ),
            "db/0002_b.down.sql": "SELECT 1;",
        },
    )
    found = codes(tmp_path, select=("BK202", "BK901"))
    assert ("BK202", "db/0002_b.up.sql:3:38", Severity.ERROR) in found
    assert [f[1] for f in found if f[0] == "BK901"] == ["db/0002_b.up.sql:4:11"]


def test_do_block_statements_are_located_in_their_branches(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE t (id int, a int, b int);",
            "db/0001_a.down.sql": "DROP TABLE t;",
            "db/0002_b.up.sql": (
                "DO $$\nBEGIN\n  IF random() > 0.5 THEN\n"
                "    ALTER TABLE t DROP COLUMN a;\n  ELSE\n"
                "    ALTER TABLE t DROP COLUMN b;\n  END IF;\nEND $$;\n"
            ),
            "db/0002_b.down.sql": "SELECT 1;",
        },
    )
    found = codes(tmp_path, select=("BK202",))
    # The THEN branch's statement at its own line, not at the start of the DO body.
    assert sorted(f[1] for f in found) == ["db/0002_b.up.sql:4:31", "db/0002_b.up.sql:6:31"]


def test_do_block_statements_are_found_in_every_kind_of_block() -> None:
    """Loops, nested blocks, exception handlers, a variable's default, a string that holds
    what the PL/pgSQL parser's JSON names a statement by: each statement once, in order."""
    import pglast.parser

    from backout.sources.sql import _DO_WRAPPER, _plpgsql_statements

    source = (
        "DECLARE n int := (SELECT count(*) FROM t); r record;\n"
        "BEGIN\n"
        "  FOR r IN SELECT id FROM t LOOP\n"
        "    UPDATE t SET note = '\"PLpgSQL_stmt_execsql\":{' WHERE id = r.id;\n"
        "  END LOOP;\n"
        "  BEGIN\n"
        "    ALTER TABLE t ADD COLUMN a int;\n"
        "  EXCEPTION WHEN duplicate_column THEN\n"
        "    EXECUTE 'ALTER TABLE t ' || 'DROP COLUMN a' USING n;\n"
        "  END;\n"
        "  WHILE n > 0 LOOP n := n - 1; DELETE FROM t WHERE id = n; END LOOP;\n"
        "END"
    )
    tree = pglast.parser.parse_plpgsql_json(f"{_DO_WRAPPER}{source}$backout$;")
    assert _plpgsql_statements(tree) == [
        ("sql", "UPDATE t SET note = '\"PLpgSQL_stmt_execsql\":{' WHERE id = r.id"),
        ("sql", "ALTER TABLE t ADD COLUMN a int"),
        ("dynamic", "'ALTER TABLE t ' || 'DROP COLUMN a'"),
        ("sql", "DELETE FROM t WHERE id = n"),
    ]


def test_only_the_statements_backout_reads_are_loaded_from_a_large_parse() -> None:
    from backout.sources.sql import _SLICED_ABOVE, _statements_to_read, read_postgres

    seed = "".join(f"INSERT INTO t VALUES ({i}, 'row {i}');\n" for i in range(600))
    text = (
        'INSERT INTO t VALUES (1, \'{"stmt":{"DropStmt":{}}\');\n'
        "ALTER TABLE t ADD COLUMN a int;\n"
        f"{seed}"
        "SELECT 1;\n"
        "SELECT * INTO t_copy FROM t;\n"
        "UPDATE t SET a = 1;\n"
        "DROP TABLE u"
    )
    import pglast.parser

    assert len(pglast.parser.parse_sql_json(text)) > _SLICED_ABOVE
    kinds = [next(iter(raw["stmt"])) for raw in _statements_to_read(text)]
    assert kinds == ["AlterTableStmt", "SelectStmt", "DropStmt"]
    assert _statements_to_read("-- nothing") == []
    # The same operations as from the whole parse, the statements' positions kept.
    from backout.sources.sql import SqlText

    small = text.replace(seed, "")
    read, whole = read_postgres(SqlText(text, "a.sql")), read_postgres(SqlText(small, "b.sql"))
    assert [(o.kind, o.table) for o in read.operations] == [
        (o.kind, o.table) for o in whole.operations
    ]
    assert [o.location.line for o in read.operations][-1] == text.count("\n") + 1


def test_dialect_decides_what_is_unreadable(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "m/0001_a.up.sql": "CREATE TABLE `t` (`id` INT AUTO_INCREMENT PRIMARY KEY);",
            "m/0001_a.down.sql": "DROP TABLE `t`;",
        },
    )
    assert [f[0] for f in codes(tmp_path, select=("BK901",))] == ["BK901"] * 2
    assert codes(tmp_path, select=("BK901",), sql_dialect="mysql") == []
    (tmp_path / "m/0002_b.up.sql").write_text("OPTIMIZE TABLE t;")
    (tmp_path / "m/0002_b.down.sql").write_text("SELECT 1;")
    found = codes(tmp_path, select=("BK901",), sql_dialect="mysql")
    assert [f[1] for f in found] == ["m/0002_b.up.sql:1:1"]


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_sqlglot_internal_error_is_unreadable_not_a_crash(tmp_path: Path, dialect: str) -> None:
    # sqlglot.parse raised AttributeError on these bytes (found by tests/test_fuzz_readers.py).
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations/0001_init.up.sql").write_bytes(b"{:")
    reads = read_sqlglot(SqlText("{:", "migrations/0001_init.up.sql"), dialect)
    assert reads.operations == []
    assert [p.reason for p in reads.problems] == [
        f"{dialect} parser rejects it: AttributeError: 'NoneType' object has no attribute 'name'"
    ]
    result = check(tmp_path, Config(root=tmp_path).with_overrides(sql_dialect=dialect))
    unreadable = [f for f in result.findings if f.code == "BK901"]
    assert [str(f.location) for f in unreadable] == ["migrations/0001_init.up.sql:1:1"]
    assert "internal error" not in unreadable[0].message
    assert f"{dialect} parser rejects it" in unreadable[0].message


def test_irreversible_is_an_error_only_when_the_migration_also_breaks_old_code(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE t (id int, c int);",
            "db/0001_a.down.sql": "DROP TABLE t;",
            "db/0002_b.up.sql": "ALTER TABLE t DROP COLUMN c;",
        },
    )
    assert codes(tmp_path, select=("BK207",)) == [("BK207", "db/0002_b.up.sql:1:1", Severity.ERROR)]
    (tmp_path / "db/0002_b.up.sql").write_text("ALTER TABLE t ADD COLUMN d int;")
    assert codes(tmp_path, select=("BK207",)) == [
        ("BK207", "db/0002_b.up.sql:1:1", Severity.WARNING)
    ]


def test_migrations_setting_narrows_the_streams(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a/0001_x.up.sql": "ALTER TABLE t DROP COLUMN c;",
            "b/0001_x.up.sql": "ALTER TABLE t DROP COLUMN c;",
        },
    )
    found = codes(tmp_path, select=("BK202",), migrations=("b",))
    assert [f[1] for f in found] == ["b/0001_x.up.sql:1:27"]


@pytest.mark.parametrize(
    ("old", "new", "breaks"),
    [
        ("integer", "bigint", False),
        ("varchar(50)", "text", False),
        ("varchar(50)", "varchar(100)", False),
        ("integer", "text", False),
        ("bigint", "integer", True),
        ("varchar(100)", "varchar(20)", True),
        ("text", "varchar(20)", True),
        ("text", "integer", True),
        ("numeric(10,2)", "numeric(8,2)", True),
        ("numeric(10,2)", "integer", True),
        ("enum('a','b')", "enum('a')", True),
        ("enum('a')", "enum('a','b')", False),
        ("timestamp", "timestamptz", False),
        (None, "integer", False),
        # MySQL text types by size: TEXT holds 64 KB, MEDIUMTEXT 16 MB.
        ("mediumtext", "text", True),
        ("longtext", "tinytext", True),
        ("text", "mediumtext", False),
        ("mediumtext", "varchar(200)", True),
        # One type under two names.
        ("tinyint(1)", "boolean", False),
        ("tinyint", "bool", False),
        ("bool", "boolean", False),
        ("jsonb", "json", False),
        ("json", "jsonb", False),
        ("integer", "numeric(12,2)", False),
        ("integer", "numeric(9,2)", True),
        ("bigint", "numeric(12,2)", True),
        ("integer", "boolean", True),
        # A type named by a Liquibase changelog property: its value is not known.
        ("${datetimeType}", "timestamp", False),
        ("varchar(255)", "${clobType}", False),
    ],
)
def test_type_change_judgement(old: str | None, new: str, breaks: bool) -> None:
    assert (type_change_problem(old, new) is not None) is breaks


@pytest.mark.parametrize(
    ("path", "text", "where"),
    [
        (
            "alembic/versions/a1.py",
            "revision = 'a1'\ndown_revision = None\n\ndef upgrade():\n"
            '    op.execute("SELECT 1; \\ud800")\n'
            "    op.add_column('t\\ud800', sa.Column('c', sa.Integer()))\n\n"
            "def downgrade():\n    pass\n",
            "alembic/versions/a1.py:5:16",
        ),
        (
            "shop/migrations/0001_initial.py",
            "from django.db import migrations\n\nclass Migration(migrations.Migration):\n"
            "    dependencies = []\n    operations = [\n"
            '        migrations.RunSQL("SELECT 1", reverse_sql=["SELECT 2", "\\ud800"]),\n    ]\n',
            "shop/migrations/0001_initial.py:6:64",
        ),
    ],
    ids=["alembic_execute", "django_reverse_sql_list"],
)
def test_lone_surrogate_in_sql_string_is_unreadable_sql_not_internal_error(
    tmp_path: Path, path: str, text: str, where: str
) -> None:
    # A lone surrogate is valid in a Python string literal but is not text: it cannot be
    # encoded, so the SQL cannot be parsed. It must be a plain BK901 at the string.
    write(tmp_path, {path: text})
    findings = check(tmp_path, Config(root=tmp_path)).findings
    # Every finding can be printed: names holding the surrogate are kept as its escape.
    assert all(f.message.encode("utf-8") for f in findings)
    unreadable = [f for f in findings if f.code == "BK901"]
    assert [str(f.location) for f in unreadable] == [where]
    assert "internal error" not in unreadable[0].message
    assert "lone surrogate" in unreadable[0].message and "\\ud800" in unreadable[0].message


@pytest.mark.parametrize(
    ("version", "key"),
    [
        ("0003", ((3, ""),)),
        ("20240101120000", ((20240101120000, ""),)),
        ("\u0663", ((3, ""),)),  # an Arabic-Indic digit: a decimal digit, as \d reads it
        ("1.10", ((1, ""), (10, ""))),
        ("1_2", ((1, ""), (2, ""))),
        ("2a", ((2, ""), (-1, "a"))),
        ("", ()),
    ],
)
def test_version_key(version: str, key: tuple[tuple[int, str], ...]) -> None:
    assert version_key(version) == key


def test_binary_file_is_told_by_a_nul_in_its_first_8_kib() -> None:
    assert SourceFile("a.sql", b"SELECT 1;\x00").is_binary
    assert not SourceFile("a.sql", b"SELECT 1;").is_binary
    assert not SourceFile("a.sql", b"-" * 8192 + b"\x00").is_binary
    assert SourceFile("a.sql", b"-" * 8191 + b"\x00").is_binary


def test_bk208_names_a_django_models_own_table() -> None:
    """A model with `db_table="orders"`: what the rollback drops is orders, not shop_order."""
    root = Path(__file__).parent / "fixtures" / "rules" / "BK208" / "fail" / "django_db_table"
    result = check(root, Config(root=root).with_overrides(select=("BK208",)))
    messages = [f.message for f in result.findings]
    assert any("drops orders.total" in m for m in messages), messages
    assert not any("shop_order" in m for m in messages), messages


def test_removing_a_many_to_many_field_drops_its_join_table() -> None:
    root = Path(__file__).parent / "fixtures" / "rules" / "BK202" / "fail"
    result = check(
        root / "django_remove_many_to_many",
        Config(root=root).with_overrides(select=("BK202",)),
    )
    (finding,) = result.findings
    assert "drops table shop_customer_tags" in finding.message


def test_a_table_or_column_renamed_before_the_release_is_named_as_the_base_has_it(
    tmp_path: Path,
) -> None:
    # Zulip's 0036 renamed realm.subdomain to string_id; 0037 made it NOT NULL. The old
    # release knows string_id: the message, and the plan's forward fix, must say so.
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE realms (id int, subdomain varchar(40));",
            "db/0001_a.down.sql": "DROP TABLE realms;",
            "db/0002_b.up.sql": "ALTER TABLE realms RENAME COLUMN subdomain TO string_id;\n"
            "ALTER TABLE realms RENAME TO realm;",
            "db/0002_b.down.sql": "ALTER TABLE realm RENAME TO realms;\n"
            "ALTER TABLE realms RENAME COLUMN string_id TO subdomain;",
            "db/0003_c.up.sql": "ALTER TABLE realm ALTER COLUMN string_id SET NOT NULL;\n"
            "ALTER TABLE realm ALTER COLUMN string_id TYPE varchar(20);",
            "db/0003_c.down.sql": "SELECT 1;",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK204", "BK205"), release_size=1)
    messages = [f.message for f in check(tmp_path, config).findings]
    assert len(messages) == 2
    assert all("realm.string_id" in m for m in messages), messages
    plan = run_backout("plan", ".", "--release-size", "1", cwd=tmp_path)
    assert "ALTER TABLE realm ALTER COLUMN string_id DROP NOT NULL;" in plan.stdout
    assert "ALTER TABLE realm ALTER COLUMN string_id TYPE varchar(40);" in plan.stdout
    assert "subdomain" not in plan.stdout and "realms" not in plan.stdout


def test_flyway_and_liquibase_placeholders_are_read_past(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "db/V1__init.sql": "CREATE SCHEMA IF NOT EXISTS ${schema};\n"
            "CREATE TABLE ${schema}.config (id bigserial PRIMARY KEY, template_id bigint);",
            "db/V2__change.sql": "ALTER TABLE ${schema}.config DROP COLUMN template_id;\n"
            "ALTER TABLE ${flyway:defaultSchema}.config ADD COLUMN locale text NOT NULL;",
            "lb/changelog.sql": "--liquibase formatted sql\n"
            "--changeset ana:1\n"
            "CREATE TABLE ${prefix}users (id int PRIMARY KEY, email text);\n"
            "--rollback DROP TABLE ${prefix}users;\n"
            "--changeset ana:2\n"
            "ALTER TABLE ${prefix}users DROP COLUMN email;\n"
            "--rollback ALTER TABLE ${prefix}users ADD COLUMN email text;\n",
        },
    )
    # No BK901, and the positions are the file's own (placeholders keep their length).
    assert codes(tmp_path, select=("BK201", "BK202", "BK901")) == [
        ("BK202", "db/V2__change.sql:1:42", Severity.ERROR),
        ("BK201", "db/V2__change.sql:2:55", Severity.ERROR),
        ("BK202", "lb/changelog.sql:6:40", Severity.ERROR),
    ]


def test_alembic_execute_of_an_f_string_of_constants_is_read(tmp_path: Path) -> None:
    header = "from alembic import op\nimport sqlalchemy as sa\n\n"
    write(
        tmp_path,
        {
            "versions/a1.py": header + "revision = 'a1'\ndown_revision = None\n\n"
            "def upgrade():\n"
            '    op.create_table("posts", sa.Column("title", sa.String(200)))\n\n'
            "def downgrade():\n    op.drop_table('posts')\n",
            "versions/a2.py": header + "revision = 'a2'\ndown_revision = 'a1'\n"
            'TABLE = "posts"\n\n'
            "def upgrade():\n"
            '    op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN title TYPE varchar(50)")\n'
            '    op.execute(f"ALTER TABLE {table_name()} DROP COLUMN title")\n\n'
            "def downgrade():\n    pass\n",
        },
    )
    # Each finding at the f-string: the substituted values move the columns after them.
    assert codes(tmp_path, select=("BK204", "BK901")) == [
        ("BK204", "versions/a2.py:9:16", Severity.ERROR),
        ("BK901", "versions/a2.py:10:5", Severity.WARNING),
    ]


@pytest.mark.parametrize("engine", ["alembic", "django"])
def test_a_cycle_in_the_migration_graph_ends(tmp_path: Path, engine: str) -> None:
    # A revision that is its own down_revision, two Django migrations that depend on each
    # other: the walk used to push the same nodes forever (memory grew by ~120 MB/s).
    if engine == "alembic":
        header = "from alembic import op\n"
        write(
            tmp_path,
            {
                "alembic/versions/a1.py": header + "revision = 'a1'\ndown_revision = 'b2'\n"
                "def upgrade():\n    op.add_column('t', sa.Column('c', sa.Integer()))\n",
                "alembic/versions/b2.py": header + "revision = 'b2'\ndown_revision = 'a1'\n"
                "def upgrade():\n    op.drop_column('t', 'c')\n",
            },
        )
    else:
        body = (
            "from django.db import migrations\nclass Migration(migrations.Migration):\n"
            "    dependencies = [('shop', '{other}')]\n    operations = []\n"
        )
        write(
            tmp_path,
            {
                "shop/migrations/__init__.py": "",
                "shop/migrations/0001_a.py": body.format(other="0002_b"),
                "shop/migrations/0002_b.py": body.format(other="0001_a"),
            },
        )
    done = subprocess.run(
        [sys.executable, "-m", "backout", "check", str(tmp_path), "--output-format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr


def test_a_down_of_thousands_of_drops_is_read_once_each(tmp_path: Path) -> None:
    # _made_again walked the rest of the down once per drop: 16,000 drops took 11.7 s and
    # gave 16,000 findings for the same column.
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE users (id int, a int);",
            "db/0001_a.down.sql": "DROP TABLE users;",
            "db/0002_b.up.sql": "ALTER TABLE users ADD COLUMN b int;",
            "db/0002_b.down.sql": "ALTER TABLE users DROP COLUMN IF EXISTS b;\n" * 5000,
        },
    )
    assert codes(tmp_path, select=("BK208",)) == [
        ("BK208", "db/0002_b.down.sql:1:41", Severity.INFO)
    ]


SQLITE_KEYS = (
    "CREATE TABLE a (id INTEGER PRIMARY KEY, code INT PRIMARY KEY);\n"
    "CREATE TABLE b (id integer, k TEXT NOT NULL, PRIMARY KEY (id));\n"
    "CREATE TABLE c (x TEXT, y TEXT, PRIMARY KEY (x, y));\n"
)


def _nullable(migration: Migration, dialect: str) -> dict[str, bool]:
    up, _ = migration.operations(dialect)
    return {f"{op.table}.{c.name}": c.nullable for op in up for c in op.columns}


@pytest.mark.parametrize("trailer", ["", "CREATE TABLE d (k TEXT PRIMARY KEY) STRICT;"])
def test_primary_key_columns_are_not_null_on_sqlite_only_as_rowid_alias(trailer: str) -> None:
    """Read by pglast (no trailer) and by sqlglot (a STRICT table PostgreSQL rejects)."""
    facts = read({"migrations/0001_init.up.sql": SQLITE_KEYS + trailer})
    (migration,) = facts.of(Migration)
    assert migration.readable is not bool(trailer)
    sqlite = _nullable(migration, "sqlite")
    assert sqlite["a.id"] is False  # the rowid alias
    assert sqlite["a.code"] is True  # INT, not INTEGER: not the alias
    assert sqlite["b.id"] is False and sqlite["b.k"] is False
    assert sqlite["c.x"] is True and sqlite["c.y"] is True
    for dialect in ("postgres", "mysql"):
        assert not any(_nullable(migration, dialect)[c] for c in ("a.code", "c.x", "c.y"))


def test_without_rowid_makes_sqlite_key_columns_not_null() -> None:
    facts = read(
        {
            "migrations/0001_kv.up.sql": (
                "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;\n"
                "CREATE TABLE s (a TEXT, b TEXT, PRIMARY KEY (a, b)) STRICT, WITHOUT ROWID;\n"
            )
        }
    )
    (migration,) = facts.of(Migration)
    read_sqlite = next(r for r in migration.dialect_reads if r.dialect == "sqlite")
    assert read_sqlite.readable
    assert _nullable(migration, "sqlite") == {
        "kv.k": False,
        "kv.v": True,
        "s.a": False,
        "s.b": False,
    }


def test_bk205_on_a_column_given_a_default_says_only_null_writes_fail(tmp_path: Path) -> None:
    # SET DEFAULT before SET NOT NULL: the old release's INSERTs that leave the column out get
    # the default; only its explicit NULLs fail, and the message says so.
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE orders (id int PRIMARY KEY, status text, note text);",
            "db/0001_a.down.sql": "DROP TABLE orders;",
            "db/0002_b.up.sql": "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new';\n"
            "ALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n"
            "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;",
            "db/0002_b.down.sql": "ALTER TABLE orders ALTER COLUMN status DROP NOT NULL;\n"
            "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;\n"
            "ALTER TABLE orders ALTER COLUMN note DROP NOT NULL;",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK205",), release_size=1)
    found = {f.location.line: f for f in check(tmp_path, config).findings}
    assert sorted(found) == [2, 3]
    status, note = found[2], found[3]
    assert "rows without" not in status.message, status.message
    assert "write NULL into it" in status.message
    assert "default" in status.message
    assert "always writes status" not in (status.fix or "")
    assert "may insert rows without note or write NULL into it" in note.message


@pytest.mark.parametrize(
    ("dialect", "create"),
    [
        ("postgres", "CREATE TABLE users_copy AS SELECT * FROM users;"),
        ("postgres", "SELECT id, email INTO users_copy FROM users;"),
        ("mysql", "CREATE TABLE `users_copy` AS SELECT * FROM `users`;"),
        ("mysql", "CREATE TABLE `users_copy` LIKE `users`;"),
    ],
)
def test_a_table_made_from_a_query_is_the_releases_own(
    tmp_path: Path, dialect: str, create: str
) -> None:
    # The release makes users_copy from a query, then changes it in a later migration: the
    # table is new (no BK202/BK205 for what the old release never had), and the down that
    # drops it loses only the new code's rows (BK208 info, not the error for a base table).
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE users (id int PRIMARY KEY, email text, note text);",
            "db/0001_a.down.sql": "DROP TABLE users;",
            "db/0002_b.up.sql": create,
            "db/0002_b.down.sql": "DROP TABLE users_copy;",
            "db/0003_c.up.sql": "ALTER TABLE users_copy DROP COLUMN email;\n"
            "ALTER TABLE users_copy ADD COLUMN token text;\n"
            + (
                "ALTER TABLE users_copy ALTER COLUMN id SET NOT NULL;"
                if dialect == "postgres"
                else "ALTER TABLE users_copy MODIFY id int NOT NULL;"
            ),
            "db/0003_c.down.sql": "ALTER TABLE users_copy DROP COLUMN token;",
        },
    )
    config = Config(root=tmp_path, sql_dialect=dialect).with_overrides(release_size=2)
    found = [(f.code, f.severity) for f in check(tmp_path, config).findings]
    assert ("BK208", Severity.INFO) in found
    assert [code for code, _ in found if code != "BK208"] == [], found
    assert ("BK208", Severity.ERROR) not in found


@pytest.mark.parametrize(
    ("dialect", "quote", "same"),
    [("mysql", "`", True), ("sqlite", '"', True), ("postgres", '"', False)],
)
def test_names_are_matched_as_the_dialect_compares_them(
    tmp_path: Path, dialect: str, quote: str, same: bool
) -> None:
    # MySQL and SQLite find `Email` as email; PostgreSQL keeps a quoted name exact, so its
    # unquoted email is another column (one older than the history, at the base).
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": f"CREATE TABLE users (id int, {quote}Legacy{quote} text);",
            "db/0001_a.down.sql": "DROP TABLE users;",
            "db/0002_b.up.sql": f"ALTER TABLE users ADD COLUMN {quote}Email{quote} text;\n"
            "ALTER TABLE users DROP COLUMN email;\n"
            "ALTER TABLE users DROP COLUMN LEGACY;",
            "db/0002_b.down.sql": "SELECT 1;",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK202",), sql_dialect=dialect)
    messages = [f.message for f in check(tmp_path, config).findings]
    # The base column is named as it was created, not as the release wrote it.
    legacy = [m for m in messages if "Legacy" in m]
    email = [m for m in messages if "email" in m.lower()]
    assert len(legacy) == (1 if same else 0), messages
    assert len(email) == (0 if same else 1), messages


def _glot_ops(sql: str, dialect: str) -> list[tuple[str, str | None, tuple[str, ...], str]]:
    read_ = read_sqlglot(SqlText(sql, "m.sql", 1, 1), dialect)
    assert read_.problems == [], read_.problems
    return [(op.kind, op.column, op.constrained, op.detail) for op in read_.operations]


def test_mysql_key_parts_are_read_by_their_column_names() -> None:
    # Key parts with an order (MySQL 8, MariaDB: checked on MariaDB 10.11) were a parse error;
    # a functional key part gave a column named "" (and a SET NOT NULL on it for a key).
    assert _glot_ops("ALTER TABLE t ADD PRIMARY KEY (a DESC, `b`(10) ASC);", "mysql") == [
        ("add_constraint", None, ("a", "b"), ""),
        ("set_not_null", "a", (), ""),
        ("set_not_null", "b", (), ""),
    ]
    ops = _glot_ops("ALTER TABLE t ADD UNIQUE KEY uq ((lower(email)), tenant);", "mysql")
    assert ops == [("add_constraint", None, ("email", "tenant"), "uq")]


MYSQL_INDEX_SYNTAX = (
    "ALTER TABLE t ADD COLUMN c int COMMENT 'PRIMARY KEY USING BTREE (c)',\n"
    "  ADD PRIMARY KEY USING BTREE\n  (a, `b`);\n"
    "CREATE UNIQUE INDEX u USING HASH ON t (c) COMMENT 'it''s (c); d'\n"
    "  KEY_BLOCK_SIZE = 8 INVISIBLE ALGORITHM=COPY LOCK=SHARED;\n"
)


def test_mysql_index_types_and_options_are_read_where_they_are_written() -> None:
    # An index type before a primary key's columns made the ALTER TABLE an opaque Command,
    # and CREATE INDEX took no index type or option: both were BK901 (valid MySQL, and
    # MariaDB but for INVISIBLE, checked on MariaDB 10.11). A comment's text is kept as it is.
    read_ = read_sqlglot(SqlText(MYSQL_INDEX_SYNTAX, "m.sql", 1, 1), "mysql")
    assert read_.problems == []
    found = [
        (
            op.kind,
            op.column or op.detail,
            op.constrained,
            f"{op.location.line}:{op.location.column}",
        )
        for op in read_.operations
    ]
    assert found == [
        ("add_column", "c", (), "1:26"),
        ("add_constraint", "", ("a", "b"), "3:4"),
        ("set_not_null", "a", (), "3:4"),
        ("set_not_null", "b", (), "3:4"),
        ("add_constraint", "u", ("c",), "4:21"),
    ]


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("mysql", "CREATE UNIQUE INDEX u ON t (a) USING BTREE PARSER x;"),
        ("sqlite", "CREATE TABLE t (a int, PRIMARY KEY USING BTREE (a));"),
    ],
)
def test_index_syntax_outside_mysql_s_stays_unreadable(dialect: str, sql: str) -> None:
    # Only MySQL's own index types and options are left out of what sqlglot reads.
    assert read_sqlglot(SqlText(sql, "m.sql", 1, 1), dialect).problems


def test_mysql_drop_primary_key_drops_the_key() -> None:
    assert _glot_ops("ALTER TABLE s DROP PRIMARY KEY, ADD PRIMARY KEY (a);", "mysql") == [
        ("drop_constraint", None, (), "primary key"),
        ("add_constraint", None, ("a",), ""),
        ("set_not_null", "a", (), ""),
    ]


def test_a_primary_key_dropped_at_the_base_no_longer_covers_a_new_unique_key(
    tmp_path: Path,
) -> None:
    # The base replaced the key (a, b) by one on id: a UNIQUE (a, b, c) of the release
    # restricts what the old release writes (BK206); the stale key hid it.
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE s (id int NOT NULL, a int NOT NULL, "
            "b int NOT NULL, c int, PRIMARY KEY (a, b));",
            "db/0001_a.down.sql": "DROP TABLE s;",
            "db/0002_b.up.sql": "ALTER TABLE `s` DROP PRIMARY KEY, ADD PRIMARY KEY (id);",
            "db/0002_b.down.sql": "SELECT 1;",
            "db/0003_c.up.sql": "ALTER TABLE s ADD CONSTRAINT uq_abc UNIQUE (a, b, c);",
            "db/0003_c.down.sql": "ALTER TABLE s DROP INDEX uq_abc;",
        },
    )
    assert [c[:2] for c in codes(tmp_path, select=("BK206",), sql_dialect="mysql")] == [
        ("BK206", "db/0003_c.up.sql:1:30")
    ]


SQLITE_MORE_KEYS = (
    'CREATE TABLE q ("id" "INTEGER" PRIMARY KEY, v TEXT);\n'
    "CREATE TABLE r (id [INTEGER] PRIMARY KEY, v TEXT);\n"
    "CREATE TABLE d (id INTEGER, v TEXT, PRIMARY KEY (id DESC));\n"
    "CREATE TABLE n (k TEXT, v TEXT, PRIMARY KEY (k COLLATE NOCASE DESC));\n"
    "CREATE TABLE u (a TEXT, b TEXT, UNIQUE (a DESC, b));\n"
)


def test_sqlite_keys_with_an_order_or_a_quoted_integer_type() -> None:
    # sqlite3 (checked with Python's) makes q.id, r.id and d.id the rowid alias: inserting
    # NULL stores the rowid; n.k is no alias, so it takes a NULL.
    facts = read({"migrations/0001_init.up.sql": SQLITE_MORE_KEYS})
    (migration,) = facts.of(Migration)
    read_sqlite = next(r for r in migration.dialect_reads if r.dialect == "sqlite")
    assert read_sqlite.readable
    sqlite = _nullable(migration, "sqlite")
    assert sqlite["q.id"] is False and sqlite["r.id"] is False and sqlite["d.id"] is False
    assert sqlite["n.k"] is True
    up, _ = migration.operations("sqlite")
    assert [op.constrained for op in up if op.constrained] == [("id",), ("k",), ("a", "b")]
    # The same quoted type read by PostgreSQL's grammar, which takes this body.
    (pg_read,) = read({"migrations/0001_q.up.sql": SQLITE_MORE_KEYS.splitlines()[0]}).of(Migration)
    assert pg_read.readable and _nullable(pg_read, "sqlite")["q.id"] is False


def test_a_mysql_rename_table_keeps_the_case_of_backticked_names(tmp_path: Path) -> None:
    # ``RENAME TABLE`` (sqlglot leaves it a Command) read its names lower-cased, quoted or
    # not: the message named `Members` members. Unquoted names are folded as elsewhere.
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE `Users` (id int);\nCREATE TABLE Orders (id int);",
            "db/0001_a.down.sql": "DROP TABLE `Users`;\nDROP TABLE Orders;",
            "db/0002_b.up.sql": "RENAME TABLE `Users` TO `Members`, Orders TO Purchases;",
            "db/0002_b.down.sql": "RENAME TABLE `Members` TO `Users`, Purchases TO Orders;",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK203",), sql_dialect="mysql")
    messages = sorted(f.message for f in check(tmp_path, config).findings)
    assert len(messages) == 2, messages
    assert "renames table Users to Members" in messages[0], messages
    assert "renames table orders to purchases" in messages[1], messages


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_a_trigger_body_is_one_statement_and_the_next_statement_is_read(dialect: str) -> None:
    # goose SQLite/MySQL files with triggers: the body's `;`s split it, so the trigger was
    # unreadable (BK901) and the drill sent it in broken pieces.
    text = (
        "CREATE TRIGGER t_bu BEFORE UPDATE ON t FOR EACH ROW\nBEGIN\n"
        "  UPDATE t SET n = CASE WHEN 1 THEN 2 END WHERE id = NEW.id;\n"
        "  DELETE FROM u WHERE id = OLD.id;\nEND;\n"
        "ALTER TABLE t ADD COLUMN x int;\n"
    )
    read = read_sqlglot(SqlText(text, "m.sql"), dialect)
    assert read.problems == []
    assert [(op.kind, op.column, op.location.line) for op in read.operations] == [
        (ADD_COLUMN, "x", 6)
    ]


def test_a_mysql_procedure_runs_where_it_is_called() -> None:
    # mattermost/mattermost and kestra-io/kestra MySQL migrations: a procedure (under
    # DELIMITER // or not) whose body alters a table, CALLed. Its body was split at each `;`:
    # the CREATE with the first statement, IF … THEN, END IF and the CALL were BK901, and a
    # first statement that dropped a column was never read.
    text = (
        "DELIMITER //\nCREATE FUNCTION f() RETURNS int DETERMINISTIC BEGIN RETURN 1; END //\n"
        "CREATE PROCEDURE p() BEGIN ALTER TABLE t DROP COLUMN a;\n"
        "  DECLARE n INT;\n  SELECT COUNT(*) FROM t INTO n;\n"
        "  IF n > 0 THEN\n    ALTER TABLE t ADD COLUMN b int;\n  END IF;\nEND //\n"
        "DELIMITER ;\nCREATE PROCEDURE never_called() BEGIN ALTER TABLE t DROP COLUMN c; END;\n"
        "CALL p();\nDROP PROCEDURE p;\n"
    )
    read = read_sqlglot(SqlText(text, "m.sql"), "mysql")
    assert read.problems == []
    assert [(op.kind, op.column, op.location.line) for op in read.operations] == [
        (DROP_COLUMN, "a", 3),
        (ADD_COLUMN, "b", 7),
    ]


def test_a_call_of_a_procedure_the_sql_does_not_create_is_unread() -> None:
    read = read_sqlglot(SqlText("CALL elsewhere();\n", "m.sql"), "mysql")
    assert [p.reason for p in read.problems] == [
        "the mysql parser does not model `CALL` statements; this one was not checked"
    ]


def test_a_mysql_case_statement_ends_inside_its_trigger() -> None:
    # MySQL's CASE statement ends with END CASE: its CASE opened no second block, or the
    # trigger took in every statement after it (the DROP COLUMN was never read: no BK202).
    text = (
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
        "  CASE NEW.kind\n    WHEN 1 THEN SET NEW.label = 'one';\n"
        "    ELSE SET NEW.label = CASE WHEN NEW.id > 9 THEN 'big' ELSE 'other' END;\n"
        "  END CASE;\nEND;\n"
        "ALTER TABLE t DROP COLUMN email;\n"
    )
    read = read_sqlglot(SqlText(text, "m.sql"), "mysql")
    assert read.problems == []
    assert [(op.kind, op.column, op.location.line) for op in read.operations] == [
        (DROP_COLUMN, "email", 8)
    ]


def test_a_mariadb_create_or_replace_trigger_is_a_trigger() -> None:
    # MariaDB's CREATE OR REPLACE [DEFINER=…] TRIGGER: the splitter kept it whole, but the
    # reader did not know it for a trigger and parsed it (BK901).
    text = (
        "CREATE OR REPLACE DEFINER=CURRENT_USER TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW\n"
        "BEGIN\n  IF NEW.kind = 1 THEN SET NEW.label = 'one'; END IF;\nEND;\n"
        "ALTER TABLE t DROP COLUMN email;\n"
    )
    read = read_sqlglot(SqlText(text, "m.sql"), "mysql")
    assert read.problems == []
    assert [(op.kind, op.column, op.location.line) for op in read.operations] == [
        (DROP_COLUMN, "email", 5)
    ]


def test_alembic_url_startswith_scopes_the_code_to_that_dialect() -> None:
    # CTFd's revisions test `str(bind.engine.url).startswith("mysql")`; the code under it
    # was read for every dialect, and its BK901 said `op.execute()` of a `conn.execute()`.
    text = (
        'revision = "b2"\ndown_revision = "a1"\n\n\ndef upgrade():\n'
        "    url = str(op.get_bind().engine.url)\n"
        '    if url.startswith("mysql"):\n'
        '        op.drop_column("t", "legacy")\n'
        "        for table in tables:\n"
        '            conn.execute(f"ALTER TABLE {table} MODIFY d DATETIME(6)")\n'
        '    elif op.get_bind().engine.url.drivername.startswith("postgresql+psycopg"):\n'
        '        op.add_column("t", sa.Column("x", sa.Integer()))\n'
    )
    facts = read({"migrations/versions/b2_x.py": text})
    (migration,) = facts.of(Migration)
    assert [op.kind for op in migration.operations("postgres")[0]] == [ADD_COLUMN]
    assert [op.kind for op in migration.operations("mysql")[0]] == [DROP_COLUMN]
    assert migration.operations("sqlite")[0] == ()
    (problem,) = facts.of(SqlUnreadable)
    assert problem.dialect == "mysql" and problem.reason.startswith("conn.execute() of an f-")


def test_alembic_a_url_prefix_of_no_database_is_no_dialect_test() -> None:
    # `url.startswith("https")` names no database: its code runs on every dialect (it was
    # read as running on none, and the drop under it was no BK202). "oracle" is a database
    # backout does not read: its code runs on none of them.
    text = (
        'revision = "b2"\ndown_revision = "a1"\n\n\ndef upgrade():\n'
        '    url = os.environ.get("AVATAR_BASE_URL", "")\n'
        '    if url.startswith("https"):\n'
        '        op.drop_column("users", "avatar_path")\n'
        "    url = str(op.get_bind().engine.url)\n"
        '    if url.startswith("oracle"):\n'
        '        op.drop_column("users", "oracle_only")\n'
    )
    (migration,) = read({"migrations/versions/b2_x.py": text}).of(Migration)
    for dialect in ("postgres", "mysql", "sqlite"):
        assert [(op.kind, op.column) for op in migration.operations(dialect)[0]] == [
            (DROP_COLUMN, "avatar_path")
        ]


def test_drop_column_if_exists_is_noted_by_mariadbs_grammar() -> None:
    read = read_sqlglot(SqlText("ALTER TABLE t DROP COLUMN IF EXISTS x;", "m.sql"), "mysql")
    assert [(op.kind, op.column, op.detail) for op in read.operations] == [
        (DROP_COLUMN, "x", "if exists")
    ]


# Real-world forms (FTS5 with content=/tokenize= options and UNINDEXED columns, FTS4 with
# typed columns and options, R*Tree with auxiliary columns); each is run through sqlite3 below.
SQLITE_VIRTUAL_TABLES = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT);\n"
    "CREATE VIRTUAL TABLE notes_fts USING fts5(\n"
    "  title, body UNINDEXED,\n"
    "  content='notes', content_rowid='id', tokenize = 'porter unicode61 tokenchars ''-_'''\n"
    ");\n"
    'CREATE VIRTUAL TABLE IF NOT EXISTS main."Search" USING FTS5("Title", [body], \'a b\');\n'
    'CREATE VIRTUAL TABLE old_fts USING fts4(title TEXT, body, tokenize=porter, prefix="2,4");\n'
    "CREATE VIRTUAL TABLE bare_fts USING fts4;\n"
    "CREATE VIRTUAL TABLE legacy_fts USING fts3(subject, content);\n"
    "CREATE VIRTUAL TABLE geo USING rtree(id, minx, maxx, miny, maxy, +name TEXT);\n"
    "CREATE VIRTUAL TABLE geo32 USING rtree_i32(id, x0, x1);\n"
    "CREATE VIRTUAL TABLE words USING fts5vocab(notes_fts, row);\n"
)


def test_sqlite_virtual_tables_create_the_tables_and_columns_sqlite3_makes() -> None:
    # CREATE VIRTUAL TABLE was BK901 as soon as a module argument was not a bare name
    # (tokenize=…, a type, UNINDEXED): fts5's columns are its names, not its options.
    read = read_sqlglot(SqlText(SQLITE_VIRTUAL_TABLES, "m.sql"), "sqlite")
    assert read.problems == []
    connection = sqlite3.connect(":memory:")
    connection.executescript(SQLITE_VIRTUAL_TABLES)  # each statement is valid SQLite
    created = [op for op in read.operations if op.kind == CREATE_TABLE]
    assert [op.table for op in created] == [
        "notes",
        "notes_fts",
        "Search",
        "old_fts",
        "bare_fts",
        "legacy_fts",
        "geo",
        "geo32",
        "words",
    ]
    for op in created:
        if op.table == "words":
            # fts5vocab's arguments name a table and a kind: its columns are not known here.
            assert op.detail == COLUMNS_UNKNOWN and op.columns == ()
            continue
        assert op.detail == ""
        columns = connection.execute("SELECT name FROM pragma_table_info(?)", (op.table,))
        assert [c.name for c in op.columns] == [row[0] for row in columns], op.table
    fts = next(op for op in created if op.table == "notes_fts")
    assert (fts.location.line, fts.location.column) == (2, 22)
    assert all(c.nullable and not c.has_default for c in fts.columns)
    search = next(op for op in created if op.table == "Search")
    assert (search.location.line, search.location.column) == (6, 41)


def test_a_sqlite_virtual_table_the_database_rejects_is_unreadable() -> None:
    # FTS5 takes no column types (sqlite3: "unrecognized column option: TEXT").
    text = "CREATE VIRTUAL TABLE f USING fts5(a TEXT);\nALTER TABLE t ADD COLUMN x int;\n"
    try:
        sqlite3.connect(":memory:").execute(text.splitlines()[0])
    except sqlite3.OperationalError as exc:
        assert "TEXT" in str(exc)
    else:
        raise AssertionError("sqlite3 took an fts5 column type")
    read = read_sqlglot(SqlText(text, "m.sql"), "sqlite")
    (problem,) = read.problems
    assert problem.location.line == 1 and "fts5" in problem.reason
    assert [(op.kind, op.column) for op in read.operations] == [(ADD_COLUMN, "x")]


def test_a_column_the_history_only_touched_has_no_known_nullability() -> None:
    # A base that retypes or gives a default to a column no migration created learns nothing
    # of its NOT NULL: recorded nullable, a restated `nullable=False, existing_nullable=False`
    # in the release was BK205. A column whose NOT NULL a migration set or dropped is known.
    facts = read(
        {
            "migrations/0001_a.up.sql": "ALTER TABLE t ALTER COLUMN a TYPE bigint;\n"
            "ALTER TABLE t ALTER COLUMN b SET DEFAULT 0;\n"
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;\n"
            "ALTER TABLE t ALTER COLUMN d DROP NOT NULL;\n"
            "CREATE TABLE u (e int NOT NULL, f int);\n"
        }
    )
    schema = replay(ordered_migrations(facts))
    nullable = {
        f"{table.name}.{column.name}": column.base_nullable
        for table in schema.tables.values()
        for column in table.columns.values()
    }
    assert nullable == {
        "t.a": None,
        "t.b": None,
        "t.c": False,
        "t.d": True,
        "u.e": False,
        "u.f": True,
    }


def test_django_foreign_key_fields_are_judged_as_their_columns() -> None:
    """A ForeignKey ``author`` is the column ``author_id`` (``db_column`` another): Django's
    operations that name the field (RemoveField, RenameField, state-only removals, unique
    groups) change that column, as a RunSQL of the same table names it."""
    create = (
        "from django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n    dependencies = []\n"
        "    operations = [migrations.CreateModel(name='Book', fields=[\n"
        "        ('id', models.BigAutoField(primary_key=True)),\n"
        "        ('author', models.ForeignKey(on_delete=models.CASCADE, to='shop.author')),\n"
        "        ('editor', models.ForeignKey(db_column='Edited_By', on_delete=models.CASCADE,"
        " to='shop.author')),\n"
        "        ('owner', models.OneToOneField(on_delete=models.CASCADE, to='shop.author')),\n"
        "    ])]\n"
    )
    change = (
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0001_initial')]\n"
        "    operations = [\n"
        "        migrations.RenameField('book', 'author', 'writer'),\n"
        "        migrations.RenameField('book', 'editor', 'checker'),\n"
        "        migrations.RemoveField('book', 'owner'),\n"
        "        migrations.AlterUniqueTogether('book', {('writer', 'checker')}),\n"
        "    ]\n"
    )
    facts = read(
        {"shop/migrations/0001_initial.py": create, "shop/migrations/0002_change.py": change}
    )
    base, release = ordered_migrations(facts)
    judged = judge_release([base], [release], "postgres")
    changes = [
        (j.op.kind, j.op.column, j.op.new_name, j.op.constrained)
        for j in judged
        if j.op.kind != "drop_constraint"
    ]
    assert changes == [
        ("rename_column", "author_id", "writer_id", ()),
        ("drop_column", "owner_id", None, ()),
        ("add_constraint", None, None, ("writer_id", "edited_by")),
    ]


def test_django_rename_field_keeps_a_column_its_db_column_names() -> None:
    """A field whose ``db_column`` is written out keeps that column through a RenameField,
    even when it is the name Django would give it (``user_id`` of a ForeignKey ``user``, or
    the field's own name): Django renames the column only when the new field's column
    differs. Both were reported as renames (``user_id`` to ``rater_id``)."""
    create = (
        "from django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n    dependencies = []\n"
        "    operations = [migrations.CreateModel(name='Rating', fields=[\n"
        "        ('id', models.BigAutoField(primary_key=True)),\n"
        "        ('user', models.ForeignKey(db_column='user_id', on_delete=models.CASCADE,"
        " to='auth.user')),\n"
        "        ('date', models.DateField(db_column='date')),\n"
        "        ('author', models.ForeignKey(on_delete=models.CASCADE, to='auth.user')),\n"
        "    ])]\n"
    )
    change = (
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0001_initial')]\n"
        "    operations = [\n"
        "        migrations.RenameField('rating', 'user', 'rater'),\n"
        "        migrations.RenameField('rating', 'date', 'day'),\n"
        "        migrations.RenameField('rating', 'author', 'writer'),\n"
        "        migrations.RemoveField('rating', 'rater'),\n"
        "    ]\n"
    )
    facts = read(
        {"shop/migrations/0001_initial.py": create, "shop/migrations/0002_change.py": change}
    )
    base, release = ordered_migrations(facts)
    judged = judge_release([base], [release], "postgres")
    assert [(j.op.kind, j.op.column, j.op.new_name) for j in judged] == [
        ("rename_column", "author_id", "writer_id"),
        ("drop_column", "user_id", None),
    ]


def test_django_relation_subclasses_are_their_columns() -> None:
    """A subclass of a relation field is read as the relation: django-mptt's
    ``TreeForeignKey`` and Wagtail's ``ParentalKey`` are the column ``<field>_id``; a
    ``ParentalManyToManyField`` and django-taggit's ``TaggableManager`` have no column (a join
    table, a ``through`` model). They were columns named as the field."""
    create = (
        "from django.db import migrations, models\n"
        "import modelcluster.fields\nimport mptt.fields\nimport taggit.managers\n\n"
        "class Migration(migrations.Migration):\n    dependencies = []\n"
        "    operations = [migrations.CreateModel(name='Page', fields=[\n"
        "        ('id', models.BigAutoField(primary_key=True)),\n"
        "        ('parent', mptt.fields.TreeForeignKey(null=True, on_delete=models.CASCADE,"
        " to='shop.page')),\n"
        "        ('home', modelcluster.fields.ParentalKey(on_delete=models.CASCADE,"
        " to='shop.home')),\n"
        "        ('topics', modelcluster.fields.ParentalManyToManyField(to='shop.topic')),\n"
        "        ('tags', taggit.managers.TaggableManager(through='shop.TaggedPage',"
        " to='taggit.Tag')),\n"
        "    ])]\n"
    )
    change = (
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('shop', '0001_initial')]\n"
        "    operations = [\n"
        "        migrations.RemoveField('page', 'parent'),\n"
        "        migrations.RenameField('page', 'home', 'site'),\n"
        "    ]\n"
    )
    facts = read(
        {"shop/migrations/0001_initial.py": create, "shop/migrations/0002_change.py": change}
    )
    base, release = ordered_migrations(facts)
    created = {
        op.table: op.columns for op in base.operations("postgres")[0] if op.kind == CREATE_TABLE
    }
    assert [c.name for c in created["shop_page"]] == ["id", "parent_id", "home_id"]
    assert "shop_page_topics" in created  # the join table
    judged = judge_release([base], [release], "postgres")
    assert [(j.op.kind, j.op.column, j.op.new_name) for j in judged] == [
        ("drop_column", "parent_id", None),
        ("rename_column", "home_id", "site_id"),
    ]


def test_django_names_a_foreign_key_by_its_column(tmp_path: Path) -> None:
    # A ForeignKey `user` is the column user_id: RemoveField, RenameField and the fields of a
    # UniqueConstraint name the field, the database and the old release's SQL the column
    # (Zulip's RemoveField(model_name="userprofile", name="recipient") drops recipient_id).
    initial = (
        "from django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n"
        "    initial = True\n"
        "    dependencies = []\n"
        "    operations = [\n"
        "        migrations.CreateModel(\n"
        '            name="Token",\n'
        "            fields=[\n"
        '                ("id", models.BigAutoField(primary_key=True)),\n'
        '                ("user", models.ForeignKey(on_delete=models.CASCADE, to="auth.user")),\n'
        '                ("owner", models.ForeignKey(on_delete=models.CASCADE, to="auth.user")),\n'
        '                ("kind", models.IntegerField()),\n'
        "            ],\n"
        "        ),\n"
        "    ]\n"
    )
    release = (
        "from django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        "        migrations.AddConstraint(\n"
        '            model_name="token",\n'
        "            constraint=models.UniqueConstraint(\n"
        '                fields=("user", "kind"), name="token_user_kind"\n'
        "            ),\n"
        "        ),\n"
        '        migrations.RemoveField(model_name="token", name="user"),\n'
        '        migrations.RenameField(model_name="token", old_name="owner", new_name="holder"),\n'
        "    ]\n"
    )
    write(
        tmp_path,
        {
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": initial,
            "shop/migrations/0002_release.py": release,
        },
    )
    config = Config(root=tmp_path).with_overrides(
        select=("BK202", "BK203", "BK206"), release_size=1
    )
    messages = sorted(f"{f.code} {f.message}" for f in check(tmp_path, config).findings)
    assert len(messages) == 3, messages
    assert "drops shop_token.user_id," in messages[0]
    assert "renames shop_token.owner_id to holder_id;" in messages[1]
    assert "UNIQUE constraint on shop_token (user_id, kind);" in messages[2]


def test_django_app_label_comes_from_the_migrations_dependencies(tmp_path: Path) -> None:
    # wagtail.documents lives in documents/ and is labelled wagtaildocs (AppConfig.label):
    # its tables are wagtaildocs_<model>, and the migrations say the label in their
    # dependencies on each other.
    head = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
    write(
        tmp_path,
        {
            "wagtail/documents/migrations/__init__.py": "",
            "wagtail/documents/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            "        migrations.CreateModel(\n"
            '            name="UploadedDocument",\n'
            '            fields=[("id", models.AutoField(primary_key=True))],\n'
            "        ),\n"
            "    ]\n",
            "wagtail/documents/migrations/0002_delete_uploadeddocument.py": head
            + '    dependencies = [("wagtaildocs", "0001_initial")]\n'
            + '    operations = [migrations.DeleteModel(name="UploadedDocument")]\n',
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK202",), release_size=1)
    (finding,) = check(tmp_path, config).findings
    assert finding.message.startswith(
        "wagtaildocs.0002_delete_uploadeddocument drops table wagtaildocs_uploadeddocument,"
    ), finding.message


def test_sql_in_concatenated_python_strings_is_located_in_its_piece(tmp_path: Path) -> None:
    # PostHog writes RunSQL's SQL as adjacent string literals, one clause a line
    # (products/dashboards/backend/migrations/0002_dashboardtile_team.py): a finding is at
    # the line and column of its piece, not at an offset past the end of the first line.
    django = (
        "from django.db import migrations\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        "        migrations.RunSQL(\n"
        "            sql=(\n"
        "                'ALTER TABLE \"shop_order\" '\n"
        "                'DROP COLUMN \"note\"; '\n"
        '                "ALTER TABLE shop_order DROP COLUMN paid"\n'
        "            ),\n"
        "            reverse_sql=migrations.RunSQL.noop,\n"
        "        ),\n"
        '        migrations.RunSQL("""ALTER TABLE shop_order DROP COLUMN total""", "SELECT 1"),\n'
        "    ]\n"
    )
    alembic = (
        "from alembic import op\n\n"
        "revision = 'a1'\ndown_revision = None\n\n"
        "def upgrade():\n"
        "    op.execute(\n"
        "        'ALTER TABLE accounts '\n"
        "        'DROP COLUMN legacy'\n"
        "    )\n\n"
        "def downgrade():\n    pass\n"
    )
    write(
        tmp_path,
        {
            "shop/migrations/__init__.py": "",
            "shop/migrations/0002_drop.py": django,
            "alembic/versions/a1.py": alembic,
        },
    )
    assert codes(tmp_path, select=("BK202",)) == [
        ("BK202", "alembic/versions/a1.py:9:22", Severity.ERROR),
        ("BK202", "shop/migrations/0002_drop.py:9:30", Severity.ERROR),
        ("BK202", "shop/migrations/0002_drop.py:10:53", Severity.ERROR),
        ("BK202", "shop/migrations/0002_drop.py:14:65", Severity.ERROR),
    ]


def test_irreversible_step_inside_separate_database_and_state_names_its_error(
    tmp_path: Path,
) -> None:
    # SeparateDatabaseAndState is reversible to Django; its RunPython without reverse_code
    # raises NotImplementedError("You cannot reverse this operation") when `migrate` goes
    # back (zulip/zulip's zerver/migrations/0754 runs its index removals that way).
    write(
        tmp_path,
        {
            "zerver/migrations/__init__.py": "",
            "zerver/migrations/0754_remove_index.py": (
                "from django.db import migrations\n\n"
                "def drop(apps, schema_editor):\n    pass\n\n"
                "class Migration(migrations.Migration):\n"
                '    dependencies = [("zerver", "0753_a")]\n'
                "    operations = [\n"
                "        migrations.SeparateDatabaseAndState(\n"
                "            database_operations=[migrations.RunPython(drop)],\n"
                "        ),\n"
                "        migrations.RunPython(drop),\n"
                "    ]\n"
            ),
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK207",), release_size=1)
    messages = [f.message for f in check(tmp_path, config).findings]
    assert len(messages) == 2, messages
    assert "`migrate` back past it fails with NotImplementedError" in messages[0]
    assert "`migrate` back past it fails with IrreversibleError" in messages[1]


def test_django_app_label_leaves_the_tables_named_as_written(tmp_path: Path) -> None:
    # An app relabelled documents -> wagtaildocs: the tables a db_table option or a RunSQL
    # names are those tables, even when they are named like <directory>_<model>; only the
    # tables Django names after the label are renamed.
    head = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
    write(
        tmp_path,
        {
            "documents/migrations/__init__.py": "",
            "documents/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            "        migrations.CreateModel(\n"
            '            name="Document",\n'
            '            fields=[("id", models.AutoField(primary_key=True)),\n'
            '                    ("title", models.TextField(null=True))],\n'
            '            options={"db_table": "documents_document"},\n'
            "        ),\n"
            "        migrations.CreateModel(\n"
            '            name="Page",\n'
            '            fields=[("id", models.AutoField(primary_key=True)),\n'
            '                    ("title", models.TextField(null=True))],\n'
            "        ),\n"
            "    ]\n",
            "documents/migrations/0002_drop.py": head
            + '    dependencies = [("wagtaildocs", "0001_initial")]\n'
            + "    operations = [\n"
            + '        migrations.RemoveField("document", "title"),\n'
            + '        migrations.RemoveField("page", "title"),\n'
            + '        migrations.RunSQL("DROP TABLE documents_page", migrations.RunSQL.noop),\n'
            + "    ]\n",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK202",), release_size=1)
    messages = [f.message for f in check(tmp_path, config).findings]
    assert len(messages) == 3, messages
    assert messages[0].startswith("wagtaildocs.0002_drop drops documents_document.title,")
    assert messages[1].startswith("wagtaildocs.0002_drop drops wagtaildocs_page.title,")
    assert messages[2].startswith("wagtaildocs.0002_drop drops table documents_page,")


def test_django_alter_field_that_changes_the_column_renames_it(tmp_path: Path) -> None:
    # Django's AlterField renames the column when the new field's differs: a ForeignKey
    # author made an IntegerField renames author_id to author. A RenameField followed by an
    # AlterField that gives the old column as db_column is Django's rename without a change
    # to the database (seen in the corpus: RenameField user -> rater, then AlterField rater
    # ForeignKey(db_column='user_id'); rating -> score, then db_column='rating'): no rename.
    head = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
    write(
        tmp_path,
        {
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            "        migrations.CreateModel(\n"
            '            name="Book",\n'
            '            fields=[("id", models.AutoField(primary_key=True)),\n'
            '                    ("author", models.ForeignKey(on_delete=models.CASCADE,'
            ' to="shop.author")),\n'
            '                    ("user", models.ForeignKey(on_delete=models.CASCADE,'
            ' to="auth.user")),\n'
            '                    ("rating", models.IntegerField())],\n'
            "        ),\n"
            "    ]\n",
            "shop/migrations/0002_alter.py": head
            + '    dependencies = [("shop", "0001_initial")]\n'
            + "    operations = [\n"
            + '        migrations.AlterField("book", "author", models.IntegerField(null=True)),\n'
            + '        migrations.RenameField("book", "user", "rater"),\n'
            + '        migrations.AlterField("book", "rater", models.ForeignKey('
            + 'db_column="user_id", on_delete=models.CASCADE, to="auth.user")),\n'
            + '        migrations.RenameField("book", "rating", "score"),\n'
            + '        migrations.AlterField("book", "score", models.IntegerField('
            + 'db_column="rating")),\n'
            + '        migrations.RemoveField("book", "rater"),\n'
            + "    ]\n",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK202", "BK203"), release_size=1)
    messages = [f.message for f in check(tmp_path, config).findings]
    assert len(messages) == 2, messages
    assert messages[0].startswith("shop.0002_alter renames shop_book.author_id to author;")
    assert messages[1].startswith("shop.0002_alter drops shop_book.user_id,")


def test_django_state_only_foreign_key_is_its_column(tmp_path: Path) -> None:
    # A ForeignKey the models take in state_operations alone (its column added by RunSQL) is
    # the column editor_id; with a db_column, that column, which a RenameField keeps.
    head = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
    write(
        tmp_path,
        {
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            '        migrations.CreateModel("Book", [\n'
            '            ("id", models.AutoField(primary_key=True))]),\n'
            "        migrations.SeparateDatabaseAndState(\n"
            "            state_operations=[\n"
            '                migrations.AddField("book", "editor", models.ForeignKey('
            'null=True, on_delete=models.CASCADE, to="shop.book")),\n'
            '                migrations.AddField("book", "owner", models.ForeignKey('
            'db_column="owned_by", null=True, on_delete=models.CASCADE, to="shop.book")),\n'
            "            ],\n"
            "            database_operations=[migrations.RunSQL(\n"
            '                "ALTER TABLE shop_book ADD COLUMN editor_id int NULL, "\n'
            '                "ADD COLUMN owned_by int NULL", migrations.RunSQL.noop)],\n'
            "        ),\n"
            "    ]\n",
            "shop/migrations/0002_change.py": head
            + '    dependencies = [("shop", "0001_initial")]\n'
            + "    operations = [\n"
            + '        migrations.RemoveField("book", "editor"),\n'
            + '        migrations.RenameField("book", "owner", "holder"),\n'
            + "    ]\n",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK202", "BK203"), release_size=1)
    messages = [f.message for f in check(tmp_path, config).findings]
    assert len(messages) == 1, messages
    assert messages[0].startswith("shop.0002_change drops shop_book.editor_id,"), messages[0]


@pytest.mark.parametrize(
    ("settings", "retargeted"),
    [
        ({}, True),
        ({"shop/settings.py": 'AUTH_USER_MODEL = "shop.Tag"\n'}, False),
        ({"config/settings/base.py": 'if True:\n    AUTH_USER_MODEL: str = "shop.Tag"\n'}, False),
        ({"settings.py": 'AUTH_USER_MODEL = "accounts.User"\n'}, True),
        ({"settings.py": "import os\nAUTH_USER_MODEL = os.environ['USER_MODEL']\n"}, False),
        (
            {
                "a/settings.py": 'AUTH_USER_MODEL = "shop.Tag"\n',
                "settings_ci.py": "AUTH_USER_MODEL = 'x.Y'",
            },
            False,
        ),
        ({"settings/base.py": "{% if x %}AUTH_USER_MODEL = 'shop.Tag'{% endif %}\n"}, False),
    ],
    ids=["django-default", "shop-tag", "package-module", "other", "computed", "two", "template"],
)
def test_django_user_model_is_the_one_the_settings_name(
    tmp_path: Path, settings: dict[str, str], retargeted: bool
) -> None:
    # An AlterField of a ForeignKey to settings.AUTH_USER_MODEL to shop.Tag retargets it
    # (BK206) unless the settings make shop.Tag the user model; without settings it is
    # Django's auth.User; settings that compute it or disagree leave it unknown (no finding).
    head = (
        "from django.conf import settings\nfrom django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n"
    )
    fk = "models.ForeignKey(on_delete=models.CASCADE, to={})"
    write(
        tmp_path,
        {
            **settings,
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            '        migrations.CreateModel(name="Tag", fields=[("id", models.AutoField())]),\n'
            '        migrations.CreateModel(name="Book", fields=[("owner", '
            + fk.format("settings.AUTH_USER_MODEL")
            + ")]),\n    ]\n",
            "shop/migrations/0002_owner.py": head
            + '    dependencies = [("shop", "0001_initial")]\n'
            '    operations = [migrations.AlterField(model_name="book", name="owner", field='
            + fk.format('"shop.tag"')
            + ")]\n",
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK206", "BK901"), release_size=1)
    findings = check(tmp_path, config).findings
    assert [f.code for f in findings] == (["BK206"] if retargeted else []), findings


LONG_MODEL = "Shipment" + "Allocation" * 5 + "Xy"  # shop_<model>: 65 characters
SQLITE = '"ENGINE": "django.db.backends.sqlite3"'
POSTGRES = '"ENGINE": "django.db.backends.postgresql"'


@pytest.mark.parametrize(
    ("settings", "dialect", "backend"),
    [
        ({}, "postgres", "postgres"),
        ({}, "sqlite", "sqlite"),
        (
            {"settings.py": f'DATABASES = {{"default": {{{SQLITE}, "NAME": "db"}}}}\n'},
            None,
            "sqlite",
        ),
        ({"settings.py": f"DATABASES = {{'default': {{{POSTGRES}}}}}\n"}, "sqlite", "postgres"),
        (
            {
                "conf/settings/base.py": "try:\n    DATABASES: dict = {'default': {"
                '"ENGINE": "django.contrib.gis.db.backends.mysql"}}\n'
                "except ImportError:\n    pass\n"
            },
            None,
            "mysql",
        ),
        (
            {"settings.py": 'DATABASES = {"default": {"ENGINE": "django.db.backends.oracle"}}'},
            None,
            "oracle",
        ),
        (
            {
                "settings/base.py": f"DATABASES = {{'default': {{{POSTGRES}}}}}\n",
                "settings/test.py": "from .base import *\n"
                'DATABASES["default"]["NAME"] = "test"\n'
                'DATABASES["default"]["ENGINE"] = "django.db.backends.sqlite3"\n',
            },
            "mysql",
            "mysql",
        ),
        (
            {"settings.py": "import os\nDATABASES = {'default': {'ENGINE': os.environ['DB']}}\n"},
            "sqlite",
            "sqlite",
        ),
        (
            {
                "settings.py": f"DATABASES = {{'default': {{**BASE, {SQLITE}}}, "
                f"'old': {{{POSTGRES}}}}}"
            },
            None,
            "sqlite",
        ),
        (
            {"settings.py": f"DATABASES = {{'default': {{{SQLITE}, **OVERRIDES}}}}\n"},
            None,
            "postgres",
        ),
        (
            {"settings.py": "DATABASES = {'default': {'ENGINE': 'django_cockroachdb'}}\n"},
            None,
            "postgres",
        ),
        (
            {"settings.py": f"{{% if x %}}DATABASES = {{'default': {{{SQLITE}}}}}{{% endif %}}\n"},
            None,
            "postgres",
        ),
    ],
    ids=[
        "no-settings",
        "no-settings-sqlite",
        "sqlite3",
        "postgresql-over-dialect",
        "gis-mysql-in-try",
        "oracle",
        "two-disagree",
        "computed",
        "unpacked-before",
        "unpacked-after",
        "third-party",
        "template",
    ],
)
def test_django_names_are_as_long_as_the_settings_database_takes(
    tmp_path: Path, settings: dict[str, str], dialect: str | None, backend: str
) -> None:
    # Django shortens a default table name longer than its backend's max_name_length()
    # (63 PostgreSQL, 64 MySQL, 30 Oracle, no limit SQLite): the backend is the ENGINE of
    # the settings' DATABASES["default"] when they all give the same literal one, else the
    # sql-dialect's.
    from django.db.backends.utils import truncate_name

    head = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
    write(
        tmp_path,
        {
            **settings,
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": head + "    dependencies = []\n"
            f'    operations = [migrations.CreateModel(name="{LONG_MODEL}", '
            'fields=[("id", models.AutoField())])]\n',
            "shop/migrations/0002_delete.py": head
            + '    dependencies = [("shop", "0001_initial")]\n'
            f'    operations = [migrations.DeleteModel(name="{LONG_MODEL}")]\n',
        },
    )
    config = Config(root=tmp_path).with_overrides(
        select=("BK202",), release_size=1, sql_dialect=dialect
    )
    messages = [f.message for f in check(tmp_path, config).findings]
    limit = {"postgres": 63, "mysql": 64, "oracle": 30}.get(backend)
    table = truncate_name(f"shop_{LONG_MODEL.lower()}", limit)
    assert len(messages) == 1 and f"drops table {table}," in messages[0], (table, messages)


@pytest.mark.parametrize(
    "db_table",
    [
        '"library"."shelves_' + "with_a_long_name" * 3 + '__"',
        '"shelves_' + "with_a_long_name" * 3 + '__"',
        '"library"."shelves"',
    ],
    ids=["schema-long", "quoted-long", "schema-short"],
)
def test_django_join_table_of_a_quoted_db_table_is_named_as_django_names_it(
    tmp_path: Path, db_table: str
) -> None:
    # Django's _get_m2m_db_table takes the quotes off a db_table ("library"."shelves" →
    # library"."shelves), adds _<field>, and truncate_name shortens the table part alone to
    # 63 (PostgreSQL); quote_name quotes it again: "library"."shelves_…_books".
    from django.db.backends.utils import strip_quotes, truncate_name

    expected = '"' + truncate_name(f"{strip_quotes(db_table)}_books", 63) + '"'
    head = "from django.db import migrations, models\n\nclass Migration(migrations.Migration):\n"
    write(
        tmp_path,
        {
            "shop/migrations/__init__.py": "",
            "shop/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            '        migrations.CreateModel(name="Book", fields=[("id", models.AutoField())]),\n'
            '        migrations.CreateModel(name="Shelf", fields=[("id", models.AutoField()), '
            '("books", models.ManyToManyField(to="shop.book"))], '
            f"options={{'db_table': {db_table!r}}}),\n"
            "    ]\n",
            "shop/migrations/0002_remove.py": head
            + '    dependencies = [("shop", "0001_initial")]\n'
            '    operations = [migrations.RemoveField(model_name="shelf", name="books")]\n',
        },
    )
    config = Config(root=tmp_path).with_overrides(select=("BK202",), release_size=1)
    messages = [f.message for f in check(tmp_path, config).findings]
    assert len(messages) == 1 and f"drops table {expected}," in messages[0], (expected, messages)


def test_django_migrations_read_by_the_process_pool_are_linked(tmp_path: Path) -> None:
    # A tree large enough to be read by a process pool, the Django app's files first (the
    # workers take the first chunks): the facts that come back are Migration facts, whose
    # module is not the reader's, yet the app is named by its label (wagtaildocs) and the
    # user model is the one the settings name (shop.Tag: no retarget, no BK206).
    head = (
        "from django.conf import settings\nfrom django.db import migrations, models\n\n"
        "class Migration(migrations.Migration):\n"
    )
    fk = "models.ForeignKey(on_delete=models.CASCADE, to={})"
    files = {f"zz/file{i:03}.txt": "x\n" for i in range(PARALLEL_THRESHOLD)}
    write(
        tmp_path,
        {
            **files,
            "aa/settings.py": 'AUTH_USER_MODEL = "wagtaildocs.Tag"\n',
            "aa/documents/migrations/0001_initial.py": head + "    dependencies = []\n"
            "    operations = [\n"
            '        migrations.CreateModel(name="Tag", fields=[("id", models.AutoField())]),\n'
            '        migrations.CreateModel(name="Book", fields=[("owner", '
            + fk.format("settings.AUTH_USER_MODEL")
            + ")]),\n    ]\n",
            "aa/documents/migrations/0002_owner.py": head
            + '    dependencies = [("wagtaildocs", "0001_initial")]\n'
            '    operations = [migrations.AlterField(model_name="book", name="owner", field='
            + fk.format('"wagtaildocs.tag"')
            + "), migrations.DeleteModel(name='Book')]\n",
        },
    )
    # In a process of its own: this one has loaded the Django reader's module already.
    done = run_backout(
        "check", str(tmp_path), "--select", "BK202,BK206", "--release-size", "1", "--format", "json"
    )
    messages = [f["message"] for f in json.loads(done.stdout)["findings"]]
    assert len(messages) == 1 and "drops table wagtaildocs_book," in messages[0], messages


def test_a_name_computed_at_run_time_is_no_syntax_error() -> None:
    # Found on mlflow's revisions (create_table(SqlLatestMetric.__tablename__, ...)): the fix
    # said "fix the syntax" of valid code.
    case = Path(__file__).parent / "fixtures/rules/BK901/fail/alembic_names_computed_at_run_time"
    done = run_backout("check", str(case), "--select", "BK901", "--format", "json")
    findings = json.loads(done.stdout)["findings"]
    assert findings
    for finding in findings:
        assert "computed at run time" in finding["message"]
        assert "syntax" not in finding["fix"]
        assert finding["fix"].startswith("write the value as a literal")


def test_each_clause_of_an_alter_table_is_placed_at_its_own_line(tmp_path: Path) -> None:
    # A column named by an earlier clause of the statement: the drop was reported at the
    # `ALTER COLUMN a DROP DEFAULT` line, where a suppression comment for it does nothing.
    write(
        tmp_path,
        {
            "db/0001_a.up.sql": "CREATE TABLE t (id int, a int DEFAULT 1, b int);",
            "db/0001_a.down.sql": "DROP TABLE t;",
            "db/0002_b.up.sql": (
                "ALTER TABLE t\n"
                "  ALTER COLUMN a DROP DEFAULT,\n"
                "  DROP COLUMN a,\n"
                "  ALTER COLUMN b SET NOT NULL,\n"
                "  ALTER COLUMN b TYPE smallint;\n"
            ),
            "db/0002_b.down.sql": "SELECT 1;",
        },
    )
    found = codes(tmp_path, select=("BK202", "BK204", "BK205"))
    assert sorted(f[:2] for f in found) == [
        ("BK202", "db/0002_b.up.sql:3:15"),
        ("BK204", "db/0002_b.up.sql:5:16"),
        ("BK205", "db/0002_b.up.sql:4:16"),
    ]
