"""The ``full`` format prints what rich prints, one ``Console.print`` per piece, without the cost.

The reference below is the format as first written with rich (five ``Console.print`` calls a
finding); ``render`` builds the same text as strings. They must agree byte for byte, with and
without colour, on the lines that rich transforms: tabs after wide characters, control codes,
an empty fix, a finding without a column, a line past the end of its file. The caret stands
under the finding's character in the cells rich prints the line in (tabs expanded, wide
characters two cells).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from backout.engine import CheckResult
from backout.models import Finding, Location, Severity
from backout.report.full import _STYLE, render


def _rich_reference(result: CheckResult, color: bool) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, width=100, highlight=False
    )
    for finding in result.findings:
        head = Text()
        head.append(f"{finding.location}: ", style="bold")
        head.append(f"{finding.code} ", style=_STYLE[finding.severity])
        head.append(f"{finding.name} ", style="bold")
        head.append(f"[{finding.severity.label}]", style=_STYLE[finding.severity])
        console.print(head, soft_wrap=True)
        path = result.root / finding.location.path
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        index = finding.location.line - 1
        if 0 <= index < len(lines):
            number = str(finding.location.line)
            text = f"  {number} | {lines[index].rstrip()}"
            console.print(Text(text, style="dim"), soft_wrap=True)
            if finding.location.column:
                # under the character at the column, in the cells rich prints it at
                before = Text(text[: len(number) + 4 + finding.location.column])
                before.expand_tabs(8)
                pad = " " * before.cell_len
                console.print(Text(pad + "^", style=_STYLE[finding.severity]), soft_wrap=True)
        console.print(Text("  rollback: ") + Text(finding.message), soft_wrap=True)
        console.print(Text("  fix: ", style="green") + Text(finding.fix), soft_wrap=True)
        console.print()
    return buffer.getvalue()


def _finding(
    path: str, line: int, column: int, severity: Severity, message: str, fix: str
) -> Finding:
    return Finding(
        code="BK201",
        name="not-null-column-without-default",
        severity=severity,
        location=Location(path, line, column),
        message=message,
        fix=fix,
    )


@pytest.fixture
def result(tmp_path: Path) -> CheckResult:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "1.up.sql").write_text(
        "ALTER TABLE t\tADD c int NOT NULL;\n-- 表\tcolumn\x07 with a bell\r\n\t\tSELECT 1;   \n",
        encoding="utf-8",
    )
    findings = [
        _finding("db/1.up.sql", 1, 13, Severity.ERROR, "old INSERTs fail", "add a default"),
        _finding("db/1.up.sql", 2, 0, Severity.WARNING, "bell\x07 and\r return", ""),
        _finding("db/1.up.sql", 2, 6, Severity.WARNING, "after a wide character and a tab", "x"),
        _finding("db/1.up.sql", 3, 3, Severity.INFO, "two\nlines", "tab\there"),
        _finding("db/1.up.sql", 9, 1, Severity.ERROR, "past the end", "nothing to show"),
        _finding("db/gone.sql", 1, 1, Severity.WARNING, "no file", "none"),
    ]
    return CheckResult(root=tmp_path, findings=findings, suppressed=[], rules=[])


def test_plain_report_is_what_rich_prints(result: CheckResult) -> None:
    assert render(result, color=False) == _rich_reference(result, color=False)


@pytest.mark.parametrize(
    "env",
    [
        {"TERM": "xterm", "COLORTERM": ""},
        {"TERM": "xterm-256color", "COLORTERM": ""},
        {"TERM": "xterm-256color", "COLORTERM": "truecolor"},
        {"TERM": "dumb", "COLORTERM": ""},
    ],
)
def test_coloured_report_is_what_rich_prints(
    result: CheckResult, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    coloured = render(result, color=True)
    assert coloured == _rich_reference(result, color=True)
    if env["TERM"] != "dumb":
        assert "\x1b[1;31m" in coloured  # the error's code, bold red


def test_control_codes_are_those_rich_strips() -> None:
    from rich.control import STRIP_CONTROL_CODES

    from backout.report.full import _CONTROL

    assert {c for c in range(128) if _CONTROL.match(chr(c))} == set(STRIP_CONTROL_CODES)
