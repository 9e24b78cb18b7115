"""Django migrations through the installed ``backout check`` on apps written to a tmp dir.

What each case expects is what Django itself does: ``sqlmigrate`` on PostgreSQL, run against a
database migrated to the migration before (Django finds the constraints it drops by
introspection, so an empty database shows ``-- (no-op)`` where the real run drops them).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_backout

HEAD = "from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n"

INITIAL = HEAD + (
    "    initial = True\n"
    "    dependencies = []\n"
    "    operations = [\n"
    "        migrations.CreateModel(\n"
    '            name="Author",\n'
    '            fields=[("id", models.BigAutoField(primary_key=True))],\n'
    "        ),\n"
    "        migrations.CreateModel(\n"
    '            name="Writer",\n'
    '            fields=[("id", models.BigAutoField(primary_key=True))],\n'
    "        ),\n"
    "        migrations.CreateModel(\n"
    '            name="Tag",\n'
    "            fields=[\n"
    '                ("id", models.BigAutoField(primary_key=True)),\n'
    '                ("name", models.CharField(max_length=10)),\n'
    '                ("slug", models.CharField(max_length=10)),\n'
    '                ("active", models.BooleanField()),\n'
    "            ],\n"
    "        ),\n"
    "        migrations.CreateModel(\n"
    '            name="Book",\n'
    "            fields=[\n"
    '                ("id", models.BigAutoField(primary_key=True)),\n'
    '                ("title", models.CharField(max_length=10)),\n'
    '                ("author", models.ForeignKey(on_delete=models.CASCADE, to="shop.author")),\n'
    '                ("editor", models.ForeignKey(on_delete=models.CASCADE, to="shop.author")),\n'
    '                ("owner", models.ForeignKey(on_delete=models.CASCADE, to="auth.user")),\n'
    '                ("tags", models.ManyToManyField(to="shop.tag")),\n'
    "            ],\n"
    "        ),\n"
    "    ]\n"
)


def _findings(root: Path, release: str, *select: str) -> list[dict[str, object]]:
    """The findings of ``backout check`` on the app ``shop`` whose release is ``release``."""
    app = root / "shop" / "migrations"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "0001_initial.py").write_text(INITIAL)
    (app / "0002_release.py").write_bytes(release.encode())
    done = run_backout(
        "check",
        ".",
        "--release-size",
        "1",
        "--select",
        ",".join(select),
        "--format",
        "json",
        cwd=root,
    )
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    return findings


def test_foreign_key_retargeted_by_alter_field_is_a_new_constraint(tmp_path: Path) -> None:
    # sqlmigrate shop 0002 on PostgreSQL: DROP CONSTRAINT "shop_book_author_id_…_fk_shop_author_id"
    # then ADD CONSTRAINT "shop_book_author_id_…_fk_shop_writer_id" FOREIGN KEY ("author_id")
    # REFERENCES "shop_writer": the old release's author ids are shop_author's. A ForeignKey
    # restated to the same model (null=True here) is dropped and added again as it was.
    release = (
        "from django.conf import settings\n"
        + HEAD
        + (
            '    dependencies = [("shop", "0001_initial")]\n'
            "    operations = [\n"
            "        migrations.AlterField(\n"
            '            model_name="book",\n'
            '            name="author",\n'
            '            field=models.ForeignKey(on_delete=models.CASCADE, to="shop.writer"),\n'
            "        ),\n"
            "        migrations.AlterField(\n"
            '            model_name="book",\n'
            '            name="editor",\n'
            "            field=models.ForeignKey(\n"
            '                null=True, on_delete=models.CASCADE, to="shop.author"\n'
            "            ),\n"
            "        ),\n"
            "        migrations.AlterField(\n"
            '            model_name="book",\n'
            '            name="owner",\n'
            "            field=models.ForeignKey(\n"
            "                on_delete=models.CASCADE, to=settings.AUTH_USER_MODEL\n"
            "            ),\n"
            "        ),\n"
            "    ]\n"
        )
    )
    findings = _findings(tmp_path, release, "BK206")
    assert [(f["line"], f["column"]) for f in findings] == [(10, 18)], findings
    message = str(findings[0]["message"])
    assert "FOREIGN KEY constraint on shop_book (author_id)" in message, message
    assert "shop_writer" in message, message


def test_rename_of_a_many_to_many_field_renames_its_join_table(tmp_path: Path) -> None:
    # sqlmigrate: ALTER TABLE "shop_book_tags" RENAME TO "shop_book_labels" (its columns
    # book_id and tag_id stay), not a column of shop_book.
    release = HEAD + (
        '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        '        migrations.RenameField(model_name="book", old_name="tags", new_name="labels"),\n'
        "    ]\n"
    )
    findings = _findings(tmp_path, release, "BK203")
    assert len(findings) == 1, findings
    assert str(findings[0]["message"]).startswith(
        "shop.0002_release renames table shop_book_tags to shop_book_labels;"
    ), findings[0]["message"]


def test_unique_constraint_over_expressions_names_the_columns_they_read(tmp_path: Path) -> None:
    # makemigrations writes a UniqueConstraint's expressions as written in the model, a
    # string as F("…"): sqlmigrate gives CREATE UNIQUE INDEX "uniq_title_owner" ON
    # "shop_book" ((LOWER("title")) DESC, "owner_id"). A Collate's collation and a Q
    # condition's fields are no columns of the key.
    release = (
        "import django.db.models.functions.text\n"
        "from django.db.models.functions import Collate, Lower\n"
        + HEAD
        + (
            '    dependencies = [("shop", "0001_initial")]\n'
            "    operations = [\n"
            "        migrations.AddConstraint(\n"
            '            model_name="tag",\n'
            '            constraint=models.UniqueConstraint(Lower("name"), name="uniq_lower"),\n'
            "        ),\n"
            "        migrations.AddConstraint(\n"
            '            model_name="book",\n'
            "            constraint=models.UniqueConstraint(\n"
            '                django.db.models.functions.text.Lower("title").desc(),\n'
            '                models.F("owner"),\n'
            '                name="uniq_title_owner",\n'
            "            ),\n"
            "        ),\n"
            "        migrations.AddConstraint(\n"
            '            model_name="tag",\n'
            "            constraint=models.UniqueConstraint(\n"
            '                Collate("slug", "nocase"),\n'
            "                condition=models.Q(active=True),\n"
            '                name="uniq_active_slug",\n'
            "            ),\n"
            "        ),\n"
            "    ]\n"
        )
    )
    findings = _findings(tmp_path, release, "BK206")
    messages = [str(f["message"]) for f in findings]
    assert len(messages) == 3, messages
    assert "UNIQUE constraint on shop_tag (name);" in messages[0], messages[0]
    assert "UNIQUE constraint on shop_book (title, owner_id);" in messages[1], messages[1]
    assert "UNIQUE constraint on shop_tag (slug);" in messages[2], messages[2]


def _position(text: str, marker: str) -> tuple[int, int]:
    """The line and column (1-based) where the last word of ``marker`` starts in ``text``."""
    at = text.index(marker) + len(marker) - len(marker.split()[-1])
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


def test_sql_after_escapes_in_python_strings_is_located_where_the_file_has_it(
    tmp_path: Path,
) -> None:
    # An escape is two characters or more in the file and one (or none: a backslash at the
    # end of a line) in the string: a position in the SQL after it is not as far in the file.
    # "\n" ends no line of the file, a real line break of a triple-quoted string does.
    lines = [
        '    dependencies = [("shop", "0001_initial")]',
        "    operations = [",
        r"""        migrations.RunSQL("UPDATE shop_tag SET name = '\t';\nALTER TABLE shop_tag """
        r"""DROP COLUMN slug", migrations.RunSQL.noop),""",
        r"""        migrations.RunSQL('UPDATE shop_book SET title = \'\u00e9\'; ALTER TABLE """
        r"""shop_book DROP COLUMN title', migrations.RunSQL.noop),""",
        r'''        migrations.RunSQL(["""UPDATE shop_tag SET name = '\n';''',
        r'''ALTER TABLE shop_tag DROP COLUMN \
name""", ("ALTER TABLE shop_book DROP COLUMN author_id", [])], migrations.RunSQL.noop),''',
        "    ]",
    ]
    release = HEAD + "\n".join(lines) + "\n"
    expected = [
        _position(release, "DROP COLUMN slug"),
        _position(release, "DROP COLUMN title"),
        _position(release, "\nname"),
        _position(release, "DROP COLUMN author_id"),
    ]
    for line_end in ("\n", "\r\n"):  # a backslash before "\r\n" continues the line too
        root = tmp_path / repr(line_end).strip("'")
        findings = _findings(root, release.replace("\n", line_end), "BK202")
        assert [(f["line"], f["column"]) for f in findings] == expected, line_end


