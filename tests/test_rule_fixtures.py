"""One parametrised driver for every rule's fixtures.

Layout: ``tests/fixtures/rules/<CODE>/{fail,pass}/<case>/`` — each case is a small repository.
A case with ``head/`` and ``base/`` folders is checked as ``--base base`` (for rules that
compare releases). A case may hold ``backout.toml`` for its config. A failing case may hold
``expected.txt`` with one ``path:line:col CODE`` line (or ``path:line CODE``) per finding the
rule must report there, exactly; without it, the case must report at least one finding.
A passing case must report no finding of its rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backout.config import load_config
from backout.engine import check
from backout.rules import all_codes

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def _cases(kind: str) -> list[tuple[str, Path]]:
    out = []
    for code_dir in sorted(FIXTURES.iterdir()) if FIXTURES.is_dir() else []:
        folder = code_dir / kind
        for case in sorted(folder.iterdir()) if folder.is_dir() else []:
            if case.is_dir():
                out.append((code_dir.name, case))
    return out


def run_case(code: str, case: Path) -> list[str]:
    """``path:line:col CODE`` for each finding of ``code`` in the case."""
    head, base = case, None
    if (case / "head").is_dir():
        head, base = case / "head", str(case / "base")
    config = load_config(head, case / "backout.toml" if (case / "backout.toml").is_file() else None)
    config = config.with_overrides(select=(code,))
    result = check(head, config, base)
    return [f"{f.location} {f.code}" for f in result.findings if f.code == code]


@pytest.mark.parametrize(("code", "case"), _cases("fail"), ids=lambda v: str(v).split("rules/")[-1])
def test_failing_case_reports(code: str, case: Path) -> None:
    found = run_case(code, case)
    expected_file = case / "expected.txt"
    if expected_file.is_file():
        expected = [line.strip() for line in expected_file.read_text().splitlines() if line.strip()]
        assert sorted(found) == sorted(expected)
    else:
        assert found, f"{code} reported nothing in {case}"


@pytest.mark.parametrize(("code", "case"), _cases("pass"), ids=lambda v: str(v).split("rules/")[-1])
def test_passing_case_is_clean(code: str, case: Path) -> None:
    assert run_case(code, case) == []


def test_every_rule_has_both_kinds_of_fixture() -> None:
    missing = []
    for code in all_codes():
        if code in ("BK211", "BK212"):
            continue  # drill-only rules: exercised by real drills in tests/test_drill_*.py
        if code == "BK501":
            continue  # real dpkg/apt tests: tests/test_host_dpkg.py
        if code in ("BK303", "BK304"):
            continue  # online rules: real-registry tests in tests/test_registry_online.py
        for kind in ("fail", "pass"):
            folder = FIXTURES / code / kind
            if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
                missing.append(f"{code}/{kind}")
    assert not missing, f"rules without fixtures: {missing}"
