"""``concise``: one line a finding, ``path:line:col: CODE [severity] message``."""

from __future__ import annotations

from backout.engine import CheckResult
from backout.report.summary import SEVERITY_LABELS


def render(result: CheckResult, color: bool = False) -> str:
    """One line per finding."""
    lines = []
    for finding in result.findings:
        # ``path:line:col`` written out here rather than through Location.__str__ (the same
        # text, one call less per line: a large release has tens of thousands of lines).
        loc = finding.location
        where = f"{loc.path}:{loc.line}:{loc.column}" if loc.column else f"{loc.path}:{loc.line}"
        label = SEVERITY_LABELS[finding.severity]
        lines.append(f"{where}: {finding.code} [{label}] {finding.message}")
    return "\n".join(lines) + ("\n" if lines else "")
