"""Lines as a user's editor shows them, for every position backout prints.

A line ends at ``\\r\\n`` (Windows), ``\\n`` (Unix) or a lone ``\\r`` (classic Mac OS), and at
nothing else: not at the form feed, vertical tab, ``\\x1c``–``\\x1e``, NEL or the Unicode line
and paragraph separators that :meth:`str.splitlines` also splits at. Those three are the line
endings editors, CommonMark, Java's ``Properties.load`` and Python's tokenizer agree on, so
a finding's line is the one the user's editor opens at, whatever the file was saved with.

Every reader that computes a position from text (rather than taking libyaml's or Python's
``ast``'s, which count the same three endings) goes through here, and so does the line
``full`` output shows under a finding.
"""

from __future__ import annotations

import re
from bisect import bisect_right

LINE_BREAK = re.compile(r"\r\n?|\n")
"""One line ending: ``\\r\\n``, ``\\r`` or ``\\n``."""


def line_starts(text: str) -> list[int]:
    """The offset of each line's first character in ``text`` (the first is 0)."""
    starts = [0]
    if "\r" not in text:
        # Nearly every file: a loop of ``str.find`` is several times faster than the regex.
        newline = text.find("\n")
        while newline >= 0:
            starts.append(newline + 1)
            newline = text.find("\n", newline + 1)
        return starts
    starts.extend(match.end() for match in LINE_BREAK.finditer(text))
    return starts


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """``text`` cut into lines, like :meth:`str.splitlines` but at line endings only."""
    if "\r" not in text and not keepends:
        lines = text.split("\n")
    else:
        starts = line_starts(text)
        ends = [*starts[1:], len(text)]
        lines = [text[start:end] for start, end in zip(starts, ends, strict=True)]
        if not keepends:
            lines = [LINE_BREAK.sub("", line) for line in lines]
    if lines and not lines[-1]:
        lines.pop()  # the text ends with a line ending, or is empty
    return lines


def line_number(text: str, offset: int) -> int:
    """The 1-based line holding character ``offset`` of ``text``.

    An offset inside a ``\\r\\n`` (at its ``\\n``) is on the line the ending ends.
    """
    line = text.count("\n", 0, offset) + 1
    if "\r" in text:
        line += text.count("\r", 0, offset) - text.count("\r\n", 0, offset)
        if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
            line -= 1
    return line


def line_start(text: str, offset: int) -> int:
    """The offset of the first character of the line holding ``offset``."""
    end = offset
    if 0 < end < len(text) and text[end - 1] == "\r" and text[end] == "\n":
        end -= 1  # inside a ``\r\n``: the line the ending ends
    return max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1


def position(text: str, offset: int) -> tuple[int, int]:
    """The 1-based ``(line, column)`` of character ``offset`` of ``text``."""
    return line_number(text, offset), offset - line_start(text, offset) + 1


def line_end(text: str, offset: int) -> tuple[int, str]:
    """Where the line holding ``offset`` ends and with which line ending; ``(len(text), "")``
    for a last line without one."""
    found = LINE_BREAK.search(text, offset)
    if found is None:
        return len(text), ""
    return found.start(), found.group()


class LineIndex:
    """Offsets of one text to 1-based ``(line, column)``, for many look-ups."""

    __slots__ = ("starts",)

    def __init__(self, text: str) -> None:
        self.starts = line_starts(text)

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based ``(line, column)`` of character ``offset``."""
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1