def test_irreversible_step_of_a_migration_that_breaks_the_old_release(tmp_path: Path) -> None:
    # The RunPython and RunSQL cannot be undone, and the RemoveField breaks the old release:
    # each step's finding says which rule the migration breaks it by, and how to give that
    # step, not the other, its reverse.
    release = (
        "from django.db import migrations\n\n\n"
        "def forwards(apps, schema_editor):\n    pass\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        "        migrations.RunPython(forwards),\n"
        '        migrations.RemoveField(model_name="tag", name="slug"),\n'
        "        migrations.RunSQL(\"UPDATE shop_tag SET name = 'x'\"),\n"
        "    ]\n"
    )
    findings = _findings(tmp_path, release, "BK207", "BK202")
    steps = [f for f in findings if f["code"] == "BK207"]
    assert [f["line"] for f in steps] == [11, 13], findings
    python, sql = steps
    assert python["message"] == (
        "shop.0002_release has RunPython without reverse_code: `migrate` back past it fails "
        "with IrreversibleError; the migration also breaks the old release (BK202), so "
        "neither rolling back the code alone nor migrating back works"
    )
    assert python["fix"] == ("pass reverse_code= (RunPython.noop when undoing needs nothing)")
    assert sql["fix"] == "pass reverse_sql= (RunSQL.noop when undoing needs nothing)"
    assert sql["severity"] == python["severity"] == "error"


