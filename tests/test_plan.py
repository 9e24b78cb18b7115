"""``backout plan`` golden files: each case under tests/golden/plan/<case>/ holds the previous
release (``base/``), the release (``head/``) and the expected plan as Markdown and JSON.

Run with ``BACKOUT_REGEN=1`` to rewrite the expected files after an intended change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_backout

GOLDEN = Path(__file__).parent / "golden" / "plan"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "head").is_dir())


def _golden(case: str, name: str, actual: str) -> None:
    expected_file = GOLDEN / case / name
    if os.environ.get("BACKOUT_REGEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert actual == expected_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_plan_markdown_golden(case: str) -> None:
    done = run_backout("plan", "head", "--base", "base", cwd=GOLDEN / case)
    assert done.returncode == 0, done.stderr
    _golden(case, "expected.md", done.stdout)


@pytest.mark.parametrize("case", CASES)
def test_plan_json_golden(case: str) -> None:
    done = run_backout("plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / case)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    _golden(case, "expected.json", done.stdout)


def test_forward_fix_is_concrete_sql() -> None:
    done = run_backout(
        "plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / "schema_forward_fix"
    )
    plan = json.loads(done.stdout)
    assert plan["schema"]["kind"] == "forward-fix"
    assert plan["schema"]["forward_fix"] == [
        "ALTER TABLE orders ALTER COLUMN region SET DEFAULT '';"
    ]
    (target,) = plan["targets"]
    assert target["digest_source"] == "backout.lock"


def test_mutable_target_is_a_loud_warning_and_compatible_schema_needs_nothing() -> None:
    done = run_backout("plan", "head", "--base", "base", cwd=GOLDEN / "mutable_tag")
    assert (
        "WARNING: the rollback target `registry.example.com/shop/api:latest` is a mutable tag"
        in (done.stdout)
    )
    assert "Nothing: the release's migrations are backward compatible" in done.stdout


def test_plan_writes_file_and_rejects_bad_flags(tmp_path: Path) -> None:
    out = tmp_path / "plan.md"
    done = run_backout("plan", "head", "--base", "base", "-o", str(out), cwd=GOLDEN / "mutable_tag")
    assert done.returncode == 0 and out.read_text().startswith("# Rollback plan")
    bad = run_backout("plan", "head", "--format", "markdwn", cwd=GOLDEN / "mutable_tag")
    assert bad.returncode == 2 and "did you mean 'markdown'" in bad.stderr
    missing = run_backout("plan", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_added_constraints_are_dropped_by_their_name() -> None:
    done = run_backout(
        "plan", "head", "--base", "base", "--format", "json", cwd=GOLDEN / "schema_constraints"
    )
    schema = json.loads(done.stdout)["schema"]
    fixes = schema["forward_fix"]
    # A UNIQUE INDEX refuses DROP CONSTRAINT and a UNIQUE constraint refuses DROP INDEX.
    assert fixes[0] == (
        "ALTER TABLE products DROP CONSTRAINT IF EXISTS products_title_key; "
        "DROP INDEX IF EXISTS products_title_key;"
    )
    assert fixes[1] == "ALTER TABLE products DROP CONSTRAINT price_positive;"
    assert fixes[2].startswith("-- ") and "added without a name" in fixes[2]
    assert not any("DROP CONSTRAINT unique" in fix for fix in fixes)
    assert "000002_unique_titles.up.sql cannot go back" in schema["summary"]
