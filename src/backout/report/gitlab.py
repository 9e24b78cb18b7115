"""``gitlab``: a GitLab Code Quality report (Code Climate JSON issues)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from backout.engine import CheckResult
from backout.models import Finding, Severity
from backout.report._json import dumps_indented

_SEVERITY = {Severity.ERROR: "critical", Severity.WARNING: "major", Severity.INFO: "info"}


def fingerprint(finding: Finding) -> str:
    """A stable identity that survives lines moving: code, path and message.

    Two findings can share it (the same image in two containers of one file, with one
    message); baselines count them, and :func:`unique_fingerprints` tells them apart.
    """
    key = f"{finding.code}\0{finding.location.path}\0{finding.message}"
    return hashlib.sha256(key.encode()).hexdigest()


def unique_fingerprints(findings: Iterable[Finding]) -> list[str]:
    """One fingerprint per finding, none repeated: the first finding of an identity keeps
    :func:`fingerprint`, the n-th after it gets that with ``:n`` hashed in. Stable across
    runs as long as the identical findings keep their order (by line, which the report
    sorts by), and unique as GitLab and code scanning require: a repeated one is shown once.
    """
    seen: Counter[str] = Counter()
    out = []
    for finding in findings:
        base = fingerprint(finding)
        repeat = seen[base]
        seen[base] += 1
        if repeat:
            base = hashlib.sha256(f"{base}:{repeat}".encode()).hexdigest()
        out.append(base)
    return out


def render(result: CheckResult, color: bool = False) -> str:
    """The JSON array GitLab's ``artifacts:reports:codequality`` reads."""
    issues = [
        {
            "type": "issue",
            "check_name": f"{f.code} {f.name}",
            "description": f"{f.code} {f.message}. Fix: {f.fix}",
            "categories": ["Bug Risk"],
            "severity": _SEVERITY[f.severity],
            "fingerprint": key,
            "location": {"path": f.location.path, "lines": {"begin": f.location.line}},
        }
        for f, key in zip(result.findings, unique_fingerprints(result.findings), strict=True)
    ]
    return dumps_indented(issues)
