"""``concise``: one line a finding, ``path:line:col: CODE [severity] message``."""

from __future__ import annotations

from backout.engine import CheckResult


def render(result: CheckResult, color: bool = False) -> str:
    """One line per finding."""
    lines = [f"{f.location}: {f.code} [{f.severity.label}] {f.message}" for f in result.findings]
    return "\n".join(lines) + ("\n" if lines else "")
