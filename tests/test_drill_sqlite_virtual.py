"""The drill on SQLite virtual tables (FTS3/4/5, R*Tree): seeded through their declared
columns, compared by them; their shadow tables and hidden columns never seeded or compared."""

from __future__ import annotations

from pathlib import Path

from backout.drill.sqlite import SqliteDatabase
from backout.sources.sql_dialects import VirtualModule
from tests.drill_repos import backout, codes, make_repo

FTS5 = "CREATE VIRTUAL TABLE notes_fts USING fts5(title, body);\n"
FTS4 = "CREATE VIRTUAL TABLE docs_fts USING fts4(content);\n"
RTREE = "CREATE VIRTUAL TABLE geo USING rtree(id, minx, maxx, miny, maxy);\n"
BASE = (
    "CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n" + FTS5 + FTS4 + RTREE,
    "DROP TABLE geo;\nDROP TABLE docs_fts;\nDROP TABLE notes_fts;\nDROP TABLE users;\n",
)
ADD_NICKNAME = (
    "ALTER TABLE users ADD COLUMN nickname text;\n",
    "ALTER TABLE users DROP COLUMN nickname;\n",
)


def test_virtual_tables_are_seeded_and_a_release_elsewhere_is_clean(tmp_path: Path) -> None:
    # The hidden columns (notes_fts, rank; docs_fts, docid, __langid) went into the INSERTs
    # ("SQL logic error"), and the shadow tables were seeded directly: geo_rowid's rows took
    # the rowid the contract probe's geo row needed ("UNIQUE constraint failed: geo.id").
    repo = make_repo(tmp_path, *ADD_NICKNAME, "sqlite", base=BASE)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr
    assert codes(result.stdout) == []
    assert "not seeded" not in result.stderr, result.stderr
    assert "not probed" not in result.stderr, result.stderr


