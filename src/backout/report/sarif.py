"""``sarif``: SARIF 2.1.0 for code scanning, rule metadata and in-source suppressions included."""

from __future__ import annotations

from typing import Any

from backout import __version__
from backout.engine import CheckResult
from backout.models import Finding, Severity
from backout.report._json import dumps_indented

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _result(finding: Finding, rule_index: dict[str, int]) -> dict[str, Any]:
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
                    "artifactLocation": {"uri": loc.path, "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
    }
    if finding.code in rule_index:
        out["ruleIndex"] = rule_index[finding.code]
    if finding.suppressed_by is not None:
        out["suppressions"] = [{"kind": "inSource", "justification": finding.suppressed_by.reason}]
    return out


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
                "fullDescription": {"text": meta.docs},
                "help": {"text": meta.docs, "markdown": meta.docs},
                "defaultConfiguration": {"level": _LEVEL[meta.severity]},
                "properties": {"family": meta.family.value, "tags": [meta.family.value]},
            }
        )
    results = [_result(f, rule_index) for f in [*result.findings, *result.suppressed]]
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
                "results": results,
            }
        ],
    }
    return dumps_indented(log)
