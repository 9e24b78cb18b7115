"""The shapes that flow through backout: locations, severities, findings, rule metadata.

Every part of the tool (static rules, the drill, the registry checks, the host checks) produces
:class:`Finding` objects of one shape, so that every report format works for every command.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from dataclasses import dataclass, field
from typing import Any, TypeVar

_ClassT = TypeVar("_ClassT", bound=type)


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that ``>=`` compares against ``--fail-on``."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        """The lower-case name users write in config and flags."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse ``error``/``warning``/``info`` (any case); raise ``ValueError`` otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(text) from None


class Family(enum.Enum):
    """The four tells of a failed rollback, plus hosts and backout's own input problems."""

    IMAGES = "images"
    SCHEMA = "schema"
    ARTIFACTS = "artifacts"
    PROCEDURES = "procedures"
    HOSTS = "hosts"
    INPUTS = "inputs"

    @property
    def title(self) -> str:
        """A heading for listings."""
        return {
            Family.IMAGES: "What `rollout undo` restores",
            Family.SCHEMA: "Can the old code run on the new schema",
            Family.ARTIFACTS: "Does the rollback target still exist",
            Family.PROCEDURES: "Is the rollback documented and practised",
            Family.HOSTS: "Can the previous package be reinstalled",
            Family.INPUTS: "What backout could not read",
        }[self]


def direct_init(cls: _ClassT) -> _ClassT:
    """Give the frozen dataclass ``cls`` an ``__init__`` that stores the fields straight into
    the instance's ``__dict__``.

    Why: the ``__init__`` that ``dataclass(frozen=True)`` writes sets each field through a
    call of ``object.__setattr__``, and reading a large tree builds facts by the hundred
    thousand: a Migration's 25 fields took 3.4 µs, 1 µs this way. The new ``__init__`` takes
    the same parameters in the same order with the same defaults and leaves the same instance
    (``frozen`` forbids assignment after construction, not during it). It is written for plain
    fields only: a class with a ``__post_init__``, a ``default_factory``, an ``InitVar``, a
    keyword-only or ``init=False`` field is refused rather than half supported.
    """
    generated = vars(cls)["__init__"]
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    written = list(inspect.signature(generated).parameters.values())[1:]
    plain = [(p.name, p.default, p.kind) for p in written] == [
        (
            f.name,
            inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        for f in fields
    ]
    if not plain or hasattr(cls, "__post_init__") or {"self", "attributes"} & set(names):
        raise TypeError(f"direct_init cannot build {cls.__name__}: it is not plain fields")
    defaults = {f"_default_{f.name}": f.default for f in fields}
    parameters = [
        f.name if f.default is dataclasses.MISSING else f"{f.name}=_default_{f.name}"
        for f in fields
    ]
    stores = "".join(f"    attributes[{name!r}] = {name}\n" for name in names)
    source = (
        f"def __init__(self, {', '.join(parameters)}):\n    attributes = self.__dict__\n{stores}"
    )
    namespace: dict[str, Any] = {}
    exec(source, defaults, namespace)  # as dataclasses writes its own __init__
    init = namespace["__init__"]
    init.__annotations__ = generated.__annotations__
    init.__qualname__ = generated.__qualname__
    init.__module__ = cls.__module__
    init.__doc__ = generated.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls


@direct_init
@dataclass(frozen=True, order=True)
class Location:
    """A place in a file: ``path`` is POSIX and relative to the checked root; lines are 1-based.

    ``column`` is 1-based too, or 0 when unknown. ``end_line`` is 0 when it equals ``line``.
    """

    path: str
    line: int = 1
    column: int = 0
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        if self.column:
            return f"{self.path}:{self.line}:{self.column}"
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class RuleMeta:
    """What a rule is, independent of any one finding: code, name, default severity, docs."""

    code: str
    name: str
    severity: Severity
    family: Family
    summary: str
    docs: str


@dataclass(frozen=True)
class Suppression:
    """An in-source ``backout: ignore[...]`` that silenced a finding, with its justification."""

    location: Location
    codes: tuple[str, ...]
    reason: str
    whole_file: bool = False
    last_line: int = 0
    """The last line an ``ignore`` covers; 0 for the line after the comment's."""

    def covers(self, code: str, line: int) -> bool:
        """Whether this comment silences ``code`` on ``line`` of its file."""
        if code not in self.codes:
            return False
        if self.whole_file:
            return True
        first = self.location.line
        return first <= line <= max(self.last_line, first + 1)


@dataclass(frozen=True)
class Finding:
    """One problem found: what breaks on rollback at this location, and how to fix it."""

    code: str
    name: str
    severity: Severity
    location: Location
    message: str
    fix: str
    suppressed_by: Suppression | None = field(default=None, compare=False)

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Stable report order: path, line, column, code, message."""
        loc = self.location
        return (loc.path, loc.line, loc.column, self.code, self.message)


def with_location(finding: Finding, location: Location) -> Finding:
    """``finding`` at ``location``: what ``dataclasses.replace`` gives, without its work per
    field (a report that moves every path moves tens of thousands of findings)."""
    moved = object.__new__(Finding)
    vars(moved).update(vars(finding), location=location)
    return moved


def make_finding(
    meta: RuleMeta,
    location: Location,
    message: str,
    fix: str,
    severity: Severity | None = None,
) -> Finding:
    """Build a finding of ``meta``'s rule, at its default severity unless one is given."""
    # The same as ``Finding(...)``, in under half the time: a frozen dataclass's __init__ sets
    # each field through ``object.__setattr__``, and a check of a large tree builds tens of
    # thousands of findings. Finding has no ``__post_init__`` to run.
    # One line each: a message or fix quoting what a file says (a heading, a statement) must
    # not break the one-line formats (concise, GitHub annotations).
    if "\n" in message or "\r" in message:
        message = " ".join(message.split())
    if "\n" in fix or "\r" in fix:
        fix = " ".join(fix.split())
    finding = object.__new__(Finding)
    vars(finding).update(
        code=meta.code,
        name=meta.name,
        severity=severity if severity is not None else meta.severity,
        location=location,
        message=message,
        fix=fix,
        suppressed_by=None,
    )
    return finding
