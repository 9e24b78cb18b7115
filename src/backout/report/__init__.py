"""Report formats: one module a format behind one interface, ``render(result) -> str``.

:class:`OutputFormat` names every format; a test checks that each value has a renderer.
Results go to stdout (or ``-o FILE``); progress and the summary go to stderr. Every report
goes through :func:`render`, which masks credentials first (see :mod:`backout.redact`).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import itertools
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from backout.redact import Redactor

if TYPE_CHECKING:
    from backout.engine import CheckResult
    from backout.models import Finding


class OutputFormat(str, enum.Enum):
    """The values of ``--output-format``."""

    FULL = "full"
    CONCISE = "concise"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    JUNIT = "junit"
    GITLAB = "gitlab"


# The module of each format, imported when that format is asked for (an XML or JSON writer
# is start-up time that the other formats do not need).
MODULES: dict[OutputFormat, str] = {
    OutputFormat.FULL: "full",
    OutputFormat.CONCISE: "concise",
    OutputFormat.JSON: "json_format",
    OutputFormat.SARIF: "sarif",
    OutputFormat.GITHUB: "github",
    OutputFormat.JUNIT: "junit",
    OutputFormat.GITLAB: "gitlab",
}


def renderer(output_format: OutputFormat) -> Callable[[CheckResult, bool], str]:
    """The ``render`` function of ``output_format``'s module."""
    module = importlib.import_module(f"{__name__}.{MODULES[output_format]}")
    return cast("Callable[[CheckResult, bool], str]", module.render)


def render(result: CheckResult, output_format: OutputFormat, color: bool = False) -> str:
    """The report of ``result`` in ``output_format``, credentials masked and control
    characters written out; ``color`` only affects ``full``."""
    return renderer(output_format)(printable(without_credentials(result)), color)


# C0 controls, DEL and C1 controls. A message quotes what a file holds (a YAML name may be
# "\x1b[2K..." or hold a newline): written as they are, an escape sequence would restyle or
# erase lines of the terminal or CI log that shows the report, a newline would split the
# one line a finding has in ``concise`` and ``github``, and XML 1.0 (``junit``) cannot hold
# most of them at all. No rule writes one itself.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _written_out(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or f"\\x{ord(char):02x}"


def visible(text: str) -> str:
    """``text`` with each control character written as its escape (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(_written_out, text) if _CONTROL.search(text) else text


# The texts of a finding that a report writes (message, fix, path), read by C-level getters.
_WRITTEN = tuple(map(operator.attrgetter, ("message", "fix", "location.path")))
# The ASCII control characters, for bytes.translate to delete.
_ASCII_CONTROLS = bytes([*range(0x20), 0x7F])


def _joined(findings: list[Finding], paths: bool) -> str:
    """The messages, fixes, suppression reasons (and with ``paths`` the paths) of
    ``findings`` as one text, a space between each: nearly every report has nothing to
    write out and nothing to mask, and one pass in C over this text tells."""
    getters = _WRITTEN if paths else _WRITTEN[:2]
    reasons = (_reason(f) for f in findings if f.suppressed_by is not None)
    return " ".join(itertools.chain(*(map(get, findings) for get in getters), reasons))


def _any_control(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`_CONTROL`."""
    if text.isascii():  # a flag of the string: no C1 control, and ASCII bytes are the text
        data = text.encode("ascii")
        return len(data.translate(None, _ASCII_CONTROLS)) != len(data)
    return _CONTROL.search(text) is not None


def printable(result: CheckResult) -> CheckResult:
    """``result`` with the control characters of messages, fixes, reasons and paths written
    out (a file may be named ``a\\nb``: git tracks it, and ``concise`` would split its line)."""
    if not _any_control(_joined([*result.findings, *result.suppressed], paths=True)):
        return result

    def shown(finding: Finding) -> Finding:
        reason = _reason(finding)
        path = finding.location.path
        if not any(map(_CONTROL.search, (finding.message, finding.fix, reason, path))):
            return finding
        suppression = finding.suppressed_by
        if suppression is not None:
            suppression = dataclasses.replace(suppression, reason=visible(reason))
        return dataclasses.replace(
            finding,
            location=dataclasses.replace(finding.location, path=visible(path)),
            message=visible(finding.message),
            fix=visible(finding.fix),
            suppressed_by=suppression,
        )

    return dataclasses.replace(
        result,
        findings=[shown(f) for f in result.findings],
        suppressed=[shown(f) for f in result.suppressed],
    )


def without_credentials(result: CheckResult) -> CheckResult:
    """``result`` with the credentials its findings quote masked: before any format escapes
    the text or derives something from it (GitLab's fingerprint). Locations are left alone."""
    findings = [*result.findings, *result.suppressed]
    joined = _joined(findings, paths=False)
    if "@" not in joined and "=" not in joined:  # no credential without one of them
        return result
    redactor = Redactor(
        text for finding in findings for text in (finding.message, finding.fix, _reason(finding))
    )
    if not redactor.found:  # nearly every report: nothing to copy
        return result

    def masked(finding: Finding) -> Finding:
        message, fix = redactor.redact(finding.message), redactor.redact(finding.fix)
        suppression = finding.suppressed_by
        if suppression is not None:
            reason = redactor.redact(suppression.reason)
            if reason != suppression.reason:
                suppression = dataclasses.replace(suppression, reason=reason)
        if (message, fix, suppression) == (finding.message, finding.fix, finding.suppressed_by):
            return finding
        return dataclasses.replace(finding, message=message, fix=fix, suppressed_by=suppression)

    return dataclasses.replace(
        result,
        findings=[masked(f) for f in result.findings],
        suppressed=[masked(f) for f in result.suppressed],
    )


def _reason(finding: Finding) -> str:
    """The justification of the comment that suppressed ``finding``, or ``""``."""
    return finding.suppressed_by.reason if finding.suppressed_by is not None else ""
