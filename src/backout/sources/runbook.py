"""Markdown and reStructuredText documents as headed sections, for the runbook rules.

Readers get no configuration, so every Markdown (``.md``, ``.markdown``) and reStructuredText
(``.rst``) file, and any file named ``RUNBOOK*``, becomes a :class:`RunbookDocument`; BK401
decides with the ``runbooks`` setting which of them are runbooks. A document is its sections in
order: each heading (level, text, 1-based position of the text) and the lines under it up to the
next heading, each line marked as code (fenced or indented blocks, rst literal blocks) or prose.

Markdown is parsed with markdown-it-py (CommonMark: ATX and setext headings, fences, and no
"heading" inside a code block). Front matter (a YAML block between ``---`` lines, or TOML
between ``+++`` lines, at the very top, as Jekyll, Hugo, MkDocs and Docusaurus write it) is
metadata, not content: it is blanked before parsing, so its closing ``---`` is not read as a
setext underline. Heading titles are one line, whitespace collapsed (a setext heading's text
may span lines). reStructuredText sections are read here: a title is a text line
underlined (and optionally overlined) by one repeated punctuation character, and its level is
the order in which that adornment style first appears — the rule docutils applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from backout.lines import split_lines
from backout.models import Location
from backout.sources.base import Fact, SourceFile
from backout.sources.paths import RST_SUFFIXES, is_runbook

_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")
_RST_LITERAL_START = re.compile(r"(::\s*$)|^\s*\.\.\s+(code-block|code|sourcecode)::")


@dataclass(frozen=True)
class RunbookLine:
    """One line of a section's body: 1-based line number, text, and whether it is code."""

    line: int
    text: str
    code: bool


@dataclass(frozen=True)
class RunbookSection:
    """A heading and the lines under it up to the next heading of any level."""

    title: str
    level: int
    line: int
    column: int
    body: tuple[RunbookLine, ...]


@dataclass(frozen=True)
class RunbookDocument(Fact):
    """A Markdown or reStructuredText document as sections (``format`` is ``markdown``/``rst``).

    ``preamble`` holds the lines before the first heading. ``location`` is the first line.
    """

    format: str
    preamble: tuple[RunbookLine, ...]
    sections: tuple[RunbookSection, ...]


_Parsed = tuple[list[tuple[str, int, int, int]], set[int], set[int]]


_FRONT_MATTER_FENCES = {"---": ("---", "..."), "+++": ("+++",)}


def front_matter_lines(lines: list[str]) -> int:
    """How many lines at the top are front matter (0 when there is none).

    The block opens on the first line with ``---`` (YAML) or ``+++`` (TOML) and closes at
    the next line that is ``---``/``...`` (``+++``); an unclosed block is not front matter.
    """
    closers = _FRONT_MATTER_FENCES.get(lines[0].rstrip()) if lines else None
    if closers is None:
        return 0
    for number in range(1, len(lines)):
        if lines[number].rstrip() in closers:
            return number + 1
    return 0


def _markdown(text: str) -> _Parsed:
    """Headings ``(title, level, line, column)``, 0-based code lines, and heading-only lines."""
    from markdown_it import MarkdownIt  # imported on first Markdown file: startup stays lean

    lines = split_lines(text)
    front = front_matter_lines(lines)
    if front:  # blank lines keep the line numbers of what follows
        text = "\n" * front + "\n".join(lines[front:])
    tokens = MarkdownIt("commonmark").parse(text)
    headings: list[tuple[str, int, int, int]] = []
    code: set[int] = set()
    skip: set[int] = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            content = tokens[index + 1].content if index + 1 < len(tokens) else ""
            title = " ".join(content.split())
            first = token.map[0]
            source = lines[first] if first < len(lines) else ""
            found = source.find(title[:20]) if title else -1
            if found < 0 and title:
                found = source.find(title.split()[0])
            column = found + 1 if found >= 0 else 1
            headings.append((title, int(token.tag[1:]), first, column))
            # A setext heading spans its text line and its underline.
            skip.update(range(first, token.map[1]))
        elif token.type in ("fence", "code_block") and token.map is not None:
            code.update(range(token.map[0], token.map[1]))
    skip.update(range(front))
    return headings, code, skip


def _rst(text: str) -> _Parsed:
    """Like :func:`_markdown`, for reStructuredText."""
    lines = split_lines(text)
    headings: list[tuple[str, int, int, int]] = []
    adornment_lines: set[int] = set()
    styles: list[tuple[str, bool]] = []
    literal: set[int] = set()
    in_literal, literal_indent = False, 0
    for number, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_literal:
            if stripped and indent <= literal_indent:
                in_literal = False
            else:
                literal.add(number)
                continue
        if _RST_LITERAL_START.search(line):
            in_literal, literal_indent = True, indent
            if stripped.startswith(".."):
                literal.add(number)
            continue
        if number in adornment_lines or not stripped or indent:
            continue
        below = lines[number + 1] if number + 1 < len(lines) else ""
        match = _RST_ADORNMENT.match(below)
        if match is None or _RST_ADORNMENT.match(line) or len(below.rstrip()) < len(stripped):
            continue
        above = lines[number - 1] if number > 0 else ""
        overlined = bool(_RST_ADORNMENT.match(above)) and above.strip()[0] == match.group(1)
        style = (match.group(1), overlined)
        if style not in styles:
            styles.append(style)
        headings.append((stripped, styles.index(style) + 1, number, 1))
        adornment_lines.add(number + 1)
        if overlined:
            adornment_lines.add(number - 1)
    return headings, literal, adornment_lines | {h[2] for h in headings}


class RunbookReader:
    """Reads Markdown and reStructuredText documents into :class:`RunbookDocument` facts."""

    name: ClassVar[str] = "runbook"

    def wants(self, path: str) -> bool:
        """Markdown and rst files, and any ``RUNBOOK*`` file."""
        return is_runbook(path)

    def read(self, file: SourceFile) -> list[Fact]:
        """One :class:`RunbookDocument` (or the file's decode error)."""
        error = file.decode_error()
        if error is not None:
            return [error]
        text = file.text() or ""
        is_rst = file.path.lower().endswith(RST_SUFFIXES)
        headings, code, skip = _rst(text) if is_rst else _markdown(text)
        lines = split_lines(text)
        skip |= {h[2] for h in headings}

        def body(start: int, end: int) -> tuple[RunbookLine, ...]:
            return tuple(
                RunbookLine(n + 1, lines[n], n in code)
                for n in range(start, end)
                if n not in skip and lines[n].strip()
            )

        sections = []
        for position, (title, level, line, column) in enumerate(headings):
            end = headings[position + 1][2] if position + 1 < len(headings) else len(lines)
            sections.append(RunbookSection(title, level, line + 1, column, body(line + 1, end)))
        first = headings[0][2] if headings else len(lines)
        return [
            RunbookDocument(
                Location(file.path, 1, 1),
                "rst" if is_rst else "markdown",
                body(0, first),
                tuple(sections),
            )
        ]
