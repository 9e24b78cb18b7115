"""BK401 runbook-without-rollback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, LazyRegex, Rule
from backout.sources.runbook import RunbookDocument, RunbookLine, RunbookSection

if TYPE_CHECKING:
    import pathspec

DEFAULT_RUNBOOKS = ("docs/**/runbook*", "RUNBOOK*", "docs/**/deploy*", "docs/runbooks/**")
"""Where runbooks live unless the ``runbooks`` setting says otherwise (matched ignoring case)."""

_DEPLOY = LazyRegex(
    r"\bdeploy|\brelease\b|\brollout\b|kubectl\s+(apply|set\s+image)|helm\s+(upgrade|install)"
    r"|argocd\s+app\s+sync",
    re.I,
)
# "Rollback" in English, then as German, French, Spanish, Portuguese, Japanese, Chinese and
# Korean runbooks write it (docs/rules/BK401.md lists them).
_ROLLBACK_HEADING = LazyRegex(
    r"roll(ing|ed)?[\s-]?back|\brevert|back[\s-]?out|\bundo\b|\bdowngrade"
    r"|zur(ü|ue)ck\s*(zu\s*)?(rollen|setzen)|r(ü|ue)cksetzung|r(ü|ue)ckg(ä|ae)ngig"
    r"|retour\s+(en\s+)?arri(è|e)re|\brestauration\b"
    r"|\brevers(i(ó|o)n|(ã|a)o)\b|\breverter\b"
    r"|ロールバック|切り?戻し|回滚|回滾|回退|롤백|되돌리기",
    re.I,
)
# A bold lead-in that opens a prose line, as runbooks label a step under an alarm or incident
# heading: "**Rollback:** redeploy …", "- __Roll back__ — …", or "**Rollback**" alone on its
# line. The bold text ends with a colon, or a colon or dash follows it, or nothing does.
_BOLD_LABEL = LazyRegex(
    r"^\s{0,3}(?:[-*+]\s+|\d{1,9}[.)]\s+)?(?P<mark>\*\*|__)(?P<label>[^*_\s](?:[^*_]{0,78}[^*_\s])?)"
    r"(?P=mark)(?:\s*(?::|-|\u2013|\u2014)|\s*$)?"
)
_TARGET = LazyRegex(
    r"sha256:|\bdigest|--to-revision|\brevision\b|\bartifact|backout\.lock"
    r"|helm\s+rollback\s+\S+\s+(\d+|<)",
    re.I,
)
_SCHEMA = LazyRegex(
    r"\bschema|\bmigrat(e|es|ed|ion|ions)\b|\bdatabase\b|\bdowngrade\b|\balembic\b|\bflyway\b"
    r"|\bliquibase\b|backwards?[\s-]compatible|\balter\s+table\b",
    re.I,
)
_VERIFY = LazyRegex(
    r"\bverif(y|ies|ied|ication)\b|\bconfirm|\bcheck\s+(that|the)\b|\bimageID\b|\bhealth"
    r"|\bsmoke\b|rollout\s+status|\bcurl\b|\breadiness\b|\bdashboard|error\s+rate|\bmonitor",
    re.I,
)

# What each missing piece breaks, in the order the message lists them.
_MISSING = {
    "target": (
        "the rollback target (a digest, a revision or an artifact)",
        "a plain `rollout undo` restores whatever the previous template names, and a mutable "
        "tag brings the broken image back",
    ),
    "schema": (
        "the schema step (down migrations, a forward fix, or a statement that the migrations "
        "are backward compatible)",
        "the old code may crash on the new schema",
    ),
    "verify": (
        "how to verify the rollback worked (pod imageID equals the target digest, health checks)",
        "a rollback that changed nothing looks done",
    ),
}


def runbook_spec(patterns: tuple[str, ...]) -> pathspec.PathSpec:  # type: ignore[type-arg]
    """The runbook globs (gitignore syntax), lower-cased so that ``Runbook.md`` matches."""
    import pathspec  # ~25 ms of start-up, for the trees that have a runbook

    return pathspec.PathSpec.from_lines(
        "gitignore", [p.lower() for p in patterns or DEFAULT_RUNBOOKS]
    )


def _scope(sections: tuple[RunbookSection, ...], index: int) -> list[RunbookLine]:
    """A section's lines together with those of its subsections, heading titles included."""
    head = sections[index]
    lines = [RunbookLine(head.line, head.title, False), *head.body]
    for after in range(index + 1, len(sections)):  # neither copies nor walks the head
        section = sections[after]
        if section.level <= head.level:
            break
        lines.append(RunbookLine(section.line, section.title, False))
        lines.extend(section.body)
    return lines


