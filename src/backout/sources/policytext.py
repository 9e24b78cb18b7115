"""Value trees with positions from JSON text and from Terraform (HCL) files.

Retention policies live in JSON files and inside Terraform, as ``jsonencode({...})`` object
expressions or as JSON heredocs. Both are read into the same :class:`Node` tree, whose every
value knows its 1-based line and column, so that a finding can point at ``countNumber`` itself.

JSON is validated by the standard library first (its error says where the text is wrong) and
then scanned again for positions. For Terraform this module reads the subset of HCL that holds
literal values: bodies of attributes and blocks, object and tuple expressions, strings,
heredocs, numbers, booleans, function calls. Anything computed (``var.keep``, ``a ? b : c``, a
string with ``${...}``) becomes an ``expr`` node: its value is unknown, never guessed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from backout.lines import LineIndex
from backout.models import Location
from backout.sources.base import SourceFile, Unreadable

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_HCL_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MAX_DIGITS = 4300
_TOO_LONG = "a number is out of range (more than 4,300 digits)"
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)[ \t]*\r?\n")


class PolicyTextError(ValueError):
    """Text that is not valid JSON/HCL; ``line``/``column`` say where (1-based, 0 unknown)."""

    def __init__(self, message: str, line: int = 1, column: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass
class Node:
    """One value and where it starts. ``kind`` is one of ``object``, ``array``, ``string``,
    ``number``, ``bool``, ``null``, ``heredoc`` (``value`` is its raw text, ``offset`` where
    that text starts in the file), ``call`` (``name`` and ``items`` are the arguments) or
    ``expr`` (a computed value: ``value`` is its source text)."""

    kind: str
    value: Any
    line: int
    column: int
    offset: int = 0
    name: str = ""
    items: list[Node] = field(default_factory=list)
    fields: dict[str, Node] = field(default_factory=dict)
    key_line: int = 0
    key_column: int = 0


@dataclass
class Block:
    """A Terraform block: ``resource "aws_ecr_lifecycle_policy" "app" { ... }``."""

    type: str
    labels: list[str]
    attributes: dict[str, Node]
    blocks: list[Block]
    line: int
    column: int


# --- JSON -----------------------------------------------------------------------------------


def parse_json(text: str, base: int = 0, full_text: str | None = None) -> Node:
    """The JSON value in ``text`` as a positioned tree.

    ``base`` is where ``text`` starts inside ``full_text`` (a heredoc inside a ``.tf`` file), so
    positions are the file's. Raises :class:`PolicyTextError` for invalid JSON.
    """
    lines = LineIndex(full_text if full_text is not None else text)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        line, column = lines.position(base + exc.pos)
        raise PolicyTextError(f"invalid JSON: {exc.msg}", line, column) from None
    except RecursionError:
        raise PolicyTextError("JSON nested too deeply") from None
    except ValueError:
        # json refuses an integer of more than 4,300 digits with a plain ValueError.
        raise PolicyTextError(_TOO_LONG) from None
    try:
        node, _ = _JsonScanner(text, base, lines).value(0)
    except (RecursionError, IndexError, ValueError):
        # NaN/Infinity and other extensions json.loads tolerates but policies never hold.
        raise PolicyTextError("JSON uses a non-standard value") from None
    return node


class _JsonScanner:
    def __init__(self, text: str, base: int, lines: LineIndex) -> None:
        self.text = text
        self.base = base
        self.lines = lines

    def _skip(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in " \t\r\n":
            i += 1
        return i

    def _node(self, kind: str, value: Any, i: int) -> Node:
        line, column = self.lines.position(self.base + i)
        return Node(kind, value, line, column, offset=self.base + i)

    def value(self, i: int) -> tuple[Node, int]:
        i = self._skip(i)
        char = self.text[i]
        if char == "{":
            node = self._node("object", None, i)
            i = self._skip(i + 1)
            if self.text[i] == "}":
                return node, i + 1
            while True:
                i = self._skip(i)
                key, end = json.decoder.scanstring(self.text, i + 1)  # type: ignore[attr-defined]
                key_line, key_column = self.lines.position(self.base + i)
                i = self._skip(end)
                child, i = self.value(i + 1)  # past ':'
                child.key_line, child.key_column = key_line, key_column
                node.fields[key] = child
                i = self._skip(i)
                if self.text[i] == "}":
                    return node, i + 1
                i += 1  # ','
        if char == "[":
            node = self._node("array", None, i)
            i = self._skip(i + 1)
            if self.text[i] == "]":
                return node, i + 1
            while True:
                child, i = self.value(i)
                node.items.append(child)
                i = self._skip(i)
                if self.text[i] == "]":
                    return node, i + 1
                i += 1
        if char == '"':
            text, end = json.decoder.scanstring(self.text, i + 1)  # type: ignore[attr-defined]
            return self._node("string", text, i), end
        for word, kind, literal in (
            ("true", "bool", True),
            ("false", "bool", False),
            ("null", "null", None),
        ):
            if self.text.startswith(word, i):
                return self._node(kind, literal, i), i + len(word)
        match = _JSON_NUMBER.match(self.text, i)
        if match is None:
            raise ValueError(f"unexpected {char!r}")
        number = match.group(0)
        parsed: float | int = float(number) if any(c in number for c in ".eE") else int(number)
        return self._node("number", parsed, i), match.end()


# --- HCL ------------------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str  # punctuation itself, or IDENT, STRING, NUMBER, HEREDOC, NEWLINE, EOF, OTHER
    text: str
    start: int
    value: Any = None
    offset: int = 0  # HEREDOC: where its content starts


def _tokens(text: str) -> list[_Token]:
    """Tokens of a Terraform file; comments dropped, newlines kept (they end attributes)."""
    out: list[_Token] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char in " \t\r":
            i += 1
        elif char == "\n":
            out.append(_Token("NEWLINE", "\n", i))
            i += 1
        elif char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = size if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise PolicyTextError("unterminated /* comment", *LineIndex(text).position(i))
            i = end + 2
        elif char == '"':
            value, interpolated, end = _hcl_string(text, i)
            out.append(_Token("STRING", text[i:end], i, None if interpolated else value))
            i = end
        elif text.startswith("<<", i) and (heredoc := _HEREDOC.match(text, i)):
            marker, content_start = heredoc.group(2), heredoc.end()
            terminator = re.compile(rf"^[ \t]*{re.escape(marker)}[ \t]*\r?$", re.MULTILINE)
            close = terminator.search(text, content_start)
            if close is None:
                raise PolicyTextError(
                    f"heredoc <<{marker} is never closed", *LineIndex(text).position(i)
                )
            content = text[content_start : close.start()]
            out.append(_Token("HEREDOC", text[i:content_start], i, content, content_start))
            i = close.end()
        elif char.isdigit():
            number = _HCL_NUMBER.match(text, i)
            assert number is not None
            literal = number.group(0)
            try:
                parsed = float(literal) if any(c in literal for c in ".eE") else int(literal)
            except ValueError:
                raise PolicyTextError(_TOO_LONG, *LineIndex(text).position(i)) from None
            out.append(_Token("NUMBER", literal, i, parsed))
            i = number.end()
        elif ident := _IDENT.match(text, i):
            out.append(_Token("IDENT", ident.group(0), i))
            i = ident.end()
        elif char in "{}[](),=:.?":
            if text.startswith("=>", i) or text.startswith("==", i):
                out.append(_Token("OTHER", text[i : i + 2], i))
                i += 2
            else:
                out.append(_Token(char, char, i))
                i += 1
        else:
            out.append(_Token("OTHER", char, i))
            i += 1
    out.append(_Token("EOF", "", size))
    return out


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _hcl_string(text: str, start: int) -> tuple[str, bool, int]:
    """A quoted HCL string from ``start`` (the quote): its value, whether it interpolates,
    and the offset after the closing quote."""
    i = start + 1
    out: list[str] = []
    interpolated = False
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), interpolated, i + 1
        if char == "\n":
            break
        if char == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            if escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(escaped, escaped))
            i += 2
            continue
        if char in "$%" and text.startswith("{", i + 1):
            interpolated = True
            depth, i = 1, i + 2
            while i < len(text) and depth:
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                elif text[i] == '"':
                    i = _hcl_string(text, i)[2] - 1
                i += 1
            continue
        out.append(char)
        i += 1
    raise PolicyTextError("unterminated string", *LineIndex(text).position(start))


_CLOSERS = {"{": "}", "[": "]", "(": ")"}


class _HclParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = LineIndex(text)
        self.tokens = _tokens(text)
        self.index = 0

    def _peek(self, skip_newlines: bool = False) -> _Token:
        if skip_newlines:
            while self.tokens[self.index].kind == "NEWLINE":
                self.index += 1
        return self.tokens[self.index]

    def _next(self, skip_newlines: bool = False) -> _Token:
        token = self._peek(skip_newlines)
        if token.kind != "EOF":
            self.index += 1
        return token

    def _not_eof(self, token: _Token, opening: _Token) -> None:
        """Raise when ``token`` is the end of the file inside ``opening``'s brackets: the loops
        that read their items would otherwise wait forever for the closer."""
        if token.kind == "EOF":
            line, column = self.lines.position(opening.start)
            closer = _CLOSERS.get(opening.kind, ")")
            raise PolicyTextError(f"'{opening.text}' is never closed with '{closer}'", line, column)

    def _expect(self, kind: str, skip_newlines: bool = False) -> _Token:
        token = self._next(skip_newlines)
        if token.kind != kind:
            line, column = self.lines.position(token.start)
            found = token.text.strip() or token.kind.lower()
            raise PolicyTextError(f"expected '{kind}', found '{found}'", line, column)
        return token

    def _node(self, kind: str, value: Any, start: int, **extra: Any) -> Node:
        line, column = self.lines.position(start)
        return Node(kind, value, line, column, offset=start, **extra)

    def body(self, closer: str) -> tuple[dict[str, Node], list[Block]]:
        """Attributes and blocks up to ``closer`` (``}`` or ``EOF``)."""
        attributes: dict[str, Node] = {}
        blocks: list[Block] = []
        while True:
            token = self._next(skip_newlines=True)
            if token.kind == closer:
                return attributes, blocks
            if token.kind != "IDENT":
                line, column = self.lines.position(token.start)
                raise PolicyTextError(f"unexpected '{token.text.strip()}'", line, column)
            if self._peek().kind == "=":
                self._next()
                value = self.expression({"NEWLINE", "EOF", "}"}, skip_newlines=False)
                value.key_line, value.key_column = self.lines.position(token.start)
                attributes[token.text] = value
                continue
            labels: list[str] = []
            while self._peek().kind in ("STRING", "IDENT"):
                label = self._next()
                labels.append(label.value if label.kind == "STRING" else label.text)
            self._expect("{")
            inner_attributes, inner_blocks = self.body("}")
            line, column = self.lines.position(token.start)
            blocks.append(Block(token.text, labels, inner_attributes, inner_blocks, line, column))

    def expression(self, terminators: set[str], skip_newlines: bool) -> Node:
        """One expression; a computed one is returned as an ``expr`` node."""
        start_index = self.index
        start = self._peek(skip_newlines=True).start
        node = self._primary()
        if self._peek(skip_newlines).kind in terminators:
            return node
        self.index = start_index
        self._skip_expression(terminators, skip_newlines)
        end = self.tokens[self.index].start
        return self._node("expr", self.text[start:end].strip(), start)

    def _skip_expression(self, terminators: set[str], skip_newlines: bool) -> None:
        depth: list[str] = []
        while True:
            token = self._peek(skip_newlines or bool(depth))
            if token.kind == "EOF" or (not depth and token.kind in terminators):
                return
            self._next()
            if token.kind in _CLOSERS:
                depth.append(_CLOSERS[token.kind])
            elif depth and token.kind == depth[-1]:
                depth.pop()

    def _primary(self) -> Node:
        token = self._next(skip_newlines=True)
        if token.kind == "{":
            if self._peek(skip_newlines=True).text == "for":
                return self._computed_group(token, "}")
            return self._object(token)
        if token.kind == "[":
            if self._peek(skip_newlines=True).text == "for":
                return self._computed_group(token, "]")
            node = self._node("array", None, token.start)
            while True:
                self._not_eof(self._peek(skip_newlines=True), token)
                if self._peek(skip_newlines=True).kind == "]":
                    self._next(skip_newlines=True)
                    return node
                node.items.append(self.expression({",", "]"}, skip_newlines=True))
                if self._peek(skip_newlines=True).kind == ",":
                    self._next(skip_newlines=True)
        if token.kind == "STRING":
            if token.value is None:
                return self._node("expr", token.text, token.start)
            return self._node("string", token.value, token.start)
        if token.kind == "HEREDOC":
            return self._node("heredoc", token.value, token.start, name=str(token.offset))
        if token.kind == "NUMBER":
            return self._node("number", token.value, token.start)
        if token.kind == "IDENT":
            if token.text in ("true", "false"):
                return self._node("bool", token.text == "true", token.start)
            if token.text == "null":
                return self._node("null", None, token.start)
            if self._peek().kind == "(":
                opening = self._next()
                node = self._node("call", None, token.start, name=token.text)
                while self._peek(skip_newlines=True).kind != ")":
                    self._not_eof(self._peek(skip_newlines=True), opening)
                    node.items.append(self.expression({",", ")"}, skip_newlines=True))
                    if self._peek(skip_newlines=True).kind == ",":
                        self._next(skip_newlines=True)
                self._next(skip_newlines=True)
                return node
        # A traversal (var.x), an operator or a parenthesised expression: computed.
        return self._node("expr", token.text, token.start)

    def _object(self, opening: _Token) -> Node:
        node = self._node("object", None, opening.start)
        while True:
            token = self._next(skip_newlines=True)
            self._not_eof(token, opening)
            if token.kind == "}":
                return node
            if token.kind == ",":
                continue
            if token.kind in ("IDENT", "NUMBER"):
                key: str | None = token.text
            elif token.kind == "STRING":
                key = token.value
            else:
                key = None
                self.index -= 1
                self._skip_expression({"=", ":"}, skip_newlines=True)
            separator = self._next(skip_newlines=True)
            if separator.kind not in ("=", ":"):
                line, column = self.lines.position(separator.start)
                raise PolicyTextError("expected '=' after an object key", line, column)
            value = self.expression({",", "}", "NEWLINE"}, skip_newlines=False)
            if key is not None:
                value.key_line, value.key_column = self.lines.position(token.start)
                node.fields[key] = value

    def _computed_group(self, opening: _Token, closer: str) -> Node:
        self._skip_expression({closer}, skip_newlines=True)
        close = self._next(skip_newlines=True)
        self._not_eof(close, opening)
        end = close.start + len(close.text)
        return self._node("expr", self.text[opening.start : end], opening.start)


def parse_hcl(text: str) -> list[Block]:
    """The top-level blocks of a Terraform file. Raises :class:`PolicyTextError` when the
    file is not HCL this reader understands."""
    parser = _HclParser(text)
    try:
        _, blocks = parser.body("EOF")
    except RecursionError:
        raise PolicyTextError("HCL nested too deeply") from None
    return blocks


def terraform_blocks(
    file: SourceFile, text: str, report: bool = True
) -> list[Block] | Unreadable | None:
    """The top-level blocks of a Terraform file, parsed once however many readers ask.

    When the file is not HCL this reader understands, the first reader to ask gets the
    :class:`Unreadable` fact to report and the next ones ``None``: one BK901 per file. A
    reader that would not report it (``report=False``) gets ``None`` and leaves it to the
    next.
    """
    cached = file.cache.get("terraform_blocks")
    if cached is None:
        try:
            cached = parse_hcl(text)
        except PolicyTextError as exc:
            cached = Unreadable(Location(file.path, exc.line, exc.column), "Terraform", str(exc))
        file.cache["terraform_blocks"] = cached
    if isinstance(cached, Unreadable):
        if not report or file.cache.get("terraform_reported"):
            return None
        file.cache["terraform_reported"] = True
    return cached


def heredoc_json(node: Node, full_text: str) -> Node:
    """Parse a heredoc node's text as JSON, with positions in the file that holds it."""
    return parse_json(node.value, int(node.name), full_text)


# --- reading a tree -------------------------------------------------------------------------


def field_of(node: Node | None, *keys: str) -> Node | None:
    """Follow object keys: ``field_of(rule, "selection", "countNumber")``."""
    for key in keys:
        if node is None or node.kind != "object":
            return None
        node = node.fields.get(key)
    return node


def text_value(node: Node | None) -> str | None:
    """A string value (numbers as written in JSON are not strings), else ``None``."""
    return node.value if node is not None and node.kind == "string" else None


def int_value(node: Node | None) -> int | None:
    """A whole number (or a string of digits, which Terraform converts), else ``None``."""
    if node is None:
        return None
    if node.kind == "number" and isinstance(node.value, int):
        return node.value
    if node.kind == "number" and math.isfinite(node.value) and node.value.is_integer():
        return int(node.value)
    digits = node.value.strip() if node.kind == "string" else ""
    if digits.isdigit() and len(digits) <= _MAX_DIGITS:  # beyond it int() refuses
        return int(digits)
    return None


def strings(node: Node | None) -> tuple[str, ...]:
    """The string items of an array value (a lone string counts as one)."""
    if node is None:
        return ()
    if node.kind == "string":
        return (node.value,)
    return tuple(item.value for item in node.items if item.kind == "string")
