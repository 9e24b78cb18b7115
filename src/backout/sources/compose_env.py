"""Compose ``.env`` files: the variables ``docker compose`` substitutes into the compose file.

``docker compose`` interpolates ``${TAG}``, ``$TAG``, ``${TAG:-default}`` and ``${TAG:?err}``
in a compose file from the shell's environment and, for what the shell does not set, from the
``.env`` file in the project directory: the directory of the compose file. (A service's
``env_file:`` is the container's environment, not interpolation.) So ``image: shop:${TAG}``
with ``TAG=latest`` in a committed ``.env`` runs ``shop:latest`` wherever the deploy's shell
leaves ``TAG`` unset.

:class:`ComposeEnvReader` reads every ``.env`` into a :class:`ComposeEnv` fact, with the syntax
of compose's own reader (``compose-go``'s ``dotenv`` package, which ``docker compose`` uses):

* blank lines and lines starting with ``#`` are skipped; an ``export`` prefix is dropped;
* ``KEY=value`` (or YAML-like ``KEY: value``); a key is letters, digits, ``_ . - [ ]``, and
  spaces around it are dropped; a key alone on its line takes its value from the shell (here:
  unset);
* an unquoted value runs to the end of the line, cut at the first `` #`` (a ``#`` after a
  space starts a comment), trailing blanks dropped;
* a single-quoted value is literal (``\\'`` is a quote); a double-quoted value reads the shell
  escapes ``\\n \\t \\" \\\\ \\$`` …; quoted values may span lines;
* unquoted and double-quoted values are interpolated like the compose file, from the keys set
  above them (``URL=${HOST:-localhost}:8080``).

A value is not kept when it may be a credential: a key whose name says so (``API_TOKEN``,
``DB_PASSWORD``) or a value that holds one (``user:pw@host/…``, ``?token=…``), as
:mod:`backout.redact` recognises them. Such a variable is recorded as set, its value unread,
so nothing derived from it reaches a report. Nor is a value made from a variable the file
does not set (the shell's), which backout cannot know, nor one that grows more than 4,096
characters past what is written as it is interpolated (each line naming the one above twice).

:func:`link_compose_env`, run once after every file is read, applies each ``.env`` to the
images of the compose files in its directory (a reader sees one file at a time). A ``.env``
that compose would refuse (an unterminated quote, a bad key) is reported as BK901 when a
compose file uses it, and is not applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from backout.lines import LineIndex, position
from backout.models import Location
from backout.redact import SECRET_NAME, holds_credential
from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.images import EnvValue, ImageUse, InterpolationTooLong, interpolate
from backout.sources.paths import is_compose_env

READER = "compose .env"


@dataclass(frozen=True)
class EnvSetting:
    """One variable a ``.env`` file sets, at the line its key is on.

    ``value`` is ``None`` when the file sets it to something backout does not read, and
    ``unread`` says why.
    """

    name: str
    value: str | None
    line: int
    unread: str = ""


@dataclass(frozen=True)
class ComposeEnv(Fact):
    """A ``.env`` file (located at its first line): what it sets, in order.

    ``problem`` is why compose would refuse the file (``problem_at`` the place), or empty.
    """

    settings: tuple[EnvSetting, ...] = ()
    problem: str = ""
    problem_at: Location | None = None

    @property
    def directory(self) -> str:
        """The directory whose compose files the file is for (``""`` at the root)."""
        return self.location.path.rpartition("/")[0]


class ComposeEnvReader:
    """Reads ``.env`` files into :class:`ComposeEnv` facts."""

    name: ClassVar[str] = READER

    def wants(self, path: str) -> bool:
        """Files named ``.env``."""
        return is_compose_env(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """One :class:`ComposeEnv` fact."""
        where = Location(file.path, 1, 0)
        text = file.text()
        if text is None:
            return [ComposeEnv(where, problem="the file is not UTF-8 text", problem_at=where)]
        try:
            settings = tuple(read_env(text))
        except EnvSyntaxError as error:
            line, column = position(text, error.offset)
            problem = f"{error}: docker compose refuses to start with this file"
            at = Location(file.path, line, column)
            return [ComposeEnv(where, problem=problem, problem_at=at)]
        return [ComposeEnv(where, settings)]


class EnvSyntaxError(ValueError):
    """A ``.env`` that compose refuses to read; ``offset`` is where in the text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


