"""Write a :class:`~backout.diagnose.analysis.Diagnosis` as Markdown (for the incident channel)
or as JSON (for tools)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from backout import __version__
from backout.diagnose.analysis import (
    FAILED,
    NOT_ROLLED_OUT,
    NOTHING_SERVES,
    Diagnosis,
    WorkloadDiagnosis,
)
from backout.redact import Redactor, strings_in


def _images(images: Any) -> str:
    return ", ".join(f"{c.container}=`{c.image}`" for c in images if not c.init) or "—"


def _workload_markdown(item: WorkloadDiagnosis) -> list[str]:
    namespace = f" (namespace {item.namespace})" if item.namespace else ""
    lines = [f"## {item.label}{namespace}", "", f"**{item.summary}.**", ""]
    flags = [f"revisionHistoryLimit {item.revision_history_limit}"]
    if item.paused:
        flags.append("paused")
    lines += ["- " + "; ".join(flags), ""]
    if item.revisions:
        lines += [
            "### Revision history",
            "",
            "| revision | from | images | runs now (pods) | |",
            "|---|---|---|---|---|",
        ]
        for row in item.revisions:
            former = (
                f" (was {', '.join(map(str, row.former_numbers))})" if row.former_numbers else ""
            )
            running = ", ".join(f"{c}={d}" for c, d in row.running) or "—"
            lines.append(
                f"| {row.number}{former} | {row.source} | {_images(row.images)} | "
                f"{running} ({row.pods}) | {row.role} |"
            )
        lines.append("")
    else:
        lines += ["No retained revision: `kubectl rollout undo` has nothing to restore.", ""]
    if item.helm:
        lines += [
            "### Helm history",
            "",
            "| version | status | description | images |",
            "|---|---|---|---|",
        ]
        for revision in item.helm:
            images = next((w.images for w in revision.workloads if w.name == item.name), ())
            lines.append(
                f"| {revision.version} | {revision.status} | {revision.description} | "
                f"{_images(images)} |"
            )
        lines.append("")
    if item.rollback is not None:
        lines += ["### Last rollback", "", f"- {item.rollback.evidence}"]
        for comparison in item.rollback.containers:
            lines.append(
                f"- {comparison.container}: **{comparison.outcome}**: {comparison.evidence}"
            )
        lines.append("")
    if item.pod_problems:
        lines += ["### Pods", ""] + [f"- {p}" for p in item.pod_problems] + [""]
    lines += ["### What failed", "", "| question | answer | evidence |", "|---|---|---|"]
    for answer in item.answers:
        lines.append(f"| {answer.question} | **{answer.answer}** | {answer.evidence} |")
    lines += ["", "### Pin the previous good digest", "", item.pin_note + ".", ""]
    if item.pin_command:
        lines += ["```sh", item.pin_command, "```", ""]
    if item.registry_candidates:
        lines += ["Other images in the registry (tag → digest):", ""]
        lines += [f"- `{c.tag}` → `{c.digest}`" for c in item.registry_candidates] + [""]
    return lines


def render_markdown(diagnosis: Diagnosis) -> str:
    """The diagnosis as Markdown."""
    lines = ["# backout diagnose", ""]
    verdicts = {item.verdict for item in diagnosis.workloads}
    if FAILED in verdicts:
        lines += ["**The last rollback did not change the running image.**", ""]
    if NOT_ROLLED_OUT in verdicts:
        nothing = all(
            item.still_serving == NOTHING_SERVES
            for item in diagnosis.workloads
            if item.verdict == NOT_ROLLED_OUT
        )
        what = "nothing serves" if nothing else "the release it replaced still serves"
        lines += [f"**The last rollback has not rolled out: {what}.**", ""]
    for note in diagnosis.notes:
        lines += [f"> {note}", ""]
    for item in diagnosis.workloads:
        lines += _workload_markdown(item)
    return _redactor(diagnosis).redact("\n".join(lines).rstrip() + "\n")


def render_json(diagnosis: Diagnosis) -> str:
    """The diagnosis as a JSON document."""
    document = {
        "version": __version__,
        "failed_rollback": diagnosis.failed_rollback,
        "objects_read": diagnosis.objects_read,
        "notes": diagnosis.notes,
        "workloads": [{**asdict(item), "label": item.label} for item in diagnosis.workloads],
    }
    return json.dumps(_redactor(diagnosis).redact_data(document), indent=2) + "\n"


def _redactor(diagnosis: Diagnosis) -> Redactor:
    """What masks the credentials that the images and notes of ``diagnosis`` quote (an image
    written with a user and password, ``bob:pw@registry/…``), as ``plan`` masks them. The
    state's messages are prose, no settings: ``failed to authorize: failed …`` holds no
    credential named ``authorize``."""
    texts = strings_in([diagnosis.notes, [asdict(item) for item in diagnosis.workloads]])
    return Redactor(texts, settings=False)
