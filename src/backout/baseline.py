"""Baselines: adopt backout on an old repository so that only new findings fail.

``--write-baseline FILE`` records the current findings; ``--baseline FILE`` drops the findings
it records. A finding is identified by its code, path and message — not its line — so edits
that move lines do not bring recorded findings back. The file is sorted JSON, stable to diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from backout.config import ConfigError
from backout.files import write_atomically
from backout.models import Finding
from backout.redact import Redactor
from backout.report.gitlab import fingerprint

FORMAT_VERSION = 1


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    """Write the baseline of ``findings`` to ``path``; return how many it records.

    The messages, there for the people who read the file, have their credentials masked (a
    baseline is committed); the fingerprint, which identifies a finding, is of the message as
    found, and a digest does not show the credential.
    """
    listed = list(findings)
    redactor = Redactor(f.message for f in listed)
    entries = sorted(
        (
            {
                "code": f.code,
                "path": f.location.path,
                "message": redactor.redact(f.message),
                "fingerprint": fingerprint(f),
            }
            for f in listed
        ),
        key=lambda e: (e["path"], e["code"], e["message"]),
    )
    document = {"version": FORMAT_VERSION, "findings": entries}
    write_atomically(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return len(entries)


def read_baseline(path: Path) -> Counter[str]:
    """The fingerprints a baseline records, with how often each occurs."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Counter(str(entry["fingerprint"]) for entry in document["findings"])
    except OSError as exc:
        raise ConfigError(f"cannot read baseline {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"{path} is not a backout baseline (write one with --write-baseline)"
        ) from None


def relative_to_baseline(findings: Iterable[Finding], root: Path, baseline: Path) -> list[Finding]:
    """``findings`` with their paths relative to the directory of the ``baseline`` file.

    ``root`` is what the findings' paths are relative to. A baseline records paths from where it
    lies, not from where backout ran: the file written by ``backout check deploy`` at the
    repository root matches ``backout check .`` run in ``deploy/``. An absolute path outside
    the baseline's directory (a host's dpkg status) stays as it is.
    """
    resolved, directory = root.resolve(), baseline.resolve().parent
    return [_rebased(finding, resolved, directory) for finding in findings]


def _rebased(finding: Finding, root: Path, directory: Path) -> Finding:
    """:func:`relative_to_baseline` with ``root`` and the baseline's ``directory`` resolved
    (once for a whole report, not once a finding)."""
    path = root / finding.location.path
    if Path(finding.location.path).is_absolute() and not path.is_relative_to(directory):
        return finding
    try:
        rebased = os.path.relpath(path, directory)
    except ValueError:  # another drive (Windows)
        return finding
    return _at(finding, Path(rebased).as_posix())


def without_baseline(
    findings: Iterable[Finding],
    recorded: Counter[str],
    root: Path,
    baseline: Path,
    moved: Sequence[str] = (),
) -> list[Finding]:
    """The findings a baseline does not record (each recorded entry absorbs one finding).

    A finding matches the entry of its path relative to the baseline's directory
    (:func:`relative_to_baseline`); failing that, as older baselines recorded it, the entry
    of its path as reported (relative to the current directory) or, for ``moved`` (the
    prefixes the report put before paths), of its path relative to the checked directory.
    """
    remaining = Counter(recorded)
    kept = []
    resolved, directory = root.resolve(), baseline.resolve().parent
    for finding in findings:
        path = finding.location.path
        keys = [fingerprint(_rebased(finding, resolved, directory)), fingerprint(finding)]
        keys += [
            fingerprint(_at(finding, path[len(prefix) + 1 :]))
            for prefix in moved
            if path.startswith(prefix + "/")
        ]
        key = next((k for k in keys if remaining[k] > 0), None)
        if key is not None:
            remaining[key] -= 1
        else:
            kept.append(finding)
    return kept


def _at(finding: Finding, path: str) -> Finding:
    """``finding`` at ``path``."""
    return dataclasses.replace(finding, location=dataclasses.replace(finding.location, path=path))
