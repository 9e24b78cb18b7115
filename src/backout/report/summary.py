"""Counts shared by the formats: by severity, by code, and the one-line summary."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

from backout.engine import CheckResult
from backout.models import Severity

# Severity.label goes through the enum's ``name`` property: the formats that write one a
# finding look it up here, once per severity rather than once per finding.
SEVERITY_LABELS = {severity: severity.label for severity in Severity}


def counts(result: CheckResult) -> dict[str, int]:
    """Findings per severity label, plus ``total`` and ``suppressed``."""
    # Counted by severity, each labelled once: ``Severity.label`` per finding (through the
    # enum's ``name`` property) was most of the time on a large release.
    by_severity = Counter(map(attrgetter("severity"), result.findings))
    out = {severity.label: by_severity.get(severity, 0) for severity in reversed(Severity)}
    out["total"] = len(result.findings)
    out["suppressed"] = len(result.suppressed)
    return out


def by_code(result: CheckResult) -> list[tuple[str, str, int]]:
    """``(code, name, count)`` per code, most frequent first (``--statistics``)."""
    names = {f.code: f.name for f in result.findings}
    tally = Counter(map(attrgetter("code"), result.findings))
    return [
        (code, names[code], n) for code, n in sorted(tally.items(), key=lambda i: (-i[1], i[0]))
    ]


def summary_line(result: CheckResult) -> str:
    """``Found 3 problems (2 errors, 1 warning) in 2 of 12 files. 1 suppressed.``: the files
    with a finding, of the files read."""
    c = counts(result)
    files = f"{result.files_read} file{'s' if result.files_read != 1 else ''}"
    if c["total"]:
        with_findings = len({finding.location.path for finding in result.findings})
        if with_findings < result.files_read:
            files = f"{with_findings} of {files}"
    if not c["total"]:
        text = f"No rollback hazards found in {files}."
    else:
        parts = [
            f"{c[label]} {label}{'s' if c[label] != 1 else ''}"
            for label in ("error", "warning", "info")
            if c[label]
        ]
        noun = "problem" if c["total"] == 1 else "problems"
        text = f"Found {c['total']} {noun} ({', '.join(parts)}) in {files}."
    if c["suppressed"]:
        text += f" {c['suppressed']} suppressed."
    return text
