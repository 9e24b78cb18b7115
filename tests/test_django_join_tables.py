"""Django's many-to-many join tables and the columns it renames, checked against Django itself.

Each case is a project of Django apps: the base release's migrations, and the release's on
top. Django migrates a SQLite database to each (in a subprocess, the installed Django; for
the names Django shortens, a scratch database on the PostgreSQL and MariaDB servers of
127.0.0.1 too, made and dropped here: the test FAILS, never skips, when a server is missing)
and its tables and columns are read back; backout checks the release against the base. The
renames (BK203) and drops (BK202) backout reports, applied to the base's tables as Django left
them, must give the tables Django leaves after the release: no rename Django does not make,
none it makes left out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import run_backout
from tests.drill_repos import scratch_database

HEAD = (
    "from django.conf import settings\n"
    "from django.db import migrations, models\n\n\n"
    "class Migration(migrations.Migration):\n"
)

# Migrates every app under the directory given and prints its tables, {table: [column, ...]},
# and their foreign keys, {table: {column: referenced table}}.
_INTROSPECT = """
import json, os, sys
root = sys.argv[1]
sys.path.insert(0, root)
database = json.loads(sys.argv[2])
if database["ENGINE"].endswith("mysql"):
    import pymysql
    pymysql.install_as_MySQLdb()
import django
from django.conf import settings
apps = sorted(p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p, "migrations")))
# The project's own settings.py, if it has one: its AUTH_USER_MODEL and Django's apps it uses.
own = {}
if os.path.exists(os.path.join(root, "settings.py")):
    import settings as project
    own = {k: v for k, v in vars(project).items() if k == "AUTH_USER_MODEL"}
    apps = [*getattr(project, "DJANGO_APPS", []), *apps]
settings.configure(INSTALLED_APPS=apps, DATABASES={"default": database}, USE_TZ=True, **own)
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
with connection.cursor() as cursor:
    introspection = connection.introspection
    tables = [
        t for t in introspection.table_names(cursor) if not t.startswith(("django_", "auth_"))
    ]
    print(json.dumps([
        {
            table: sorted(c.name for c in introspection.get_table_description(cursor, table))
            for table in tables
        },
        {
            table: {
                c["columns"][0]: c["foreign_key"][0]
                for c in introspection.get_constraints(cursor, table).values()
                if c["foreign_key"]
            }
            for table in tables
        },
    ]))
"""

Tables = dict[str, list[str]]
ForeignKeys = dict[str, dict[str, str]]


class Migrated(NamedTuple):
    """Django's tables at the base and after the release, the foreign keys after it, and
    backout's findings on the release."""

    before: Tables
    after: Tables
    foreign_keys: ForeignKeys
    findings: list[dict[str, object]]


def _write(root: Path, migrations: dict[str, str]) -> None:
    """The apps of ``migrations`` (``app/NNNN_name``: the module's body after ``HEAD``), and
    the project's ``settings.py`` (``settings``: its text)."""
    for name, body in migrations.items():
        if name == "settings":
            (root / "settings.py").write_text(body)
            continue
        app = root / name.split("/")[0]
        (app / "migrations").mkdir(parents=True, exist_ok=True)
        (app / "__init__.py").write_text("")
        (app / "migrations" / "__init__.py").write_text("")
        (root / name.split("/")[0] / "migrations" / f"{name.split('/')[1]}.py").write_text(
            HEAD + body
        )


SERVERS = {
    "postgres": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": 5432,
        "USER": "postgres",
    },
    "mysql": {
        "ENGINE": "django.db.backends.mysql",
        "HOST": "127.0.0.1",
        "PORT": 3306,
        "USER": "root",
    },
}


def _django_tables(root: Path, backend: str = "sqlite") -> tuple[Tables, ForeignKeys]:
    """The tables and columns Django's ``migrate`` leaves for the apps under ``root`` on a
    ``backend`` database, and their foreign keys."""
    if backend == "sqlite":
        return _migrate(root, {"ENGINE": "django.db.backends.sqlite3", "NAME": str(root / "db")})
    with scratch_database(backend, "backout_test_django") as name:
        return _migrate(root, {**SERVERS[backend], "NAME": name})