# compose-go's ``isSpace``: blanks that are not a line break.
_BLANKS = "\t\v\f\r \x85\xa0"
_EXPORT = re.compile(r"export[\t\n\f\r ]")
_KEY_PUNCTUATION = frozenset("_.-[]")
# The escapes a double-quoted value reads (compose-go ``expandEscapes``).
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-7]{0,3})")
_ESCAPED = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED.update({'"': '"', "\\": "\\", "$": "$$"})  # `\$` is `$$`, which interpolation reads as `$`
# How much longer than written a value may grow as it is interpolated: `B=${A}${A}`,
# `C=${B}${B}`… doubles at every line, and thirty lines would be gigabytes.
_MAX_GROWTH = 4096


def read_env(text: str) -> Iterable[EnvSetting]:
    """The settings of a ``.env`` text in order; raises :class:`EnvSyntaxError`."""
    known: dict[str, str] = {}
    unknown: set[str] = set()
    lines = LineIndex(text)
    at = 0
    while True:
        at = _statement_start(text, at)
        if at == len(text):
            return
        key_at = at
        if _EXPORT.match(text, at):
            at = _skip_blanks(text, at + len("export"))
        key, at, inherited = _key(text, at)
        if inherited:
            continue  # a bare key takes the shell's value: unset as far as backout knows
        at = _skip_blanks(text, at)
        quote = text[at : at + 1]
        if quote in ("'", '"'):
            raw, at = _quoted(text, at)
            if quote == "'":
                value: str | None = raw
                why = ""
            else:
                value, why = _interpolated(_ESCAPE.sub(_unescape, raw), known, unknown)
        else:
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            raw = text[at:end].split(" #", 1)[0].rstrip()
            at = end
            value, why = _interpolated(raw, known, unknown)
        if not key:
            continue  # a last line without `=`: compose sets the empty name, no one reads it
        if value is not None and (SECRET_NAME.search(key) or holds_credential(value)):
            value, why = None, "it looks like a credential"
        yield EnvSetting(key, value, lines.position(key_at)[0], why)
        if value is None:
            known.pop(key, None)
            unknown.add(key)
        else:
            known[key] = value
            unknown.discard(key)


def _statement_start(text: str, at: int) -> int:
    """Where the next statement starts: past blank space and comment lines."""
    while at < len(text):
        if text[at].isspace():
            at += 1
        elif text[at] == "#":
            end = text.find("\n", at)
            at = len(text) if end < 0 else end
        else:
            break
    return at


def _skip_blanks(text: str, at: int) -> int:
    while at < len(text) and text[at] in _BLANKS:
        at += 1
    return at


def _key(text: str, at: int) -> tuple[str, int, bool]:
    """The key at ``at``, the offset past its ``=``/``:``, and whether it stands alone."""
    start = at
    while at < len(text):
        char = text[at]
        if char in "=:\n":
            key = text[start:at].rstrip()
            if " " in key:
                raise EnvSyntaxError("a key cannot contain a space", start)
            return key, at + 1, char == "\n"
        if not (char in _BLANKS or char.isalnum() or char in _KEY_PUNCTUATION):
            raise EnvSyntaxError(f"unexpected character {char!r} in a variable name", at)
        at += 1
    return "", start, False  # no `=` before the end: the rest is read as a value


