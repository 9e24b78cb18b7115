"""``github``: GitHub Actions workflow commands, one annotation a finding."""

from __future__ import annotations

from backout.engine import CheckResult
from backout.models import Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: CheckResult, color: bool = False) -> str:
    """``::error file=…,line=…,col=…,title=…::message``, one per finding."""
    lines = []
    for f in result.findings:
        loc = f.location
        props = [f"file={_escape_property(loc.path)}", f"line={loc.line}"]
        if loc.column:
            props.append(f"col={loc.column}")
        if loc.end_line and loc.end_line != loc.line:
            props.append(f"endLine={loc.end_line}")
        props.append(f"title={_escape_property(f'{f.code} {f.name}')}")
        body = _escape_data(f"{f.message}. Fix: {f.fix}")
        lines.append(f"::{_LEVEL[f.severity]} {','.join(props)}::{body}")
    return "\n".join(lines) + ("\n" if lines else "")
