"""BK401/BK402 stay linear on small adversarial files (fuzz audit).

Each case is a file of a few dozen KB on which an earlier version took from tens of seconds
to minutes (a cubic or quadratic pass); the CLI must now finish well inside the timeout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_backout

# A guard against the quadratic and cubic passes coming back, not a speed test: these inputs
# now take well under a second, so 60 s leaves room for a CI machine running other suites
# (10 s timed out at a load average of 15 on 2 cores), and the old passes took minutes.
_TIMEOUT = 60.0


def _findings(repo: Path, code: str) -> list[dict[str, object]]:
    done = run_backout(
        "check", ".", "--select", code, "--format", "json", cwd=repo, timeout=_TIMEOUT
    )
    assert done.returncode in (0, 1), done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    return findings


def _write(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_bk401_thousands_of_nested_rollback_headings(tmp_path: Path) -> None:
    # 8,000 headings under one '# Rollback' (~100 KB): over a minute when every pair of
    # rollback headings rebuilt the outer one's scope; they all count as that one section.
    _write(
        tmp_path,
        "docs/RUNBOOK.md",
        "# Deploy\nhelm upgrade x\n# Rollback\n" + "## Rollback\n" * 8000,
    )
    findings = _findings(tmp_path, "BK401")
    assert [(f["line"], f["code"]) for f in findings] == [(3, "BK401")]


def test_bk401_thousands_of_flat_rollback_headings(tmp_path: Path) -> None:
    # 20,000 sibling setext rollback sections (~700 KB): every pair of them was compared
    # (15 s and more). Every section but the last is complete, so only that one is reported.
    _write(
        tmp_path,
        "docs/RUNBOOK.md",
        "Deploy\n======\nhelm upgrade x\n\n"
        + "Rollback\n-\nsha256: schema health\n\n" * 20000
        + "Rollback\n-\n",
    )
    findings = _findings(tmp_path, "BK401")
    assert [(f["line"], f["code"]) for f in findings] == [(5 + 4 * 20000, "BK401")]


@pytest.mark.parametrize(
    ("last", "expected"),
    [("", [(3, "BK402")]), ("    - pytest\n", [])],
    ids=["deploys", "tests_last"],
)
def test_bk402_long_gitlab_script_of_migrations(
    tmp_path: Path, last: str, expected: list[tuple[int, str]]
) -> None:
    # A job of 3,000 '- alembic upgrade head' (~80 KB): each migration re-tokenised every
    # later command of its job to look for a test suite (minutes). With `pytest` last, every
    # migration is the test suite's set-up and the pipeline deploys nothing.
    script = "    - alembic upgrade head\n" * 3000 + last
    _write(tmp_path, ".gitlab-ci.yml", "migrate:\n  script:\n" + script)
    findings = _findings(tmp_path, "BK402")
    assert [(f["line"], f["code"]) for f in findings] == expected