def _quoted(text: str, at: int) -> tuple[str, int]:
    """A quoted value's text (escaped quotes unescaped) and the offset past its closing quote."""
    quote = text[at]
    chars: list[str] = []
    escaped = False
    for index in range(at + 1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
            chars.append(char if char == quote else "\\" + char)
        elif char == "\\":
            escaped = True
        elif char == quote:
            return "".join(chars), index + 1
        else:
            chars.append(char)
    raise EnvSyntaxError("unterminated quoted value", at)


def _unescape(match: re.Match[str]) -> str:
    escape = match.group()[1:]
    if escape[0] == "0":
        digits = escape[1:]
        # Go's UnquoteChar reads `\NNN` only with three octal digits; others stay as written.
        return chr(int(digits, 8)) if len(digits) == 3 and int(digits, 8) < 256 else match.group()
    return _ESCAPED.get(escape, match.group())


def _interpolated(raw: str, known: dict[str, str], unknown: set[str]) -> tuple[str | None, str]:
    """``raw`` with the variables set above it substituted; ``None`` and why when it uses one
    whose value is not known (the shell's, or one not read), or grows too long to keep."""
    if "$" not in raw:
        return raw, ""
    try:
        substituted = interpolate(raw, known, withheld=unknown, limit=len(raw) + _MAX_GROWTH)
    except InterpolationTooLong as error:
        return None, f"it grows to {error} as compose substitutes it"
    if substituted.unresolved:
        unread = [u for u in substituted.unresolved if u in substituted.withheld_expressions]
        unset = [u for u in substituted.unresolved if u not in unread]
        parts = [f"{', '.join(unset)}, which the file does not set"] if unset else []
        if unread:
            parts.append(f"{', '.join(unread)}, whose value backout does not read")
        return None, "it is made from " + ", and from ".join(parts)
    return substituted.value, ""


def link_compose_env(facts: FactSet) -> None:
    """Apply each ``.env`` to the compose images of its directory; report the ones compose
    refuses (BK901) where a compose file uses them."""
    env_files = {env.directory: env for env in facts.of(ComposeEnv)}
    if not env_files:
        return
    used: set[str] = set()

    def apply(fact: Fact) -> Fact:
        if not isinstance(fact, ImageUse) or fact.source != "compose":
            return fact
        env = env_files.get(fact.location.path.rpartition("/")[0])
        if env is None:
            return fact
        used.add(env.directory)
        return fact if env.problem else with_env_file(fact, env)

    facts.replace_each(apply)
    for directory in sorted(used):
        env = env_files[directory]
        if env.problem and env.problem_at is not None:
            facts.add(Unreadable(env.problem_at, READER, env.problem))


def with_env_file(use: ImageUse, env: ComposeEnv) -> ImageUse:
    """``use`` with the variables ``env`` sets substituted, as compose does when the shell
    does not set them; ``use`` itself when the reference uses none of them."""
    settings = {setting.name: setting for setting in env.settings}
    known = {name: s.value for name, s in settings.items() if s.value is not None}
    written = use.text_in_file
    substituted = interpolate(
        written, known, withheld={name for name, s in settings.items() if s.value is None}
    )
    names = tuple(dict.fromkeys((*substituted.known_used, *substituted.withheld_used)))
    if not names:
        return use
    path = env.location.path
    env_values = tuple(
        EnvValue(name, settings[name].value, f"{path}:{settings[name].line}", settings[name].unread)
        for name in names
    )
    unresolved = substituted.unresolved
    return replace(
        use,
        reference=written if unresolved else substituted.value,
        note=", ".join(f"default of {used}" for used in substituted.defaults_used),
        written=written,
        unresolved=", ".join(unresolved),
        required=substituted.required,
        # the variables set to a value not read are named apart (``env_values``)
        unresolved_rest=", ".join(
            u
            for u in unresolved
            if u not in substituted.required_expressions
            and u not in substituted.withheld_expressions
        ),
        pin_edit=None,
        pin_blocked=f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} set in {path}, "
        "which pin does not rewrite",
        env_values=env_values,
    )
