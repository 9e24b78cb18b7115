"""Answer the mid-incident questions from recorded cluster state, evidence first.

For every Deployment, StatefulSet and DaemonSet: the retained revisions and their images, which
digest each revision runs when pods or a pinned template show it, whether the last rollback
changed the running image, the three misdiagnoses of a failed rollback answered from what the
state shows, and the command that pins the previous good digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from backout.diagnose.imageid import (
    IdKind,
    RunningImage,
    is_mutable,
    parse_image_id,
    repository_of,
    short_digest,
    template_digest,
)
from backout.diagnose.state import (
    ClusterState,
    ContainerImage,
    ContainerStatus,
    HelmRevision,
    Pod,
    Revision,
)
from backout.diagnose.state import Workload as StateWorkload
from backout.imageref import parse_reference
from backout.registry.client import RegistryError

_HELM_ROLLBACK = re.compile(r"^Rollback to (\d+)")
# Waiting reasons that mean the image itself could not be had.
_PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName")
# Pull messages that mean the artifact is gone, not that the registry is unreachable.
_ARTIFACT_GONE = re.compile(r"not found|manifest unknown|name unknown|does not exist", re.I)
# Pull messages that say the node could not reach the registry or was refused by it. kubectl
# often shows only ``Back-off pulling image "…"``, which says neither: the cause is then in
# the pod's events.
_REGISTRY_TROUBLE = re.compile(
    r"unauthori[sz]ed|authentication required|forbidden|no such host|i/o timeout"
    r"|connection refused|connection reset|tls handshake|x509|certificate"
    r"|server misbehaving|network is unreachable|too ?many ?requests",
    re.I,
)
_CRASHING = ("CrashLoopBackOff", "CreateContainerConfigError", "RunContainerError")
# A version tag: ``v``, dot-separated numbers, then an optional ``-pre.release`` or ``+build``.
_VERSION_TAG = re.compile(r"^v?(?P<numbers>\d+(?:\.\d+)*)(?:[-+.](?P<suffix>[0-9A-Za-z.+-]+))?$")
# Each candidate costs a registry request: a repository with thousands of CI tags is cut here,
# after the sort, so what is dropped is the oldest.
MAX_CANDIDATE_TAGS = 50

FAILED = "rollback-changed-nothing"
CHANGED = "rollback-changed-image"
KEPT = "rollback-kept-image"
NOT_ROLLED_OUT = "rollback-not-rolled-out"
NO_ROLLBACK = "no-rollback"
# The verdicts of a rollback that did not take the broken release out: exit 1.
ROLLBACK_FAILED = (FAILED, NOT_ROLLED_OUT)
# What still serves when no pod of the restored revision, nor of any other, is ready.
NOTHING_SERVES = "no pod of any revision (the workload serves nothing)"


class RegistryLookup(Protocol):
    """What diagnose asks a registry (``backout.registry.client.RegistryClient`` fits)."""

    def tags(self, registry: str, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of the repository."""
        ...

    def head_manifest(self, registry: str, repository: str, reference: str) -> _Info | None:
        """What a tag or digest resolves to, ``None`` when unknown."""
        ...


class _Info(Protocol):
    @property
    def digest(self) -> str:
        """The manifest digest a reference resolves to."""
        ...


@dataclass(frozen=True)
class RevisionRow:
    """One line of the revision history: what it names and what it is seen to run."""

    number: int
    source: str
    images: tuple[ContainerImage, ...]
    former_numbers: tuple[int, ...] = ()
    running: tuple[tuple[str, str], ...] = ()
    pods: int = 0
    role: str = ""


@dataclass(frozen=True)
class ContainerComparison:
    """One container, before and after the last rollback."""

    container: str
    restored_image: str
    replaced_image: str
    outcome: str
    evidence: str


@dataclass(frozen=True)
class Rollback:
    """The last rollback the state shows, and whether it changed what runs."""

    evidence: str
    restored: str
    replaced: str
    containers: tuple[ContainerComparison, ...]


@dataclass(frozen=True)
class Answer:
    """One row of the misdiagnosis table."""

    question: str
    answer: str
    evidence: str


@dataclass(frozen=True)
class Candidate:
    """An image a registry holds for the repository, other than the broken one."""

    tag: str
    digest: str


