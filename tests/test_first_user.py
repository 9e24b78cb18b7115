"""Regressions found by using backout as a first-time user would, on small real repositories."""

from __future__ import annotations

from pathlib import Path

from backout.engine import CheckResult
from backout.report.summary import summary_line


def test_summary_line_counts_one_file_in_the_singular() -> None:
    one = CheckResult(root=Path("."), findings=[], suppressed=[], rules=[], files_read=1)
    two = CheckResult(root=Path("."), findings=[], suppressed=[], rules=[], files_read=2)
    assert summary_line(one) == "No rollback hazards found in 1 file."
    assert summary_line(two) == "No rollback hazards found in 2 files."
