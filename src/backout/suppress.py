"""In-source suppressions: ``backout: ignore[BK101] reason`` in any comment syntax.

``ignore[...]`` silences the named codes on its own line and the line after it (so it works
both as a trailing comment and as a comment line above the hazard); in a SQL file, a comment
line above a statement covers the whole statement, to the line that ends it with ``;``
(statements span lines, and a finding points at the column or value it names);
``file-ignore[...]``
silences them in the whole file. A suppression with no reason, with an unknown code, or that
silenced nothing is reported as BK902.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from backout.lines import split_lines
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
    lines = split_lines(text)
    is_sql = path.lower().endswith(".sql")
    for number, line in enumerate(lines, start=1):
        match = _COMMENT.search(line)
        if not match:
            continue
        codes = tuple(c.strip().upper() for c in match.group("codes").split(",") if c.strip())
        reason = _TRAILING_COMMENT_END.sub("", match.group("reason")).strip(" \t-:—")
        own_line = _SQL_COMMENT_LINE.match(line[: match.start()]) is not None
        found.append(
            Suppression(
                location=Location(path, number, match.start() + 1),
                codes=codes,
                reason=reason,
                whole_file=match.group("kind") == "file-ignore",
                last_line=_statement_end(lines, number) if is_sql and own_line else 0,
            )
        )
    return found


# What may come before the directive on a SQL comment line of its own.
_SQL_COMMENT_LINE = re.compile(r"\s*(--|/\*)\s*$")
# How far a statement below a suppression comment is followed to its end.
_MAX_STATEMENT_LINES = 200


def _statement_end(lines: list[str], comment_line: int) -> int:
    """The line ending the statement after the comment on ``comment_line`` (1-based): the
    first line whose code, trailing ``--`` comment left out, ends with ``;``. The line after
    the comment when there is none within reach."""
    last = min(len(lines), comment_line + _MAX_STATEMENT_LINES)
    for number in range(comment_line + 1, last + 1):
        code = lines[number - 1].split("--", 1)[0].rstrip()
        if code.endswith(";"):
            return number
    return comment_line + 1


@dataclass
class Suppressed:
    """The findings split into those that stand and those silenced, plus BK902 findings."""

    active: list[Finding]
    suppressed: list[Finding]


def _covers(suppression: Suppression, finding: Finding) -> bool:
    return suppression.covers(finding.code, finding.location.line)


def apply_suppressions(
    findings: Iterable[Finding],
    suppressions: Mapping[str, list[Suppression]],
    enabled_codes: Iterable[str] | None = None,
) -> Suppressed:
    """Split ``findings`` by the suppression comments of their files; report bad comments."""
    active: list[Finding] = []
    silenced: list[Finding] = []
    used: set[tuple[Suppression, str]] = set()  # each comment with each code it silenced
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
                used.add((match, finding.code))
                silenced.append(replace(finding, suppressed_by=match))
    enabled = set(all_codes() if enabled_codes is None else enabled_codes)
    if "BK902" in enabled:
        active.extend(_bad_suppressions(suppressions, used, enabled))
    return Suppressed(active, silenced)


def _bad_suppressions(
    suppressions: Mapping[str, list[Suppression]],
    used: set[tuple[Suppression, str]],
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
            else:
                # Codes of rules that did not run cannot be judged: they may match when on.
                idle = [c for c in entry.codes if c in enabled and (entry, c) not in used]
                if not idle:
                    continue
                if len(idle) == len(entry.codes):
                    what = f"suppression of {', '.join(idle)} matches no finding"
                    fix = "remove the comment"
                else:
                    what = f"{', '.join(idle)} in this suppression matches no finding"
                    kept = ",".join(c for c in entry.codes if c not in idle)
                    fix = f"keep only the codes that match: `backout: ignore[{kept}] …`"
                out.append(
                    rule.finding(
                        entry.location,
                        f"{what}; it would silence the next real one here",
                        fix,
                    )
                )
    return out