@dataclass
class WorkloadDiagnosis:
    """Everything said about one workload."""

    kind: str
    namespace: str
    name: str
    verdict: str
    summary: str
    revision_history_limit: int
    paused: bool
    revisions: list[RevisionRow] = field(default_factory=list)
    helm: list[HelmRevision] = field(default_factory=list)
    rollback: Rollback | None = None
    pod_problems: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    pin_command: str = ""
    pin_note: str = ""
    still_serving: str = ""
    registry_candidates: list[Candidate] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``deployment/shop-api``."""
        return f"{self.kind.lower()}/{self.name}"


@dataclass
class Diagnosis:
    """The diagnosis of every workload in the state."""

    workloads: list[WorkloadDiagnosis]
    objects_read: int
    notes: list[str] = field(default_factory=list)

    @property
    def failed_rollback(self) -> bool:
        """True when the evidence shows a rollback that left the same image running, or one
        whose restored revision has no ready pod while the replaced one still serves."""
        return any(w.verdict in ROLLBACK_FAILED for w in self.workloads)


def _pods_of(workload: StateWorkload, revision: Revision, pods: list[Pod]) -> list[Pod]:
    owner = revision.source.split(" ", 1)[-1]
    found = []
    for pod in pods:
        if pod.namespace != workload.namespace:
            continue
        if workload.kind == "Deployment":
            if pod.owner_kind == "ReplicaSet" and pod.owner_name == owner:
                found.append(pod)
        elif (
            pod.owner_kind == workload.kind
            and pod.owner_name == workload.name
            and pod.template_hash
            and (pod.template_hash == revision.pod_hash or owner.endswith("-" + pod.template_hash))
        ):
            found.append(pod)
    return found


def _running(pods: list[Pod]) -> dict[str, list[RunningImage]]:
    """Distinct running images per container across ``pods``."""
    out: dict[str, list[RunningImage]] = {}
    for pod in pods:
        for status in pod.containers:
            if not status.image_id:
                continue
            image = parse_image_id(status.image_id)
            seen = out.setdefault(status.container, [])
            if all(image.raw != other.raw for other in seen):
                seen.append(image)
    return out


def _helm_for(workload: StateWorkload, helm: list[HelmRevision]) -> list[HelmRevision]:
    return [
        revision
        for revision in helm
        if revision.namespace in ("", workload.namespace)
        and any(w.kind == workload.kind and w.name == workload.name for w in revision.workloads)
    ]


def _helm_images(revision: HelmRevision, workload: StateWorkload) -> tuple[ContainerImage, ...]:
    for item in revision.workloads:
        if item.kind == workload.kind and item.name == workload.name:
            return item.images
    return ()


def _compare(
    restored: tuple[ContainerImage, ...],
    replaced: tuple[ContainerImage, ...],
    restored_running: dict[str, list[RunningImage]],
    replaced_running: dict[str, list[RunningImage]],
) -> list[ContainerComparison]:
    before = {c.container: c.image for c in replaced}
    out = []
    for container in restored:
        if container.container not in before:
            continue
        new, old = container.image, before[container.container]
        now = restored_running.get(container.container, [])
        then = replaced_running.get(container.container, [])
        outcome, evidence = _container_outcome(new, old, now, then)
        out.append(ContainerComparison(container.container, new, old, outcome, evidence))
    return out


def _container_outcome(
    new: str, old: str, now: list[RunningImage], then: list[RunningImage]
) -> tuple[str, str]:
    """``same`` / ``changed`` / ``same-by-design`` and the evidence for it."""
    if new == old and not is_mutable(new):
        return "same-by-design", f"both revisions pin {new}: the image was not meant to change"
    comparable = [(a, b) for a in now for b in then if a.same_image(b) is not None]
    if comparable:
        if any(a.same_image(b) for a, b in comparable):
            shared = next(a for a, b in comparable if a.same_image(b))
            return "same", (
                f"pods of both revisions run {shared.short} ({shared.kind.value}): "
                "the rollback left the same image running"
            )
        return "changed", (
            f"pods now run {now[0].short}, pods of the replaced revision ran {then[0].short}"
        )
    if new == old:
        running = f"; the pods run {now[0].short}" if now else ""
        return "same", (
            f"the rollback restored `{new}`, the same mutable reference the broken revision "
            f"ran: it pulls whatever the tag points at now, which the broken deploy pushed"
            f"{running}"
        )
    new_pin, old_pin = template_digest(new), template_digest(old)
    if new_pin is not None and old_pin is not None:
        if new_pin.digest == old_pin.digest:
            return "same-by-design", f"both references pin {new_pin.short}"
        return "changed", f"pinned {old_pin.short} → {new_pin.short}"
    return "changed", (
        f"the reference changed `{old}` → `{new}`; a mutable tag may still name the same "
        "image (check with --registry)"
    )


def _last_rollback(
    workload: StateWorkload,
    rows: dict[int, Revision],
    helm: list[HelmRevision],
    pods: list[Pod],
) -> Rollback | None:
    current = rows.get(workload.current_revision or -1)
    if current is not None:
        older = [r for n, r in rows.items() if n < current.number]
        reused = current.former_numbers or any(
            r.created and current.created and current.created < r.created for r in older
        )
        if reused:
            replaced = max(older, key=lambda r: r.number) if older else None
            origin = (
                f"revision {current.number} is the template of revision "
                f"{max(current.former_numbers)} brought back"
                if current.former_numbers
                else f"revision {current.number} ({current.source}) is older than the "
                "revisions before it: an earlier template was brought back"
            )
            if replaced is None:
                return Rollback(origin, f"revision {current.number}", "(not retained)", ())
            comparisons = _compare(
                current.images,
                replaced.images,
                _running(_pods_of(workload, current, pods)),
                _running(_pods_of(workload, replaced, pods)),
            )
            return Rollback(
                origin,
                f"revision {current.number}",
                f"revision {replaced.number}",
                tuple(comparisons),
            )
    if helm:
        latest = helm[-1]
        match = _HELM_ROLLBACK.match(latest.description)
        previous = [r for r in helm if r.version < latest.version]
        if match and previous:
            replaced_helm = previous[-1]
            comparisons = _compare(
                _helm_images(latest, workload),
                _helm_images(replaced_helm, workload),
                {},
                {},
            )
            return Rollback(
                f"Helm release {latest.release} v{latest.version}: {latest.description}",
                f"Helm v{latest.version}",
                f"Helm v{replaced_helm.version}",
                tuple(comparisons),
            )
    return None


def _verdict(rollback: Rollback | None, failing: set[str]) -> str:
    """The verdict on the last rollback; ``failing`` names the containers failing now.

    A container that runs the same image as before fails the rollback when it is one of
    those failing now, or when no container changed: a sidecar or init container whose image
    did change does not make up for the main container still running the broken image.
    """
    if rollback is None:
        return NO_ROLLBACK
    same = {c.container for c in rollback.containers if c.outcome == "same"}
    changed = any(c.outcome == "changed" for c in rollback.containers)
    if same and (not changed or same & failing):
        return FAILED
    if changed:
        return CHANGED
    if rollback.containers:
        return KEPT
    return CHANGED


def _same_container(rollback: Rollback, failing: set[str]) -> ContainerComparison | None:
    """The container that shows the rollback left the same image: a failing one first."""
    same = [c for c in rollback.containers if c.outcome == "same"]
    return next((c for c in same if c.container in failing), same[0] if same else None)


@dataclass(frozen=True)
class _Trouble:
    """One thing wrong with a pod of the current revision, as the Pods section lists it."""

    pod: str
    container: str
    kind: str
    text: str
    message: str = ""


def _container_trouble(pod: Pod, status: ContainerStatus) -> _Trouble | None:
    """``crash``, ``restarts``, ``pull`` or ``waiting`` for one container, ``None`` when fine."""
    where = f"pod {pod.name} container {status.container}"
    if status.waiting_reason:
        detail = f": {status.waiting_message}" if status.waiting_message else ""
        kind = "waiting"
        if status.waiting_reason in _CRASHING:
            kind = "crash"
        elif status.waiting_reason in _PULL_FAILURES:
            kind = "pull"
        text = f"{where}: {status.waiting_reason}{detail} (restarts: {status.restart_count})"
        return _Trouble(pod.name, status.container, kind, text, status.waiting_message)
    if status.restart_count and not status.ready:
        text = (
            f"{where}: not ready after {status.restart_count} restarts "
            f"({status.last_exit_reason or 'exited'})"
        )
        return _Trouble(pod.name, status.container, "restarts", text)
    return None


def _troubles(pods: list[Pod]) -> list[_Trouble]:
    """What is wrong with ``pods`` (terminating pods left out), in pod order."""
    found = []
    for pod in pods:
        if pod.terminating:
            continue
        for status in pod.containers:
            trouble = _container_trouble(pod, status)
            if trouble is not None:
                found.append(trouble)
        for condition in pod.conditions:
            if condition.type == "PodScheduled" and condition.status == "False":
                text = f"pod {pod.name}: not scheduled ({condition.reason}: {condition.message})"
                found.append(_Trouble(pod.name, "", "unscheduled", text))
    return found


def _failing(troubles: list[_Trouble]) -> set[str]:
    """Containers that crash, restart without becoming ready, or cannot pull their image."""
    return {t.container for t in troubles if t.kind in ("crash", "restarts", "pull")}


def _serving(pod: Pod) -> bool:
    """The pod takes traffic: its Ready condition, or every container ready when the state
    has no conditions. A terminating pod is being taken out of its Service."""
    if pod.terminating:
        return False
    ready = next((c for c in pod.conditions if c.type == "Ready"), None)
    if ready is not None:
        return ready.status == "True"
    containers = [c for c in pod.containers if not c.init]
    return bool(containers) and all(c.ready for c in containers)


def _still_serving(
    workload: StateWorkload,
    rollback: Rollback | None,
    current: Revision | None,
    current_pods: list[Pod],
    pods: list[Pod],
) -> str:
    """``3 pods of revision 2 (the revision rolled back from)`` when the current revision has
    no ready pod while pods of other revisions still serve, or that nothing serves when none
    of its pods is ready and no other revision's is; ``""`` otherwise (a rollback whose pods
    are ready, or a state without the current revision's pods)."""
    if current is None or not current_pods or any(_serving(pod) for pod in current_pods):
        # No pod of the restored revision in the state (captured right after the undo, say):
        # nothing shows the rollback failing.
        return ""
    serving = [
        (revision.number, count)
        for revision in workload.revisions
        if revision.number != current.number
        and (count := sum(_serving(pod) for pod in _pods_of(workload, revision, pods)))
    ]
    if not serving:
        # Pods of the restored revision exist and none is ready: the rollback restored nothing.
        return NOTHING_SERVES if current_pods else ""
    replaced = rollback.replaced if rollback is not None else ""
    return ", ".join(
        f"{count} pod{'s' if count > 1 else ''} of revision {number}"
        + (" (the revision rolled back from)" if replaced == f"revision {number}" else "")
        for number, count in sorted(serving, reverse=True)
    )


