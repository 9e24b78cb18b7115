"""``full`` (default): each finding with its rule name, the offending line, and the fix."""

from __future__ import annotations

import io
from pathlib import Path

from backout.engine import CheckResult
from backout.models import Finding, Severity

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _source_line(root: Path, finding: Finding, cache: dict[str, list[str]]) -> str | None:
    path = finding.location.path
    if path not in cache:
        try:
            cache[path] = (root / path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            cache[path] = []
    lines = cache[path]
    index = finding.location.line - 1
    return lines[index] if 0 <= index < len(lines) else None


def render(result: CheckResult, color: bool = False) -> str:
    """A readable report; ANSI colour only when ``color``."""
    # rich is imported here, not at module level: only this format needs it.
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, width=100, highlight=False
    )
    cache: dict[str, list[str]] = {}
    for finding in result.findings:
        head = Text()
        head.append(f"{finding.location}: ", style="bold")
        head.append(f"{finding.code} ", style=_STYLE[finding.severity])
        head.append(f"{finding.name} ", style="bold")
        head.append(f"[{finding.severity.label}]", style=_STYLE[finding.severity])
        console.print(head, soft_wrap=True)
        line = _source_line(result.root, finding, cache)
        if line is not None:
            number = str(finding.location.line)
            console.print(Text(f"  {number} | {line.rstrip()}", style="dim"), soft_wrap=True)
            if finding.location.column:
                pad = " " * (len(number) + 4 + finding.location.column)
                console.print(Text(pad + "^", style=_STYLE[finding.severity]), soft_wrap=True)
        console.print(Text("  rollback: ") + Text(finding.message), soft_wrap=True)
        console.print(Text("  fix: ", style="green") + Text(finding.fix), soft_wrap=True)
        console.print()
    return buffer.getvalue()
