"""``full`` (default): each finding with its rule name, the offending line, and the fix."""

from __future__ import annotations

import io
import os
import re
from typing import TYPE_CHECKING

from backout.engine import CheckResult
from backout.lines import split_lines
from backout.models import Finding, Severity
from backout.redact import Masked, continued_secret_spans, redact_line

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


_SourceLines = tuple[list[str], dict[int, Masked]]


def _source_line(
    root: str, path: str, number: int, cache: dict[str, _SourceLines]
) -> tuple[str, Masked | None] | None:
    """Line ``number`` of ``path`` (each file read once), None past its end or unreadable, and
    the span of a credential's value begun on a line above that it holds, if any."""
    source = cache.get(path)
    if source is None:
        try:
            with open(os.path.join(root, path), encoding="utf-8", newline="") as file:
                lines = split_lines(file.read())
        except (OSError, UnicodeDecodeError):
            lines = []
        source = cache[path] = (lines, continued_secret_spans(lines, path))
    lines, continued = source
    index = number - 1
    return (lines[index], continued.get(index)) if 0 <= index < len(lines) else None


# The control codes rich strips from what it prints (``rich.control.STRIP_CONTROL_CODES``:
# bell, backspace, vertical tab, form feed, carriage return); a test holds the two equal.
_CONTROL = re.compile("[\x07\x08\x0b\x0c\x0d]")


class _Printer:
    """Lines as rich's ``Console.print`` writes them, built as strings.

    One ``Console.print`` per piece cost seconds on a large tree's report (14,000 findings,
    five pieces each). Here a line is its pieces with control codes stripped and, when the
    console has colours, each piece wrapped in its style's ANSI codes (every line of it on its
    own), as rich renders them. A line holding a tab goes through rich itself: its tab stops
    count cells across the pieces.
    """

    def __init__(self, color: bool) -> None:
        # rich is imported here, not at module level: only this format needs it.
        from rich.color import ColorSystem
        from rich.console import Console
        from rich.control import strip_control_codes
        from rich.style import Style

        self._strip = strip_control_codes
        self._color = color
        self._console: Console | None = None
        self._codes: dict[str, tuple[str, str]] = {}
        system = Console(force_terminal=True).color_system if color else None
        if system is not None:
            systems = {
                "standard": ColorSystem.STANDARD,
                "256": ColorSystem.EIGHT_BIT,
                "truecolor": ColorSystem.TRUECOLOR,
                "windows": ColorSystem.WINDOWS,
            }
            for name in {*_STYLE.values(), "bold", "dim", "green"}:
                rendered = Style.parse(name).render("\0", color_system=systems[system])
                before, after = rendered.split("\0")
                self._codes[name] = (before, after)

    @property
    def styled(self) -> bool:
        """Whether lines get ANSI styles."""
        return bool(self._codes)

    def line(self, *pieces: tuple[str, str]) -> str:
        """The printed line of ``(text, style)`` pieces (style ``""`` for none)."""
        whole = "".join(text for text, _ in pieces)
        if "\t" in whole:
            return self._through_rich(pieces)
        if _CONTROL.search(whole):
            pieces = tuple((self._strip(text), style) for text, style in pieces)
        if not self._codes:
            return "".join(text for text, _ in pieces) + "\n"
        return "".join(self._styled(text, style) for text, style in pieces) + "\n"

    def _styled(self, text: str, style: str) -> str:
        codes = self._codes.get(style)
        if codes is None or not text:
            return text
        before, after = codes
        return "\n".join(f"{before}{part}{after}" if part else "" for part in text.split("\n"))

    def _through_rich(self, pieces: tuple[tuple[str, str], ...]) -> str:
        from rich.console import Console
        from rich.text import Text

        if self._console is None:
            self._console = Console(
                file=io.StringIO(),
                force_terminal=self._color,
                no_color=not self._color,
                width=100,
                highlight=False,
            )
        text = Text()
        for piece, style in pieces:
            text.append(piece, style=style or None)
        with self._console.capture() as capture:
            self._console.print(text, soft_wrap=True)
        return capture.get()


def render(result: CheckResult, color: bool = False) -> str:
    """A readable report; ANSI colour only when ``color``."""
    printer = _Printer(color)
    cache: dict[str, _SourceLines] = {}
    root = str(result.root)
    out: list[str] = []
    for finding in result.findings:
        location = finding.location
        source = _source_line(root, location.path, location.line, cache)
        # The line as the file has it may hold a credential, or be the value of one named on
        # a line above: masked, with the caret moved to the same character. The location
        # printed stays the file's own.
        column = location.column
        line = None
        if source is not None:
            line, column = redact_line(source[0], column, location.path, source[1])
        if not printer.styled:
            # Without styles a finding's lines are one string; the pieces rich would change
            # (tabs, control codes) are rare, and send it through the lines one by one.
            block = _plain_block(finding, line, column)
            if block is not None:
                out.append(block)
                continue
        style = _STYLE[finding.severity]
        out.append(
            printer.line(
                (f"{location}: ", "bold"),
                (f"{finding.code} ", style),
                (f"{finding.name} ", "bold"),
                (f"[{finding.severity.label}]", style),
            )
        )
        if line is not None:
            shown = f"  {location.line} | {line.rstrip()}"
            out.append(printer.line((shown, "dim")))
            if column:
                caret = _caret_cells(shown, len(shown) - len(line.rstrip()) + column - 1)
                out.append(printer.line((" " * caret + "^", style)))
        out.append(printer.line(("  rollback: ", ""), (finding.message, "")))
        # The whole fix line is green: rich gives a sum of Texts the first one's style.
        out.append(printer.line((f"  fix: {finding.fix}", "green")))
        out.append("\n")
    return "".join(out)


def _caret_cells(shown: str, index: int) -> int:
    """How many cells precede character ``index`` of the printed line ``shown``: where the
    caret goes under it.

    Counted as rich prints the line: a tab reaches the next stop of 8 cells from the line's
    start, a wide character (``表``) takes two cells, a control code that rich strips none.
    """
    if "\t" not in shown and shown.isascii():
        return index
    from rich.cells import cell_len

    cells = 0
    for char in shown[:index]:
        cells += 8 - cells % 8 if char == "\t" else cell_len(char)
    return cells + max(0, index - len(shown))


def _plain_block(finding: Finding, line: str | None, column: int) -> str | None:
    """A finding's lines without styles, the caret under ``column`` of ``line``, or None when
    a piece holds a tab or a control code (which rich expands or strips)."""
    location = finding.location
    source = ""
    if line is not None:
        shown = f"  {location.line} | {line.rstrip()}"
        source = f"{shown}\n"
        if column:
            caret = _caret_cells(shown, len(shown) - len(line.rstrip()) + column - 1)
            source += " " * caret + "^\n"
    block = (
        f"{location}: {finding.code} {finding.name} [{finding.severity.label}]\n{source}"
        f"  rollback: {finding.message}\n  fix: {finding.fix}\n\n"
    )
    if "\t" in block or _CONTROL.search(block):
        return None
    return block