def _gave_up(workload: StateWorkload) -> bool:
    """The Deployment controller stopped waiting for the rollout (``progressDeadlineSeconds``)."""
    return any(
        c.type == "Progressing" and c.status == "False" and c.reason == "ProgressDeadlineExceeded"
        for c in workload.conditions
    )


def _answers(
    diagnosis: WorkloadDiagnosis,
    workload: StateWorkload,
    current_pods: list[Pod],
    troubles: list[_Trouble],
) -> list[Answer]:
    crashing = [t.text for t in troubles if t.kind == "crash"] or [
        t.text for t in troubles if t.kind == "restarts"
    ]
    pulls = [t for t in troubles if t.kind == "pull"]
    unscheduled = [t.text for t in troubles if t.kind == "unscheduled"]
    rollback = diagnosis.rollback
    verdict = diagnosis.verdict
    answers: list[Answer] = []

    question = "Deployment bug or untested rollback?"
    same = _same_container(rollback, _failing(troubles)) if rollback is not None else None
    if verdict == FAILED and same is not None:
        answers.append(
            Answer(
                question,
                "untested rollback",
                f"{same.container}: {same.evidence}. What fails now is still the broken "
                "release: the rollback procedure failed, not a second bug.",
            )
        )
    elif verdict == NOT_ROLLED_OUT and rollback is not None:
        problem = (crashing or [t.text for t in pulls] or ["none of its pods is ready"])[0]
        answers.append(
            Answer(
                question,
                "untested rollback",
                f"{rollback.restored} has no ready pod ({problem}); still serving: "
                f"{diagnosis.still_serving}. "
                + (
                    "Users get nothing: what fails "
                    if diagnosis.still_serving == NOTHING_SERVES
                    else "Users still get the broken release: what fails "
                )
                + "now is the rollback.",
            )
        )
    elif verdict == CHANGED and not crashing and not pulls:
        answers.append(
            Answer(
                question,
                "deployment bug",
                f"the rollback ({rollback.restored if rollback else ''}) changed the image and "
                "its pods are healthy: the release was at fault and the rollback worked.",
            )
        )
    elif _first_rollout(workload, verdict):
        answers.append(
            Answer(
                question,
                "no rollback yet",
                "revision 1 is the first rollout of this workload; nothing has been rolled back.",
            )
        )
    elif verdict == NO_ROLLBACK:
        answers.append(
            Answer(
                question,
                "no rollback yet",
                f"{_newest_template(workload)} and no earlier template was brought back; "
                "roll back with the command below.",
            )
        )
    else:
        answers.append(
            Answer(
                question,
                "not settled by this state",
                "the image changed, but the restored pods are not healthy (see the next rows).",
            )
        )

    question = "Incompatible versions or rollback assumption?"
    if verdict == FAILED:
        answers.append(
            Answer(
                question,
                "rollback assumption",
                "undo restores a pod template, not an image: a mutable tag let the template "
                "name the broken image again. Pin digests (backout pin).",
            )
        )
    elif verdict == NO_ROLLBACK:
        answers.append(
            Answer(
                question,
                "not known yet",
                "nothing has been rolled back; before rolling back, make sure the previous "
                "release accepts what this one changed (schema, config): `backout plan`.",
            )
        )
    elif crashing:
        answers.append(
            Answer(
                question,
                "incompatible versions",
                f"{crashing[0]}. The previous release runs and fails: state the rollback does "
                "not restore (database schema, ConfigMaps, Secrets, CRDs) changed under it. "
                "`backout plan` gives the forward fix.",
            )
        )
    elif pulls:
        answers.append(
            Answer(question, "no evidence", "the restored image never started (see the next row).")
        )
    elif verdict == NOT_ROLLED_OUT and current_pods:
        answers.append(
            Answer(
                question,
                "not settled by this state",
                "the restored pods are not ready yet and report no crash or pull error: "
                f"`kubectl {_namespace_flag(workload)}describe pod <pod>` shows what they "
                "wait for.",
            )
        )
    elif current_pods:
        answers.append(Answer(question, "neither", "the restored pods report no crash or restart."))
    else:
        answers.append(Answer(question, "no evidence", "no pods of the current revision."))

    question = "Infrastructure or procedure gap?"
    gone = [t for t in pulls if _ARTIFACT_GONE.search(t.message)]
    refused = [t for t in pulls if _REGISTRY_TROUBLE.search(t.message)]
    if gone:
        answers.append(
            Answer(
                question,
                "procedure gap",
                f"{gone[0].text}: the rollback target's image no longer exists (registry or CI "
                "retention shorter than the rollback window, BK301/BK302).",
            )
        )
    elif refused:
        answers.append(
            Answer(
                question,
                "infrastructure",
                f"{refused[0].text}: the message says the node could not reach the registry "
                "or was refused by it.",
            )
        )
    elif pulls:
        namespace = _namespace_flag(workload)
        answers.append(
            Answer(
                question,
                "not told by this state",
                f"{pulls[0].text}: the message does not say why the pull failed (the image "
                "gone from the registry, credentials, network). The registry's answer is in "
                f"the pod's events: `kubectl {namespace}describe pod {pulls[0].pod}` or "
                f"`kubectl {namespace}get events --field-selector "
                f"involvedObject.name={pulls[0].pod}`.",
            )
        )
    elif unscheduled:
        answers.append(Answer(question, "infrastructure", unscheduled[0]))
    elif verdict == FAILED:
        answers.append(
            Answer(
                question,
                "procedure gap",
                "the cluster did what it was told; deploying by a mutable tag is the gap.",
            )
        )
    elif workload.paused:
        answers.append(
            Answer(
                question,
                "procedure gap",
                f"{workload.label} is paused: `kubectl rollout undo` refuses a paused "
                "deployment and nothing rolls out until it is resumed.",
            )
        )
    elif _first_rollout(workload, verdict):
        answers.append(
            Answer(
                question,
                "neither",
                "revision 1 is the first rollout: there is no earlier release to go back to "
                "yet, which no history limit could change.",
            )
        )
    elif len(workload.revisions) <= 1 and workload.kind == "Deployment":
        answers.append(
            Answer(
                question,
                "procedure gap",
                f"revisionHistoryLimit is {workload.revision_history_limit} and "
                f"{len(workload.revisions)} revision is retained: `kubectl rollout undo` has "
                'nothing to go back to ("no rollout history found").',
            )
        )
    else:
        answers.append(
            Answer(question, "no evidence of either", "no pull, scheduling or history problem.")
        )
    return answers


