"""In-source suppressions: ``backout: ignore[BK101] reason`` in any comment syntax.

``ignore[...]`` silences the named codes on its own line and the line after it (so it works
both as a trailing comment and as a comment line above the hazard); ``file-ignore[...]``
silences them in the whole file. A suppression with no reason, with an unknown code, or that
silenced nothing is reported as BK902.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from backout.models import Finding, Location, Suppression
from backout.rules import all_codes, load_rule

_COMMENT = re.compile(
    r"backout:\s*(?P<kind>file-ignore|ignore)\[(?P<codes>[^\]]*)\]"
    r"(?P<reason>[^\n]*)"
)
_TRAILING_COMMENT_END = re.compile(r"\s*(-->|\*/|#\}|%\}|\}\})\s*$")


def find_suppressions(path: str, text: str) -> list[Suppression]:
    """Every suppression comment in a file's text."""
    found: list[Suppression] = []
    if "backout:" not in text:
        return found
    for number, line in enumerate(text.splitlines(), start=1):
        match = _COMMENT.search(line)
        if not match:
            continue
        codes = tuple(c.strip().upper() for c in match.group("codes").split(",") if c.strip())
        reason = _TRAILING_COMMENT_END.sub("", match.group("reason")).strip(" \t-:—")
        found.append(
            Suppression(
                location=Location(path, number, match.start() + 1),
                codes=codes,
                reason=reason,
                whole_file=match.group("kind") == "file-ignore",
            )
        )
    return found


@dataclass
class Suppressed:
    """The findings split into those that stand and those silenced, plus BK902 findings."""

    active: list[Finding]
    suppressed: list[Finding]


def _covers(suppression: Suppression, finding: Finding) -> bool:
    if finding.code not in suppression.codes:
        return False
    if suppression.whole_file:
        return True
    return finding.location.line in (suppression.location.line, suppression.location.line + 1)


def apply_suppressions(
    findings: Iterable[Finding],
    suppressions: Mapping[str, list[Suppression]],
    enabled_codes: Iterable[str] | None = None,
) -> Suppressed:
    """Split ``findings`` by the suppression comments of their files; report bad comments."""
    active: list[Finding] = []
    silenced: list[Finding] = []
    used: set[Suppression] = set()
    if not suppressions:
        active.extend(findings)  # no comment anywhere (most trees): every finding stands
    else:
        for finding in findings:
            in_file = suppressions.get(finding.location.path)
            if not in_file:
                active.append(finding)
                continue
            match = next((s for s in in_file if _covers(s, finding)), None)
            if match is None or finding.code == "BK902":
                active.append(finding)
            else:
                used.add(match)
                silenced.append(replace(finding, suppressed_by=match))
    enabled = set(all_codes() if enabled_codes is None else enabled_codes)
    if "BK902" in enabled:
        active.extend(_bad_suppressions(suppressions, used, enabled))
    return Suppressed(active, silenced)


def _bad_suppressions(
    suppressions: Mapping[str, list[Suppression]],
    used: set[Suppression],
    enabled: set[str],
) -> list[Finding]:
    rule = load_rule("BK902")()
    known = set(all_codes())
    out: list[Finding] = []
    for entries in suppressions.values():
        for entry in entries:
            unknown = [c for c in entry.codes if c not in known]
            if not entry.codes:
                out.append(
                    rule.finding(
                        entry.location,
                        "suppression names no rule code; it silences nothing",
                        "name the code: `backout: ignore[BK101] why this is acceptable`",
                    )
                )
            elif unknown:
                out.append(
                    rule.finding(
                        entry.location,
                        f"suppression names unknown rule code {', '.join(unknown)}",
                        "use a code from `backout rules`, or remove the comment",
                    )
                )
            elif not entry.reason:
                out.append(
                    rule.finding(
                        entry.location,
                        f"suppression of {', '.join(entry.codes)} gives no reason; the next "
                        "engineer cannot tell a judgement from a shortcut",
                        "add the reason after the codes: "
                        f"`backout: ignore[{','.join(entry.codes)}] why this is acceptable`",
                    )
                )
            elif entry not in used and all(code in enabled for code in entry.codes):
                out.append(
                    rule.finding(
                        entry.location,
                        f"suppression of {', '.join(entry.codes)} matches no finding; it would "
                        "silence the next real one here",
                        "remove the comment",
                    )
                )
    return out