def test_app_checked_from_its_own_directory_is_named_after_it(tmp_path: Path) -> None:
    # `backout check shop` (or `backout check .` in shop/) reads shop's migrations as
    # migrations/…: the folder above migrations/ is the checked directory, whose name is the
    # app's label when its migrations do not say another (one 0001_initial says none). Its
    # tables are shop_<model>; a table given as written (db_table, RunSQL) keeps its name,
    # even one that starts as the label the reading started from would.
    app = tmp_path / "shop" / "migrations"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "0001_initial.py").write_text(
        "from django.db import migrations, models\n\n\n"
        "def forwards(apps, schema_editor):\n    pass\n\n\n"
        "class Migration(migrations.Migration):\n"
        "    initial = True\n"
        "    dependencies = []\n"
        "    operations = [\n"
        '        migrations.CreateModel("Tag", [("id", models.BigAutoField(primary_key=True)),\n'
        '                                       ("name", models.TextField())]),\n'
        '        migrations.CreateModel("Thing", [("id", models.BigAutoField(primary_key=True)),\n'
        '                                         ("name", models.TextField())],\n'
        '                               options={"db_table": "app_thing"}),\n'
        '        migrations.RunSQL("ALTER TABLE shop_tag DROP COLUMN name", "SELECT 1"),\n'
        '        migrations.RunSQL("ALTER TABLE app_thing DROP COLUMN name", "SELECT 1"),\n'
        "        migrations.RunPython(forwards),\n"
        "    ]\n"
    )
    for cwd, target in ((tmp_path, "shop"), (tmp_path / "shop", ".")):
        done = run_backout("check", target, "--release-size", "1", "--format", "json", cwd=cwd)
        findings = json.loads(done.stdout)["findings"]
        assert [f["code"] for f in findings] == ["BK207"], findings
        assert str(findings[0]["message"]).startswith("shop.0001_initial has RunPython"), findings


def test_rename_of_a_many_to_many_field_through_a_model_renames_nothing(tmp_path: Path) -> None:
    # sqlmigrate on PostgreSQL: nothing ("-- (no-op)"): the field has no column, and its join
    # table is the through model's, which keeps its name.
    app = tmp_path / "shop" / "migrations"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "0001_initial.py").write_text(INITIAL)
    (app / "0002_shelves.py").write_text(
        HEAD + '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        '        migrations.CreateModel(name="Shelf", fields=[\n'
        '            ("id", models.BigAutoField(primary_key=True)),\n'
        '            ("book", models.ForeignKey(on_delete=models.CASCADE, to="shop.book")),\n'
        '            ("tag", models.ForeignKey(on_delete=models.CASCADE, to="shop.tag")),\n'
        "        ]),\n"
        "        migrations.AddField(\n"
        '            model_name="book",\n'
        '            name="shelves",\n'
        '            field=models.ManyToManyField(through="shop.Shelf", to="shop.tag"),\n'
        "        ),\n"
        "    ]\n"
    )
    (app / "0003_racks.py").write_text(
        HEAD + '    dependencies = [("shop", "0002_shelves")]\n'
        "    operations = [\n"
        '        migrations.RenameField(model_name="book", old_name="shelves", new_name="racks"),\n'
        "    ]\n"
    )
    done = run_backout(
        "check", ".", "--release-size", "1", "--select", "BK203", "--format", "json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout)["findings"] == []


def test_foreign_key_given_its_constraint_by_alter_field_is_a_new_constraint(
    tmp_path: Path,
) -> None:
    # A ForeignKey with db_constraint=False has no foreign key: sqlmigrate of the AlterField
    # that takes it away is ADD CONSTRAINT "…_fk_shop_author_id" FOREIGN KEY ("author_id"), and
    # the old release may write author ids shop_author does not have.
    app = tmp_path / "shop" / "migrations"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "0001_initial.py").write_text(
        INITIAL.replace(
            '("author", models.ForeignKey(on_delete=models.CASCADE, to="shop.author"))',
            '("author", models.ForeignKey(db_constraint=False, on_delete=models.CASCADE, '
            'to="shop.author"))',
        )
    )
    (app / "0002_constraint.py").write_text(
        HEAD + '    dependencies = [("shop", "0001_initial")]\n'
        "    operations = [\n"
        "        migrations.AlterField(\n"
        '            model_name="book",\n'
        '            name="author",\n'
        '            field=models.ForeignKey(on_delete=models.CASCADE, to="shop.author"),\n'
        "        ),\n"
        "    ]\n"
    )
    done = run_backout(
        "check", ".", "--release-size", "1", "--select", "BK206", "--format", "json", cwd=tmp_path
    )
    findings = json.loads(done.stdout)["findings"]
    assert [f["line"] for f in findings] == [9], findings
    assert "FOREIGN KEY constraint on shop_book (author_id)" in findings[0]["message"]
