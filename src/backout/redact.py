"""Credentials in what backout prints, replaced by ``***``.

Credentials are never printed or logged, yet the files backout reads may hold one and findings
quote what they read: an image reference written as a URL with a password
(``https://admin:pw@registry:5000/shop/api:latest``) or without its scheme
(``admin:pw@registry:5000/shop/api``), a URL with a token in its query (``?token=…``,
``&password=…``). Every report is masked here before it is written: the check formats in
:func:`backout.report.render`, the ``full`` format's source lines, and ``plan``.

The user name is kept, as git shows ``https://user@host``: it says whose credential to rotate
and is no secret by itself. The password or token becomes ``***``, as curl masks it. A secret
found once is also masked wherever else the same report quotes it: rules quote pieces of a
reference (the image grammar reads ``bob:pw@registry/app`` as repository ``bob`` with tag
``pw``, and the fix it suggests is ``bob:pw@sha256:…``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "***"

# ``scheme://user:secret@host``: the secret may hold ``@`` (the last one before the host ends
# it), never a quote, a comma or a bracket, so quoted data (``'12:30:00','u@example.io/p'``)
# is no password and an attempt stops at the first such character (long lines stay linear).
# Matched from ``://`` on: the scheme changes nothing, and a pattern that starts with a literal
# is searched for fast.
_URL_PASSWORD = re.compile(r"://[^\s/?#@:`'\"]*:(?P<secret>[^\s/?#`'\",;()<>]+)@")
# ``user:secret@host/…`` with no scheme, as a word of its own or a shell default
# (``${IMAGE:-user:secret@host/…}``). The host must be followed by a path: ``app:1.2@sha256:…``
# is a tag and a digest, not a user and a password.
_BARE_PASSWORD = re.compile(
    r"(?<![^\s`'\"(\[{<=,;|-])[^\s/?#@:`'\",;()<>]+:(?P<secret>[^\s/?#@:`'\",;()<>]+)@"
    r"(?=[A-Za-z0-9.-]+(?::[0-9]+)?/)"
)
# ``?token=…``, ``&password=…``, ``&X-Amz-Signature=…``: query parameters that carry a secret.
_QUERY_PARAMETER = re.compile(r"[?&](?P<name>[\w.~-]+)=(?P<secret>[^&#\s`'\"<>,;()]+)")
# The names of query parameters that carry a secret.
_SECRET_NAME = re.compile(
    r"token|secret|passw|pwd|credential|signature|auth|key|^sig$|^pass$", re.I
)
# What every ``_BARE_PASSWORD`` match holds, found fast: a fix such as ``app@sha256:…`` has
# ``@`` too, and trying the whole pattern at every position of every message is slow.
_HOST_AND_PATH = re.compile(r"@[A-Za-z0-9.-]+(?::[0-9]+)?/")

# A secret this short is masked where a pattern finds it, but not sought elsewhere: masking
# every ``pw`` or ``1`` in a report would garble it for a credential that protects nothing.
_MIN_ECHOED_SECRET = 4


def _patterns_for(text: str) -> Iterator[re.Pattern[str]]:
    """The patterns that may find a credential in ``text``, by cheap tests first: a report
    has thousands of texts and nearly none holds a credential."""
    if "@" in text:
        if "://" in text:
            yield _URL_PASSWORD
        if _HOST_AND_PATH.search(text):
            yield _BARE_PASSWORD


def _secret_spans(text: str) -> list[tuple[int, int]]:
    """Where the credentials in ``text`` are: sorted, non-overlapping ``(start, end)``."""
    if "@" not in text and "=" not in text:
        return []
    found = [
        match.span("secret")
        for pattern in _patterns_for(text)
        for match in pattern.finditer(text)
        if match.group("secret") != MASK
    ]
    if "=" in text and ("?" in text or "&" in text):
        for match in _QUERY_PARAMETER.finditer(text):
            value = match.group("secret")
            if value != MASK and _SECRET_NAME.search(match.group("name")):
                # A ":" that ends it is the message's ("?token=…: cannot be resolved").
                start, end = match.span("secret")
                found.append((start, end - 1 if value.endswith(":") else end))
    spans = sorted(found)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def holds_credential(text: str) -> bool:
    """Whether ``text`` holds what a report would mask: a URL's or a reference's password, a
    secret query parameter. Readers use it to keep such a value out of their facts."""
    return bool(_secret_spans(text))


SECRET_NAME = re.compile(r"token|secret|passw|pwd|credential|signature|auth|key", re.I)
"""A variable or parameter name that says its value is a credential (``API_TOKEN``,
``DB_PASSWORD``, ``AWS_SECRET_ACCESS_KEY``)."""


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span replaced by :data:`MASK`."""
    parts = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)


class Redactor:
    """Masks the credentials of one report: those its patterns find in a text, and every other
    occurrence of a secret learned from the texts it was given."""

    def __init__(self, texts: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        """Learn the credentials in ``texts``; ``secrets`` are credentials known as such (a
        Flyway placeholder's value read from the environment), masked wherever they appear."""
        # Findings of one rule repeat their fix word for word: each text is searched once.
        found = {text[start:end] for text in set(texts) for start, end in _secret_spans(text)}
        found.update(secret for secret in secrets if secret)
        # Whether any of the texts learned from holds a credential.
        self.found = bool(found)
        secrets = {secret for secret in found if len(secret) >= _MIN_ECHOED_SECRET}
        # Longest first, so that a secret holding another is masked whole.
        alternatives = "|".join(map(re.escape, sorted(secrets, key=len, reverse=True)))
        self._echoes = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])") if secrets else None
        )
        # Findings of one rule repeat their fix word for word: each text is masked once.
        self._done: dict[str, str] = {}

    def redact(self, text: str) -> str:
        """``text`` with its credentials masked."""
        masked = self._done.get(text)
        if masked is None:
            spans = _secret_spans(text)
            masked = _masked(text, spans) if spans else text
            if self._echoes is not None:
                masked = self._echoes.sub(MASK, masked)
            self._done[text] = masked
        return masked

    def redact_data(self, value: Any) -> Any:
        """A copy of the JSON-like ``value`` (dicts, lists, strings) with every string masked."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_data(item) for item in value]
        return value


def strings_in(value: Any) -> Iterator[str]:
    """Every string in the JSON-like ``value``, for a :class:`Redactor` to learn from."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def redact_line(line: str, column: int) -> tuple[str, int]:
    """A source line with its credentials masked, and where the 1-based ``column`` (0:
    unknown) of ``line`` is in it, so that a caret still points at the same character (at the
    mask's start when the column is inside a secret)."""
    spans = _secret_spans(line)
    if not spans:
        return line, column
    return _masked(line, spans), _moved_column(column, spans)


def _moved_column(column: int, spans: list[tuple[int, int]]) -> int:
    """The 1-based ``column`` (0: unknown) once ``spans`` are masked."""
    if not column:
        return 0
    index = column - 1
    shift = 0
    for start, end in spans:
        if end <= index:
            shift += end - start - len(MASK)
        elif start <= index:
            return start - shift + 1
        else:
            break
    return index - shift + 1
