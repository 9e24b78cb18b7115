"""``junit``: one test suite per file, one test case per finding: failing at or above
``--fail-on``, passing below it, skipped when suppressed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from backout.engine import CheckResult
from backout.models import Finding


def render(result: CheckResult, color: bool = False) -> str:
    """A JUnit XML document; a run with no finding at or above ``result.fail_on`` has one
    passing case, ``rollback hazards``.

    A finding at or above the threshold is a case holding ``<failure>``, as the exit code
    counts it. One below it is a passing case under the same name, its text in
    ``<system-out>``: GitLab, Jenkins and the GitHub test reporters list it as passed (and
    Jenkins shows its output) without failing the report of a run that exits 0.

    A suppressed finding is a ``<testcase>`` holding ``<skipped message="suppressed: …"/>``
    (counted in ``skipped``, as Jenkins and GitLab read it), so that CI shows what the
    suppression comments silence; it is no failure."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_file[f.location.path].append(f)
    for f in result.suppressed:
        by_file[f.location.path].append(f)
    threshold = result.fail_on
    failures = sum(1 for f in result.findings if f.severity >= threshold)
    skipped = len(result.suppressed)
    suites = ET.Element(
        "testsuites",
        name="backout",
        tests=str(len(result.findings) + skipped + (0 if failures else 1)),
        failures=str(failures),
        skipped=str(skipped),
    )
    if not failures:
        suite = ET.SubElement(
            suites, "testsuite", name="backout", tests="1", failures="0", skipped="0"
        )
        ET.SubElement(suite, "testcase", name="rollback hazards", classname="backout")
    for path in sorted(by_file):
        findings = sorted(by_file[path], key=_position)
        silenced = sum(1 for f in findings if f.suppressed_by is not None)
        failing = sum(1 for f in findings if f.suppressed_by is None and f.severity >= threshold)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=path,
            tests=str(len(findings)),
            failures=str(failing),
            skipped=str(silenced),
        )
        for f in findings:
            case = ET.SubElement(
                suite,
                "testcase",
                name=f"{f.code} {f.name} at {f.location}",
                classname=path,
                file=path,
                line=str(f.location.line),
            )
            if f.suppressed_by is not None:
                reason = f.suppressed_by.reason
                ET.SubElement(
                    case, "skipped", message=f"suppressed: {reason}" if reason else "suppressed"
                )
            elif f.severity >= threshold:
                failure = ET.SubElement(
                    case, "failure", message=f.message, type=f"{f.code} {f.severity.label}"
                )
                failure.text = f"{f.location}: {f.code} {f.name}\n{_details(f)}"
            else:
                below = f"[{f.severity.label}, below fail-on {threshold.label}]"
                output = ET.SubElement(case, "system-out")
                output.text = f"{f.location}: {f.code} {f.name} {below}\n{_details(f)}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _details(finding: Finding) -> str:
    """What a case says of ``finding`` after its first line: the message, then the fix."""
    return f"{finding.message}\nfix: {finding.fix}"


def _position(finding: Finding) -> tuple[int, int]:
    """Where in its file ``finding`` is, so that a file's cases read top to bottom."""
    return finding.location.line, finding.location.column