def _ran_digests(
    revision: Revision, workload: StateWorkload, pods: list[Pod]
) -> dict[str, set[str]]:
    """Every registry digest per container that ``revision`` pins or its pods show."""
    ran: dict[str, set[str]] = {}
    for container in revision.images:
        pin = template_digest(container.image)
        if pin is not None:
            ran.setdefault(container.container, set()).add(pin.digest)
    for container_name, images in _running(_pods_of(workload, revision, pods)).items():
        for image in images:
            if image.kind is IdKind.REGISTRY_DIGEST:
                ran.setdefault(container_name, set()).add(image.digest)
    return ran


def _known_digest(
    revision: Revision,
    workload: StateWorkload,
    pods: list[Pod],
    broken_refs: set[str],
    broken_digests: dict[str, set[str]],
) -> dict[str, str]:
    """Digests per container that ``revision`` is known to have run, leaving out the broken
    revision's: its mutable references (``broken_refs``) and the digests it ran."""
    known: dict[str, str] = {}
    for container in revision.images:
        pin = template_digest(container.image)
        if pin is not None and pin.digest not in broken_digests.get(container.container, ()):
            known[container.container] = pin.digest
    running = _running(_pods_of(workload, revision, pods))
    for container in revision.images:
        if container.container in known:
            continue
        # Without pods of the broken revision to compare with, what a mutable reference it
        # also named pulled now may well be the broken image.
        if container.image in broken_refs and container.container not in broken_digests:
            continue
        for image in running.get(container.container, []):
            if image.kind is IdKind.REGISTRY_DIGEST and image.digest not in broken_digests.get(
                container.container, ()
            ):
                known[container.container] = image.digest
                break
    return known