def _migrate(root: Path, database: dict[str, object]) -> tuple[Tables, ForeignKeys]:
    done = subprocess.run(
        [sys.executable, "-c", _INTROSPECT, str(root), json.dumps(database)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    tables, keys = json.loads(done.stdout)
    return tables, keys


_RENAMED_TABLE = re.compile(r"renames table (\S+) to (\S+?);")
_RENAMED_COLUMN = re.compile(r"renames (\S+)\.(\S+) to (\S+?);")
_DROPPED_TABLE = re.compile(r"drops table (\S+?),")
_DROPPED_COLUMN = re.compile(r"drops (\S+)\.(\S+?),")


def _as_backout_says(tables: Tables, findings: list[dict[str, object]]) -> Tables:
    """``tables`` once the renames and drops ``findings`` report are made, in their order."""
    after = {table: list(columns) for table, columns in tables.items()}
    for finding in findings:
        message = str(finding["message"])
        if found := _RENAMED_TABLE.search(message):
            after[found[2]] = after.pop(found[1])
        elif found := _RENAMED_COLUMN.search(message):
            columns = after[found[1]]
            columns[columns.index(found[2])] = found[3]
        elif found := _DROPPED_TABLE.search(message):
            del after[found[1]]
        elif found := _DROPPED_COLUMN.search(message):
            after[found[1]].remove(found[2])
        else:
            raise AssertionError(f"neither a rename nor a drop: {message}")
    return {table: sorted(columns) for table, columns in after.items()}


def _check(
    tmp_path: Path,
    base: dict[str, str],
    release: dict[str, str],
    created: tuple[str, ...] = (),
    backend: str | None = None,
    dialect: str | None = None,
) -> Migrated:
    """Django's tables at the base and after the release, and backout's BK202/BK203/BK206
    findings on the release; asserts the renames and drops say what Django did to the
    tables but those the release ``created``. ``backend``: the database Django migrates and
    backout's ``--sql-dialect`` (by default, SQLite and backout's default); ``dialect``:
    another ``--sql-dialect`` (``""``: none given)."""
    base_dir, head_dir = tmp_path / "base", tmp_path / "head"
    _write(base_dir, base)
    _write(head_dir, {**base, **release})
    before, _ = _django_tables(base_dir, backend or "sqlite")
    after, foreign_keys = _django_tables(head_dir, backend or "sqlite")
    flag = backend if dialect is None else dialect
    dialect_flag = ("--sql-dialect", flag) if flag else ()
    done = run_backout(
        "check",
        str(head_dir),
        "--base",
        str(base_dir),
        "--select",
        "BK202,BK203,BK206",
        "--format",
        "json",
        *dialect_flag,
    )
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    changes = [f for f in findings if f["code"] in ("BK202", "BK203")]
    kept = {table: columns for table, columns in after.items() if table not in created}
    assert _as_backout_says(before, changes) == kept, [f["message"] for f in findings]
    return Migrated(before, after, foreign_keys, findings)


ID = '("id", models.BigAutoField(primary_key=True))'

SHOP = (
    "    initial = True\n"
    "    dependencies = []\n"
    "    operations = [\n"
    f'        migrations.CreateModel(name="Tag", fields=[{ID}]),\n'
    f'        migrations.CreateModel(name="Label", fields=[{ID}]),\n'
    "        migrations.CreateModel(\n"
    '            name="Book",\n'
    "            fields=[\n"
    '                ("id", models.BigAutoField(primary_key=True)),\n'
    '                ("owner", models.IntegerField(null=True)),\n'
    '                ("editor", models.ForeignKey(null=True, on_delete=models.CASCADE, '
    'related_name="+", to="shop.tag")),\n'
    '                ("tags", models.ManyToManyField(to="shop.tag")),\n'
    '                ("related", models.ManyToManyField(to="shop.book")),\n'
    '                ("marks", models.ManyToManyField(db_table="book_marks", related_name="+", '
    'to="shop.tag")),\n'
    "            ],\n"
    "            options={OPTIONS},\n"
    "        ),\n"
    "        migrations.CreateModel(\n"
    '            name="Shelf",\n'
    "            fields=[\n"
    '                ("id", models.BigAutoField(primary_key=True)),\n'
    '                ("books", models.ManyToManyField(to="shop.book")),\n'
    '                ("book", models.ForeignKey(on_delete=models.CASCADE, related_name="+", '
    'to="shop.book")),\n'
    "            ],\n"
    "        ),\n"
    "    ]\n"
)

CLUB = (
    '    dependencies = [("shop", "0001_initial")]\n'
    "    operations = [\n"
    "        migrations.CreateModel(\n"
    '            name="Club",\n'
    "            fields=[\n"
    '                ("id", models.BigAutoField(primary_key=True)),\n'
    '                ("reads", models.ManyToManyField(to="shop.book")),\n'
    "            ],\n"
    "        ),\n"
    "    ]\n"
)


def _base(options: str = "{}") -> dict[str, str]:
    return {"shop/0001_initial": SHOP.replace("{OPTIONS}", options), "club/0001_initial": CLUB}


def _release(*operations: str) -> dict[str, str]:
    return {
        "shop/0002_release": '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n" + "".join(f"        {op},\n" for op in operations) + "    ]\n"
    }


def test_rename_model_renames_its_join_tables_and_the_columns_named_after_it(
    tmp_path: Path,
) -> None:
    # Django: shop_book and its join tables named after it become shop_novel…; every join
    # table's column named after the model (its own, self's from_/to_, Shelf's and the club
    # app's) is renamed; book_marks keeps its db_table; shelf.book_id is the field's column.
    before, after, foreign_keys, findings = _check(
        tmp_path, _base(), _release('migrations.RenameModel(old_name="Book", new_name="Novel")')
    )
    assert after["shop_novel_related"] == ["from_novel_id", "id", "to_novel_id"]
    assert after["club_club_reads"] == ["club_id", "id", "novel_id"]
    assert foreign_keys["shop_novel_tags"] == {"novel_id": "shop_novel", "tag_id": "shop_tag"}
    assert after["book_marks"] == ["id", "novel_id", "tag_id"]
    assert "shop_book_tags" in before
    assert len(findings) == 9, [f["message"] for f in findings]


def test_rename_model_with_its_own_table_renames_only_columns(tmp_path: Path) -> None:
    # The model keeps db_table "books", its join tables "books_tags"…, but the columns named
    # after the model are renamed all the same.
    _, after, _, findings = _check(
        tmp_path,
        _base('{"db_table": "books"}'),
        _release('migrations.RenameModel(old_name="Book", new_name="Novel")'),
    )
    assert after["books_tags"] == ["id", "novel_id", "tag_id"]
    assert all("renames table" not in str(f["message"]) for f in findings), findings
    assert len(findings) == 6, [f["message"] for f in findings]


def test_rename_field_of_a_many_to_many_with_its_own_table_renames_nothing(
    tmp_path: Path,
) -> None:
    before, after, _, findings = _check(
        tmp_path,
        _base(),
        _release('migrations.RenameField(model_name="book", old_name="marks", new_name="pins")'),
    )
    assert before == after
    assert findings == []


def test_alter_field_of_a_many_to_many_renames_what_django_renames(tmp_path: Path) -> None:
    # A db_table given renames the join table; another db_table renames it again; another
    # model joined to renames its column (tag_id to label_id).
    _, after, foreign_keys, findings = _check(
        tmp_path,
        _base(),
        _release(
            'migrations.AlterField(model_name="book", name="tags", '
            'field=models.ManyToManyField(db_table="book_tags", to="shop.tag"))',
            'migrations.AlterField(model_name="book", name="marks", '
            'field=models.ManyToManyField(db_table="book_pins", related_name="+", '
            'to="shop.label"))',
        ),
    )
    assert after["book_pins"] == ["book_id", "id", "label_id"]
    assert foreign_keys["book_pins"] == {"book_id": "shop_book", "label_id": "shop_label"}
    assert sorted(f["code"] for f in findings) == ["BK203"] * 3 + ["BK206"], findings
    # Django drops the column's foreign key to shop_tag and adds one to shop_label (the
    # message names the table as the old release knows it).
    message = str(findings[-1]["message"])
    assert "FOREIGN KEY constraint on book_marks (label_id)" in message, message
    assert "shop_label" in message, message


def test_alter_model_table_renames_the_join_tables_named_after_the_table(
    tmp_path: Path,
) -> None:
    _, after, _, findings = _check(
        tmp_path, _base(), _release('migrations.AlterModelTable(name="book", table="books")')
    )
    assert "books_tags" in after and "book_marks" in after
    assert len(findings) == 3, [f["message"] for f in findings]


def test_delete_model_drops_its_join_tables(tmp_path: Path) -> None:
    _, after, _, findings = _check(
        tmp_path,
        _base(),
        _release(
            'migrations.RemoveField(model_name="book", name="marks")',
            'migrations.DeleteModel(name="Shelf")',
        ),
    )
    assert "book_marks" not in after and "shop_shelf_books" not in after
    assert len(findings) == 3, [f["message"] for f in findings]


@pytest.mark.parametrize(
    ("field", "column", "foreign_key"),
    [
        ("owner", "owner_id", True),
        ("editor", "editor", False),
    ],
    ids=["integer-to-foreign-key", "foreign-key-to-integer"],
)
@pytest.mark.parametrize("backend", [None, "postgres"], ids=["sqlite", "postgres"])
def test_alter_field_between_integer_and_foreign_key_renames_the_column(
    tmp_path: Path, field: str, column: str, foreign_key: bool, backend: str | None
) -> None:
    # Django's column of a ForeignKey `owner` is owner_id: AlterField renames owner to
    # owner_id and adds the foreign key, which the old release's writes may violate; back
    # to an IntegerField, editor_id becomes editor and the foreign key is dropped. On
    # PostgreSQL `sqlmigrate` shows ALTER TABLE "shop_book" RENAME COLUMN "owner" TO
    # "owner_id", a TYPE bigint, then ADD CONSTRAINT … FOREIGN KEY ("owner_id") REFERENCES
    # "shop_tag" ("id").
    new_field = (
        'models.ForeignKey(null=True, on_delete=models.CASCADE, related_name="+", to="shop.tag")'
        if foreign_key
        else "models.IntegerField(null=True)"
    )
    _, after, foreign_keys, findings = _check(
        tmp_path,
        _base(),
        _release(f'migrations.AlterField(model_name="book", name="{field}", field={new_field})'),
        backend=backend,
    )
    assert column in after["shop_book"]
    assert (column in foreign_keys["shop_book"]) is foreign_key
    codes = sorted(str(f["code"]) for f in findings)
    assert codes == (["BK203", "BK206"] if foreign_key else ["BK203"]), findings


def test_many_to_many_added_to_a_model_with_its_own_table_is_named_after_that_table(
    tmp_path: Path,
) -> None:
    # An AddField read alone does not know that an earlier migration gave Book its db_table:
    # Django creates the join table books_shelves, which the RenameField then renames; both
    # in the release, the old release knows neither name.
    _, after, _, findings = _check(
        tmp_path,
        _base('{"db_table": "books"}'),
        _release(
            'migrations.AddField(model_name="book", name="shelves", '
            'field=models.ManyToManyField(related_name="+", to="shop.shelf"))',
            'migrations.RenameField(model_name="book", old_name="shelves", new_name="racks")',
        ),
        created=("books_racks",),
    )
    assert "books_racks" in after and "shop_book_shelves" not in after
    assert findings == [], [f["message"] for f in findings]


THROUGH = (
    '    dependencies = [("shop", "0001_initial")]\n'
    "    operations = [\n"
    "        migrations.SeparateDatabaseAndState(\n"
    "            state_operations=[\n"
    "                migrations.CreateModel(\n"
    '                    name="BookTag",\n'
    "                    fields=[\n"
    f"                        {ID},\n"
    '                        ("book", models.ForeignKey(on_delete=models.CASCADE, '
    'to="shop.book")),\n'
    '                        ("tag", models.ForeignKey(on_delete=models.CASCADE, '
    'to="shop.tag")),\n'
    "                    ],\n"
    '                    options={"db_table": "shop_book_tags"},\n'
    "                ),\n"
    '                migrations.AlterField(model_name="book", name="tags", '
    'field=models.ManyToManyField(through="shop.BookTag", to="shop.tag")),\n'
    "            ],\n"
    "        ),\n"
    "    ]\n"
)

FORGOTTEN = (
    '    dependencies = [("shop", "0001_initial")]\n'
    "    operations = [\n"
    "        migrations.SeparateDatabaseAndState(\n"
    "            state_operations=[\n"
    '                migrations.RemoveField(model_name="book", name="tags"),\n'
    "            ],\n"
    "        ),\n"
    "    ]\n"
)


def _check_after(tmp_path: Path, earlier: str, operation: str) -> Migrated:
    """:func:`_check` of a release of ``operation`` on the base and a migration ``earlier``."""
    base = {**_base(), "shop/0002_earlier": earlier}
    release = {
        "shop/0003_release": '    dependencies = [("shop", "0002_earlier")]\n'
        f"    operations = [{operation}]\n"
    }
    return _check(tmp_path, base, release)


@pytest.mark.parametrize("earlier", [THROUGH, FORGOTTEN], ids=["through-model", "state-removed"])
@pytest.mark.parametrize(
    "operation",
    [
        'migrations.RenameModel(old_name="Book", new_name="Novel")',
        'migrations.AlterModelTable(name="book", table="books")',
        'migrations.RenameField(model_name="shelf", old_name="books", new_name="volumes")',
    ],
    ids=["rename-model", "alter-model-table", "other-field"],
)
def test_a_join_table_django_no_longer_makes_is_not_renamed(
    tmp_path: Path, earlier: str, operation: str
) -> None:
    # The base made shop_book_tags a through model's table (the documented
    # SeparateDatabaseAndState way) or left the field out of the models' state: Django's
    # RenameModel/AlterModelTable no longer touch the table or its book_id column.
    before, after, _, _ = _check_after(tmp_path, earlier, operation)
    assert after["shop_book_tags"] == before["shop_book_tags"] == ["book_id", "id", "tag_id"]


@pytest.mark.parametrize(
    "operation",
    [
        'migrations.RemoveField(model_name="book", name="tags")',
        'migrations.DeleteModel(name="Book")',
    ],
    ids=["remove-field", "delete-model"],
)
def test_a_through_models_table_is_not_dropped_with_the_field(
    tmp_path: Path, operation: str
) -> None:
    # Django drops only the join tables it made (auto-created through models): the field's
    # table, now BookTag's, stays.
    before, after, _, _ = _check_after(tmp_path, THROUGH, operation)
    assert after["shop_book_tags"] == before["shop_book_tags"]


# Names longer than the database takes: a model of 60 letters (its table, shop_ and the name,
# is 65 long, its column in a join table 63) and a many-to-many field whose join table name is
# 67 long; a db_table of 58 letters, whose join table name is 64 long (too long for
# PostgreSQL, not for MySQL).
LONG_MODEL = "Shipment" + "Allocation" * 5 + "Xy"
RENAMED_MODEL = "Delivery" + "Allocation" * 5 + "Xy"
LONG_FIELD = "reading_list_entries_collected_for_the_customers_of_a_shop"
OWN_TABLE = "shelves_" + "with_a_long_name" * 3 + "__"

LONG_NAMES = (
    "    initial = True\n"
    "    dependencies = []\n"
    "    operations = [\n"
    f'        migrations.CreateModel(name="Tag", fields=[{ID}]),\n'
    "        migrations.CreateModel(\n"
    f'            name="{LONG_MODEL}",\n'
    "            fields=[\n"
    f"                {ID},\n"
    '                ("note", models.IntegerField(null=True)),\n'
    '                ("tags", models.ManyToManyField(to="shop.tag")),\n'
    "            ],\n"
    "        ),\n"
    "        migrations.CreateModel(\n"
    '            name="Book",\n'
    f'            fields=[{ID}, ("{LONG_FIELD}", models.ManyToManyField(to="shop.tag"))],\n'
    "        ),\n"
    "        migrations.CreateModel(\n"
    '            name="Shelf",\n'
    f'            fields=[{ID}, ("books", models.ManyToManyField(to="shop.book"))],\n'
    f'            options={{"db_table": "{OWN_TABLE}"}},\n'
    "        ),\n"
    "    ]\n"
)


@pytest.mark.parametrize("backend", ["postgres", "mysql", "sqlite"])
def test_names_too_long_for_the_database_are_shortened_as_django_shortens_them(
    tmp_path: Path, backend: str
) -> None:
    # Django's truncate_name: a default table name (<app>_<model>, <table>_<field>) longer
    # than the backend's max_name_length (63 on PostgreSQL, 64 on MySQL, none on SQLite) is
    # cut and ends in 4 hex digits of its md5; a db_table given is kept as written.
    assert (len(f"shop_{LONG_MODEL}"), len(f"{OWN_TABLE}_books")) == (65, 64)
    before, after, _, findings = _check(
        tmp_path,
        {"shop/0001_initial": LONG_NAMES},
        _release(
            f'migrations.RenameField(model_name="book", old_name="{LONG_FIELD}", '
            'new_name="shelved_books_of_the_reading_list_entries_for_customers")',
            'migrations.RenameField(model_name="shelf", old_name="books", new_name="volumes")',
            f'migrations.RemoveField(model_name="{LONG_MODEL.lower()}", name="note")',
            f'migrations.RenameModel(old_name="{LONG_MODEL}", new_name="{RENAMED_MODEL}")',
        ),
        backend=backend,
    )
    limit = {"postgres": 63, "mysql": 64}.get(backend)
    longest = max(len(name) for tables in (before, after) for name in tables)
    assert longest == limit if limit else longest > 64, (before, after)
    assert OWN_TABLE in before and OWN_TABLE in after
    assert sorted(str(f["code"]) for f in findings) == ["BK202"] + ["BK203"] * 5, [
        f["message"] for f in findings
    ]


@pytest.mark.parametrize(
    ("backend", "dialect", "engine"),
    [
        ("sqlite", "", "sqlite3"),
        ("mysql", "", "mysql"),
        ("postgres", "", "postgresql"),
        ("postgres", "postgres", "sqlite3"),
    ],
    ids=["sqlite-settings", "mysql-settings", "postgres-settings", "given-dialect"],
)
def test_names_are_shortened_for_the_database_the_settings_name(
    tmp_path: Path, backend: str, dialect: str, engine: str
) -> None:
    # Django shortens names by the backend of the project's DATABASES["default"]["ENGINE"]
    # when no sql-dialect is given: none on SQLite though the default sql-dialect is
    # postgres, 64 on MySQL, 63 on PostgreSQL. A sql-dialect the user gives names the
    # database the project runs on (the settings' literal may be the development one).
    settings = (
        f'DATABASES = {{"default": {{"ENGINE": "django.db.backends.{engine}", "NAME": "db"}}}}\n'
    )
    before, after, _, findings = _check(
        tmp_path,
        {"shop/0001_initial": LONG_NAMES, "settings": settings},
        _release(
            f'migrations.RenameField(model_name="book", old_name="{LONG_FIELD}", '
            'new_name="shelved_books_of_the_reading_list_entries_for_customers")',
            'migrations.RenameField(model_name="shelf", old_name="books", new_name="volumes")',
            f'migrations.RenameModel(old_name="{LONG_MODEL}", new_name="{RENAMED_MODEL}")',
        ),
        backend=backend,
        dialect=dialect,
    )
    limit = {"postgres": 63, "mysql": 64}.get(backend)
    longest = max(len(name) for tables in (before, after) for name in tables)
    assert longest == limit if limit else longest > 64, (before, after)
    assert sorted(str(f["code"]) for f in findings) == ["BK203"] * 5, [
        f["message"] for f in findings
    ]


USER_MODEL = "settings.AUTH_USER_MODEL"
OWN_USER = (
    "    initial = True\n"
    "    dependencies = []\n"
    f'    operations = [migrations.CreateModel(name="Member", fields=[{ID}])]\n'
)
PROJECTS = {
    # The project's settings.py, and the table of the user model it names.
    "own-user-model": ('AUTH_USER_MODEL = "accounts.Member"\n', "accounts_member"),
    "django-user-model": (
        'DJANGO_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]\n',
        "auth_user",
    ),
}


def _user_project(settings: str, owner_to: str) -> dict[str, str]:
    """The base's apps, the project's ``settings.py`` and its own user model, Book's
    ``owner`` a foreign key to ``owner_to``."""
    base = _base()
    base["shop/0001_initial"] = (
        base["shop/0001_initial"]
        .replace(
            '("owner", models.IntegerField(null=True)),',
            '("owner", models.ForeignKey(on_delete=models.CASCADE, related_name="+", '
            f"to={owner_to})),",
        )
        .replace(
            "dependencies = []",
            "dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]",
        )
    )
    return {**base, "accounts/0001_initial": OWN_USER, "settings": settings}


@pytest.mark.parametrize("project", sorted(PROJECTS))
@pytest.mark.parametrize(
    ("before", "after", "retargeted"),
    [
        (USER_MODEL, USER_MODEL, False),
        (USER_MODEL, '"{user}"', False),
        ('"{user}"', USER_MODEL, False),
        (USER_MODEL, '"shop.tag"', True),
        ('"shop.tag"', USER_MODEL, True),
    ],
    ids=["settings", "settings-to-label", "label-to-settings", "to-another", "from-another"],
)
def test_a_foreign_key_to_the_user_model_is_retargeted_only_to_another_model(
    tmp_path: Path, project: str, before: str, after: str, retargeted: bool
) -> None:
    # An AlterField of a ForeignKey to settings.AUTH_USER_MODEL (the project's, or Django's
    # auth.User) keeps its foreign key when it still references the user model, whether
    # written as the setting or as the model's label; one to another model is BK206.
    settings, user_table = PROJECTS[project]
    user = "accounts.member" if project == "own-user-model" else "auth.user"
    new_field = (
        "models.ForeignKey(null=True, on_delete=models.CASCADE, related_name='+', "
        f"to={after.format(user=user)})"
    )
    _, _, foreign_keys, findings = _check(
        tmp_path,
        _user_project(settings, before.format(user=user)),
        _release(f'migrations.AlterField(model_name="book", name="owner", field={new_field})'),
    )
    expected = "shop_tag" if after == '"shop.tag"' else user_table
    assert foreign_keys["shop_book"]["owner_id"] == expected
    messages = [str(f["message"]) for f in findings if f["code"] == "BK206"]
    if retargeted:
        assert len(messages) == 1 and f"no matching row in {expected}" in messages[0], messages
    else:
        assert messages == [], messages


def _state_only(database_sql: str, state_operation: str) -> str:
    """A migration after the base: a ``SeparateDatabaseAndState`` whose database operation is
    the SQL ``database_sql`` and whose state operation is ``state_operation``."""
    return (
        '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        "        migrations.SeparateDatabaseAndState(\n"
        f"            database_operations=[migrations.RunSQL({database_sql!r}, "
        "migrations.RunSQL.noop)],\n"
        f"            state_operations=[{state_operation}],\n"
        "        ),\n"
        "    ]\n"
    )


SHELVES_TABLE = (
    "CREATE TABLE shop_book_shelves (id integer PRIMARY KEY, "
    "book_id bigint NOT NULL REFERENCES shop_book (id), "
    "shelf_id bigint NOT NULL REFERENCES shop_shelf (id))"
)
STATE_ADD_FIELD = _state_only(
    SHELVES_TABLE,
    'migrations.AddField(model_name="book", name="shelves", '
    'field=models.ManyToManyField(related_name="+", to="shop.shelf"))',
)
STATE_CREATE_MODEL = _state_only(
    "CREATE TABLE shop_rack (id integer PRIMARY KEY); "
    "CREATE TABLE shop_rack_books (id integer PRIMARY KEY, "
    "rack_id bigint NOT NULL REFERENCES shop_rack (id), "
    "book_id bigint NOT NULL REFERENCES shop_book (id))",
    f'migrations.CreateModel(name="Rack", fields=[{ID}, '
    '("books", models.ManyToManyField(related_name="+", to="shop.book"))])',
)


@pytest.mark.parametrize(
    ("earlier", "operation", "changed"),
    [
        (
            STATE_ADD_FIELD,
            'migrations.RenameField(model_name="book", old_name="shelves", new_name="racks")',
            "shop_book_shelves",
        ),
        (
            STATE_ADD_FIELD,
            'migrations.RemoveField(model_name="book", name="shelves")',
            "shop_book_shelves",
        ),
        (
            STATE_ADD_FIELD,
            'migrations.RenameModel(old_name="Book", new_name="Novel")',
            "shop_book_shelves",
        ),
        (
            STATE_CREATE_MODEL,
            'migrations.RenameField(model_name="rack", old_name="books", new_name="volumes")',
            "shop_rack_books",
        ),
        (
            STATE_CREATE_MODEL,
            'migrations.RenameModel(old_name="Book", new_name="Novel")',
            "shop_rack_books",
        ),
    ],
    ids=[
        "add-field-renamed",
        "add-field-removed",
        "add-field-model-renamed",
        "create-model-renamed",
        "create-model-joined-renamed",
    ],
)
def test_a_many_to_many_the_state_alone_adds_is_followed(
    tmp_path: Path, earlier: str, operation: str, changed: str
) -> None:
    # A many-to-many added to the models' state alone (SeparateDatabaseAndState, its table
    # made by the database operations' SQL) is Django's field from then on: its RenameField,
    # RemoveField and a RenameModel rename or drop the table and its columns, as for a field
    # AddField made.
    before, after, _, findings = _check_after(tmp_path, earlier, operation)
    assert changed in before and after.get(changed) != before[changed]
    assert any(changed in str(f["message"]) for f in findings), findings
