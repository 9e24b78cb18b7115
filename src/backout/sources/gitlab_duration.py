"""GitLab ``artifacts:expire_in`` durations, read the way GitLab reads them.

GitLab hands ``expire_in`` to ``ChronicDuration.parse`` (the ``chronic_duration`` gem, with
``raise_exceptions`` on) unless the value is ``never``; a value that fails to parse, or parses
to zero, makes the pipeline invalid. The gem's steps, reproduced here:

1. lower-case, and turn number words into digits (``three weeks`` → ``3 weeks``);
2. a ``h:m:s`` form is read right to left as seconds, minutes, hours, days, months, years;
3. numbers are split from words (``2h20min`` → ``2 h 20 min``);
4. every word must be a unit (``s``, ``sec``, ``secs``, ``second(s)``, ``m``, ``min(s)``,
   ``minute(s)``, ``h``, ``hr(s)``, ``hour(s)``, ``d``, ``dy``, ``day(s)``, ``w``, ``wk(s)``,
   ``week(s)``, ``mo``, ``mos``, ``month(s)``, ``y``, ``yr(s)``, ``year(s)``) or a joining
   word (``and``, ``with``, ``plus``); a leading unit counts as one (``day`` is one day);
5. each number is multiplied by the unit after it, seconds when none follows (``'42'`` is 42
   seconds); a month is 30 days and a year 365.25 days.
"""

from __future__ import annotations

import math
import re

NEVER = "never"

_FLOAT = re.compile(r"[0-9]*\.?[0-9]+")
# The gem tests for ``FLOAT(:FLOAT)+``. Searched for, that holds exactly when some ':' has a
# digit before it and a digit (or '.' and a digit) after it; written so, the search is linear
# (the gem's own pattern backtracks cubically on a long run of digits without a colon).
_CHRONO = re.compile(r"[0-9]:\.?[0-9]")

_DAY = 86400
_UNIT_SECONDS = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": _DAY,
    "weeks": 7 * _DAY,
    "months": 30 * _DAY,
    "years": 31557600,
}
# The chrono form (``1:02:03``) has no weeks column.
_CHRONO_UNITS = ("seconds", "minutes", "hours", "days", "months", "years")

_UNIT_WORDS = {
    **dict.fromkeys(("seconds", "second", "secs", "sec", "s"), "seconds"),
    **dict.fromkeys(("minutes", "minute", "mins", "min", "m"), "minutes"),
    **dict.fromkeys(("hours", "hour", "hrs", "hr", "h"), "hours"),
    **dict.fromkeys(("days", "day", "dy", "d"), "days"),
    **dict.fromkeys(("weeks", "week", "wks", "wk", "w"), "weeks"),
    **dict.fromkeys(("months", "month", "mos", "mo"), "months"),
    **dict.fromkeys(("years", "year", "yrs", "yr", "y"), "years"),
}
_JOIN_WORDS = frozenset({"and", "with", "plus"})

_SMALL_NUMBERS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "ninteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}


class DurationError(ValueError):
    """An ``expire_in`` value GitLab rejects; the message says why."""


def _numerize(text: str) -> str:
    """Number words to digits: ``twenty one days`` → ``21 days``, ``two hundred`` → ``200``."""
    words = re.sub(r"([a-z])-([a-z])", r"\1 \2", text).split(" ")
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word not in _SMALL_NUMBERS and word not in _TENS:
            out.append(word)
            index += 1
            continue
        value = 0
        current = 0
        while index < len(words):
            word = words[index]
            if word in _SMALL_NUMBERS:
                current += _SMALL_NUMBERS[word]
            elif word in _TENS:
                current += _TENS[word]
            elif word in _SCALES:
                current = max(current, 1) * _SCALES[word]
                if _SCALES[word] >= 1000:
                    value += current
                    current = 0
            elif word == "and" and index + 1 < len(words) and words[index + 1] in _SMALL_NUMBERS:
                pass
            else:
                break
            index += 1
        out.append(str(value + current))
    return " ".join(out)


def _chrono(text: str) -> str:
    """``1:30`` → ``1 minutes 30 seconds``; other text unchanged."""
    squeezed = text.replace(" ", "")
    if not _CHRONO.search(squeezed):
        return text
    parts = list(reversed(squeezed.split(":")))
    if len(parts) > len(_CHRONO_UNITS):
        raise DurationError(f"'{text}' has more fields than years:months:days:hours:mins:secs")
    units = _CHRONO_UNITS[: len(parts)]
    pairs = reversed(list(zip(parts, units, strict=True)))
    return " ".join(f"{part} {unit}" for part, unit in pairs)


def parse_expire_in(value: str | int) -> int | None:
    """Seconds that GitLab keeps an artifact for ``expire_in: value``; ``None`` for ``never``.

    Raises :class:`DurationError` for a value GitLab rejects (an unknown word, or zero).
    Fractions are rounded down to whole seconds.
    """
    text = str(value)
    if text.lower() == NEVER:
        return None
    cleaned = _chrono(_numerize(text.lower()))
    cleaned = _FLOAT.sub(lambda m: f" {m.group(0)} ", cleaned)
    words: list[str] = []
    for word in cleaned.split():
        if _FLOAT.search(word):
            words.append(word)
            continue
        bare = word.removeprefix(",").removesuffix(",")
        if bare in _UNIT_WORDS:
            words.append(_UNIT_WORDS[bare])
        elif bare not in _JOIN_WORDS:
            raise DurationError(f"'{value}': '{word}' is not a unit of time GitLab knows")
    if words and words[0] in _UNIT_SECONDS:
        words.insert(0, "1")
    total = 0.0
    for index, word in enumerate(words):
        match = _FLOAT.search(word)
        if match is None:
            continue
        unit = words[index + 1] if index + 1 < len(words) else "seconds"
        total += float(match.group(0)) * _UNIT_SECONDS.get(unit, 0)
    if not math.isfinite(total):
        shown = text if len(text) <= 40 else f"{text[:20]}…{text[-12:]}"
        raise DurationError(f"'{shown}' is out of range (more seconds than a number holds)")
    if total == 0:
        raise DurationError(f"'{value}' is not a duration (it comes to zero seconds)")
    return int(total)