def _pin(
    diagnosis: WorkloadDiagnosis,
    workload: StateWorkload,
    rows: dict[int, Revision],
    pods: list[Pod],
) -> None:
    """Fill the pin command: the previous good digest, or what is missing to know it."""
    namespace = _namespace_flag(workload)
    current = rows.get(workload.current_revision or -1)
    ordered = sorted(rows.values(), key=lambda r: r.number, reverse=True)
    replaced = (
        rows.get(max((r.number for r in ordered if r.number < current.number), default=0))
        if current is not None
        else None
    )
    broken_refs: set[str] = set()
    if diagnosis.verdict in (CHANGED, KEPT) and current is not None:
        # A KEPT rollback pins the same digest on purpose; after a CHANGED one, a container
        # that kept its image (a sidecar) is left as it is rather than pinned to what the
        # replaced, broken revision also ran.
        good, broken = [current], replaced if diagnosis.verdict == CHANGED else None
        lead = "the rollback worked; pin what runs now so that no later apply or undo moves it"
    else:
        if diagnosis.verdict in ROLLBACK_FAILED and current is not None:
            broken = replaced or current
            good = [r for r in ordered if r.number not in (current.number, broken.number)]
            good.insert(0, current)
        else:
            broken = current
            good = [r for r in ordered if current is None or r.number < current.number]
        lead = "pin the previous good digest"
        if broken is not None:
            broken_refs = {c.image for c in broken.images if is_mutable(c.image)}
    broken_digests = _ran_digests(broken, workload, pods) if broken is not None else {}
    for revision in good:
        known = _known_digest(
            revision,
            workload,
            pods,
            broken_refs,
            broken_digests if broken is not revision else {},
        )
        if not known:
            continue
        sets = " ".join(
            f"{container.container}={repository_of(container.image)}@{known[container.container]}"
            for container in revision.images
            if container.container in known and not container.init
        )
        if not sets:
            continue
        command = f"kubectl {namespace}set image {workload.label} {sets}"
        if workload.paused:
            command += f" && kubectl {namespace}rollout resume {workload.label}"
        diagnosis.pin_command = command
        diagnosis.pin_note = f"{lead} (revision {revision.number}, {revision.source})"
        if workload.managed_by_helm:
            diagnosis.pin_note += (
                f"; then pin the same digest in the chart values of Helm release "
                f"{workload.managed_by_helm}, or the next `helm upgrade` undoes it"
            )
        return
    if _first_rollout(workload, diagnosis.verdict):
        # Nothing ran before revision 1: a "previous digest" placeholder would send the
        # reader looking for an image that never existed.
        diagnosis.pin_note = (
            "revision 1 is the first rollout, so there is no previous digest; pin what runs "
            "now by digest (`backout pin --write`) so that the next release can roll back to it"
        )
        return
    retained = ", ".join(str(r.number) for r in ordered) or "none"
    diagnosis.pin_note = (
        "the previous good digest is not in this state: no retained revision (retained: "
        f"{retained}) pins a digest or has pods that show one apart from the broken image. "
        "Run `backout diagnose --registry` to list the repository's other digests, or read "
        "it from a node that ran it (`crictl images --digests`)"
    )
    main = next((c for c in workload.images if not c.init), None)
    if main is not None:
        diagnosis.pin_command = (
            f"kubectl {namespace}set image {workload.label} "
            f"{main.container}={repository_of(main.image)}@<previous-digest>"
        )


