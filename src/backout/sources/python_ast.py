"""Reading literal values out of Python syntax trees, for the Alembic and Django readers.

Migrations are read from their AST, never imported: these helpers turn the few literal forms
that migration files use (strings, numbers, tuples and lists of them, keyword arguments) into
values, and anything computed at run time into ``None``.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from backout.lines import line_number
from backout.models import Location
from backout.sources.base import SourceFile, Unreadable


def literal(node: ast.AST | None) -> object:
    """A constant's value; a tuple of values for a tuple, list or set; else ``None``.

    Code points that have no UTF-8 form (lone surrogates) come back as their ``\\u`` escape.
    """
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str) and not node.value.isascii():
            # A lone surrogate ("\\ud800") is no text: keep it as its escape, so that names
            # read from the file can be printed in findings.
            return node.value.encode("utf-8", "backslashreplace").decode("utf-8")
        return node.value
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return tuple(literal(e) for e in node.elts)
    return None


def string_pieces(source: str, node: ast.AST) -> tuple[tuple[int, int, int], ...]:
    """Where each literal of the string ``node`` starts in the file: ``(offset in the string's
    value, line, column)``, the column (1-based) of its first character after its prefix and
    quotes. Python joins adjacent literals into one value (PostHog's ``sql=('ALTER TABLE "t" '
    'DROP COLUMN "c"')``, a clause a line), so a position in the value lies in one of them.
    Empty when ``node`` is not such a literal as the source writes it."""
    segment = ast.get_source_segment(source, node)
    lines = source.splitlines(keepends=True)
    if not segment or not isinstance(node, ast.Constant) or node.lineno > len(lines):
        return ()
    # ``col_offset`` counts UTF-8 bytes; columns count characters.
    start = len(lines[node.lineno - 1].encode()[: node.col_offset].decode(errors="ignore"))
    pieces: list[tuple[int, int, int]] = []
    offset = 0
    try:
        # In parentheses, the literals may sit on lines of their own, as in the file.
        for token in tokenize.generate_tokens(io.StringIO(f"({segment})").readline):
            if token.type != tokenize.STRING:
                continue
            value = ast.literal_eval(token.string)
            if not isinstance(value, str):
                return ()
            text = token.string
            prefix = len(text) - len(text.lstrip("rRuU"))
            quotes = 3 if text[prefix : prefix + 3] in ('"""', "'''") else 1
            row, column = token.start
            column += prefix + quotes + 1 + (start - 1 if row == 1 else 0)
            body = text[prefix + quotes : len(text) - quotes]
            raw = "r" in text[:prefix].lower()
            pieces.extend(_after_escapes(body, value, raw, offset, node.lineno + row - 1, column))
            offset += len(value)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return ()
    return tuple(pieces) if offset == len(str(node.value)) else ()


def _after_escapes(
    body: str, value: str, raw: bool, offset: int, line: int, column: int
) -> list[tuple[int, int, int]]:
    """The pieces of one string literal whose ``body`` (the text between its quotes) starts
    at ``line``/``column`` and whose ``value`` starts at ``offset`` in the joined string: one
    at its start, and one after each escape, which is longer in the file than in the value
    (``\\t``, ``\\'``, ``\\u00e9``), and may end no line of the file though it ends one of the
    value (``\\n``), or the reverse (a backslash at the end of a line, which is nothing)."""
    pieces = [(offset, line, column)]
    if raw or "\\" not in body:
        return pieces
    at = 0
    for escape in _ESCAPE.finditer(body):
        between = body[at : escape.start()]
        offset += len(between) - between.count("\r\n")  # a line break is "\n" in the value
        if "\n" in between:
            line += between.count("\n")
            column = len(between) - between.rfind("\n")
        else:
            column += len(between)
        if escape.group()[1] in "\r\n":  # a line continued: nothing in the value
            line, column = line + 1, 1
        else:
            offset += 1
            column += len(escape.group())
        pieces.append((offset, line, column))
        at = escape.end()
    rest = body[at:]
    if offset + len(rest) - rest.count("\r\n") != pieces[0][0] + len(value):
        return pieces[:1]  # escapes read otherwise than Python reads them: keep the start
    return pieces


# An escape sequence of a (not raw) str literal; an unknown one (``\d``) is kept as written.
_ESCAPE = re.compile(
    r"\\(?:\r\n?|\n|N\{[^}]*\}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[\\'\"abfnrtv])"
)


def literal_string(node: ast.AST | None) -> str | None:
    """The node's value when it is a string literal."""
    value = literal(node)
    return value if isinstance(value, str) else None


def callee_name(node: ast.AST | None) -> str:
    """``op.add_column(...)`` → ``add_column``; ``Foo(...)`` → ``Foo``; else ``""``."""
    if not isinstance(node, ast.Call):
        return ""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def keyword_value(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword argument ``name`` in ``call``."""
    return next((k.value for k in call.keywords if k.arg == name), None)


def argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
    """An argument given by keyword ``name`` or at position ``index``."""
    found = keyword_value(call, name)
    if found is not None:
        return found
    return call.args[index] if len(call.args) > index else None


def parse_python(file: SourceFile, reader: str, *markers: str) -> ast.Module | Unreadable | None:
    """The file's syntax tree, an :class:`Unreadable` when it is not Python text, or ``None``
    when it lacks one of ``markers`` (cheap text checks that it is the reader's kind of file)."""
    text = file.text()
    if text is None:
        return file.decode_error()
    if not all(marker in text for marker in markers):
        return None
    try:
        return ast.parse(text, filename=file.path)
    except SyntaxError as exc:
        where = Location(file.path, exc.lineno or 1, exc.offset or 0)
        return Unreadable(where, reader, f"not valid Python: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        return Unreadable(Location(file.path, 1, 0), reader, f"not valid Python: {exc}")


def lone_surrogate(node: ast.AST | None) -> tuple[ast.AST, str] | None:
    """The string literal in ``node`` that holds a lone surrogate (``"\\ud800"``), and why the
    SQL cannot be read; ``None`` when there is none.

    A Python string literal may hold such a code point, but it is not text: it has no UTF-8
    form, so no SQL parser (nor the database) can take the string. The reason names the code
    point escaped, never the raw character, which could not be printed either.
    """
    for found in ast.walk(node) if node is not None else ():
        if not (isinstance(found, ast.Constant) and isinstance(found.value, str)):
            continue
        try:
            found.value.encode("utf-8")
        except UnicodeEncodeError as exc:
            line = line_number(found.value, exc.start)
            return found, (
                f"the SQL string holds a lone surrogate, {found.value[exc.start]!r} (line "
                f"{line} of the string), which is not text, so the SQL can neither be read "
                "nor run"
            )
    return None
