"""Report formats: one module a format behind one interface, ``render(result) -> str``.

:class:`OutputFormat` names every format; a test checks that each value has a renderer.
Results go to stdout (or ``-o FILE``); progress and the summary go to stderr. Every report
goes through :func:`render`, which masks credentials first (see :mod:`backout.redact`).
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from backout.redact import Redactor, names_a_secret

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
    findings = [*result.findings, *result.suppressed]
    texts = [
        *map(_MESSAGE, findings),
        *map(_FIX, findings),
        *(_reason(f) for f in findings if f.suppressed_by is not None),
    ]
    # Nearly every report has nothing to mask and nothing to write out: one pass in C over
    # its texts joined tells. Masking writes ``***`` only, so the texts before it say
    # whether a control character may remain.
    joined = " ".join(texts)
    # No credential without one of them: a password's ``@``, a ``?token=`` or a setting's
    # ``=``, or the name of a credential (``<password>…``, ``"apiKey": "…"``).
    if "@" in joined or "=" in joined or names_a_secret(joined):
        result = without_credentials(result, texts)
    if _any_control(joined) or _any_control(" ".join(map(_PATH, findings))):
        result = printable(result)
    return renderer(output_format)(result, color)


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


# The texts of a finding that a report writes, read by C-level getters.
_MESSAGE = operator.attrgetter("message")
_FIX = operator.attrgetter("fix")
_PATH = operator.attrgetter("location.path")
# The ASCII control characters, for bytes.translate to delete, and the C1 ones in UTF-8.
_ASCII_CONTROLS = bytes([*range(0x20), 0x7F])
_C1_UTF8 = re.compile(b"\xc2[\x80-\x9f]")


def _any_control(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`_CONTROL`, told in C: the ASCII controls
    by deleting them from the UTF-8 bytes, the C1 controls (``\\xc2\\x80``–``\\xc2\\x9f`` in
    UTF-8) by a pattern over the bytes, only when some character of that block is there."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data.translate(None, _ASCII_CONTROLS)) != len(data):
        return True
    return b"\xc2" in data and _C1_UTF8.search(data) is not None


def printable(result: CheckResult) -> CheckResult:
    """``result`` with the control characters of messages, fixes, reasons and paths written
    out (a file may be named ``a\\nb``: git tracks it, and ``concise`` would split its line)."""

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


def without_credentials(result: CheckResult, texts: list[str]) -> CheckResult:
    """``result`` with the credentials its findings quote masked: before any format escapes
    the text or derives something from it (GitLab's fingerprint). Locations are left alone.
    ``texts`` are the findings' messages, fixes and suppression reasons."""
    redactor = Redactor(texts)
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
