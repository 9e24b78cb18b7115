"""The rule interface: a small class with a code, a name, a severity and a ``check()``.

A rule's docstring is its documentation, in ruff's sections (``## What it does``,
``## Why is this bad?``, ``## Example``, ``## Use instead``, optionally ``## References``). It
feeds ``backout explain``, the SARIF ``fullDescription`` and ``docs/rules/``. Rules never read
files: they see the facts that readers gathered, for the head release and (with ``--base``)
for the base release.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from backout.models import (
    Family,
    Finding,
    Location,
    RuleMeta,
    Severity,
    Suppression,
    make_finding,
)
from backout.sources.base import FactSet

if TYPE_CHECKING:
    from backout.config import Config


_META_CACHE: dict[type[Rule], RuleMeta] = {}

REQUIRED_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


@dataclass
class CheckContext:
    """What a rule sees: the head release's facts, the base's (when known), and the config."""

    head: FactSet
    config: Config
    base: FactSet | None = None
    suppressions: Mapping[str, Sequence[Suppression]] = field(default_factory=dict)
    """The head release's suppression comments, by path. The engine applies them to the
    findings; a rule reads them only where another rule's finding being silenced changes
    its own (BK207 is an error only while the hazards of its migration stand)."""

    def suppressed(self, code: str, location: Location) -> bool:
        """Whether a suppression comment silences ``code`` at ``location``."""
        return any(s.covers(code, location.line) for s in self.suppressions.get(location.path, ()))


class Rule:
    """Base class of every rule. Subclasses set the class attributes and implement ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    family: ClassVar[Family]

    @classmethod
    def meta(cls) -> RuleMeta:
        """The rule's metadata, docs included (built once per rule class)."""
        cached = _META_CACHE.get(cls)
        if cached is None:
            docs = inspect.cleandoc(cls.__doc__ or "")
            summary = docs.splitlines()[0] if docs else cls.name
            cached = RuleMeta(cls.code, cls.name, cls.severity, cls.family, summary, docs)
            _META_CACHE[cls] = cached
        return cached

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """Yield this rule's findings for the release in ``context``."""
        raise NotImplementedError

    def finding(
        self,
        location: Location,
        message: str,
        fix: str,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule."""
        # The cache looked up directly: a rule of a large release reports thousands of times.
        meta = _META_CACHE.get(type(self)) or self.meta()
        return make_finding(meta, location, message, fix, severity)


def section(docs: str, heading: str) -> str:
    """The text under ``## heading`` in a rule's docs (empty when absent)."""
    lines = docs.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("## "):
            inside = line[3:].strip().lower() == heading.lower()
            continue
        if inside:
            out.append(line)
    return "\n".join(out).strip()


class LazyRegex:
    """A regular expression compiled on its first search, for a rule's long patterns.

    Compiling one takes a few hundred microseconds, and every rule module is imported on every
    run, while most trees give most rules nothing to search: a folder of SQL migrations has no
    runbook and no pipeline command.
    """

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def search(self, text: str) -> re.Match[str] | None:
        """As :meth:`re.Pattern.search`."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._pattern, self._flags)
        return compiled.search(text)
