"""GitLab ``rules: if:`` expressions, judged in a pipeline that is not for a git tag.

GitLab's grammar (``lib/gitlab/ci/pipeline/expression``): a variable (``$NAME``), a string
(``"…"`` or ``'…'``), ``null`` or a regular expression (``/…/flags``) as values; ``==``,
``!=``, ``=~`` and ``!~`` between two values; ``&&`` binding tighter than ``||``; and
parentheses. A variable the pipeline does not define is ``nil``: ``$CI_COMMIT_TAG``, set
only in tag pipelines, is ``nil`` in every other pipeline, so ``$CI_COMMIT_TAG != ""`` holds
there (``nil != ""``), and ``$CI_COMMIT_TAG =~ /re/`` holds when the regular expression
matches the empty string (GitLab scans ``nil.to_s``). Every other variable may hold anything:
an expression that reads one has no known value unless the rest decides it. ``&&`` and
``||`` are Ruby's, which give an operand rather than a boolean: the value the whole gives is
then taken as true when ``present?`` (not nil, false or a blank string), so ``$SKIP ||
$CI_COMMIT_TAG == null`` does not hold when ``SKIP`` is set to ``""``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TAG_VARIABLE = "CI_COMMIT_TAG"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||==|!=|=~|!~|\(|\))
      | \$\{(?P<braced>\w+)\}
      | \$(?P<variable>\w+)
      | "(?P<double>[^"]*)"
      | '(?P<single>[^']*)'
      | (?P<null>null)\b
      | /(?P<pattern>(?:\\.|[^/\\])*)/(?P<flags>[a-z]*)
    )""",
    re.X,
)


@dataclass(frozen=True)
class _Value:
    """An operand: ``known`` tells whether ``value`` is what it holds (``None`` for nil)."""

    known: bool
    value: str | None = None
    pattern: str | None = None
    flags: str = ""


_Truth = bool | None  # None: depends on what the run's other variables hold

# What an expression may give, as Ruby sees it: nil or false; a Ruby-true value that is
# blank (``""``, spaces), which ``present?`` still takes as false; a present value (a
# non-blank string, ``true``, a regular expression). ``&&`` and ``||`` give one of their
# operands, as Ruby's do, and GitLab takes the result as true when it is present.
_NIL, _BLANK, _PRESENT = "nil", "blank", "present"
_Outcomes = frozenset[str]
_ANY: _Outcomes = frozenset((_NIL, _BLANK, _PRESENT))


class _Unreadable(Exception):
    """Not an expression GitLab's grammar accepts, as far as backout reads it."""


def without_tag(expression: str) -> _Truth:
    """What ``expression`` gives in a pipeline that is not for a tag: ``False`` when it
    cannot hold there, ``True`` when it always does, ``None`` when that depends on other
    variables or the expression cannot be read."""
    try:
        tokens = _tokens(expression)
        parser = _Parser(tokens)
        outcomes = parser.disjunction()
        if parser.position != len(tokens):
            return None
    except _Unreadable:
        return None
    if _PRESENT not in outcomes:
        return False
    return True if outcomes == {_PRESENT} else None


def _tokens(expression: str) -> list[tuple[str, _Value | str]]:
    tokens: list[tuple[str, _Value | str]] = []
    position = 0
    end = len(expression.rstrip())
    while position < end:
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise _Unreadable
        position = match.end()
        if match.group("op") is not None:
            tokens.append(("op", match.group("op")))
            continue
        name = match.group("braced") or match.group("variable")
        if name is not None:
            value = _Value(True, None) if name == TAG_VARIABLE else _Value(False)
        elif match.group("null") is not None:
            value = _Value(True, None)
        elif match.group("pattern") is not None:
            value = _Value(True, pattern=match.group("pattern"), flags=match.group("flags"))
        else:
            text = match.group("double")
            value = _Value(True, text if text is not None else match.group("single"))
        tokens.append(("value", value))
    return tokens


def _of_truth(truth: _Truth) -> _Outcomes:
    """What a comparison gives: ``true``, ``false``, or either."""
    if truth is None:
        return frozenset((_NIL, _PRESENT))
    return frozenset((_PRESENT,) if truth else (_NIL,))


class _Parser:
    """Recursive descent over the tokens, evaluating as it goes (to what each part may
    give)."""

    def __init__(self, tokens: list[tuple[str, _Value | str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> str | None:
        if self.position < len(self.tokens):
            kind, token = self.tokens[self.position]
            if kind == "op" and isinstance(token, str):
                return token
        return None

    def disjunction(self) -> _Outcomes:
        outcomes = self.conjunction()
        while self._peek() == "||":
            self.position += 1
            other = self.conjunction()
            # Ruby's ||: the left operand unless it is nil or false
            outcomes = (outcomes - {_NIL}) | (other if _NIL in outcomes else frozenset())
        return outcomes

    def conjunction(self) -> _Outcomes:
        outcomes = self.operand()
        while self._peek() == "&&":
            self.position += 1
            other = self.operand()
            # Ruby's &&: the right operand unless the left is nil or false
            held = outcomes & {_BLANK, _PRESENT}
            outcomes = (outcomes & {_NIL}) | (other if held else frozenset())
        return outcomes

    def operand(self) -> _Outcomes:
        if self._peek() == "(":
            self.position += 1
            outcomes = self.disjunction()
            if self._peek() != ")":
                raise _Unreadable
            self.position += 1
            return outcomes
        left = self._value()
        operator = self._peek()
        if operator not in ("==", "!=", "=~", "!~"):
            # a value on its own gives itself
            if not left.known:
                return _ANY
            if left.pattern is not None:
                return frozenset((_PRESENT,))
            if left.value is None:
                return frozenset((_NIL,))
            return frozenset((_PRESENT,) if left.value.strip() else (_BLANK,))
        self.position += 1
        right = self._value()
        if operator in ("==", "!="):
            if not (left.known and right.known) or left.pattern or right.pattern:
                return _of_truth(None)
            return _of_truth((left.value == right.value) == (operator == "=="))
        matches = _matches(left, right)
        if matches is None:
            return _of_truth(None)
        return _of_truth(matches == (operator == "=~"))

    def _value(self) -> _Value:
        if self.position >= len(self.tokens):
            raise _Unreadable
        kind, token = self.tokens[self.position]
        if kind != "value" or not isinstance(token, _Value):
            raise _Unreadable
        self.position += 1
        return token


def _matches(text: _Value, regexp: _Value) -> _Truth:
    """Whether ``text =~ regexp`` holds; None when either is not known or not read."""
    if not (text.known and regexp.known) or text.pattern is not None:
        return None
    if regexp.pattern is None:
        # a string or a variable's value on the right is compiled as a pattern by GitLab
        return None if regexp.value is not None else False
    flags = re.IGNORECASE if "i" in regexp.flags else 0
    flags |= re.MULTILINE if "m" in regexp.flags else 0
    try:
        compiled = re.compile(regexp.pattern, flags)
    except re.error:
        return None
    return compiled.search(text.value or "") is not None