_VersionKey = tuple[tuple[int, ...], bool, tuple[tuple[int, int, str], ...]]


def _tag_version(tag: str) -> _VersionKey | None:
    """``(numbers, is_release, suffix parts)`` of a version tag, ``None`` for any other tag.

    ``v1.2.3``, ``1.2``, ``2.10-rc.1`` and ``1.4.0-alpine`` are versions; ``latest``,
    ``main`` and ``sha-1a2b3c`` are not. Suffix parts compare as semver pre-release
    identifiers: numbers numerically (``rc.10`` after ``rc.9``), below words.
    """
    match = _VERSION_TAG.match(tag)
    if match is None:
        return None
    numbers = tuple(int(part) for part in match["numbers"].split("."))
    suffix = match["suffix"] or ""
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"[.+-]", suffix)
        if part
    )
    return numbers, not suffix, parts


def newest_first(tags: list[str]) -> list[str]:
    """Version tags newest first (``2.10`` before ``2.9``), then the other tags by name.

    Versions compare number by number as semver does; for the same numbers, the plain
    release is newer than its pre-release or suffixed builds (``2.0`` before ``2.0-rc.1``).
    """
    versions: list[tuple[_VersionKey, str]] = []
    others: list[str] = []
    for tag in tags:
        version = _tag_version(tag)
        if version is None:
            others.append(tag)
        else:
            versions.append((version, tag))
    versions.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [tag for _, tag in versions] + sorted(others)