def test_an_external_content_index_filled_by_triggers_is_no_data_loss(tmp_path: Path) -> None:
    # The FTS5 index of `notes` (content='notes', kept by a trigger): its rows are the notes
    # rows. Compared with its hidden columns, whose values differ on every read (notes_fts is
    # the cursor's number), its rows were all "gone": a false BK208.
    base = (
        "CREATE TABLE notes (id integer PRIMARY KEY, title text NOT NULL, body text);\n"
        "CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, content='notes',"
        " content_rowid='id');\n"
        "CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN\n"
        "  INSERT INTO notes_fts (rowid, title, body) VALUES (new.id, new.title, new.body);\n"
        "END;\n",
        "DROP TRIGGER notes_ai;\nDROP TABLE notes_fts;\nDROP TABLE notes;\n",
    )
    up, down = (
        "ALTER TABLE notes ADD COLUMN pinned integer;\n",
        "ALTER TABLE notes DROP COLUMN pinned;\n",
    )
    repo = make_repo(tmp_path, up, down, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr
    assert codes(result.stdout) == []
    assert "not seeded" not in result.stderr, result.stderr


def test_a_down_that_recreates_virtual_tables_empty_loses_their_rows(tmp_path: Path) -> None:
    # The release rebuilds the indexes (porter stemming, an auxiliary column) and copies the
    # rows over; its down recreates the old ones empty: the base release's rows are gone.
    up = (
        "CREATE VIRTUAL TABLE notes_new USING fts5(title, body, tokenize='porter');\n"
        "INSERT INTO notes_new (title, body) SELECT title, body FROM notes_fts;\n"
        "DROP TABLE notes_fts;\nALTER TABLE notes_new RENAME TO notes_fts;\n"
        "CREATE VIRTUAL TABLE docs_new USING fts4(content, tokenize=porter);\n"
        "INSERT INTO docs_new (content) SELECT content FROM docs_fts;\n"
        "DROP TABLE docs_fts;\nALTER TABLE docs_new RENAME TO docs_fts;\n"
        "CREATE VIRTUAL TABLE geo_new USING rtree(id, minx, maxx, miny, maxy, +label text);\n"
        "INSERT INTO geo_new (id, minx, maxx, miny, maxy) SELECT * FROM geo;\n"
        "DROP TABLE geo;\nALTER TABLE geo_new RENAME TO geo;\n"
    )
    down = "DROP TABLE notes_fts;\nDROP TABLE docs_fts;\nDROP TABLE geo;\n" + FTS5 + FTS4 + RTREE
    repo = make_repo(tmp_path, up, down, "sqlite", base=BASE)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1, result.stdout + result.stderr
    lost = [line for line in result.stdout.splitlines() if ": BK208" in line]
    assert len(lost) == 3, result.stdout + result.stderr
    # Each at the DROP TABLE of the up migration, by the declared columns alone.
    assert "up.sql:3:12: BK208" in lost[0]
    assert "3 of 3 seeded rows of notes_fts are gone (row title='title1', body='body1')" in lost[0]
    assert "up.sql:7:12: BK208" in lost[1]
    assert "3 of 3 seeded rows of docs_fts are gone (row content='content1')" in lost[1]
    assert "up.sql:11:12: BK208" in lost[2]
    assert "3 of 3 seeded rows of geo are gone (row id=1)" in lost[2]
    # The schema is the base's again: the shadow tables, recreated, are nobody's difference.
    assert "BK212" not in codes(result.stdout), result.stdout


def test_a_down_that_forgets_the_tokenizer_is_bk212(tmp_path: Path) -> None:
    # Same columns, other module arguments: searches match other rows after the rollback.
    base = (
        "CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, tokenize='porter');\n",
        "DROP TABLE notes_fts;\n",
    )
    up = (
        "CREATE VIRTUAL TABLE notes_new USING fts5(title, body, lang UNINDEXED,"
        " tokenize='porter');\n"
        "INSERT INTO notes_new (title, body) SELECT title, body FROM notes_fts;\n"
        "DROP TABLE notes_fts;\nALTER TABLE notes_new RENAME TO notes_fts;\n"
    )
    down = (
        "CREATE VIRTUAL TABLE notes_old USING fts5(title, body);\n"
        "INSERT INTO notes_old (title, body) SELECT title, body FROM notes_fts;\n"
        "DROP TABLE notes_fts;\nALTER TABLE notes_old RENAME TO notes_fts;\n"
    )
    repo = make_repo(tmp_path, up, down, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1, result.stdout + result.stderr
    assert codes(result.stdout) == ["BK212"], result.stdout + result.stderr
    assert (
        "table notes_fts: module changed: fts5(title, body, tokenize='porter') → fts5(title, body)"
    ) in result.stdout
    assert "BK208" not in result.stdout


def test_tables_without_table_list_pragma_are_the_same(tmp_path: Path) -> None:
    # SQLite before 3.37 has no PRAGMA table_list: the user's tables then come from
    # sqlite_master, shadow tables named after their virtual table's module.
    database = SqliteDatabase(tmp_path / "kinds.sqlite3")
    try:
        for statement in (
            "CREATE TABLE users (id integer PRIMARY KEY)",
            "CREATE TABLE notes_fts_extra (id integer)",  # a user's table, no shadow
            "CREATE TABLE orphan_data (id integer)",
            "CREATE VIEW users_v AS SELECT id FROM users",
            FTS5,
            FTS4,
            RTREE,
            "CREATE VIRTUAL TABLE old_fts USING fts3(a, b)",
            "CREATE VIRTUAL TABLE ext_fts USING fts5(id, content='users')",
            'CREATE VIRTUAL TABLE ext4_fts USING fts4(id, content="users")',
            "CREATE VIRTUAL TABLE bare_fts USING fts5(a, content='')",
            'CREATE VIRTUAL TABLE "boxes 32" USING rtree_i32(id, x0, x1, +note)',
        ):
            database.execute(statement.rstrip(";\n"))
        from_pragma = database.user_tables()
        from_master = database.user_tables_from_master()
    finally:
        database.close()
    assert from_pragma == from_master
    assert sorted(from_pragma) == [
        "bare_fts",
        "boxes 32",
        "docs_fts",
        "ext4_fts",
        "ext_fts",
        "geo",
        "notes_fts",
        "notes_fts_extra",
        "old_fts",
        "orphan_data",
        "users",
    ]
    ext_fts = VirtualModule("fts5", ("id", "content='users'"), "users")
    assert from_pragma["ext_fts"].virtual == ext_fts
    assert from_pragma["ext4_fts"].virtual == VirtualModule(
        "fts4", ("id", 'content="users"'), "users"
    )
    assert from_pragma["bare_fts"].virtual == VirtualModule("fts5", ("a", "content=''"), "")
    boxes = VirtualModule("rtree_i32", ("id", "x0", "x1", "+note"), "")
    assert from_pragma["boxes 32"].virtual == boxes
    assert from_pragma["users"].virtual is None


def test_a_table_whose_rows_cannot_be_read_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    # A contentless FTS4 table keeps no column values: its SELECT fails ("SQL logic error"),
    # and the drill read the seeded rows back with it.
    base = (
        "CREATE VIRTUAL TABLE tags_fts USING fts4(tag, content='');\n",
        "DROP TABLE tags_fts;\n",
    )
    up, down = "CREATE TABLE audit (id integer PRIMARY KEY);\n", "DROP TABLE audit;\n"
    repo = make_repo(tmp_path, up, down, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drill: note: tags_fts: its rows cannot be read back (SQL logic error)" in result.stderr


def test_fts5vocab_and_fts4aux_tables_are_read_through_not_seeded(tmp_path: Path) -> None:
    """An fts5vocab or fts4aux table shows the terms of the index it names, read-only: it is
    not seeded (every INSERT fails) and its rows are that index's."""
    vocab = (
        "CREATE VIRTUAL TABLE notes_terms USING fts5vocab(notes_fts, row);\n"
        "CREATE VIRTUAL TABLE notes_cells USING fts5vocab('notes_fts', 'instance');\n"
        "CREATE VIRTUAL TABLE docs_terms USING fts4aux(docs_fts);\n"
    )
    base = (
        BASE[0] + vocab,
        "DROP TABLE docs_terms;\nDROP TABLE notes_cells;\nDROP TABLE notes_terms;\n" + BASE[1],
    )
    repo = make_repo(tmp_path, *ADD_NICKNAME, "sqlite", base=base)
    result, _ = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr
    assert codes(result.stdout) == []
    assert "not seeded" not in result.stderr, result.stderr
    assert "cannot be read back" not in result.stderr, result.stderr
