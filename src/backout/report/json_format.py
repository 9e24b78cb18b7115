"""``json``: the public contract documented in docs/output.md."""

from __future__ import annotations

from typing import Any

from backout import __version__
from backout.engine import CheckResult
from backout.models import Finding
from backout.report._json import dumps_indented
from backout.report.summary import SEVERITY_LABELS, counts


def finding_dict(finding: Finding) -> dict[str, Any]:
    """One finding as the JSON contract has it."""
    loc = finding.location
    out: dict[str, Any] = {
        "code": finding.code,
        "name": finding.name,
        "severity": SEVERITY_LABELS[finding.severity],
        "path": loc.path,
        "line": loc.line,
        "column": loc.column or None,
        "end_line": loc.end_line or loc.line,
        "message": finding.message,
        "fix": finding.fix,
    }
    if finding.suppressed_by is not None:
        out["suppressed"] = {
            "reason": finding.suppressed_by.reason,
            "line": finding.suppressed_by.location.line,
        }
    return out


def render(result: CheckResult, color: bool = False) -> str:
    """The JSON document, indented, with a trailing newline."""
    document = {
        "version": __version__,
        "findings": [finding_dict(f) for f in result.findings],
        "suppressed": [finding_dict(f) for f in result.suppressed],
        "summary": {**counts(result), "files": result.files_read, "base": result.base},
    }
    return dumps_indented(document)
