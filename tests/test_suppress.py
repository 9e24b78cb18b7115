"""Suppression comments: any comment syntax, same or next line, whole file, and BK902."""

from __future__ import annotations

from pathlib import Path

from backout.models import Finding, Location, Severity
from backout.suppress import apply_suppressions, find_suppressions


def _finding(line: int, code: str = "BK101", path: str = "k8s/app.yaml") -> Finding:
    return Finding(
        code, "mutable-image-reference", Severity.ERROR, Location(path, line, 5), "m", "f"
    )


def test_comment_syntaxes_are_all_recognised() -> None:
    text = "\n".join(
        [
            "image: a:latest  # backout: ignore[BK101] dev only",
            "ALTER TABLE t DROP COLUMN c; -- backout: ignore[BK202, BK209] column unused since 2.1",
            "<!-- backout: ignore[BK401] runbook lives in the wiki -->",
            "/* backout: file-ignore[BK305] base image pinned by Renovate */",
        ]
    )
    found = find_suppressions("f", text)
    assert [s.codes for s in found] == [("BK101",), ("BK202", "BK209"), ("BK401",), ("BK305",)]
    assert [s.reason for s in found] == [
        "dev only",
        "column unused since 2.1",
        "runbook lives in the wiki",
        "base image pinned by Renovate",
    ]
    assert found[3].whole_file and not found[0].whole_file
    assert found[1].location == Location("f", 2, 33)


def test_same_line_and_next_line_are_silenced_but_not_further() -> None:
    suppressions = {
        "k8s/app.yaml": find_suppressions("k8s/app.yaml", "# backout: ignore[BK101] ok\n")
    }
    result = apply_suppressions([_finding(1), _finding(2), _finding(3)], suppressions)
    assert [f.location.line for f in result.suppressed] == [1, 2]
    assert [f.location.line for f in result.active] == [3]
    assert result.suppressed[0].suppressed_by is not None
    assert result.suppressed[0].suppressed_by.reason == "ok"


def test_a_comment_line_above_a_sql_statement_covers_the_whole_statement() -> None:
    path = "db/0002_plan.up.sql"
    text = "\n".join(
        [
            "-- backout: ignore[BK201] backfilled by the app before deploy",
            "ALTER TABLE users",
            "  ADD COLUMN plan text NOT NULL,  -- the old code always sets it",
            "  ADD COLUMN tier text NOT NULL;",
            "ALTER TABLE users ADD COLUMN seat text NOT NULL;",
        ]
    )
    suppressions = {path: find_suppressions(path, text)}
    findings = [_finding(line, "BK201", path) for line in (3, 4, 5)]
    result = apply_suppressions(findings, suppressions)
    assert [f.location.line for f in result.suppressed] == [3, 4]
    assert [f.location.line for f in result.active] == [5]
    # A trailing comment, and the same comment in a YAML file, cover one more line only.
    trailing = find_suppressions(path, "ALTER TABLE t -- backout: ignore[BK201] x\n  ADD a;\n b;")
    assert trailing[0].last_line == 0
    assert find_suppressions("k.yaml", "# backout: ignore[BK101] x\na:\n b;")[0].last_line == 0


def test_file_ignore_silences_the_whole_file_for_its_codes_only() -> None:
    text = "# backout: file-ignore[BK101] generated\n"
    suppressions = {"k8s/app.yaml": find_suppressions("k8s/app.yaml", text)}
    result = apply_suppressions([_finding(40), _finding(41, "BK102")], suppressions)
    assert [f.code for f in result.suppressed] == ["BK101"]
    assert [f.code for f in result.active] == ["BK102"]


def test_bad_suppressions_are_reported_as_bk902() -> None:
    text = "\n".join(
        [
            "a  # backout: ignore[BK101]",
            "b  # backout: ignore[BK999] typo",
            "c  # backout: ignore[BK102] nothing here",
            "d  # backout: ignore[] empty",
        ]
    )
    suppressions = {"k8s/app.yaml": find_suppressions("k8s/app.yaml", text)}
    result = apply_suppressions([_finding(1)], suppressions)
    bk902 = sorted((f.location.line, f.message) for f in result.active if f.code == "BK902")
    assert [line for line, _ in bk902] == [1, 2, 3, 4]
    assert "gives no reason" in bk902[0][1]
    assert "unknown rule code BK999" in bk902[1][1]
    assert "matches no finding" in bk902[2][1]
    assert "names no rule code" in bk902[3][1]
    # The suppression without a reason still silences its finding: the BK902 is the signal.
    assert [f.code for f in result.suppressed] == ["BK101"]


def test_a_code_that_silences_nothing_is_reported_beside_one_that_does() -> None:
    text = "image: a:latest  # backout: ignore[BK101,BK102] dev only\n"
    suppressions = {"k8s/app.yaml": find_suppressions("k8s/app.yaml", text)}
    result = apply_suppressions([_finding(1)], suppressions)
    assert [f.code for f in result.suppressed] == ["BK101"]
    (bk902,) = [f for f in result.active if f.code == "BK902"]
    assert bk902.message.startswith("BK102 in this suppression matches no finding")
    assert "ignore[BK101]" in bk902.fix


def test_unused_suppression_of_a_disabled_rule_is_not_reported() -> None:
    suppressions = {"p": find_suppressions("p", "x # backout: ignore[BK102] kept for later\n")}
    result = apply_suppressions([], suppressions, enabled_codes={"BK101", "BK902"})
    assert result.active == []


def _bk207_severity(tmp_path: Path, up: str) -> Severity:
    """The severity of BK207 for a golang-migrate release ``up`` without its down file."""
    from backout.config import load_config
    from backout.engine import check

    migrations = tmp_path / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "001_users.up.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    (migrations / "001_users.down.sql").write_text("DROP TABLE users;\n")
    (migrations / "002_plan.up.sql").write_text(up)
    config = load_config(tmp_path).with_overrides(select=("BK2",))
    result = check(tmp_path, config)
    (bk207,) = [f for f in result.findings if f.code == "BK207"]
    return bk207.severity


def test_bk207_is_a_warning_once_the_hazards_of_its_migration_are_suppressed(
    tmp_path: Path,
) -> None:
    hazard = "ALTER TABLE users ADD COLUMN plan text NOT NULL;\n"
    assert _bk207_severity(tmp_path / "a", hazard) is Severity.ERROR
    suppressed = "-- backout: ignore[BK201] the old release never inserts users\n" + hazard
    assert _bk207_severity(tmp_path / "b", suppressed) is Severity.WARNING
    # Suppressing another code, or only one of two hazards, leaves it an error.
    other = "-- backout: ignore[BK202] unrelated\n" + hazard
    assert _bk207_severity(tmp_path / "c", other) is Severity.ERROR
    two = suppressed + "ALTER TABLE users ADD COLUMN tier text NOT NULL;\n"
    assert _bk207_severity(tmp_path / "d", two) is Severity.ERROR