def _registry_candidates(
    diagnosis: WorkloadDiagnosis,
    workload: StateWorkload,
    registry: RegistryLookup,
    running_now: dict[str, list[RunningImage]],
) -> list[str]:
    """Older tags and digests of the main container's repository; notes on failures."""
    main = next((c for c in workload.images if not c.init), None)
    reference = parse_reference(main.image) if main is not None else None
    if main is None or reference is None:
        return []
    broken = {i.digest for i in running_now.get(main.container, [])}
    repository = reference.normalized_repository
    asking = f"the tag list of {reference.familiar_name}"
    try:
        tags = registry.tags(reference.domain, repository)
        for tag in newest_first(tags)[:MAX_CANDIDATE_TAGS]:
            asking = f"{reference.familiar_name}:{tag}"
            info = registry.head_manifest(reference.domain, repository, tag)
            if info is not None and info.digest not in broken:
                diagnosis.registry_candidates.append(Candidate(tag, info.digest))
    except RegistryError as exc:
        return [f"registry lookup of {asking} failed: {exc}"]
    return []


def diagnose(state: ClusterState, registry: RegistryLookup | None = None) -> Diagnosis:
    """Diagnose every workload in ``state``; ``registry`` adds older tags and digests."""
    result = Diagnosis(workloads=[], objects_read=state.objects_read)
    result.notes.extend(state.warnings)
    if not state.workloads:
        result.notes.append(
            "no Deployment, StatefulSet or DaemonSet in the input: record it with "
            "`kubectl get deploy,rs,pods -o json` (add sts,ds,controllerrevisions and "
            "`secrets -l owner=helm` when they apply)"
        )
    for workload in state.workloads:
        rows = {r.number: r for r in workload.revisions}
        helm = _helm_for(workload, state.helm)
        rollback = _last_rollback(workload, rows, helm, state.pods)
        current = rows.get(workload.current_revision or -1)
        current_pods = _pods_of(workload, current, state.pods) if current else []
        if not rows:
            current_pods = [
                p
                for p in state.pods
                if p.namespace == workload.namespace and p.owner_name.startswith(workload.name)
            ]
        troubles = _troubles(current_pods)
        failing = _failing(troubles)
        verdict = _verdict(rollback, failing)
        # A rollback that changed the template but whose pods never became ready, while the
        # replaced revision's pods still serve, has not taken the broken release out.
        still_serving = (
            _still_serving(workload, rollback, current, current_pods, state.pods)
            if verdict in (CHANGED, KEPT)
            else ""
        )
        if still_serving:
            verdict = NOT_ROLLED_OUT
        diagnosis = WorkloadDiagnosis(
            kind=workload.kind,
            namespace=workload.namespace,
            name=workload.name,
            verdict=verdict,
            summary=_summary(verdict, rollback, workload, failing, still_serving),
            revision_history_limit=workload.revision_history_limit,
            paused=workload.paused,
            helm=helm,
            rollback=rollback,
            still_serving=still_serving,
        )
        for revision in workload.revisions:
            revision_pods = _pods_of(workload, revision, state.pods)
            running = _running(revision_pods)
            diagnosis.revisions.append(
                RevisionRow(
                    number=revision.number,
                    source=revision.source,
                    images=revision.images,
                    former_numbers=revision.former_numbers,
                    running=tuple(
                        (container, image.short)
                        for container, images in running.items()
                        for image in images
                    ),
                    pods=len(revision_pods),
                    role=_role(revision, workload, rollback),
                )
            )
        diagnosis.pod_problems = [t.text for t in troubles]
        diagnosis.answers = _answers(diagnosis, workload, current_pods, troubles)
        _pin(diagnosis, workload, rows, state.pods)
        if registry is not None:
            result.notes.extend(
                _registry_candidates(diagnosis, workload, registry, _running(current_pods))
            )
        result.workloads.append(diagnosis)
    return result


