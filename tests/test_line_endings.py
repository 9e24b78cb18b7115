"""Positions are lines as an editor shows them, whatever ends the lines: ``\\n``, ``\\r\\n`` or a
lone ``\\r`` (classic Mac OS). Every failing rule fixture is checked again with its text files
saved with the other two line endings: each finding must stay where it was."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from backout import lines
from backout.sources.base import SourceFile, Unreadable
from backout.sources.lockfile import LockReader
from backout.suppress import find_suppressions
from tests.conftest import run_backout
from tests.test_rule_fixtures import FIXTURES, run_case

ENDINGS = {"crlf": "\r\n", "cr": "\r"}

# Formats in which a lone \r ends no line, so a file saved that way means something else:
# HCL and TOML know only \n and \r\n (Terraform and tomllib reject a lone \r): such files
# keep \n.
_NO_LONE_CR = (".tf", ".toml")
# Cases whose files, saved with lone \r, say something else to the tool that runs them.
_LONE_CR_CHANGES_MEANING = {
    "BK105/fail/helm_template_selector_changed": "Helm's nindent indents after LF only",
}
# `-- comment` runs to the next \n in SQLite (sqlite.org/lang_comment.html: "up to and
# including the next newline character (ASCII 0x0a)") and MySQL, so a comment hides the rest
# of the file, as sqlite3 and mysql show; PostgreSQL ends it at \r too.
_DIALECT = re.compile(r'^sql-dialect\s*=\s*"(mysql|sqlite)"', re.M)


def _lone_cr_changes_meaning(case: Path) -> str | None:
    """Why ``case`` means something else with lone-\r line ends, if it does."""
    name = str(case).split("rules/")[-1]
    if name in _LONE_CR_CHANGES_MEANING:
        return _LONE_CR_CHANGES_MEANING[name]
    if any(case.rglob(".env")):
        # compose's .env reader (compose-go dotenv) ends a line, a comment and an unquoted
        # value at \n only, and takes a lone \r for a blank: the first `#` line hides the rest
        return "compose's .env reader ends lines at LF only"
    config = case / "backout.toml"
    dialect = _DIALECT.search(config.read_text()) if config.is_file() else None
    if dialect is not None and any("--" in p.read_text() for p in case.rglob("*.sql")):
        return f"a {'MySQL' if dialect[1] == 'mysql' else 'SQLite'} -- comment runs to LF"
    return None


def _failing_cases() -> list[tuple[str, Path]]:
    return [
        (expected.parents[2].name, expected.parent)
        for expected in sorted(FIXTURES.glob("*/fail/*/expected.txt"))
    ]


def _resave(folder: Path, ending: str) -> int:
    """Save every text file under ``folder`` with ``ending``; how many lines were re-ended."""
    changed = 0
    for path in folder.rglob("*"):
        if not path.is_file() or path.name == "expected.txt":
            continue
        if ending == "\r" and path.name.endswith(_NO_LONE_CR):
            continue
        data = path.read_bytes()
        if b"\x00" in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        plain = text.replace("\r\n", "\n")
        changed += plain.count("\n")
        path.write_bytes(plain.replace("\n", ending).encode("utf-8"))
    return changed


@pytest.mark.parametrize("ending", sorted(ENDINGS))
@pytest.mark.parametrize(
    ("code", "case"), _failing_cases(), ids=lambda v: str(v).split("rules/")[-1]
)
def test_findings_stay_put_with_other_line_endings(
    code: str, case: Path, ending: str, tmp_path: Path
) -> None:
    changed_meaning = _lone_cr_changes_meaning(case) if ending == "cr" else None
    if changed_meaning is not None:
        pytest.skip(changed_meaning)
    copy = tmp_path / case.name
    shutil.copytree(case, copy)
    if _resave(copy, ENDINGS[ending]) == 0:
        pytest.skip("no line to re-end")
    expected = [line.strip() for line in (case / "expected.txt").read_text().splitlines()]
    assert sorted(run_case(code, copy)) == sorted(line for line in expected if line)


def test_line_helpers_count_the_three_line_endings_only() -> None:
    text = "a\r\nb\rc\nd\x0ce\x85f\u2028g\r"
    assert lines.split_lines(text) == ["a", "b", "c", "d\x0ce\x85f\u2028g"]
    assert lines.split_lines(text, keepends=True) == ["a\r\n", "b\r", "c\n", "d\x0ce\x85f\u2028g\r"]
    assert lines.line_starts(text) == [0, 3, 5, 7, 15]
    assert [lines.position(text, offset) for offset in (0, 1, 2, 3, 5, 9)] == [
        (1, 1),
        (1, 2),
        (1, 3),  # the \n of \r\n ends line 1
        (2, 1),
        (3, 1),
        (4, 3),
    ]
    index = lines.LineIndex(text)
    assert [index.position(offset) for offset in range(len(text))] == [
        lines.position(text, offset) for offset in range(len(text))
    ]
    assert lines.line_end(text, 3) == (4, "\r")
    assert lines.line_end("x\r\ny", 3) == (4, "")
    for sample in ("", "\n", "a", "a\n\n", "a\r\r", "\r\n\r\n"):
        assert lines.split_lines(sample) == sample.splitlines()


def test_a_misencoded_byte_is_reported_on_its_editor_line() -> None:
    file = SourceFile("db/1_a.sql", b"-- a\r-- b\r-- \xe9\r")
    unreadable = file.decode_error()
    assert unreadable is not None
    assert unreadable.location.line == 3
    assert "line 3" in unreadable.reason


def test_full_output_shows_the_line_of_a_cr_only_file(tmp_path: Path) -> None:
    root = tmp_path / "release"
    root.mkdir()
    (root / "Dockerfile").write_bytes(b"FROM python:3.12\rRUN echo hi\x0c\rFROM nginx:latest\r")
    done = run_backout("check", "--select", "BK305", str(root), cwd=root)
    assert "Dockerfile:3:6: BK305" in done.stdout, done.stdout
    assert "  3 | FROM nginx:latest\n" in done.stdout, done.stdout


def test_lock_file_positions_with_lone_cr() -> None:
    entry = {
        "reference": "nginx:1.27",
        "digest": "sha256:" + "a" * 64,
        "registry": "docker.io",
        "repository": "library/nginx",
        "media_type": "application/vnd.oci.image.index.v1+json",
        "resolved_at": "2026-01-01T00:00:00Z",
    }
    text = json.dumps({"version": 1, "images": [entry]}, indent=2).replace("\n", "\r")
    facts = list(LockReader().read(SourceFile("backout.lock", text.encode())))
    assert [(f.location.line, f.location.column) for f in facts] == [(5, 7)]
    broken = text.replace('"docker.io"', "docker.io")
    (unreadable,) = LockReader().read(SourceFile("backout.lock", broken.encode()))
    assert isinstance(unreadable, Unreadable)
    assert "line 7, column 19" in unreadable.reason


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_a_suppression_covers_its_line_whatever_the_line_ending(ending: str) -> None:
    text = ending.join(["FROM python:3.12", "RUN echo hi\x0c", "# backout: ignore[BK305] ok", ""])
    (found,) = find_suppressions("Dockerfile", text)
    assert (found.location.line, found.location.column) == (3, 3)


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_the_drill_numbers_statements_by_editor_lines(dialect: str) -> None:
    from backout.drill.runners import split_statements

    text = "CREATE TABLE a (id int);\r\rCREATE TABLE b (id int);\r\nDROP TABLE a;\r"
    found = [(s.sql, s.line) for s in split_statements(text, dialect, first_line=10)]
    assert found == [
        ("CREATE TABLE a (id int)", 10),
        ("CREATE TABLE b (id int)", 12),
        ("DROP TABLE a", 13),
    ]
