"""Baselines: adopt backout on an old repository so that only new findings fail.

``--write-baseline FILE`` records the current findings; ``--baseline FILE`` drops the findings
it records. A finding is identified by its code, path and message — not its line — so edits
that move lines do not bring recorded findings back. The file is sorted JSON, stable to diff.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from backout.config import ConfigError
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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
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


def without_baseline(
    findings: Iterable[Finding], recorded: Counter[str], moved: Sequence[str] = ()
) -> list[Finding]:
    """The findings a baseline does not record (each recorded entry absorbs one finding).

    ``moved`` are the prefixes the report put before paths (the checked directory, seen from
    the current one): a finding also matches the entry of its path without it, as a baseline
    written before paths were relative to the current directory recorded it.
    """
    remaining = Counter(recorded)
    kept = []
    for finding in findings:
        key = fingerprint(finding)
        if remaining[key] <= 0:
            key = next(
                (
                    other
                    for prefix in moved
                    if finding.location.path.startswith(prefix + "/")
                    and remaining[other := _fingerprint_at(finding, prefix)] > 0
                ),
                key,
            )
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            kept.append(finding)
    return kept


def _fingerprint_at(finding: Finding, prefix: str) -> str:
    """The fingerprint of ``finding`` with ``prefix/`` taken off its path."""
    path = finding.location.path[len(prefix) + 1 :]
    return fingerprint(
        dataclasses.replace(finding, location=dataclasses.replace(finding.location, path=path))
    )
