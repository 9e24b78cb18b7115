"""``sarif``: SARIF 2.1.0 for code scanning, rule metadata and in-source suppressions included."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from backout import __version__
from backout.engine import CheckResult
from backout.models import Finding, Severity
from backout.report._json import dumps_indented
from backout.report.gitlab import unique_fingerprints

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Where each rule's page is published (``docs/rules/`` is generated from the rule modules).
HELP_URI = "https://github.com/backout-dev/backout/blob/main/docs/rules/{code}.md"
# The key of backout's own result identity in ``partialFingerprints``: not GitHub's
# ``primaryLocationLineHash``, which GitHub computes itself from the line's text.
FINGERPRINT_KEY = "backout/v1"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _result(finding: Finding, rule_index: dict[str, int], identity: str) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {"startLine": loc.line}
    if loc.column:
        region["startColumn"] = loc.column
    if loc.end_line and loc.end_line != loc.line:
        region["endLine"] = loc.end_line
    out: dict[str, Any] = {
        "ruleId": finding.code,
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(loc.path),
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: identity},
    }
    if finding.code in rule_index:
        out["ruleIndex"] = rule_index[finding.code]
    if finding.suppressed_by is not None:
        out["suppressions"] = [{"kind": "inSource", "justification": finding.suppressed_by.reason}]
    return out


def artifact_uri(path: str) -> str:
    """``path`` as a relative URI reference: a space, ``%``, ``#``, ``?`` or a non-ASCII
    character percent-encoded (UTF-8), ``/`` kept; consumers decode it back to the path."""
    return quote(path, safe="/")


def artifact_location(path: str) -> dict[str, str]:
    """A file of the checked tree, relative to ``%SRCROOT%``; an absolute path (``backout
    host check``'s ``/var/lib/dpkg/status``) as a ``file://`` URI of its own."""
    if path.startswith("/"):
        return {"uri": "file://" + artifact_uri(path)}
    return {"uri": artifact_uri(path), "uriBaseId": "%SRCROOT%"}


def render(result: CheckResult, color: bool = False) -> str:
    """The SARIF log, indented, with a trailing newline."""
    rules = []
    rule_index: dict[str, int] = {}
    for index, meta in enumerate(result.rules):
        rule_index[meta.code] = index
        rules.append(
            {
                "id": meta.code,
                "name": meta.name,
                "shortDescription": {"text": meta.summary},
                "helpUri": HELP_URI.format(code=meta.code),
                "fullDescription": {"text": meta.docs},
                "help": {"text": meta.docs, "markdown": meta.docs},
                "defaultConfiguration": {"level": _LEVEL[meta.severity]},
                "properties": {"family": meta.family.value, "tags": [meta.family.value]},
            }
        )
    reported = [*result.findings, *result.suppressed]
    results = [
        _result(f, rule_index, identity)
        for f, identity in zip(reported, unique_fingerprints(reported), strict=True)
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "backout",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                # Columns count characters, as every backout reader does (not UTF-16 units).
                "columnKind": "unicodeCodePoints",
                # A report is written only when the run succeeded: a usage, configuration
                # or environment error is exit 2 with no report.
                "invocations": [{"executionSuccessful": True}],
                "results": results,
            }
        ],
    }
    return dumps_indented(log)