def _outer_rollback_sections(sections: tuple[RunbookSection, ...]) -> list[int]:
    """The indexes of the rollback sections that are not inside another rollback section.

    Nested rollback headings (``## Rollback`` / ``### Undo the deploy``) count once, as the
    outer one. One pass with a stack of the enclosing headings, so a document of thousands
    of nested headings costs no more than a flat one.
    """
    outer: list[int] = []
    enclosing: list[tuple[int, bool]] = []  # (level, inside a rollback section) per ancestor
    for index, section in enumerate(sections):
        while enclosing and enclosing[-1][0] >= section.level:
            enclosing.pop()
        inside = bool(enclosing) and enclosing[-1][1]
        rollback = _ROLLBACK_HEADING.search(section.title) is not None
        if rollback and not inside:
            outer.append(index)
        enclosing.append((section.level, inside or rollback))
    return outer


@dataclass(frozen=True)
class _Label:
    """A bold lead-in (see ``_BOLD_LABEL``) on a prose line: its text and where it starts."""

    title: str
    line: int
    column: int


def _label(line: RunbookLine) -> _Label | None:
    """The bold lead-in that opens a prose line, or None."""
    if line.code:
        return None
    match = _BOLD_LABEL.search(line.text)
    if match is None:
        return None
    label = match.group("label")
    closed = match.end("label") + len(match.group("mark"))  # just past the closing ** or __
    punctuated = match.end() > closed  # a colon or dash follows the bold text
    if not (label.endswith(":") or punctuated or not line.text[closed:].strip()):
        return None  # bold words opening a sentence: "**Never** roll back by hand"
    return _Label(label.rstrip(":").strip(), line.line, match.start("label") + 1)


def _labelled_rollbacks(
    document: RunbookDocument,
) -> list[tuple[_Label, list[RunbookLine]]]:
    """Rollback steps written as a bold lead-in rather than a heading, with their lines.

    A step runs from its lead-in to the next bold lead-in or the end of its section: the
    "**Rollback:**" paragraph under "## Alarm: 5xx" is the rollback, "**Escalation:**" after
    it is not.
    """
    found: list[tuple[_Label, list[RunbookLine]]] = []
    for body in (document.preamble, *(section.body for section in document.sections)):
        current: list[RunbookLine] | None = None
        for line in body:
            label = _label(line)
            if label is not None:
                current = None
                if _ROLLBACK_HEADING.search(label.title) is not None:
                    current = [RunbookLine(line.line, line.text, False)]
                    found.append((label, current))
                continue
            if current is not None:
                current.append(line)
    return found


def _mentions(lines: list[RunbookLine], pattern: LazyRegex) -> bool:
    return any(pattern.search(line.text) for line in lines)


