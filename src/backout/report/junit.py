"""``junit``: one test suite per file, one failing test case per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from backout.engine import CheckResult
from backout.models import Finding


def render(result: CheckResult, color: bool = False) -> str:
    """A JUnit XML document; a run without findings has one passing case."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_file[f.location.path].append(f)
    suites = ET.Element(
        "testsuites",
        name="backout",
        tests=str(max(1, len(result.findings))),
        failures=str(len(result.findings)),
    )
    if not by_file:
        suite = ET.SubElement(suites, "testsuite", name="backout", tests="1", failures="0")
        ET.SubElement(suite, "testcase", name="rollback hazards", classname="backout")
    for path in sorted(by_file):
        findings = by_file[path]
        suite = ET.SubElement(
            suites, "testsuite", name=path, tests=str(len(findings)), failures=str(len(findings))
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
            failure = ET.SubElement(
                case, "failure", message=f.message, type=f"{f.code} {f.severity.label}"
            )
            failure.text = f"{f.location}: {f.code} {f.name}\n{f.message}\nfix: {f.fix}"
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
