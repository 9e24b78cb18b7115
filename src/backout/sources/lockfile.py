"""``backout.lock``: the record ``backout pin`` keeps of which image each release ran.

The lock is JSON, newest entry first, one entry per resolution that gave a new digest::

    {
      "version": 1,
      "images": [
        {
          "reference": "ghcr.io/acme/shop:2.4",
          "digest": "sha256:…",
          "registry": "ghcr.io",
          "repository": "acme/shop",
          "media_type": "application/vnd.oci.image.index.v1+json",
          "resolved_at": "2024-05-01T12:00:00Z",
          "written": true
        }
      ]
    }

``reference`` is the reference as the manifests name it, without a digest; ``written`` says
whether ``pin --write`` put the digest into the manifests (so that ``rollout undo`` restores
``reference@digest``) or only recorded it (so that undo restores the tag). ``check --online``
reads the entries as :class:`LockedImage` facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from backout.imageref import is_pinning_digest
from backout.lines import position
from backout.models import Location
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.paths import is_lock_file

LOCK_VERSION = 1
_FIELDS = ("reference", "digest", "registry", "repository", "media_type", "resolved_at")


class LockError(ValueError):
    """A lock file that is not what ``backout pin`` writes; the message says where."""


@dataclass(frozen=True)
class LockEntry:
    """One resolution: ``reference`` (no digest) resolved to ``digest`` at ``resolved_at``."""

    reference: str
    digest: str
    registry: str
    repository: str
    media_type: str
    resolved_at: str
    written: bool

    def as_json(self) -> dict[str, Any]:
        """The entry as the lock stores it."""
        return {
            "reference": self.reference,
            "digest": self.digest,
            "registry": self.registry,
            "repository": self.repository,
            "media_type": self.media_type,
            "resolved_at": self.resolved_at,
            "written": self.written,
        }


@dataclass(frozen=True)
class LockedImage(Fact):
    """A lock entry as a fact: ``order`` 0 is the newest entry of the file."""

    entry: LockEntry
    order: int


def parse_lock(text: str) -> list[LockEntry]:
    """The entries of a lock file's text, newest first; :class:`LockError` when malformed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        line, column = position(text, exc.pos)  # json counts only "\n" as a line ending
        raise LockError(f"not valid JSON at line {line}, column {column}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise LockError('expected an object with an "images" list')
    if data.get("version") != LOCK_VERSION:
        raise LockError(f"unsupported lock version {data.get('version')!r} (expected 1)")
    entries = []
    for number, raw in enumerate(data["images"], start=1):
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in _FIELDS):
            raise LockError(f"entry {number} lacks one of {', '.join(_FIELDS)}")
        if not is_pinning_digest(raw["digest"]):
            raise LockError(f"entry {number} has a malformed digest {raw['digest']!r}")
        entries.append(
            LockEntry(**{k: raw[k] for k in _FIELDS}, written=bool(raw.get("written", False)))
        )
    return entries


def dump_lock(entries: Iterable[LockEntry]) -> str:
    """The lock file's text for ``entries`` (newest first), stable for diffs."""
    body = {"version": LOCK_VERSION, "images": [entry.as_json() for entry in entries]}
    return json.dumps(body, indent=2) + "\n"


class LockReader:
    """Reads ``backout.lock`` files into :class:`LockedImage` facts."""

    name: ClassVar[str] = "lock"

    def wants(self, path: str) -> bool:
        """Only files named ``backout.lock``."""
        return is_lock_file(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """One fact per entry, located at its ``"reference"`` line."""
        text = file.text()
        if text is None:
            unreadable = file.decode_error()
            if unreadable is not None:
                yield unreadable
            return
        try:
            entries = parse_lock(text)
        except LockError as exc:
            yield Unreadable(Location(file.path, 1, 0), self.name, str(exc))
            return
        offset = 0
        for order, entry in enumerate(entries):
            # json.loads keeps no positions; the entries appear in file order, so each
            # "reference" key is found after the previous one.
            needle = '"reference": ' + json.dumps(entry.reference)
            found = text.find(needle, offset)
            if found < 0:
                location = Location(file.path, 1, 0)
            else:
                offset = found + len(needle)
                location = Location(file.path, *position(text, found))
            yield LockedImage(location, entry, order)