class RunbookWithoutRollback(Rule):
    """A deploy runbook has no rollback section, or one that leaves out a step.

    ## What it does
    Reads the runbooks (`docs/**/runbook*`, `RUNBOOK*`, `docs/**/deploy*`,
    `docs/runbooks/**`, or the `runbooks` setting) that describe a deploy, and flags one
    that has no rollback section, or whose rollback section omits the rollback target (a
    digest, a revision, an artifact), the schema step (or a statement that the release's
    migrations are backward compatible), or how to verify that the rollback worked.
    A rollback section is one whose heading says so: `Rollback`, `Roll back`, `Revert`,
    `Back out`, `Undo`, `Downgrade`, or a translation: German `Zurückrollen`,
    `Zurücksetzen`, `Rücksetzung`, `Rückgängig`; French `Retour arrière`, `Restauration`;
    Spanish `Reversión`, `Revertir`; Portuguese `Reversão`, `Reverter`; Japanese
    `ロールバック`, `切り戻し`; Chinese `回滚`, `回退`; Korean `롤백`, `되돌리기`. A runbook
    with no such heading may still write its rollback as a bold lead-in that opens a line
    under another heading (`**Rollback:** redeploy …`, `- __Roll back__ — …`): that step,
    up to the next bold lead-in or heading, is judged as the rollback section. The target,
    schema and verification steps are recognised by English keywords, commands and digests
    (`sha256:`, `helm rollback … 3`, `alembic`, `/healthz`).
    Front matter at the top of a Markdown runbook (`---` … `---`, or `+++` … `+++`) is
    metadata and is skipped.

    ## Why is this bad?
    A rollback happens under pressure, by whoever is on call. Without a written target, a
    plain `kubectl rollout undo` restores whatever the previous template names; with a
    mutable tag that is the broken image again. Without the schema step, the old code meets
    the new schema. Without verification, a rollback that changed nothing looks done.

    ## Example
    ```markdown
    # Deploying the shop
    Run `helm upgrade --install shop chart/shop`.

    ## Rollback
    Run `kubectl rollout undo deployment/shop-api`.
    ```

    ## Use instead
    ```markdown
    ## Rollback
    1. Target: the previous digest from backout.lock:
       `kubectl -n shop set image deployment/shop-api api=registry.example.com/shop/api@sha256:…`
    2. Schema: this release's migrations are backward compatible; nothing to reverse.
    3. Verify: every pod's imageID equals that digest, and /healthz answers 200.
    ```
    `backout plan --base <previous release>` writes such a section for the release.

    ## References
    - Google SRE book, "Release Engineering": rollbacks must be planned and practised
    """

    code = "BK401"
    name = "runbook-without-rollback"
    severity = Severity.WARNING
    family = Family.PROCEDURES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per deploy runbook without a complete rollback section."""
        spec = runbook_spec(context.config.runbooks)
        for document in context.head.of(RunbookDocument):
            if not spec.match_file(document.location.path.lower()):
                continue
            everything = [*document.preamble]
            for section in document.sections:
                everything.append(RunbookLine(section.line, section.title, False))
                everything.extend(section.body)
            if not _mentions(everything, _DEPLOY):
                continue
            outer = _outer_rollback_sections(document.sections)
            scopes = [
                (
                    Location(
                        document.location.path,
                        document.sections[i].line,
                        document.sections[i].column,
                    ),
                    document.sections[i].title,
                    _scope(document.sections, i),
                )
                for i in outer
            ] or [
                (Location(document.location.path, label.line, label.column), label.title, lines)
                for label, lines in _labelled_rollbacks(document)
            ]
            if not scopes:
                yield self._no_section(document)
                continue
            for location, title, lines in scopes:
                finding = self._incomplete(location, title, lines)
                if finding is not None:
                    yield finding

    def _no_section(self, document: RunbookDocument) -> Finding:
        first = document.sections[0] if document.sections else None
        location = (
            Location(document.location.path, first.line, first.column)
            if first is not None
            else document.location
        )
        return self.finding(
            location,
            "this runbook describes a deploy but has no rollback section: whoever is on call "
            "when the release breaks has no written way back (target, schema step, "
            "verification)",
            "add a 'Rollback' section with the rollback target (digest or revision), the "
            "schema step and how to verify; `backout plan --base <previous release>` writes one",
        )

    def _incomplete(
        self, location: Location, title: str, lines: list[RunbookLine]
    ) -> Finding | None:
        missing = [
            key
            for key, pattern in (("target", _TARGET), ("schema", _SCHEMA), ("verify", _VERIFY))
            if not _mentions(lines, pattern)
        ]
        if not missing:
            return None
        pieces = [_MISSING[key][0] for key in missing]
        effects = [_MISSING[key][1] for key in missing]
        listed = pieces[0] if len(pieces) == 1 else ", ".join(pieces[:-1]) + " and " + pieces[-1]
        return self.finding(
            location,
            f"rollback section '{' '.join(title.split())}' omits {listed}: " + "; ".join(effects),
            "add the missing step"
            + ("s" if len(missing) > 1 else "")
            + " to the section; `backout plan --base <previous release>` writes the target, "
            "schema step and verification for this release",
        )
