"""``gitlab``: a GitLab Code Quality report (Code Climate JSON issues)."""

from __future__ import annotations

import hashlib

from backout.engine import CheckResult
from backout.models import Finding, Severity
from backout.report._json import dumps_indented

_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.INFO: "info"}


def fingerprint(finding: Finding) -> str:
    """A stable identity that survives lines moving: code, path and message."""
    key = f"{finding.code}\0{finding.location.path}\0{finding.message}"
    return hashlib.sha256(key.encode()).hexdigest()


def render(result: CheckResult, color: bool = False) -> str:
    """The JSON array GitLab's ``artifacts:reports:codequality`` reads."""
    issues = [
        {
            "type": "issue",
            "check_name": f"{f.code} {f.name}",
            "description": f"{f.code} {f.message}. Fix: {f.fix}",
            "categories": ["Bug Risk"],
            "severity": _SEVERITY[f.severity],
            "fingerprint": fingerprint(f),
            "location": {"path": f.location.path, "lines": {"begin": f.location.line}},
        }
        for f in result.findings
    ]
    return dumps_indented(issues)
