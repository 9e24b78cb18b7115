"""CHECK conditions as the schema model compares them: what a condition admits, and whether one
admits every row another admits.

The SQL readers turn a ``CHECK (…)`` condition into a :data:`Condition`, the tuple of its
conjuncts (``a > 0 AND b IN ('x', 'y')`` is two :class:`Atom`): a comparison of one column
with a literal (``a > 0``, ``0 < a``, ``a BETWEEN 1 AND 5`` as two), a column in a list of
literals (``b IN ('x', 'y')``, ``b = 'x'``, PostgreSQL's ``b = ANY (ARRAY['x', 'y'])`` as
``pg_dump`` writes it), or anything else, kept as its text with the columns it reads taken
out (:data:`OPAQUE`), so that a condition stays comparable when a column it reads is
renamed. ``()`` is a condition not known.

:func:`implies` decides, where it soundly can, that every row the old condition admits the new
one admits too: each conjunct of the new one is one of the old one's, or, for a comparison or
a list over one column, admits every value the old one's conjuncts over that column leave. A
CHECK passes a row its condition makes NULL, so a comparison or list (without NULL in it)
admits a NULL column: both sides agree there. Numbers are compared as numbers; strings only
for being written alike (a case- or accent-insensitive collation may take two different
strings for equal, so a string written differently is never taken for another). Anything
else is not decided: the new condition is taken to restrict more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

COMPARE = "compare"
"""An :class:`Atom` ``column <op> literal``: ``op`` one of ``<``, ``<=``, ``>``, ``>=``,
``<>``."""
IN_LIST = "in"
"""An :class:`Atom` ``column IN (literals)`` (``column = literal`` is a list of one)."""
OPAQUE = "opaque"
"""An :class:`Atom` backout does not read: ``op`` is its text with the columns it reads written
``$0``, ``$1``… (``columns`` in that order)."""

NUMBER = "n"
STRING = "s"


class Atom(NamedTuple):
    """One conjunct of a CHECK condition."""

    form: str
    columns: tuple[str, ...]
    op: str = ""
    values: tuple[tuple[str, str], ...] = ()
    """The literals, each as (:data:`NUMBER` or :data:`STRING`, its text)."""


Condition = tuple[Atom, ...]
"""A CHECK condition as its conjuncts; ``()`` when not known."""

# ``literal <op> column`` is ``column <flipped op> literal``.
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "<>": "<>", "!=": "<>"}


def compared(column: str, operator: str, value: tuple[str, str]) -> Atom:
    """The conjunct ``column <operator> value`` (``=`` is a list of one; ``!=`` is ``<>``)."""
    if operator == "=":
        return Atom(IN_LIST, (column,), values=(value,))
    return Atom(COMPARE, (column,), FLIPPED[FLIPPED[operator]], (value,))


def between(column: str, low: tuple[str, str], high: tuple[str, str]) -> list[Atom]:
    """The conjuncts of ``column BETWEEN low AND high``."""
    return [Atom(COMPARE, (column,), ">=", (low,)), Atom(COMPARE, (column,), "<=", (high,))]


def renamed(condition: Condition, names: Mapping[str, str]) -> Condition:
    """``condition`` with its columns renamed by ``names`` (old → new)."""
    if not names or not condition:
        return condition
    return tuple(
        atom._replace(columns=tuple([names.get(c, c) for c in atom.columns])) for atom in condition
    )


def folded(condition: Condition, fold: Callable[[str], str] | None) -> Condition:
    """``condition`` with its column names folded (``fold`` ``None``: as written)."""
    if fold is None or not condition:
        return condition
    return tuple(
        atom._replace(columns=tuple([fold(c) for c in atom.columns])) for atom in condition
    )


def conjunction(conditions: Iterable[Condition]) -> Condition:
    """The conjuncts of all ``conditions`` together."""
    return tuple(dict.fromkeys(atom for condition in conditions for atom in condition))


def implies(old: Condition, new: Condition) -> bool:
    """Whether every row ``old`` admits, ``new`` admits too (``False`` when not decided), with
    numbers compared as decimals and as doubles both."""
    return _implies(old, new, False) and _implies(old, new, True)


def _implies(old: Condition, new: Condition, as_double: bool) -> bool:
    if not old or not new:
        return False
    known = set(old)
    for atom in new:
        if atom in known:
            continue
        if atom.form == OPAQUE:
            return False
        over = [a for a in old if a.form != OPAQUE and a.columns == atom.columns]
        if not _column_implies(over, atom, as_double):
            return False
    return True


def _number(value: tuple[str, str], as_double: bool = False) -> Decimal | None:
    """A number literal's value (rounded to the nearest double when ``as_double``)."""
    if value[0] != NUMBER:
        return None
    try:
        number = Decimal(value[1])
    except InvalidOperation:
        return None
    if number.is_finite() and as_double:
        number = Decimal(float(number))
    return number if number.is_finite() else None


def _equal(a: tuple[str, str], b: tuple[str, str], as_double: bool) -> bool:
    """Whether two literals are surely the same value (``False`` when not known)."""
    if a[0] == NUMBER and b[0] == NUMBER:
        x, y = _number(a, as_double), _number(b, as_double)
        return x is not None and x == y
    return a == b


def _admits(atom: Atom, value: tuple[str, str], as_double: bool) -> bool:
    """Whether ``atom`` surely admits the column holding ``value``."""
    if atom.form == IN_LIST:
        return any(_equal(value, v, as_double) for v in atom.values)
    bound, number = _number(atom.values[0], as_double), _number(value, as_double)
    if bound is None or number is None:
        return False
    return {
        "<": number < bound,
        "<=": number <= bound,
        ">": number > bound,
        ">=": number >= bound,
        "<>": number != bound,
    }.get(atom.op, False)


def _column_implies(old: list[Atom], new: Atom, as_double: bool) -> bool:
    """Whether the conjuncts ``old`` over one column leave only values ``new`` admits."""
    lists = [a for a in old if a.form == IN_LIST]
    if lists:
        # The values the first list leaves; the other conjuncts only take some away, so
        # checking all of them is sound.
        return all(_admits(new, value, as_double) for value in lists[0].values)
    # The interval the comparisons leave: (number, inclusive) at each end.
    low: tuple[Decimal, bool] | None = None
    high: tuple[Decimal, bool] | None = None
    for atom in old:
        bound = _number(atom.values[0], as_double) if atom.values else None
        if bound is None or atom.op not in ("<", "<=", ">", ">="):
            continue
        inclusive = atom.op in ("<=", ">=")
        if atom.op in (">", ">="):
            if low is None or bound > low[0] or (bound == low[0] and not inclusive):
                low = (bound, inclusive)
        elif high is None or bound < high[0] or (bound == high[0] and not inclusive):
            high = (bound, inclusive)
    bound = _number(new.values[0], as_double) if new.form == COMPARE and new.values else None
    if bound is None:
        return False
    if new.op in (">", ">="):
        if low is None:
            return False
        return low[0] > bound or (low[0] == bound and (new.op == ">=" or not low[1]))
    if new.op in ("<", "<="):
        if high is None:
            return False
        return high[0] < bound or (high[0] == bound and (new.op == "<=" or not high[1]))
    if new.op == "<>":
        below = high is not None and (high[0] < bound or (high[0] == bound and not high[1]))
        above = low is not None and (low[0] > bound or (low[0] == bound and not low[1]))
        return below or above
    return False