def _role(revision: Revision, workload: StateWorkload, rollback: Rollback | None) -> str:
    if revision.number == workload.current_revision:
        return "current"
    if rollback is not None and rollback.replaced == f"revision {revision.number}":
        return "replaced by the rollback"
    return ""


def _first_rollout(workload: StateWorkload, verdict: str) -> bool:
    """Revision 1 is all there ever was and nothing was rolled back: a new workload, not a
    history cut short."""
    return (
        verdict == NO_ROLLBACK and workload.current_revision == 1 and len(workload.revisions) <= 1
    )


def _summary(
    verdict: str,
    rollback: Rollback | None,
    workload: StateWorkload,
    failing: set[str],
    still_serving: str,
) -> str:
    if verdict == FAILED and rollback is not None:
        same = _same_container(rollback, failing)
        # With several containers, name the one that kept its image: another one changed.
        where = (
            f" in container {same.container}"
            if same is not None and len(rollback.containers) > 1
            else ""
        )
        return (
            f"FAILED ROLLBACK: {rollback.restored} replaced {rollback.replaced}, but the same "
            f"image is running{where}"
        )
    if verdict == NOT_ROLLED_OUT and rollback is not None:
        deadline = (
            " and the Deployment stopped waiting for one (Progressing=False, "
            "ProgressDeadlineExceeded)"
            if _gave_up(workload)
            else ""
        )
        return (
            f"ROLLBACK NOT DONE: {rollback.restored} has no ready pod{deadline}; still "
            f"serving: {still_serving}"
        )
    if verdict == CHANGED and rollback is not None:
        return f"the rollback changed the running image ({rollback.replaced} → {rollback.restored})"
    if verdict == KEPT and rollback is not None:
        return (
            f"the rollback ({rollback.replaced} → {rollback.restored}) kept the pinned image: "
            "the revisions differ in configuration only"
        )
    history = len(workload.revisions)
    extra = ""
    if workload.paused:
        extra = "; the deployment is paused, so `kubectl rollout undo` refuses it"
    elif _first_rollout(workload, verdict):
        extra = "; it is the first rollout, so there is nothing to roll back to yet"
    elif history <= 1 and workload.kind == "Deployment":
        extra = (
            f"; revisionHistoryLimit {workload.revision_history_limit} left {history} "
            "revision: `kubectl rollout undo` has nothing to go back to"
        )
    return f"no rollback in this state; {_what_runs(workload)}{extra}"


def _namespace_flag(workload: StateWorkload) -> str:
    """``-n shop `` for kubectl commands, empty without a namespace."""
    return f"-n {workload.namespace} " if workload.namespace else ""


def _what_runs(workload: StateWorkload) -> str:
    """``revision 3 runs``, or that the state does not say: a workload without its revision
    annotation and with no ReplicaSet or ControllerRevision in the state (captured before the
    controller saw it, or written by hand) has no revision number."""
    if workload.current_revision is None:
        return "the running revision is not recorded"
    return f"revision {workload.current_revision} runs"


def _newest_template(workload: StateWorkload) -> str:
    """``revision 3 is the newest template``, or the same without a revision number."""
    if workload.current_revision is None:
        return "the running template is the only one in this state (its revision is not recorded)"
    return f"revision {workload.current_revision} is the newest template"


__all__ = ["Diagnosis", "RegistryLookup", "WorkloadDiagnosis", "diagnose", "short_digest"]
