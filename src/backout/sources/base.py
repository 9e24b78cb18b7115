"""What every reader shares: the file as read once, typed facts, and the set they are gathered in.

Readers are the only code that parses files. A reader never decides severity: it records what
is there (an image reference at a position, a migration that drops a column) as a *fact*, and
when it cannot read a file it records an :class:`Unreadable` fact that rule BK901 reports.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from backout.lines import line_number, split_lines
from backout.models import Location


@dataclass(frozen=True)
class Fact:
    """Something a reader saw in a file, with where it saw it."""

    location: Location


@dataclass(frozen=True)
class Unreadable(Fact):
    """A file (or part of one) that looked relevant but could not be parsed."""

    reader: str
    reason: str


@dataclass(frozen=True)
class Unopened(Unreadable):
    """A file that ``reader`` wanted but the operating system would not let backout open or
    read (permission denied, an I/O error); ``reason`` says why in words."""


@dataclass(frozen=True)
class Unlisted(Unreadable):
    """A directory the operating system would not let backout list, so no file below it was
    seen; ``reader`` is ``"directory"``, ``reason`` says why in words."""


@dataclass(frozen=True)
class Unfound(Unreadable):
    """A file that the file at ``location`` names (a Liquibase ``include`` or ``sqlFile``) and
    that the tree does not hold, so what it holds was not checked; ``reason`` names the file
    and where it was looked for; ``remedy`` says how to mend it."""

    remedy: str = ""


@dataclass(frozen=True)
class Computed(Unreadable):
    """Valid code whose table, column or statement is a value computed at run time (an
    Alembic ``op`` call naming a model's ``__tablename__``, ``op.execute`` of a string built
    by a function), so what it changes cannot be known without running it."""


@dataclass(frozen=True)
class Misdecoded(Unreadable):
    """A text file that is not valid UTF-8, read anyway with each invalid byte replaced
    (U+FFFD): what it says was checked, but a name or value written with those bytes may
    be misread. ``reason`` says where the first invalid byte is."""


@dataclass(frozen=True)
class SqlUnreadable(Unreadable):
    """SQL that one dialect's grammar rejected; BK901 reports it for the configured dialect.

    Here rather than in ``sources/sql.py``, beside :class:`Unreadable`: BK901 needs the class,
    and importing the SQL reader would load pglast into every check, SQL files or not.
    """

    dialect: str = "postgres"


FactT = TypeVar("FactT", bound=Fact)


class FactSet:
    """All facts of one release (the head, or the base), grouped by their type."""

    def __init__(self, facts: Iterable[Fact] = ()) -> None:
        self._by_type: dict[type[Fact], list[Fact]] = {}
        self.paths: set[str] = set()
        self.root_name = ""
        """The name of the directory the paths are relative to (the checked directory): a
        Django app checked from its own directory has its migrations at ``migrations/``."""
        for fact in facts:
            self.add(fact)

    def add(self, fact: Fact) -> None:
        """Record one fact."""
        self._by_type.setdefault(type(fact), []).append(fact)

    def extend(self, facts: Iterable[Fact]) -> None:
        """Record several facts."""
        for fact in facts:
            self.add(fact)

    def of(self, kind: type[FactT]) -> list[FactT]:
        """Every fact of ``kind`` (subclasses included), in the order they were read."""
        found: list[FactT] = []
        for fact_type, facts in self._by_type.items():
            if issubclass(fact_type, kind):
                found.extend(facts)  # type: ignore[arg-type]
        return found

    def replace_each(self, change: Callable[[Fact], Fact]) -> None:
        """Put ``change(fact)`` in the place of every fact (a post-read step that links facts
        of several files; ``change`` returns the fact itself to keep it)."""
        by_type: dict[type[Fact], list[Fact]] = {}
        for facts in self._by_type.values():
            for fact in facts:
                changed = change(fact)
                by_type.setdefault(type(changed), []).append(changed)
        self._by_type = by_type

    def retain(self, keep: Callable[[Fact], bool]) -> None:
        """Keep only the facts for which ``keep`` is true (a post-read step that replaces the
        facts of several files, or drops those only it needed)."""
        self._by_type = {
            fact_type: kept
            for fact_type, facts in self._by_type.items()
            if (kept := [fact for fact in facts if keep(fact)])
        }

    def __iter__(self) -> Iterator[Fact]:
        for facts in self._by_type.values():
            yield from facts

    def __len__(self) -> int:
        return sum(len(facts) for facts in self._by_type.values())


class SourceFile:
    """One file, read from disk or from git exactly once; parsed forms are cached on it.

    ``path`` is POSIX and relative to the checked root: it is what findings print.
    """

    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        self._text: str | None = None
        self._decode_error: str | None = None
        self._decode_line = 1
        self.cache: dict[str, Any] = {}

    @property
    def name(self) -> str:
        """The file's base name."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_binary(self) -> bool:
        """True for files with NUL bytes in their first 8 KiB (the test git itself uses)."""
        return self.data.find(b"\x00", 0, 8192) != -1  # no copy of the first 8 KiB

    def text(self) -> str | None:
        """The file decoded as UTF-8 (BOM dropped), or ``None`` when it is not valid text."""
        if self._text is None and self._decode_error is None:
            if self.is_binary:
                self._decode_error = "binary file (contains NUL bytes)"
            else:
                data = self.data
                if data.startswith(codecs.BOM_UTF8):
                    data = data[len(codecs.BOM_UTF8) :]
                try:
                    self._text = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    # Bytes before the bad one, each one character (Latin-1), to count lines.
                    line = line_number(data[: exc.start].decode("latin-1"), exc.start)
                    self._decode_error = f"not valid UTF-8 at line {line} (byte {exc.start})"
                    self._decode_line = line
        return self._text

    def lenient_text(self) -> tuple[str, Misdecoded | None] | None:
        """The text, with the bytes that are not UTF-8 replaced and a :class:`Misdecoded`
        saying so when there are any; ``None`` for a binary file."""
        text = self.text()
        if text is not None:
            return text, None
        if self.is_binary:
            return None
        data = self.data.removeprefix(codecs.BOM_UTF8)
        where = Location(self.path, self._decode_line, 0)
        return data.decode("utf-8", errors="replace"), Misdecoded(
            where, "text", self._decode_error or "not valid UTF-8"
        )

    def decode_error(self) -> Unreadable | None:
        """An :class:`Unreadable` fact when :meth:`text` failed, for a reader to record."""
        if self.text() is None and self._decode_error is not None:
            return Unreadable(Location(self.path, self._decode_line, 0), "text", self._decode_error)
        return None

    def lines(self) -> list[str]:
        """The text split into lines at ``\r\n``, ``\n`` and ``\r`` (empty when the file is not
        text)."""
        cached = self.cache.get("lines")
        if cached is None:
            cached = split_lines(self.text() or "")
            self.cache["lines"] = cached
        return list(cached)


class Reader(Protocol):
    """A source reader: says which files it wants and turns each into facts."""

    @property
    def name(self) -> str:
        """What the reader reads, as an :class:`Unreadable` fact names it: ``"helm"``."""
        ...

    def wants(self, path: str) -> bool:
        """True if the file at this root-relative POSIX path is this reader's to read."""
        ...

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """Yield the file's facts; never raise for bad input (yield :class:`Unreadable`)."""
        ...


@dataclass
class ReadResult:
    """The facts of one release and the files they came from."""

    facts: FactSet
    files: dict[str, SourceFile] = field(default_factory=dict)


@dataclass(frozen=True)
class ComputedSql(SqlUnreadable, Computed):
    """SQL that runs a statement built at run time (a ``DO`` block's ``EXECUTE format(…)``),
    under one dialect's grammar."""
