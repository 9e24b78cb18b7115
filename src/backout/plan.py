"""``backout plan``: the rollback plan of a release, as Markdown or as data.

The plan is built from what ``check`` already knows: the images of the release and of the
previous one (``--base``), the digests recorded in ``backout.lock`` (or, with ``--registry``,
the digest a target's tag names today), the release's migrations judged against the base
schema, the Helm releases the CI deploys, and the findings of every enabled rule. It says, in
order: the rollback target per workload (a digest, or a loud warning that the target is a
mutable tag), the exact commands (``helm rollback`` too when Helm deploys the release), the
schema step (nothing, the down migrations, or the forward fix SQL that makes the new schema
acceptable to the old code), the manual steps the findings imply, and how to verify that the
rollback worked. Both renderings mask the credentials an image reference may carry
(:mod:`backout.redact`).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from backout import __version__
from backout.config import Config
from backout.engine import Workspace, enabled_rules, finish, load_workspace, run_rules
from backout.imageref import ImageReference, parse_reference, same_name_and_tag
from backout.models import Finding, Location
from backout.redact import Redactor, strings_in
from backout.rules.base import CheckContext
from backout.schema_model import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    DOWN_PRESENT,
    DROP_TABLE,
    RENAME_COLUMN,
    RENAME_TABLE,
    SET_NOT_NULL,
    UNIQUE,
    JudgedOperation,
    adds_required_column,
    analyse,
    constraint_name,
    drops_base_object,
    narrows_type,
    renames_base_object,
)
from backout.sources.base import FactSet
from backout.sources.ci import (
    CiCommand,
    CiImageDeploy,
    CiRolloutRestart,
    StepInput,
    expand_variables,
    shell_words,
)
from backout.sources.ecs import SOURCE as ECS_SOURCE
from backout.sources.ecs import EcsTaskDefinition
from backout.sources.ecs_steps import (
    DEPLOY_ACTION,
    RENDER_ACTION,
    deploy_steps,
    rendered_containers,
)
from backout.sources.helm import (
    HelmChart,
    HelmCrd,
    HelmHook,
    HelmImage,
    HelmResourcePolicy,
    judged_image_uses,
    readable_name,
)
from backout.sources.images import ImageUse
from backout.sources.lockfile import LockedImage
from backout.sources.manifests import Workload

ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")
"""The workloads the plan rolls back; an Argo Rollout with the plugin's commands."""
# Findings whose fix is a step a human must take during the rollback.
MANUAL_PREFIXES = ("BK104", "BK105", "BK3")
_CONTEXT = re.compile(r"^(?P<kind>\w+)/(?P<name>\S+) (?P<role>\w+) (?P<container>\S+)$")
REGISTRY_SOURCE = "registry: what the tag names today"
# ``helm upgrade``/``install`` flags that take a value (``helm upgrade --help``, v3 and v4,
# with the global flags). Every other flag is a switch: an unknown boolean flag then cannot
# swallow the release name, and ``--flag=value`` carries its value in the same word. Flags
# with an optional value (``--dry-run``, v4's ``--wait``) take it only after ``=``.
_HELM_VALUE_FLAGS = frozenset(
    {
        # chart values
        "-f",
        "--values",
        "--set",
        "--set-string",
        "--set-file",
        "--set-json",
        "--set-literal",
        # chart location
        "--version",
        "--keyring",
        "--repo",
        "--username",
        "--password",
        "--cert-file",
        "--key-file",
        "--ca-file",
        # release
        "--description",
        "--history-max",
        "--timeout",
        "-l",
        "--labels",
        "--name-template",
        "--server-side",
        "--max-chart-size",
        "--max-file-size",
        "-o",
        "--output",
        "--post-renderer",
        "--post-renderer-args",
        # global
        "-n",
        "--namespace",
        "--kube-context",
        "--kubeconfig",
        "--kube-apiserver",
        "--kube-as-user",
        "--kube-as-group",
        "--kube-ca-file",
        "--kube-tls-server-name",
        "--kube-token",
        "--burst-limit",
        "--qps",
        "--registry-config",
        "--repository-config",
        "--repository-cache",
        "--content-cache",
        "--color",
        "--colour",
    }
)
# The flags that set chart values on the command line, over the values files.
_HELM_SET_FLAGS = frozenset({"--set", "--set-string", "--set-file", "--set-json", "--set-literal"})
_UPGRADE_HOOKS = ("pre-upgrade", "post-upgrade")
_ROLLBACK_HOOKS = ("pre-rollback", "post-rollback")


class RegistryLookup(Protocol):
    """What the plan asks a registry (``backout.registry.client.RegistryClient`` fits)."""

    def head_manifest(self, registry: str, repository: str, reference: str) -> _Info | None:
        """What a tag or digest resolves to, ``None`` when unknown."""
        ...


class _Info(Protocol):
    @property
    def digest(self) -> str:
        """The manifest digest a reference resolves to."""
        ...


@dataclass(frozen=True)
class Target:
    """What one container goes back to."""

    workload: str
    namespace: str
    container: str
    current_image: str
    rollback_image: str
    digest: str
    digest_source: str
    warning: str = ""
    source: str = "kubernetes"
    """``kubernetes`` (a manifest's workload), ``helm`` (an image set in a chart's values,
    whose ``workload`` is the chart and ``container`` the values file and path) or ``ci`` (a
    workload no manifest names that the CI deploys with ``kubectl set image``: ``current_image``
    is what the CI sets, ``rollback_image`` the previous release's when it names a different
    image, else ``""``, unknown)."""
    ci_override: str = ""
    """For ``helm``: the CI's flag that sets this image at deploy (``--set image.tag=…``).
    ``rollback_image`` is then what the values file names, not what the previous deploy ran,
    and ``digest`` is empty. For ``kubernetes``: the CI's ``kubectl set image`` pair that
    replaces the manifest's image at deploy, with its location (``api=…:${{ github.sha }}
    (.github/workflows/deploy.yml:12:11)``); ``current_image`` and ``rollback_image`` are
    then what this release's and the previous release's CI lines set (``""``: unknown)."""
    kube_context: str = ""
    """For ``ci``, and ``kubernetes`` with ``ci_override``: the ``--context`` of the CI's
    ``kubectl set image``."""


@dataclass(frozen=True)
class SchemaStep:
    """The schema part of the plan: ``kind`` is ``none``, ``down`` or ``forward-fix``."""

    kind: str
    summary: str
    down_migrations: tuple[str, ...] = ()
    forward_fix: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManualStep:
    """A step a finding implies: what, where, and the fix."""

    code: str
    where: str
    message: str
    fix: str


@dataclass(frozen=True)
class HelmRollback:
    """``helm rollback`` for a Helm release that deploys this repository's workloads.

    ``release`` is ``<release>`` when no CI command names it, and ``<${{ … }}>`` when the CI
    names it by a GitHub Actions expression (the namespace too); ``found_in`` says where it
    was read (a CI command's location, or the chart). ``caveats`` are what ``helm rollback`` does
    not undo, or does on its own, for the charts of this repository.
    """

    release: str
    namespace: str
    chart: str
    found_in: str
    commands: tuple[str, ...]
    caveats: tuple[str, ...] = ()
    value_flags: tuple[str, ...] = ()
    """The CI's ``--set``-like flags (``--set image.tag=${{ github.sha }}``): the deploy
    replaced these values of the chart's values files."""


@dataclass(frozen=True)
class EcsRollback:
    """An Amazon ECS service that runs a task definition family the release changed.

    ``cluster`` and ``service`` are read from the CI's
    ``aws-actions/amazon-ecs-deploy-task-definition`` step or its ``aws ecs update-service``
    / ``aws ecs deploy`` line (``found_in``), ``<cluster>``/``<service>`` when none names
    them. ``codedeploy`` is true for a blue/green service deployed through CodeDeploy
    (``codedeploy-appspec``, ``aws ecs deploy``), whose task definition ``update-service``
    cannot change.
    """

    family: str
    cluster: str
    service: str
    found_in: str
    task_definition: str
    """The task definition file of the release."""
    codedeploy: bool = False


@dataclass
class Plan:
    """The rollback plan of one release."""

    release: str
    base: str | None
    targets: list[Target] = field(default_factory=list)
    helm: list[HelmRollback] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    schema: SchemaStep = field(default_factory=lambda: SchemaStep("none", ""))
    manual_steps: list[ManualStep] = field(default_factory=list)
    verification: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recreate: list[str] = field(default_factory=list)
    """The workloads (``deployment/shop-api``) whose immutable fields the release changed
    (BK105): undo is refused for them, they go back by being recreated."""
    unchanged: list[str] = field(default_factory=list)
    """The workloads whose pod template (images included) the release did not change: the
    plan gives them no command."""
    ecs: list[EcsRollback] = field(default_factory=list)
    """The Amazon ECS services that run a task definition the release changed (left out of
    the JSON when there is none)."""


def _immutable_changes(workspace: Workspace, findings: list[Finding]) -> list[str]:
    """The head's workloads that a BK105 finding points into (at one of their fields)."""
    where = {f.location for f in findings if f.code == "BK105"}
    if not where:
        return []
    return sorted(
        {
            f"{w.kind.lower()}/{w.name}"
            for w in workspace.head.facts.of(Workload)
            if w.location in where or any(f.location in where for f in w.fields)
        }
    )


def _lock_digests(workspace: Workspace) -> dict[str, str]:
    """reference (without digest) → digest: the previous release's lock first (it recorded
    what that release ran), and within a lock the newest entry (the lock lists newest first)."""
    digests: dict[str, str] = {}
    releases = ([workspace.base] if workspace.base else []) + [workspace.head]
    for release in releases:
        for fact in sorted(release.facts.of(LockedImage), key=lambda f: f.order):
            digests.setdefault(fact.entry.reference, fact.entry.digest)
    return digests


def _resolve(registry: RegistryLookup, image: ImageReference) -> str | None:
    """The digest ``image`` names today (its own when pinned); ``None`` when unknown."""
    if image.is_pinned and image.digest:
        return image.digest
    info = registry.head_manifest(image.domain, image.normalized_repository, image.effective_tag)
    return info.digest if info is not None else None


def _from_registry(
    registry: RegistryLookup, rollback_image: str, current_image: str
) -> tuple[str, str]:
    """``(digest, warning)`` for a rollback target named by tag, asked of the registry.

    A different tag that now names the release's own image is no target (the BK304
    situation: the tag was moved; or the same mutable tag in both releases, re-pushed or not),
    and a tag the registry does not know cannot be pulled (BK303): both are warnings, no
    digest. The release's own tag pinned since (``api:2.4`` → ``api:2.4@sha256:…`` of the
    image it names) is no warning, as for BK304.
    """
    target = parse_reference(rollback_image)
    if target is None:
        return "", ""
    digest = _resolve(registry, target)
    if digest is None:
        return "", (
            f"WARNING: the registry answers manifest unknown for the rollback target "
            f"`{rollback_image}` (BK303): the rolled-back pods cannot pull it. Re-push the "
            "previous image, or find another one with `backout diagnose --registry`."
        )
    current = parse_reference(current_image)
    # The release's own tag pinned since (``api:2.4`` → ``api:2.4@sha256:…`` of that very
    # image) names what the previous release ran. The same tag left mutable in both releases
    # (``api:latest``) says nothing of it: what it names today is no target.
    pinned_since = (
        same_name_and_tag(rollback_image, current_image)
        and current is not None
        and current.digest == digest
    )
    if pinned_since or current is None or _resolve(registry, current) != digest:
        return digest, ""
    if not same_name_and_tag(rollback_image, current_image):
        return "", (
            f"WARNING: the rollback target `{rollback_image}` now names {digest}, this "
            "release's own image (BK304): rolling back by it changes nothing. Find the "
            "previous release's digest with `backout diagnose --registry` (or in the CI logs)."
        )
    if _VERSION_TAG.match(target.effective_tag):
        return digest, ""  # an unchanged version tag (web:1.0): the image it was meant to be
    return "", (
        f"WARNING: `{rollback_image}` is the same moving tag in both releases and names "
        f"{digest} today, this release's own image: what the previous release ran under it "
        "cannot be told. If this release's build pushed the tag, rolling back by it changes "
        "nothing: find the previous digest with `backout diagnose --registry` (or in the CI "
        "logs), and pin images by digest (`backout pin --write`)."
    )


# A version tag (``1.0``, ``v2.4.1``, ``2.4-alpine``): a release that keeps one keeps its image;
# ``latest``, ``stable``, ``main`` are tags a build moves.
_VERSION_TAG = re.compile(r"^v?\d+(?:\.\d+)*(?:[-+.][0-9A-Za-z.+-]+)?$")


def _target_digest(
    rollback_image: str,
    current_image: str,
    locked: dict[str, str],
    registry: RegistryLookup | None,
    has_previous: bool,
) -> tuple[str, str, str]:
    """``(digest, where it comes from, warning)`` for one rollback target."""
    reference = parse_reference(rollback_image)
    if reference is not None and reference.is_pinned and reference.digest:
        return reference.digest, "pinned in the previous release", ""
    if rollback_image.split("@")[0] in locked:
        return locked[rollback_image.split("@")[0]], "backout.lock", ""
    if registry is not None and has_previous:
        digest, warning = _from_registry(registry, rollback_image, current_image)
        return digest, REGISTRY_SOURCE if digest else "", warning
    return (
        "",
        "",
        f"WARNING: the rollback target `{rollback_image}` is a mutable tag and no "
        "digest is recorded for it: rolling back may run the broken image again. "
        "Run `backout pin` on the previous release, or find the digest with "
        "`backout diagnose --registry`.",
    )


def _no_base(warning: str) -> str:
    return (
        f"{warning} No previous release given (--base): the target shown is the current reference."
    ).strip()


@dataclass(frozen=True)
class _Change:
    """How the release changed one workload (``deployment/api``), which decides its command.

    ``how`` is ``images`` (only container images: ``kubectl set image`` takes them back),
    ``template`` (more of the pod template: ``rollout undo`` restores all of it), ``unknown``
    (no ``--base`` to compare with: undo), ``new`` (nothing to go back to) or ``unchanged``
    (no command).
    """

    workload: str
    namespace: str
    how: str
    rollout: str = ""
    """The Argo Rollout that runs this workload: itself (``shop``) for a Rollout, or the
    Rollout whose ``spec.workloadRef`` names this Deployment; ``""`` otherwise."""
    kube_context: str = ""
    """The ``--context`` the CI deploys it with (a workload the CI sets the image of)."""
    source: str = "kubernetes"
    """``kubernetes`` (a manifest's workload) or ``ci`` (one the CI sets the image of)."""


def _workload_images(facts: FactSet) -> dict[tuple[str, str], list[ImageUse]]:
    """(kind, name) → the images of its containers and init containers, in file order."""
    images: dict[tuple[str, str], list[ImageUse]] = {}
    for use in sorted(facts.of(ImageUse), key=lambda u: u.location):
        match = _CONTEXT.match(use.context)
        if use.source != "kubernetes" or match is None or match["kind"] not in ROLLOUT_KINDS:
            continue
        if match["role"] in ("container", "initContainer"):
            images.setdefault((match["kind"], match["name"]), []).append(use)
    return images


@dataclass(frozen=True)
class _Override:
    """The CI's ``kubectl set image`` of a container a manifest names: what runs is the CI's
    image, not the manifest's (``kubectl apply -f k8s/`` then ``kubectl set image``)."""

    deploy: CiImageDeploy
    previous: CiImageDeploy | None
    """The previous release's line for the same container, if it has one."""
    manifest_image: str
    manifest_location: Location
    lines: tuple[CiImageDeploy, ...] = ()
    """Every line of this release that may set the container (``deploy`` is the first):
    a staging job's and a production job's, each with its own ``-n`` and ``--context``."""

    @property
    def current_image(self) -> str:
        """What this release's deploy set."""
        return self.deploy.reference or self.deploy.written

    @property
    def rollback_image(self) -> str:
        """The previous release's image when its line writes one out, else ``""``."""
        if self.previous is not None and _names_an_image(self.previous.reference):
            return self.previous.reference or ""
        return ""

    @property
    def changed(self) -> bool:
        """Whether this release's deploy may set another image than the previous one did."""
        return self.rollback_image != self.current_image


def _ci_by_workload(facts: FactSet) -> dict[str, list[CiImageDeploy]]:
    """workload (``deployment/api``) → the CI's ``kubectl set image`` lines, in file order."""
    found: dict[str, list[CiImageDeploy]] = {}
    for deploys in _ci_set_images(facts).values():
        for deploy in deploys:
            found.setdefault(deploy.workload, []).append(deploy)
    return found


def _ci_line(deploys: list[CiImageDeploy], namespace: str, container: str) -> CiImageDeploy | None:
    """The line among ``deploys`` that sets ``container`` (or every container, ``*``) of a
    workload in ``namespace``: a line without ``-n``, or with a variable, may be that one."""
    return next(iter(_ci_lines(deploys, namespace, container)), None)


def _ci_lines(deploys: list[CiImageDeploy], namespace: str, container: str) -> list[CiImageDeploy]:
    """Every line of :func:`_ci_line`, in file order."""
    return [
        deploy
        for deploy in deploys
        if _same_namespace(deploy.namespace, namespace) and deploy.container in (container, "*")
    ]


def _same_namespace(written: str, namespace: str) -> bool:
    """Whether a CI command's ``-n`` (``written``) may be a manifest's ``namespace``."""
    return not written or not namespace or written == namespace or "$" in written


def _moves_on_restart(reference: str) -> bool:
    """Whether a restart may pull other bytes under ``reference``: a tag that is no version
    (``latest``, ``main``, none at all), not pinned by digest."""
    image = parse_reference(reference)
    return image is not None and not image.is_pinned and not _VERSION_TAG.match(image.effective_tag)


def _restarts(workspace: Workspace, workload: str, namespace: str) -> list[CiRolloutRestart]:
    """The CI's ``kubectl rollout restart`` lines of ``workload`` in ``namespace``, in file
    order: those that name it, or every workload of its kind in the namespace."""
    kind = workload.partition("/")[0]
    return [
        restart
        for restart in sorted(workspace.head.facts.of(CiRolloutRestart), key=lambda f: f.location)
        if (restart.workload == workload or restart.every_kind == kind)
        and _same_namespace(restart.namespace, namespace)
    ]


def _restarted(workspace: Workspace, workload: str, namespace: str) -> CiRolloutRestart | None:
    """The first of :func:`_restarts`, if any."""
    return next(iter(_restarts(workspace, workload, namespace)), None)


def _manifest_overrides(workspace: Workspace) -> dict[tuple[str, str], _Override]:
    """(workload, container) → the CI's ``kubectl set image`` of a container that a manifest's
    Deployment, StatefulSet or DaemonSet names."""
    head_ci = _ci_by_workload(workspace.head.facts)
    if not head_ci:
        return {}
    base_ci = _ci_by_workload(workspace.base.facts) if workspace.base is not None else {}
    namespaces = {(w.kind, w.name): w.namespace for w in workspace.head.facts.of(Workload)}
    found: dict[tuple[str, str], _Override] = {}
    for (kind, name), uses in _workload_images(workspace.head.facts).items():
        workload, namespace = f"{kind.lower()}/{name}", namespaces.get((kind, name), "")
        for use in uses:
            container = use.context.rpartition(" ")[2]
            lines = _ci_lines(head_ci.get(workload, []), namespace, container)
            if lines:
                previous = _ci_line(base_ci.get(workload, []), namespace, container)
                found[workload, container] = _Override(
                    lines[0], previous, use.reference, use.location, tuple(lines)
                )
    return found


def _changes(
    workspace: Workspace, overrides: dict[tuple[str, str], _Override], plan: Plan
) -> list[_Change]:
    """How the release changed each Deployment, StatefulSet and DaemonSet, in file order.

    A container the CI sets the image of (``overrides``) changed when the CI's lines may set
    another image than the previous release's did, whatever its manifest says; the workload
    then goes back by undo when the previous image is unknown.
    """
    base = workspace.base
    base_workloads = {(w.kind, w.name): w for w in base.facts.of(Workload)} if base else {}
    base_images = {u.context: u.reference for u in base.facts.of(ImageUse)} if base else {}
    head_images = _workload_images(workspace.head.facts)
    head_workloads = sorted(workspace.head.facts.of(Workload), key=lambda w: w.location)
    # Deployment (namespace, name) → the Rollout whose workloadRef runs its pod template.
    referenced = {
        (w.namespace, w.workload_ref): w.name
        for w in head_workloads
        if w.kind == "Rollout" and w.workload_ref
    }
    changes: list[_Change] = []
    for workload in head_workloads:
        if workload.kind not in ROLLOUT_KINDS or (
            workload.kind == "Rollout" and workload.workload_ref
        ):
            continue  # a workloadRef Rollout goes back with the Deployment it names
        previous = base_workloads.get((workload.kind, workload.name))
        images = head_images.get((workload.kind, workload.name), [])
        name = f"{workload.kind.lower()}/{workload.name}"
        set_by_ci = [
            override
            for use in images
            if (override := overrides.get((name, use.context.rpartition(" ")[2]))) is not None
        ]
        changed = [
            override.changed
            if (override := overrides.get((name, use.context.rpartition(" ")[2]))) is not None
            else base_images.get(use.context) != use.reference
            for use in images
        ]
        restarts: list[CiRolloutRestart] = []
        if base is None:
            how = "unknown"
        elif previous is None:
            how = "new"
        elif previous.pod_template != workload.pod_template:
            how = "template"
        elif any(o.changed and not o.rollback_image for o in set_by_ci):
            how = "unknown"  # the CI set an image the plan cannot tell: undo
        elif any(changed):
            how = "images"
        elif any(
            _moves_on_restart(use.reference)
            for use in images
            if (name, use.context.rpartition(" ")[2]) not in overrides
        ) and (restarts := _restarts(workspace, name, workload.namespace)):
            how = "restart"  # the CI restarts it on a moving tag: new bytes, same manifest
        else:
            how = "unchanged"
        rollout = workload.name if workload.kind == "Rollout" else ""
        if workload.kind == "Deployment":
            rollout = referenced.get((workload.namespace, workload.name), "")
        # the CI's lines say where they deploy: their --context, and -n when the manifest
        # has none (a restart's lines, where the pin after it goes)
        lines: Sequence[CiImageDeploy | CiRolloutRestart] = [
            line for override in set_by_ci for line in override.lines
        ]
        if how == "restart":
            lines = restarts
        context = _where_deployed(lines, "context", name, plan)
        namespace = workload.namespace or _where_deployed(lines, "namespace", name, plan)
        changes.append(_Change(name, namespace, how, rollout, kube_context=context))
    return changes


def _where_deployed(
    lines: Sequence[CiImageDeploy | CiRolloutRestart], what: str, workload: str, plan: Plan
) -> str:
    """The ``--context`` or ``-n`` (``what``) of the CI's ``kubectl set image`` (or ``rollout
    restart``) ``lines`` of ``workload``, as a plan command writes it: a variable is a value
    to fill in, and lines that name several (a staging job's and a production job's) are one
    to choose."""
    found: dict[str, Location] = {}
    for line in lines:
        found.setdefault(line.kube_context if what == "context" else line.namespace, line.location)
    if len(found) <= 1:
        return "".join(_fill_in(v, what, w, plan, "kubectl") for v, w in found.items())
    verb = "rollout restart" if isinstance(lines[0], CiRolloutRestart) else "set image"
    shown = {value or "the current one": where for value, where in found.items()}
    listed = ", ".join(f"`{value}` ({where})" for value, where in shown.items())
    choice = f"<{' or '.join(shown)}>"
    plan.warnings.append(
        f"the CI's `kubectl {verb}` of {workload} names several of the {what} it deploys "
        f"to ({listed}): put in place of `{choice}` the one of the deploy to roll back"
    )
    return choice


def _targets(
    workspace: Workspace, plan: Plan, registry: RegistryLookup | None = None
) -> list[_Change]:
    """The rollback target of every container that the command for its workload sets: the
    containers whose image the release changed, or all of them when undo restores the whole
    pod template. Returns how the release changed each workload."""
    base_images = (
        {u.context: u for u in workspace.base.facts.of(ImageUse)} if workspace.base else {}
    )
    locked = _lock_digests(workspace)
    overrides = _manifest_overrides(workspace)
    changes = _changes(workspace, overrides, plan)
    how_changed = {change.workload: change for change in changes}
    for (kind, name), uses in _workload_images(workspace.head.facts).items():
        change = how_changed.get(f"{kind.lower()}/{name}")
        if change is None or change.how == "unchanged":
            continue
        set_by_ci: list[_Override] = []
        for use in uses:
            container = use.context.rpartition(" ")[2]
            previous = base_images.get(use.context)
            if previous is None and workspace.base is not None:
                plan.warnings.append(
                    f"{use.context} is new in this release: there is nothing to roll it back "
                    "to; rolling back means deleting it or leaving it running"
                )
                continue
            override = overrides.get((change.workload, container))
            if change.how == "restart":
                continue  # see _restart_targets
            if override is not None:
                set_by_ci.append(override)
                if change.how != "images" or override.changed:
                    plan.targets.append(
                        _overridden_target(workspace, change, container, override, locked, registry)
                    )
                continue
            unchanged = previous is not None and previous.reference == use.reference
            if change.how == "images" and unchanged:
                continue
            plan.targets.append(
                _previous_image_target(
                    change.workload,
                    change.namespace,
                    container,
                    use.reference,
                    previous.reference if previous is not None else None,
                    locked,
                    registry,
                    kube_context=change.kube_context,
                )
            )
        if set_by_ci:
            plan.warnings.append(_manifest_not_what_runs(change.workload, set_by_ci))
        restart = _restarted(workspace, change.workload, change.namespace)
        if restart is not None:
            _restart_targets(workspace, plan, change, restart, uses, overrides)
    plan.unchanged = [change.workload for change in changes if change.how == "unchanged"]
    _unchanged_mutable(workspace, changes, locked, plan, overrides)
    return changes


def _previous_image_target(
    workload: str,
    namespace: str,
    container: str,
    current_image: str,
    previous_image: str | None,
    locked: dict[str, str],
    registry: RegistryLookup | None,
    *,
    source: str = "kubernetes",
    kube_context: str = "",
) -> Target:
    """The target of a container that goes back to the previous release's image (``None``:
    no previous release, the current reference is shown), with its digest."""
    rollback_image = previous_image if previous_image is not None else current_image
    digest, digest_source, warning = _target_digest(
        rollback_image, current_image, locked, registry, previous_image is not None
    )
    return Target(
        workload=workload,
        namespace=namespace,
        container=container,
        current_image=current_image,
        rollback_image=rollback_image,
        digest=digest,
        digest_source=digest_source,
        warning=warning if previous_image is not None else _no_base(warning),
        source=source,
        kube_context=kube_context,
    )


def _restart_targets(
    workspace: Workspace,
    plan: Plan,
    change: _Change,
    restart: CiRolloutRestart,
    uses: list[ImageUse],
    overrides: dict[tuple[str, str], _Override],
) -> None:
    """The CI restarts ``change.workload``: each container on a moving tag pulled what the tag
    named at the restart, and ``rollout undo`` brings back the same tag, not those bytes. The
    way back pins the digest the previous release's lock recorded for the tag; a workload the
    release changed otherwise keeps its command, with the same warning."""
    moving = [
        use
        for use in uses
        if (change.workload, use.context.rpartition(" ")[2]) not in overrides
        and _moves_on_restart(use.reference)
    ]
    if not moving:
        return
    recorded: dict[str, str] = {}
    if workspace.base is not None:
        for fact in sorted(workspace.base.facts.of(LockedImage), key=lambda f: f.order):
            recorded.setdefault(fact.entry.reference, fact.entry.digest)
    unknown = []
    for use in moving:
        digest = recorded.get(use.reference.split("@")[0], "")
        unknown += [] if digest else [use.reference]
        if change.how == "restart":
            plan.targets.append(
                Target(
                    workload=change.workload,
                    namespace=change.namespace,
                    container=use.context.rpartition(" ")[2],
                    current_image=use.reference,
                    rollback_image=use.reference,
                    digest=digest,
                    digest_source="backout.lock" if digest else "",
                    kube_context=change.kube_context,
                )
            )
    tags = ", ".join(f"`{use.reference}`" for use in moving)
    if unknown:
        where = (
            "no lock of the previous release records it for "
            + ", ".join(f"`{reference}`" for reference in unknown)
            + ": the previous build's job log has it (`docker push` prints it), or "
            f"`backout diagnose --registry`; put it in place of `{UNKNOWN_DIGEST}`"
        )
    else:
        where = "the previous release's backout.lock recorded it"
    after = (
        "the command below does that"
        if change.how == "restart"
        else f"after the command below, pin it with `kubectl set image {change.workload} "
        "CONTAINER=REPOSITORY@sha256:…`"
    )
    plan.warnings.append(
        f"WARNING: the CI restarts {change.workload} at deploy ({restart.location}: `kubectl "
        f"rollout restart`) and it runs the moving tag {tags}: the restarted pods pulled what "
        "the tag named then (with imagePullPolicy Always, the default for `:latest` and an "
        "untagged image; with IfNotPresent each node kept what it had, a mix). "
        "`kubectl rollout undo` brings back the same tag, not the previous bytes, so the "
        f"rollback must pin the digest the pods ran before: {where}; {after}."
    )


def _overridden_target(
    workspace: Workspace,
    change: _Change,
    container: str,
    override: _Override,
    locked: dict[str, str],
    registry: RegistryLookup | None,
) -> Target:
    """The target of a container the CI sets the image of over its manifest: the previous
    release's CI line, or unknown (what the previous deploy set)."""
    rollback_image = override.rollback_image
    if rollback_image:
        digest, source, warning = _target_digest(
            rollback_image, override.current_image, locked, registry, True
        )
    else:
        flags = _kubectl_flags(change.kube_context, change.namespace)
        digest, source = "", ""
        warning = _ci_unknown(override.deploy, change.workload, flags, override.previous, workspace)
    return Target(
        workload=change.workload,
        namespace=change.namespace,
        container=container,
        current_image=override.current_image,
        rollback_image=rollback_image,
        digest=digest,
        digest_source=source,
        warning=warning,
        ci_override=f"{override.deploy.container}={override.deploy.written} "
        f"({override.deploy.location})",
        kube_context=change.kube_context,
    )


def _manifest_not_what_runs(workload: str, overrides: list[_Override]) -> str:
    """The warning for a workload whose manifest image the CI replaces at deploy."""
    replaced = "; ".join(
        f"`{o.deploy.container}={o.deploy.written}` at {o.deploy.location} over "
        f"`{o.manifest_image}` ({o.manifest_location})"
        for o in overrides
    )
    return (
        f"WARNING: the CI sets the image of {workload} at deploy ({replaced}): the manifest's "
        "image is not what runs, so re-applying the previous release's manifest does not "
        "bring the previous release back (it runs the manifest's image, not what the previous "
        "deploy set). The plan takes the target from the CI's lines; a `kubectl apply` of "
        "the previous manifest needs the CI's `kubectl set image` after it."
    )


# What ``kubectl rollout undo`` takes back (and ``rollout status`` watches), as the CI reader
# names the kinds.
_CI_ROLLOUT_KINDS = ("deployment", "statefulset", "daemonset")
# The kinds ``kubectl set image`` changes that keep no revision history: ``rollout undo`` and
# ``rollout status`` refuse them, and only ``set image`` to the previous image takes them back.
# (A Job's pod template is immutable: the API server refuses any ``set image`` of one.)
_CI_SET_IMAGE_KINDS = {
    "cronjob": "CronJob",
    "pod": "Pod",
    "replicaset": "ReplicaSet",
    "replicationcontroller": "ReplicationController",
}
UNKNOWN_IMAGE = "<the image before this release>"
"""What a ``set image`` of a kind without history shows when the plan knows no previous image."""
UNKNOWN_DIGEST = "<the digest before this release>"
"""What the pin of a restarted moving tag shows when no lock of the previous release has it."""


def _ci_set_images(facts: FactSet) -> dict[tuple[str, str, str], list[CiImageDeploy]]:
    """(workload, namespace, context) → the CI's ``kubectl set image`` of each of its
    containers (the first line that sets it, in file order)."""
    found: dict[tuple[str, str, str], dict[str, CiImageDeploy]] = {}
    for deploy in sorted(facts.of(CiImageDeploy), key=lambda d: d.location):
        if deploy.how == "kubectl set image" and deploy.workload:
            key = (deploy.workload, deploy.namespace, deploy.kube_context)
            found.setdefault(key, {}).setdefault(deploy.container, deploy)
    return {key: list(containers.values()) for key, containers in found.items()}


def _kubectl_flags(context: str, namespace: str) -> str:
    """``--context C -n NS `` for a kubectl command (each only when set), or ``""``."""
    return (f"--context {context} " if context else "") + (f"-n {namespace} " if namespace else "")


def _names_an_image(reference: str | None) -> bool:
    """Whether ``reference`` is one image whatever the run: no CI variable or expression."""
    return reference is not None and "$" not in reference and parse_reference(reference) is not None


def _ci_targets(
    workspace: Workspace,
    plan: Plan,
    changes: list[_Change],
    registry: RegistryLookup | None = None,
) -> list[_Change]:
    """The workloads that no manifest names and that the CI deploys with ``kubectl set
    image``: their rollback target is the previous release's ``set image`` when it names
    another image (a literal ``api:1.4``), else unknown, and undo to the revision before
    the deploy takes them back. Returns how each goes back."""
    in_manifests = {change.workload for change in changes}
    base = _ci_set_images(workspace.base.facts) if workspace.base is not None else {}
    locked = _lock_digests(workspace)
    found: list[_Change] = []
    for key, deploys in _ci_set_images(workspace.head.facts).items():
        workload, namespace, context = key
        kind, _, name = workload.partition("/")
        if workload in in_manifests or kind not in (
            *_CI_ROLLOUT_KINDS,
            *_CI_SET_IMAGE_KINDS,
            "job",
        ):
            continue
        where = deploys[0].location
        workload = f"{kind}/{_fill_in(name, 'workload name', where, plan, 'kubectl')}"
        namespace = _fill_in(namespace, "namespace", where, plan, "kubectl")
        context = _fill_in(context, "context", where, plan, "kubectl")
        flags = _kubectl_flags(context, namespace)
        if kind == "job":
            plan.warnings.append(_immutable_job(deploys[0], workload, flags))
            continue
        before = {d.container: d for d in base.get(key, [])}
        known = True
        for deploy in deploys:
            current = deploy.reference or deploy.written
            previous = before.get(deploy.container)
            if (
                previous is not None
                and previous.reference != current
                and _names_an_image(previous.reference)
            ):
                rollback_image = previous.reference or ""
                digest, source, warning = _target_digest(
                    rollback_image, current, locked, registry, True
                )
            else:
                known = False
                rollback_image, digest, source = "", "", ""
                warning = _ci_unknown(deploy, workload, flags, previous, workspace)
            plan.targets.append(
                Target(
                    workload=workload,
                    namespace=namespace,
                    container=deploy.container,
                    current_image=current,
                    rollback_image=rollback_image,
                    digest=digest,
                    digest_source=source,
                    warning=warning,
                    source="ci",
                    kube_context=context,
                )
            )
        # A kind without history goes back by set image alone, known image or not.
        how = "images" if known or kind in _CI_SET_IMAGE_KINDS else "unknown"
        found.append(_Change(workload, namespace, how, kube_context=context, source="ci"))
        if kind in ("replicaset", "replicationcontroller"):
            plan.warnings.append(_pods_keep_their_image(workload, flags))
    return found


def _ci_unknown(
    deploy: CiImageDeploy,
    workload: str,
    flags: str,
    previous: CiImageDeploy | None,
    workspace: Workspace,
) -> str:
    """The warning for a container whose previous image the CI's ``set image`` does not tell:
    where the cluster still shows it, by kind (``flags``: the command's ``--context``/``-n``)."""
    if previous is not None:
        before = f"the previous release's line names no other image (`{previous.written}`)"
    elif workspace.base is not None:
        before = "the previous release has no such line"
    else:
        before = "no previous release (--base) says what it set before"
    kind = workload.partition("/")[0]
    if kind == "cronjob":
        where = (
            "the Jobs it started before the deploy name the previous image (`kubectl "
            f"{flags}get jobs -o 'custom-columns=JOB:.metadata.name,STARTED:.status.startTime,"
            "IMAGE:.spec.template.spec.containers[*].image'`), and so does the previous "
            "deploy's job log"
        )
    elif kind == "pod":
        where = "the previous deploy's job log names the image it set"
    elif kind in _CI_SET_IMAGE_KINDS:
        where = (
            "the pods it started before the deploy still run the previous image (`kubectl "
            f"{flags}get pods -o 'custom-columns=POD:.metadata.name,"
            "IMAGE:.spec.containers[*].image'`), and the previous deploy's job log names it"
        )
    else:
        suffix = f" {flags.strip()}" if flags else ""
        return (
            f"WARNING: the CI sets the image of {workload} at deploy ({deploy.location}: "
            f"`{deploy.container}={deploy.written}`) and {before}, so the plan knows no target "
            f"image or digest. `kubectl rollout history {workload}{suffix}` lists the revisions "
            f"(`--revision=<N>` shows the image of one); note the digest the pods run before "
            "rolling back."
        )
    return (
        f"WARNING: the CI sets the image of {workload} at deploy ({deploy.location}: "
        f"`{deploy.container}={deploy.written}`) and {before}, so the plan knows no target "
        f"image or digest. A {_CI_SET_IMAGE_KINDS[kind]} has no rollout history (`kubectl "
        f"rollout undo` refuses it): {where}. Put it in place of `{UNKNOWN_IMAGE}`."
    )


def _immutable_job(deploy: CiImageDeploy, workload: str, flags: str) -> str:
    """The warning for a Job the CI sets the image of: there is nothing to set back."""
    name = workload.partition("/")[2]
    return (
        f"WARNING: the CI sets the image of {workload} ({deploy.location}: "
        f"`{deploy.container}={deploy.written}`), but a Job's spec.template is immutable: the "
        "API server refuses the change, so that line fails at deploy and leaves no image to "
        "take back. A Job that ran cannot be undone; to run the previous image again, delete "
        f"it (`kubectl {flags}delete job {name}`) and create it from the previous release's "
        "manifest."
    )


def _pods_keep_their_image(workload: str, flags: str) -> str:
    """The warning for a ReplicaSet or ReplicationController: a template change replaces no
    pod, so setting the image back leaves the pods started with this release's image."""
    return (
        f"WARNING: {workload} replaces no pod when its template changes: its pods keep the "
        "image they started with, so after this release only the pods it created since run "
        "the new image, and after `set image` they still do. Delete them (`kubectl "
        f"{flags}get pods -o 'custom-columns=POD:.metadata.name,"
        "IMAGE:.spec.containers[*].image'` shows which): it starts new ones from the restored "
        "template."
    )


def _unchanged_mutable(
    workspace: Workspace,
    changes: list[_Change],
    locked: dict[str, str],
    plan: Plan,
    overrides: dict[tuple[str, str], _Override],
) -> None:
    """A warning for each unchanged workload that runs a mutable tag: the manifests say
    nothing of what the release pushed under it. What runs is the CI's image where the CI
    sets it (``overrides``)."""
    unchanged = {change.workload for change in changes if change.how == "unchanged"}
    for (kind, name), uses in _workload_images(workspace.head.facts).items():
        workload = f"{kind.lower()}/{name}"
        if workload not in unchanged:
            continue
        running = [
            override.current_image
            if (override := overrides.get((workload, use.context.rpartition(" ")[2])))
            else use.reference
            for use in uses
        ]
        plan.warnings += _unchanged_but_mutable(
            workload,
            running,
            locked,
            "its restarted pods",
            "`kubectl set image` to the previous digest",
        )


def _unchanged_but_mutable(
    workload: str, running: list[str], locked: dict[str, str], who_pulls: str, way_back: str
) -> list[str]:
    """The warning for an unchanged workload whose ``running`` images include a mutable tag
    that no lock records (none when they do not): the release may have pushed under it."""
    mutable = [
        reference
        for reference in running
        if not _is_pinned(reference) and reference.split("@")[0] not in locked
    ]
    if not mutable:
        return []
    tags = ", ".join(f"`{reference}`" for reference in mutable)
    return [
        f"WARNING: {workload} is unchanged by this release, so the plan gives it no command, "
        f"but it runs the mutable tag {tags}: if this release pushed new bytes under it, "
        f"{who_pulls} run them, and only {way_back} (`backout diagnose --registry` finds it) "
        "takes them back."
    ]


def _helm_images(facts: FactSet) -> dict[tuple[str, str], HelmImage]:
    """(values file, values path) → the image, for the values images the templates use."""
    return {
        (use.location.path, use.values_path): use
        for use in judged_image_uses(facts)
        if isinstance(use, HelmImage)
    }


def _helm_targets(workspace: Workspace, plan: Plan, registry: RegistryLookup | None = None) -> None:
    """The images set in charts' values: ``helm rollback`` brings back the previous values."""
    base_images = _helm_images(workspace.base.facts) if workspace.base else {}
    locked = _lock_digests(workspace)
    deploys: dict[str, HelmRollback] = {}
    for helm in plan.helm:
        deploys.setdefault(helm.chart.strip().removeprefix("./").rstrip("/"), helm)
    for key, use in sorted(_helm_images(workspace.head.facts).items()):
        previous = base_images.get(key)
        chart = use.chart or "."
        if previous is None and workspace.base is not None:
            plan.warnings.append(
                f"the image at values `{use.values_path}` of the chart {chart} is new in this "
                "release: `helm rollback` removes what uses it"
            )
            continue
        rollback_image = previous.reference if previous is not None else use.reference
        current_image = use.reference
        if use.built_at is not None:  # the reference names no image that runs
            current_image = use.built_as
            rollback_image = (previous or use).built_as or rollback_image
        deploy = deploys.get(use.chart)
        override = next(
            (
                flag
                for flag in (deploy.value_flags if deploy is not None else ())
                if _sets_values_at(flag, use.values_path)
            ),
            "",
        )
        if override and deploy is not None:
            digest, source, warning = "", "", _overridden(deploy, override, rollback_image)
        elif use.built_at is not None and not _is_pinned((previous or use).reference):
            digest, source = "", ""
            warning = (
                f"WARNING: {use.built_at} builds the image from more than the values "
                f"`{use.values_path}` (`{use.built_as}`), so the plan knows no target digest: "
                "note the digest the pods run before rolling back."
            )
        else:
            # an image built from more than its values is pinned by the digest in their tag
            pinned_as = (previous or use).reference if use.built_at else rollback_image
            digest, source, warning = _target_digest(
                pinned_as, use.reference, locked, registry, previous is not None
            )
        plan.targets.append(
            Target(
                workload=f"chart {chart}",
                namespace=deploy.namespace if deploy is not None else "",
                container=f"{key[0].rpartition('/')[2]} `{use.values_path}`",
                current_image=current_image,
                rollback_image=rollback_image,
                digest=digest,
                digest_source=source,
                warning=warning if previous is not None else _no_base(warning),
                source="helm",
                ci_override=override,
            )
        )


def _overridden(deploy: HelmRollback, flag: str, values_image: str) -> str:
    """The warning for a values image the CI's ``flag`` replaces at deploy."""
    namespace = f" -n {deploy.namespace}" if deploy.namespace else ""
    return (
        f"WARNING: the CI deploys with `{flag}` ({deploy.found_in}): the previous revision "
        f"ran the image that flag set in its deploy, not `{values_image}` of the values "
        f"file, so the plan knows no target digest. `helm get values {deploy.release} "
        f"--revision <REVISION>{namespace}` shows the value it set; note the digest the "
        "pods run before rolling back."
    )


def _is_pinned(image: str) -> bool:
    reference = parse_reference(image)
    return reference is not None and reference.is_pinned


def _commands(plan: Plan, changes: list[_Change]) -> None:
    """One way back per changed workload, ``rollout status``, and what to verify."""
    for target in plan.targets:
        if target.source == "helm":
            _helm_target_checks(target, plan)
    for change in changes:
        if change.how in ("new", "unchanged"):
            continue
        workload = change.workload
        targets = [
            t
            for t in plan.targets
            if (t.source, t.workload, t.namespace, t.kube_context)
            == (change.source, workload, change.namespace, change.kube_context)
        ]
        flag = _kubectl_flags(change.kube_context, change.namespace)
        kind = workload.partition("/")[0]
        if change.rollout:
            _argo_commands(change, flag, targets, plan)
        else:
            plan.commands.append(_rollback_command(change, flag, targets, plan.recreate))
            if kind in _CI_ROLLOUT_KINDS:
                plan.commands.append(f"kubectl {flag}rollout status {workload} --timeout=5m")
        # A workloadRef Deployment runs no pods (Argo scales it to 0): its Rollout's pods do.
        workload = f"rollout/{change.rollout}" if change.rollout else workload
        if kind == "cronjob":
            plan.verification.extend(_cronjob_checks(workload, flag, targets))
            plan.warnings.extend(t.warning for t in targets if t.warning)
            continue
        pods = workload if kind == "pod" else "pods"
        # Without --base a target's digest is this release's: the pods must run another.
        no_base = plan.base is None
        for target in targets:
            if not target.digest or no_base:
                why = (
                    "the plan does not know the digest the pods ran before the restart"
                    if change.how == "restart"
                    else "no previous release given (--base): the digest the plan knows is "
                    "this release's"
                    if no_base
                    else f"the mutable `{target.rollback_image}` may pull the broken image again"
                    if target.rollback_image
                    else "the plan does not know which image the previous deploy set"
                )
                plan.verification.append(
                    f"the pods of {workload} run a different imageID in container "
                    f"{target.container} than before the rollback (note it first with "
                    f"`kubectl {flag}get {pods} -o jsonpath='{{..imageID}}'`): {why}"
                )
        for target in targets:
            if target.digest and not no_base:
                plan.verification.append(
                    f"every pod of {workload} runs {target.digest} in container "
                    f"{target.container}: `kubectl {flag}get {pods} -o jsonpath='{{..imageID}}'` "
                    "shows it for each pod"
                )
        plan.warnings.extend(t.warning for t in targets if t.warning)


def _cronjob_checks(workload: str, flag: str, targets: list[Target]) -> list[str]:
    """What to verify for a CronJob: its template names the target; only the Jobs it starts
    from now on run it."""
    checks = []
    for target in targets:
        image = (
            f"{_repository(target.rollback_image)}@{target.digest}"
            if target.digest
            else target.rollback_image or f"the image put in place of `{UNKNOWN_IMAGE}`"
        )
        checks.append(
            f"`kubectl {flag}get {workload} -o jsonpath='{{..image}}'` names {image} for "
            f"container {target.container}: the next Job it starts runs it (a Job it started "
            f"since the deploy keeps this release's image: `kubectl {flag}get jobs` lists them; "
            "delete one still running if it must not finish)"
        )
    return checks


def _argo_commands(change: _Change, flag: str, targets: list[Target], plan: Plan) -> None:
    """An Argo Rollout goes back with the ``kubectl argo rollouts`` plugin (plain ``kubectl
    rollout`` refuses the kind): abort an update still in progress, then undo or set image,
    then watch ``status``. A Rollout whose ``workloadRef`` names a Deployment runs that
    Deployment's template: the Deployment is what goes back."""
    rollout, workload = change.rollout, change.workload
    ns = f" -n {change.namespace}" if change.namespace else ""
    plan.commands.append(
        f"kubectl argo rollouts abort {rollout}{ns}  # first, if this release's canary or "
        "blue-green update is still in progress (`status` says Paused or Progressing): the "
        "stable ReplicaSet takes the traffic back, but spec.template still names this "
        "release, so the next command is still needed"
    )
    if not change.workload.startswith("rollout/"):
        plan.warnings.append(
            f"rollout/{rollout} runs the pod template of {workload} (its spec.workloadRef): "
            f"the plan takes {workload} back, and Argo Rollouts rolls rollout/{rollout} out "
            "from it"
        )
        plan.commands.append(_rollback_command(change, flag, targets, plan.recreate))
    elif workload in plan.recreate:
        plan.commands.append(_rollback_command(change, flag, targets, plan.recreate))
    elif change.how == "images":
        for target in targets:
            image = (
                f"{_repository(target.rollback_image)}@{target.digest}"
                if target.digest
                else target.rollback_image
            )
            note = "  # a mutable tag, see the warning" if not target.digest else ""
            # The plugin's set image takes one CONTAINER=IMAGE pair.
            plan.commands.append(
                f"kubectl argo rollouts set image {rollout} {_pair(target.container, image)}"
                f"{ns}{note}"
            )
    else:
        revision = (
            "the previous release's revision; the release changed more than images, undo "
            "restores the whole pod template"
            if change.how == "template"
            else "the revision before this release"
        )
        mutable = (
            "; restores a mutable tag, see the warning"
            if any(not t.digest for t in targets)
            else ""
        )
        plan.commands.append(
            f"kubectl argo rollouts undo {rollout}{ns} --to-revision=<N>  # N from "
            f"`kubectl argo rollouts get rollout {rollout}{ns}`: {revision}{mutable}"
        )
    plan.commands.append(f"kubectl argo rollouts status {rollout}{ns} --timeout 5m")


def _pair(container: str, image: str) -> str:
    """``CONTAINER=IMAGE`` for ``set image``, quoted when a shell would expand it: the CI's
    ``*=img`` (every container) is a glob that zsh refuses and bash may expand."""
    pair = f"{container}={image}"
    return shlex.quote(pair) if any(char in pair for char in "*?[") else pair


def _rollback_command(
    change: _Change, flag: str, targets: list[Target], recreate: list[str]
) -> str:
    """The one command that takes ``change.workload`` back: recreate it when an immutable
    field changed, set every changed image in one ``set image`` when only images changed,
    else undo the whole pod template."""
    workload = change.workload
    if workload in recreate:
        return (
            f"kubectl {flag}replace --force -f <the previous release's manifest of "
            f"{workload}>  # an immutable field changed (BK105): undo is refused; this "
            "deletes and recreates it, so expect a short outage"
        )
    mutable = [t.container for t in targets if not t.digest]
    if change.how == "restart":
        pins = " ".join(
            _pair(t.container, f"{_repository(t.rollback_image)}@{t.digest or UNKNOWN_DIGEST}")
            for t in targets
        )
        note = "  # the digest before the restart, unknown to the plan: see the warning"
        return f"kubectl {flag}set image {workload} {pins}{note if mutable else ''}"
    if change.how == "images":
        images = " ".join(
            _pair(t.container, f"{_repository(t.rollback_image)}@{t.digest}")
            if t.digest
            else _pair(t.container, t.rollback_image or UNKNOWN_IMAGE)
            for t in targets
        )
        note = f"  # {', '.join(mutable)}: a mutable tag, see the warning" if mutable else ""
        if any(not t.rollback_image for t in targets):
            note = "  # the image the previous deploy set, unknown to the plan: see the warning"
        return f"kubectl {flag}set image {workload} {images}{note}"
    revision = (
        "the previous release's revision; the release changed more than images, undo "
        "restores the whole pod template"
        if change.how == "template"
        else "the revision before this release"
    )
    note = "; restores a mutable tag, see the warning" if mutable else ""
    if any(not t.rollback_image for t in targets):
        note = "; restores the image the previous deploy set, unknown to the plan: see the warning"
    return (
        f"kubectl {flag}rollout undo {workload} --to-revision=<N>  "
        f"# N from `kubectl rollout history`: {revision}{note}"
    )


FAMILY_PLACEHOLDER = "<family>"
"""What the ECS commands name a task definition that names no family."""


@dataclass(frozen=True)
class _EcsChange:
    """How the release changed one task definition family (``""``: its file names none):
    ``how`` as for :class:`_Change`."""

    family: str
    file: str
    how: str

    @property
    def workload(self) -> str:
        """The task definition as the plan names it."""
        return _ecs_workload(self.family, self.file)


def _ecs_workload(family: str, path: str) -> str:
    """``TaskDefinition/<family>``; a task definition that names no family (``""``, ``?`` in
    an image's context) is told apart by its file, in both releases."""
    if family and family != "?":
        return f"TaskDefinition/{family}"
    return f"TaskDefinition/? ({path})"


def _ecs_uses(facts: FactSet) -> dict[str, ImageUse]:
    """``TaskDefinition/web container web`` (workload as :func:`_ecs_workload` names it) → the
    image of an ECS container (the first file that defines the family)."""
    found: dict[str, ImageUse] = {}
    for use in sorted(facts.of(ImageUse), key=lambda u: u.location):
        if use.source == ECS_SOURCE:
            family, _, name = use.context.removeprefix("TaskDefinition/").partition(" container ")
            found.setdefault(f"{_ecs_workload(family, use.location.path)} container {name}", use)
    return found


def _ecs_definitions(facts: FactSet) -> dict[str, EcsTaskDefinition]:
    """workload (:func:`_ecs_workload`) → its task definition (the first file that defines
    the family)."""
    found: dict[str, EcsTaskDefinition] = {}
    for definition in sorted(facts.of(EcsTaskDefinition), key=lambda d: d.location):
        found.setdefault(_ecs_workload(definition.family, definition.location.path), definition)
    return found


def _rendered_image(image: StepInput | None) -> str:
    """What a render step's ``image`` input writes, when it names one image whatever the
    run; else ``""``."""
    text = image.text.strip() if image is not None else ""
    return text if _names_an_image(text) else ""


def _ecs_targets(
    workspace: Workspace, plan: Plan, registry: RegistryLookup | None = None
) -> list[_EcsChange]:
    """The rollback target of each container of the ECS task definitions the release changed:
    the previous release's image of the same family and container, or, for a container a
    render step fills, what the previous deploy rendered (unknown unless written out).
    Returns how the release changed each family."""
    base = workspace.base
    head_uses, locked = _ecs_uses(workspace.head.facts), _lock_digests(workspace)
    base_uses = _ecs_uses(base.facts) if base is not None else {}
    base_definitions = _ecs_definitions(base.facts) if base is not None else {}
    rendered = rendered_containers(workspace.head.facts)
    base_rendered = rendered_containers(base.facts) if base is not None else {}
    changes: list[_EcsChange] = []
    for workload, definition in _ecs_definitions(workspace.head.facts).items():
        family, path = definition.family, definition.location.path
        previous = base_definitions.get(workload)
        # container name → its image in the file (None: a render step fills an image-less one)
        images = {
            name: use if (use := head_uses.get(f"{workload} container {name}")) else None
            for name in definition.containers
        }
        uses = [use for use in images.values() if use is not None and use.location.path == path]
        filled = {name: image for (file, name), image in rendered.items() if file == path}
        filled_before = (
            {
                name: image
                for (file, name), image in base_rendered.items()
                if file == previous.location.path
            }
            if previous is not None
            else {}
        )
        containers = [name for name, use in images.items() if use is not None or name in filled]
        changed = {
            name
            for name in containers
            if _ecs_changed(workload, name, filled, filled_before, head_uses, base_uses)
        }
        if base is None:
            how = "unknown"
        elif previous is None:
            how = "new"
            plan.warnings.append(
                f"{workload} ({path}) is new in this release: there is no earlier revision "
                "to roll its service back to; rolling back means deleting the service or "
                "leaving it running"
            )
        elif previous.definition != definition.definition:
            how = "template"
        elif changed:
            how = "images"
        else:
            how = "unchanged"
        changes.append(_EcsChange(family, path, how))
        if how == "unchanged":
            plan.unchanged.append(workload)
            _ecs_unchanged_mutable(workload, uses, filled, locked, plan)
            continue
        if how == "new":
            continue
        for name in containers:
            if how == "images" and name not in changed:
                continue
            if name in filled:
                plan.targets.append(
                    _ecs_rendered_target(
                        _EcsChange(family, path, how),
                        name,
                        filled[name],
                        filled_before.get(name),
                        locked,
                        registry,
                    )
                )
                continue
            use = images[name]
            before = base_uses.get(f"{workload} container {name}")
            if use is None:
                continue
            if before is None and base is not None:
                plan.warnings.append(
                    f"{workload} container {name} is new in this release: the previous "
                    "revision has no such "
                    "container, and rolling back to it removes it"
                )
                continue
            plan.targets.append(
                _previous_image_target(
                    workload,
                    "",
                    name,
                    use.reference,
                    before.reference if before is not None else None,
                    locked,
                    registry,
                    source=ECS_SOURCE,
                )
            )
    return changes


def _ecs_changed(
    workload: str,
    name: str,
    filled: dict[str, StepInput],
    filled_before: dict[str, StepInput],
    head_uses: dict[str, ImageUse],
    base_uses: dict[str, ImageUse],
) -> bool:
    """Whether the release changed the image of container ``name`` of an ECS ``workload``:
    one a render step fills (``filled``) changes with every deploy, unless both releases'
    steps write the same image out."""
    if name in filled:
        now = _rendered_image(filled[name])
        return not now or now != _rendered_image(filled_before.get(name))
    context = f"{workload} container {name}"
    before, use = base_uses.get(context), head_uses.get(context)
    return before is None or use is None or before.reference != use.reference


def _ecs_rendered_target(
    change: _EcsChange,
    container: str,
    image: StepInput,
    previous: StepInput | None,
    locked: dict[str, str],
    registry: RegistryLookup | None,
) -> Target:
    """The target of a container a render step fills: the previous release's ``image`` input
    when it names another image, else unknown (what the previous deploy rendered)."""
    current = image.text.strip()
    rollback_image = _rendered_image(previous)
    if rollback_image and rollback_image != current:
        digest, source, warning = _target_digest(rollback_image, current, locked, registry, True)
    else:
        rollback_image, digest, source = "", "", ""
        family = change.family or FAMILY_PLACEHOLDER
        warning = (
            f"WARNING: the CI writes the image of container {container} of {change.workload} at "
            f"deploy ({image.location}: `image: {image.value.strip()}`, "
            f"{RENDER_ACTION}), so the plan knows no target image or digest: the revision "
            "before this release's holds what the previous deploy rendered into it (`aws ecs "
            f"describe-task-definition --task-definition {family}:<REVISION> --query "
            "'taskDefinition.containerDefinitions[].[name,image]'` shows it). A tag there is "
            "pulled again as whatever it names now: note the digest the tasks run before "
            "rolling back."
        )
    return Target(
        workload=change.workload,
        namespace="",
        container=container,
        current_image=current,
        rollback_image=rollback_image,
        digest=digest,
        digest_source=source,
        warning=warning,
        source=ECS_SOURCE,
        ci_override=f"image: {image.value.strip()} ({image.location})",
    )


def _ecs_unchanged_mutable(
    workload: str,
    uses: list[ImageUse],
    filled: dict[str, StepInput],
    locked: dict[str, str],
    plan: Plan,
) -> None:
    """A warning for an unchanged task definition that runs a mutable tag."""
    running = [
        use.reference for use in uses if use.context.rpartition(" container ")[2] not in filled
    ]
    plan.warnings += _unchanged_but_mutable(
        workload,
        running,
        locked,
        "the tasks of its service's next deployment (`--force-new-deployment`, a task replaced)",
        "a revision pinned to the previous digest",
    )


# ``aws`` options before the service name that take a value (``aws --region eu-west-1 ecs …``)
_AWS_VALUE_OPTIONS = frozenset(
    {
        "--region",
        "--profile",
        "--output",
        "--query",
        "--endpoint-url",
        "--color",
        "--ca-bundle",
        "--cli-read-timeout",
        "--cli-connect-timeout",
        "--cli-binary-format",
    }
)
_SHELL_OPERATORS = ("&&", "||", ";", "|", "&")


def aws_ecs_command(line: str) -> tuple[str, dict[str, str]] | None:
    """``(sub-command, {option: value})`` of an ``aws ecs update-service`` or ``aws ecs
    deploy`` line (``--cluster web`` and ``--cluster=web`` alike; a switch such as
    ``--force-new-deployment`` has the value ``""``), else ``None``."""
    words = shell_words(line)
    start = next((i for i, w in enumerate(words) if w == "aws" or w.endswith("/aws")), None)
    if start is None:
        return None
    index = start + 1
    while index < len(words) and words[index].startswith("--"):
        name = words[index]
        index += 2 if name in _AWS_VALUE_OPTIONS else 1
    if words[index : index + 1] != ["ecs"] or index + 1 >= len(words):
        return None
    verb = words[index + 1]
    if verb not in ("update-service", "deploy"):
        return None
    options: dict[str, str] = {}
    index += 2
    while index < len(words) and words[index] not in _SHELL_OPERATORS:
        word = words[index]
        index += 1
        if not word.startswith("--"):
            continue
        name, has_value, value = word.partition("=")
        following = words[index] if index < len(words) else "--"
        if not has_value and not following.startswith("--") and following not in _SHELL_OPERATORS:
            value = following
            index += 1
        options.setdefault(name, value)
    return verb, options


def _task_definition_family(written: str) -> str:
    """The family an ``update-service --task-definition`` names: ``web``, ``web:12`` or the
    ARN ``arn:aws:ecs:…:task-definition/web:12``."""
    return written.rpartition("/")[2].partition(":")[0]


def _ecs_services(
    workspace: Workspace, plan: Plan, change: _EcsChange, single: bool
) -> list[EcsRollback]:
    """The services that run ``change.family``: each deploy step that registers its file, and
    each ``aws ecs update-service``/``deploy`` line that names it (any one when the
    repository has a single family, ``single``, and the line does not tell)."""
    facts = workspace.head.facts
    # (cluster, service, where, through CodeDeploy, what names them: program and noun)
    found: list[tuple[str, str, Location, bool, tuple[str, str]]] = []
    for step in deploy_steps(facts):
        if step.service is None or not (step.file == change.file or (single and not step.file)):
            continue  # without ``service`` the step only registers the task definition
        codedeploy = step.codedeploy_appspec is not None
        cluster = step.cluster or "default"  # the action's default, as the CLI's
        found.append((cluster, step.service, step.location, codedeploy, (DEPLOY_ACTION, "step")))
    for command in sorted(facts.of(CiCommand), key=lambda c: c.location):
        parsed = aws_ecs_command(command.command) if command.runs else None
        if parsed is None:
            continue
        verb, options = parsed
        if "--service" not in options:
            continue
        named = expand_variables(options.get("--task-definition", ""), command.variables)
        if verb == "deploy":
            names_it = named.removeprefix("./") == change.file
        else:
            names_it = bool(change.family) and _task_definition_family(named) == change.family
        if not names_it and not (single and (not named or "$" in named)):
            continue
        cluster = expand_variables(options.get("--cluster") or "default", command.variables)
        service = expand_variables(options["--service"], command.variables)
        found.append(
            (cluster, service, command.location, verb == "deploy", (f"aws ecs {verb}", "command"))
        )
    services: list[EcsRollback] = []
    seen: set[tuple[str, str]] = set()
    for cluster, service, where, codedeploy, (program, noun) in found:
        if (cluster, service) in seen:
            continue
        seen.add((cluster, service))
        services.append(
            EcsRollback(
                change.family,
                _fill_in(cluster, "cluster", where, plan, program, noun),
                _fill_in(service, "service", where, plan, program, noun),
                str(where),
                change.file,
                codedeploy,
            )
        )
    if not services:
        plan.warnings.append(
            f"no CI step or command of this repository names the ECS service that runs "
            f"TaskDefinition/{change.family or '?'} ({change.file}): find it with `aws ecs "
            "list-services --cluster <cluster>` and put the cluster and service in place of "
            "`<cluster>` and `<service>`"
        )
        services.append(EcsRollback(change.family, "<cluster>", "<service>", "", change.file))
    return services


# What ``describe-task-definition`` adds that ``register-task-definition`` refuses.
_DESCRIBED_ONLY = (
    "taskDefinitionArn, .revision, .status, .requiresAttributes, .compatibilities, "
    ".registeredAt, .registeredBy, .deregisteredAt"
)


def _ecs_commands(workspace: Workspace, plan: Plan, changes: list[_EcsChange]) -> None:
    """Per service of each changed family: find the revision before this release's, point the
    service at it (or at a new revision with the previous images pinned by digest), wait
    for it to be stable, and what to verify."""
    single = len(changes) == 1
    for change in changes:
        if change.how in ("new", "unchanged"):
            continue
        workload = change.workload
        if not change.family:
            plan.warnings.append(
                f"{change.file} names no family (`family`), which ECS needs to register it: "
                "the commands name its family `<family>`; put in place of `<family>` the "
                "family the service runs (`aws ecs describe-services --cluster <cluster> "
                "--services <service> --query 'services[0].taskDefinition'` shows it, "
                "`…:task-definition/<family>:<revision>`)"
            )
        targets = [t for t in plan.targets if (t.source, t.workload) == (ECS_SOURCE, workload)]
        services = _ecs_services(workspace, plan, change, single)
        if len(services) > 1:
            listed = ", ".join(f"`{s.service}` of `{s.cluster}` ({s.found_in})" for s in services)
            plan.warnings.append(
                f"the CI deploys {workload} to several services "
                f"({listed}): the commands below take each back; run those of the "
                "environment to roll back"
            )
        known = change.how != "unknown"
        if not known:
            plan.warnings.append(
                f"WARNING: no previous release given (--base): the plan does not know the "
                f"images of the revision before this release's of {workload}, so it points "
                "the service at that revision as it is (a tag there is pulled again as "
                "whatever it names now) and pins nothing: the digests shown are this "
                "release's"
            )
        for service in services:
            plan.ecs.append(service)
            plan.commands.extend(_ecs_service_commands(service, targets, plan, known))
            plan.verification.extend(_ecs_checks(service, targets, known))
        plan.warnings.extend(t.warning for t in targets if t.warning)


def _ecs_service_commands(
    service: EcsRollback, targets: list[Target], plan: Plan, known: bool = True
) -> list[str]:
    """The commands that take ``service`` back to the revision before this release's; pinned
    by the targets' digests only when they are the previous release's (``known``: a
    ``--base`` to compare with)."""
    where = f"--cluster {service.cluster}"
    family = service.family or FAMILY_PLACEHOLDER
    # A CodeDeploy (CODE_DEPLOY) service has task sets and no deployments.
    shown = (
        "'services[0].taskSets[].[status,taskDefinition,stabilityStatus,externalId]' --output "
        "table  # the PRIMARY task set runs this release's revision; externalId: the "
        "CodeDeploy deployment ID"
        if service.codedeploy
        else "'services[0].deployments[].[status,taskDefinition,rolloutState]' --output table  "
        "# the PRIMARY deployment runs this release's revision"
    )
    commands = [
        f"aws ecs describe-services {where} --services {service.service} --query {shown}",
        f"aws ecs list-task-definitions --family-prefix {family} --sort DESC --max-items 5  "
        "# REVISION: the one before this release's",
    ]
    if service.codedeploy:
        plan.warnings.append(
            f"the service {service.service} ({service.found_in}) is deployed through "
            "CodeDeploy (blue/green): `aws ecs update-service` cannot change its task "
            "definition. While this release's deployment is in progress, stop it with "
            "rollback (`aws deploy stop-deployment --deployment-id <ID> "
            "--auto-rollback-enabled`): the original task set takes the traffic back. Once "
            f"it is done, deploy {family}:<REVISION> through CodeDeploy again (`aws deploy "
            "create-deployment` with an AppSpec that names it)."
        )
        commands.append(
            "aws deploy stop-deployment --deployment-id <ID> --auto-rollback-enabled  "
            "# while this release's deployment is in progress (ID: the externalId of its task "
            "set, above); see the warning"
        )
        return commands
    # The revision holds what its file said: a tag is pulled again as what it names now.
    to_pin = [
        t
        for t in targets
        if known and t.digest and t.rollback_image and not _is_pinned(t.rollback_image)
    ]
    revision = f"{family}:<REVISION>"
    if to_pin:
        pins = " | ".join(
            f"(.containerDefinitions[] | select(.name == {json.dumps(t.container)}) | .image) "
            f"|= {json.dumps(f'{_repository(t.rollback_image)}@{t.digest}')}"
            for t in to_pin
        )
        # Outside the checkout: the file holds the task definition's environment values.
        stem = service.family or PurePosixPath(service.task_definition).stem
        file = f"/tmp/backout-rollback-{stem}.json"
        names = ", ".join(f"`{t.container}`" for t in to_pin)
        plan.warnings.append(
            f"WARNING: the revision before this release's names {names} of {family} by tag: "
            "pointing the service at it makes ECS resolve the tag again, to whatever it "
            "names now (this release's image, if the release pushed it). The commands "
            "register a new revision from it with the previous images pinned by digest, and "
            "point the service at that one."
        )
        commands += [
            f"aws ecs describe-task-definition --task-definition {revision} --query "
            f"taskDefinition --output json | jq 'del(.{_DESCRIBED_ONLY}) | {pins}' > {file}",
            f"aws ecs register-task-definition --cli-input-json file://{file} --query "
            "'taskDefinition.revision'  # NEW_REVISION",
        ]
        revision = f"{family}:<NEW_REVISION>"
    note = ""
    if not known:
        note = "  # as it is: without --base the plan does not know its images, see the warning"
    elif any(not t.rollback_image for t in targets):
        note = (
            "  # restores the image the previous deploy rendered, unknown to the plan: "
            "see the warning"
        )
    elif any(not t.digest for t in targets):
        note = "  # restores a mutable tag, see the warning"
    commands += [
        f"aws ecs update-service {where} --service {service.service} "
        f"--task-definition {revision}{note}",
        f"aws ecs wait services-stable {where} --services {service.service}",
    ]
    return commands


def _ecs_checks(service: EcsRollback, targets: list[Target], known: bool = True) -> list[str]:
    """What to verify for an ECS service: its tasks run the target digests (only ``known``
    ones: without ``--base`` a digest is this release's, and the tasks must run another)."""
    where = f"--cluster {service.cluster}"
    tasks = (
        f"`aws ecs describe-tasks {where} --tasks $(aws ecs list-tasks {where} --service-name "
        f"{service.service} --query 'taskArns[]' --output text) --query "
        "'tasks[].containers[].[name,imageDigest]' --output text`"
    )
    if service.codedeploy:
        # ``wait services-stable`` counts deployments, which a CODE_DEPLOY service has none of
        stable = (
            f"`aws ecs describe-services {where} --services {service.service} --query "
            "'services[0].taskSets[].[status,taskDefinition,stabilityStatus]'` shows one "
            "task set, PRIMARY, of the revision rolled back to, STEADY_STATE"
        )
    else:
        stable = (
            f"`aws ecs wait services-stable {where} --services {service.service}` returns, "
            f"and `aws ecs describe-services {where} --services {service.service} --query "
            "'services[0].deployments'` shows one PRIMARY deployment of the revision rolled "
            "back to, rolloutState COMPLETED"
        )
    checks = [stable]
    for target in targets:
        if target.digest and known:
            checks.append(
                f"every task of the service {service.service} runs {target.digest} in "
                f"container {target.container}: {tasks} shows it for each task"
            )
        else:
            why = (
                "without --base the plan does not know the previous release's image"
                if not known
                else f"the mutable `{target.rollback_image}` may pull the broken image again"
                if target.rollback_image
                else "the plan does not know which image the previous deploy rendered"
            )
            checks.append(
                f"the tasks of the service {service.service} run a different imageDigest in "
                f"container {target.container} than before the rollback (note it first with "
                f"{tasks}): {why}"
            )
    return checks


def _helm_target_checks(target: Target, plan: Plan) -> None:
    """What to verify for an image a chart's values set (``helm rollback`` restores it)."""
    flag = f"-n {target.namespace} " if target.namespace else ""
    if target.ci_override:
        plan.verification.append(
            f"the pods of the {target.workload} that run {target.container} run the image "
            f"that `{target.ci_override}` set in the revision rolled back to (`helm get "
            f"manifest` of that revision names it), not the values file's: `kubectl {flag}get "
            "pods -o jsonpath='{..imageID}'` shows a different imageID than before the rollback"
        )
    elif target.digest:
        plan.verification.append(
            f"the pods of the {target.workload} that run {target.container} run "
            f"{target.digest}: `kubectl {flag}get pods -o jsonpath='{{..imageID}}'` shows it"
        )
    else:
        plan.verification.append(
            f"the pods of the {target.workload} that run {target.container} run a different "
            f"imageID than before the rollback: the mutable `{target.rollback_image}` may pull "
            "the broken image again"
        )
    if target.warning:
        plan.warnings.append(target.warning)


def _helm_flag(word: str) -> tuple[str, str | None]:
    """``(flag, value written in the same word)``: ``--namespace=web``, ``-nweb``, ``-f=x``."""
    name, has_value, value = word.partition("=")
    if has_value:
        return name, value
    if not word.startswith("--") and len(word) > 2 and word[:2] in _HELM_VALUE_FLAGS:
        return word[:2], word[2:]
    return word, None


@dataclass(frozen=True)
class HelmDeploy:
    """What a CI's ``helm upgrade``/``install`` line deploys.

    ``release`` is ``""`` for ``install --generate-name``, ``namespace`` ``""`` without
    ``-n``. ``value_flags`` are its ``--set``-like flags as written
    (``--set image.tag=${{ github.sha }}``): values that replace the chart's values files.
    """

    release: str
    chart: str
    namespace: str
    value_flags: tuple[str, ...] = ()


def helm_deploy(command: str) -> HelmDeploy | None:
    """The release, chart and namespace of a ``helm upgrade``/``install`` line, else ``None``.

    Words are split as the shell splits them once GitHub has substituted its ``${{ … }}``
    expressions (one word each). Operands are read as helm reads them: after the
    sub-command, RELEASE then CHART; a flag takes the next word only when it is one of helm's
    value-taking flags and its value is not in the same word. The namespace comes from
    ``-n``/``--namespace`` anywhere on the line.
    """
    words = shell_words(command)
    starts = [i for i, word in enumerate(words) if word == "helm" or word.endswith("/helm")]
    if not starts:
        return None
    operands: list[str] = []
    value_flags: list[str] = []
    namespace, verb, generated, flags_done = "", "", False, False
    index = starts[0] + 1
    while index < len(words):
        word = words[index]
        index += 1
        if word in ("&&", "||", ";", "|", "&"):
            break
        if word == "--" and not flags_done:
            flags_done = True
            continue
        if word.startswith("-") and len(word) > 1 and not flags_done:
            name, value = _helm_flag(word)
            if value is None and name in _HELM_VALUE_FLAGS:
                value = words[index] if index < len(words) else ""
                index += 1
            if name in ("-n", "--namespace"):
                namespace = value or ""
            if name in _HELM_SET_FLAGS:
                value_flags.append(f"{name} {value}")
            generated = generated or name in ("--generate-name", "-g")
        elif not verb:
            verb = word
        else:
            operands.append(word)
    if verb not in ("upgrade", "install") or not operands:
        return None
    if generated:
        return HelmDeploy("", operands[0], namespace, tuple(value_flags))
    chart = operands[1] if len(operands) > 1 else ""
    return HelmDeploy(operands[0], chart, namespace, tuple(value_flags))


def _sets_values_at(flag: str, values_path: str) -> bool:
    """Whether a ``--set``-like ``flag`` (``--set image.tag=x,replicas=2``) sets something at
    or under ``values_path`` (``image``), or a parent of it."""
    name, _, assignments = flag.partition(" ")
    parts = assignments.split(",") if name in ("--set", "--set-string") else [assignments]
    for part in parts:
        key = part.partition("=")[0].strip()
        if key and (
            key == values_path
            or values_path.startswith(f"{key}.")
            or key.startswith(f"{values_path}.")
        ):
            return True
    return False


def _chart_dir(chart_argument: str, charts: set[str]) -> str | None:
    """The repository chart a CI command's chart argument (``./charts/shop``) names."""
    cleaned = chart_argument.strip().removeprefix("./").rstrip("/")
    cleaned = "" if cleaned == "." else cleaned
    return cleaned if cleaned in charts else None


def _helm_caveats(workspace: Workspace, charts: set[str], release: str) -> tuple[str, ...]:
    """What ``helm rollback`` leaves as this release left it, or runs, for ``charts``.

    Templated names are shown as ``release`` renders them (see :func:`readable_name`).
    """
    facts = workspace.head.facts
    caveats: list[str] = []

    def named(written: str, chart: str) -> str:
        return readable_name(written, chart, facts, release)

    for crd in sorted(facts.of(HelmCrd), key=lambda f: f.location):
        if crd.chart not in charts:
            continue
        name = f"`{named(crd.name, crd.chart)}`" if crd.name else "a CustomResourceDefinition"
        if crd.in_templates and crd.kept and not crd.kept_only_if:
            caveats.append(
                f"{name} ({crd.location}) is rendered from templates/ with resource-policy "
                "keep: rolling back to a revision without it leaves it, and its custom "
                "resources, outside the release as this release made it"
            )
        elif crd.in_templates:
            unless = f" unless `{crd.kept_only_if}` held" if crd.kept else ""
            caveats.append(
                f"{name} ({crd.location}) is rendered from templates/: rolling back to a "
                f"revision without it deletes it and every custom resource of that "
                f"kind{unless}"
            )
        else:
            caveats.append(
                f"{name} ({crd.location}) is in crds/: `helm rollback` leaves the cluster's "
                "CRD as it is; go back on it by hand (`kubectl apply` the previous release's "
                "file) if the old code needs it"
            )
    for hook in sorted(facts.of(HelmHook), key=lambda f: f.location):
        if hook.chart not in charts or not hook.runs_containers or hook.makes_webhook_certificate:
            continue
        what = f" (`{named(hook.command, hook.chart)}`)" if hook.command else ""
        name = named(hook.name, hook.chart)
        ran = [h for h in hook.hooks if h in _UPGRADE_HOOKS]
        runs = [h for h in hook.hooks if h in _ROLLBACK_HOOKS]
        if ran:
            caveats.append(
                f"{hook.kind} `{name}`{what} ({hook.location}) ran as a "
                f"{'/'.join(ran)} hook: `helm rollback` does not undo it, so the previous "
                "release starts on what it left (see the schema step)"
            )
        if runs:
            caveats.append(
                f"{hook.kind} `{name}`{what} ({hook.location}) runs as a "
                f"{'/'.join(runs)} hook: it is part of this rollback; watch it finish "
                "(`--no-hooks` skips it only if you reverse its work by hand)"
            )
    for policy in sorted(facts.of(HelmResourcePolicy), key=lambda f: f.location):
        if policy.chart in charts and policy.keeps and policy.kind != "CustomResourceDefinition":
            caveats.append(
                f"{policy.kind} `{named(policy.name, policy.chart)}` ({policy.location}) has "
                "resource-policy keep: "
                "`helm rollback` leaves it as this release made it"
            )
    return tuple(caveats)


def _helm_commands(release: str, namespace: str) -> tuple[str, ...]:
    flag = f" -n {namespace}" if namespace else ""
    return (
        f"helm history {release}{flag} --max 10  "
        "# REVISION: the last one before this release's deploy (status superseded)",
        f"helm rollback {release} <REVISION>{flag} --wait --timeout 5m",
    )


def _fill_in(
    word: str, what: str, where: Location, plan: Plan, program: str = "helm", noun: str = "command"
) -> str:
    """``word`` as the plan shows it: a GitHub ``${{ … }}`` expression (GitHub substitutes
    it when the workflow runs), a CI variable (``$RELEASE``, ``${CI_ENVIRONMENT_NAME}``, a
    script's ``$1``) or a command's output (``$(cat ns)``) becomes ``<…>``, a value to fill
    in, with a warning."""
    if "${{" in word:
        kind = "the GitHub Actions expression"
    elif "$(" in word or "`" in word:
        kind = "the output of the command"
    elif _SHELL_VARIABLE.search(word):
        # GitLab's $CI_ENVIRONMENT_NAME, a job variable: set in the CI job, not in the shell
        # of whoever runs the plan mid-incident, where it expands to nothing.
        kind = "the CI variable"
    else:
        return word
    plan.warnings.append(
        f"the {what} of the `{program}` {noun} at {where} is {kind} "
        f"`{word}`: put in place of `<{word}>` the value it had in the deploy "
        "(the pipeline's job log shows the command with it)"
    )
    return f"<{word}>"


# ``$NAME``, ``${NAME…}``, a script's arguments and the shell's own parameters (``$1``,
# ``${1:-staging}``, ``$@``), a command's output (``$(cat ns)``, backticks)
_SHELL_VARIABLE = re.compile(r"\$(?:\{?[A-Za-z_0-9@*#?$!-]|\()|`")


def _helm(workspace: Workspace, plan: Plan) -> None:
    """``helm rollback`` for each Helm release the CI deploys, or each chart of the repo."""
    facts = workspace.head.facts
    charts = {chart.chart: chart for chart in facts.of(HelmChart)}
    seen: set[tuple[str, str]] = set()
    covered: set[str] = set()
    for command in sorted(facts.of(CiCommand), key=lambda f: f.location):
        if not command.runs:
            continue  # a here-document's text that the job writes to a file
        deploy = helm_deploy(command.command)
        if deploy is None:
            continue
        if (deploy.release, deploy.namespace) in seen:
            continue
        seen.add((deploy.release, deploy.namespace))
        # the values the pipeline itself gives the variables (``RELEASE: shop`` in its env)
        release = expand_variables(deploy.release, command.variables)
        namespace = expand_variables(deploy.namespace, command.variables)
        release = _fill_in(release, "release name", command.location, plan) or "<release>"
        namespace = _fill_in(namespace, "namespace", command.location, plan)
        chart_argument = deploy.chart
        chart = _chart_dir(chart_argument, set(charts))
        if chart is not None:
            covered.add(chart)
        caveats = _helm_caveats(workspace, {chart} if chart is not None else set(charts), release)
        plan.helm.append(
            HelmRollback(
                release,
                namespace,
                chart_argument,
                str(command.location),
                _helm_commands(release, namespace),
                caveats,
                deploy.value_flags,
            )
        )
    for directory, chart_fact in sorted(charts.items()):
        if directory in covered or (seen and len(charts) == 1):
            continue
        where = directory or "."
        plan.helm.append(
            HelmRollback(
                "<release>",
                "",
                where,
                str(chart_fact.location),
                _helm_commands("<release>", ""),
                _helm_caveats(workspace, {directory}, ""),
            )
        )
        plan.warnings.append(
            f"the chart `{chart_fact.name}` ({where}) is deployed with Helm, but no CI command "
            "of this repository names its release: find it with `helm list -A` and put it in "
            "place of <release>"
        )
    for helm in plan.helm:
        flag = f" -n {helm.namespace}" if helm.namespace else ""
        plan.verification.append(
            f"`helm history {helm.release}{flag} --max 1` shows a new revision, status "
            "deployed, described as `Rollback to <REVISION>`"
        )
    plain = sorted({t.workload for t in plan.targets if t.source in ("kubernetes", "ci")})
    if plan.helm and plain:
        releases = ", ".join(f"`{h.release}`" for h in plan.helm)
        plan.warnings.append(
            f"two ways to roll back: the chart's workloads ({releases}) with `helm rollback`, "
            "which restores every resource of the chart (a `kubectl set image` on them is "
            "undone by the next `helm upgrade`); the workloads of the plain manifests "
            f"({', '.join(plain)}) with kubectl, as the commands below do"
        )


def _repository(image: str) -> str:
    reference = parse_reference(image)
    return reference.familiar_name if reference is not None else image.split("@")[0]


def _default_for(sql_type: str | None) -> str | None:
    lowered = (sql_type or "").lower()
    if any(word in lowered for word in ("char", "text", "string")):
        return "''"
    if any(word in lowered for word in ("int", "numeric", "decimal", "real", "double", "float")):
        return "0"
    if "bool" in lowered:
        return "false"
    if "timestamp" in lowered or lowered == "date":
        return "now()"
    return None


def _forward_fix(judged: JudgedOperation, constrained: set[int]) -> str | None:
    """SQL that makes the new schema acceptable to the old code, for one operation
    (``constrained``: the ids of the added constraints that restrict the old code)."""
    op = judged.op
    table = op.table
    if adds_required_column(judged):
        default = _default_for(judged.final_type)
        if default is not None:
            return f"ALTER TABLE {table} ALTER COLUMN {op.column} SET DEFAULT {default};"
        return f"ALTER TABLE {table} ALTER COLUMN {op.column} DROP NOT NULL;"
    if op.kind == SET_NOT_NULL and judged.column_at_base and judged.base_nullable is not False:
        return f"ALTER TABLE {table} ALTER COLUMN {judged.column_name} DROP NOT NULL;"
    if drops_base_object(judged):
        if op.kind == DROP_TABLE:
            return f"-- {table} was dropped: restore it from the pre-deploy backup"
        column_type = judged.base_type or "<type>"
        return (
            f"ALTER TABLE {table} ADD COLUMN {judged.column_name} {column_type};"
            "  -- its data is gone: restore it from the pre-deploy backup"
        )
    if renames_base_object(judged):
        if op.kind == RENAME_TABLE:
            return f"ALTER TABLE {op.new_name} RENAME TO {judged.base_table or table};"
        if op.kind == RENAME_COLUMN:
            return f"ALTER TABLE {table} RENAME COLUMN {op.new_name} TO {judged.column_name};"
    if op.kind == ALTER_TYPE and judged.base_type and narrows_type(judged) is not None:
        # Only a change the old values may not fit: a widening is left as it is (going back
        # could reject the longer values written since the deploy).
        return f"ALTER TABLE {table} ALTER COLUMN {judged.column_name} TYPE {judged.base_type};"
    if op.kind == ADD_CONSTRAINT and id(judged) in constrained and op.constraint:
        return _drop_constraint(table, op.constraint, constraint_name(op), judged.base_columns)
    return None


def _drop_constraint(table: str, kind: str, name: str, columns: tuple[str, ...]) -> str:
    """SQL that removes an added constraint (``kind`` is ``unique``, ``check``…) by ``name``.

    A UNIQUE may be a table constraint or a ``CREATE UNIQUE INDEX``, and each refuses the
    other's DROP: both are written, with IF EXISTS, so that whichever it is goes. A constraint
    added without a name got one from the database, which the migration cannot tell.
    """
    what = kind.replace("_", " ").upper()
    if not name:
        return (
            f"-- ALTER TABLE {table} DROP CONSTRAINT <name>;  the {what} constraint on "
            f"({', '.join(columns)}) was added without a name: look it up (\\d {table})"
        )
    if kind == UNIQUE:
        return f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}; DROP INDEX IF EXISTS {name};"
    return f"ALTER TABLE {table} DROP CONSTRAINT {name};"


def _schema(workspace: Workspace, plan: Plan) -> None:
    context = CheckContext(
        head=workspace.head.facts,
        config=workspace.config,
        base=workspace.base.facts if workspace.base else None,
        suppressions=workspace.head.suppressions,
    )
    analysis = analyse(context)
    if not analysis.release:
        plan.schema = SchemaStep("none", "nothing: this release adds no migration")
        return
    # The constraints BK206 reports: not one dropped and created again under its name.
    constrained = {id(judged) for judged in analysis.old_writes_constrained}
    fixes = [
        fix for judged in analysis.judged if (fix := _forward_fix(judged, constrained)) is not None
    ]
    downs = tuple(
        f"{m.label}" + (f": down at {m.down_location}" if m.down_location else "")
        for m in reversed(analysis.release)
        if m.down_state == DOWN_PRESENT
    )
    without_down = [m.label for m in analysis.release if m.down_state != DOWN_PRESENT]
    if not fixes:
        plan.schema = SchemaStep(
            "none",
            "nothing: the release's migrations are backward compatible, the old code runs on "
            "the new schema; leave them applied",
            downs,
        )
        return
    added = any(j.op.kind == ADD_COLUMN for j in analysis.judged)
    summary = (
        "the old code cannot run on the new schema. Apply the forward fix below before the "
        "old pods start; it keeps the data written since the deploy"
    )
    if len(downs) == len(analysis.release):
        summary += "; the down migrations (in this order) also restore the schema, but " + (
            "lose the data written to the new columns" if added else "may lose data"
        )
    elif downs:
        summary += (
            f"; the down migrations below cannot restore the base schema on their own: "
            f"{', '.join(without_down)} cannot go back"
        )
    plan.schema = SchemaStep("forward-fix", summary, downs, tuple(fixes))


def _manual(findings: list[Finding], plan: Plan) -> None:
    for finding in findings:
        if finding.code.startswith(MANUAL_PREFIXES):
            plan.manual_steps.append(
                ManualStep(finding.code, str(finding.location), finding.message, finding.fix)
            )


def build_plan(
    target: Path, config: Config, base: str | None, registry: RegistryLookup | None = None
) -> Plan:
    """The rollback plan of the release at ``target`` (previous release: ``base``).

    With ``registry``, a rollback target named by a tag that no lock records is resolved to
    the digest the tag names today.
    """
    workspace = load_workspace(target, config, base)
    rules = enabled_rules(config)
    result = finish(workspace, run_rules(workspace, rules), rules)
    plan = Plan(release=str(target), base=base)
    changes = _targets(workspace, plan, registry)
    changes += _ci_targets(workspace, plan, changes, registry)
    ecs_changes = _ecs_targets(workspace, plan, registry)
    _helm(workspace, plan)
    _helm_targets(workspace, plan, registry)
    for helm in plan.helm:
        plan.commands.extend(helm.commands)
    plan.recreate = _immutable_changes(workspace, result.findings)
    _commands(plan, changes)
    _ecs_commands(workspace, plan, ecs_changes)
    _schema(workspace, plan)
    _manual(result.findings, plan)
    if plan.helm and not changes:
        plan.warnings.append(
            "no Deployment, StatefulSet, DaemonSet or Argo Rollout image outside the chart: "
            "`helm rollback` restores the images of the chart's previous revision"
        )
    elif not plan.targets and not changes and not ecs_changes:
        plan.warnings.append(
            "no Deployment, StatefulSet, DaemonSet or Argo Rollout image found: no rollback "
            "target to name"
        )
    plan.verification.append(
        "the health checks pass again (readiness probes green, error rate back to the "
        "pre-deploy level)"
    )
    return plan


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown, ready to paste into a runbook or a pull request."""
    base = f" (previous release: `{plan.base}`)" if plan.base else ""
    lines = [f"# Rollback plan for `{plan.release}`{base}", ""]
    for warning in plan.warnings:
        lines += [f"> **{warning}**", ""]
    lines += ["## 1. Rollback target", ""]
    if plan.targets:
        lines += ["| workload | container | now | go back to | digest |", "|---|---|---|---|---|"]
        for t in plan.targets:
            digest = f"`{t.digest}` ({t.digest_source})" if t.digest else "**unknown**"
            now, rollback = f"`{t.current_image}`", f"`{t.rollback_image}`"
            if t.ci_override and t.source == "helm":
                # The values file does not name what ran: the CI's flag replaced it.
                now = f"what `{t.ci_override}` set (values file: {now})"
                rollback = f"what `{t.ci_override}` set (values file: {rollback})"
            elif not t.rollback_image and t.source == ECS_SOURCE:
                rollback = "what the previous deploy rendered"
            elif not t.rollback_image:
                rollback = "what the previous deploy set"
            lines.append(f"| {t.workload} | {t.container} | {now} | {rollback} | {digest} |")
    elif not plan.unchanged:
        lines.append("No workload image found.")
    if plan.unchanged:
        unchanged = ", ".join(plan.unchanged)
        lines += [""] if plan.targets else []
        lines.append(f"Unchanged by this release, so no command: {unchanged}.")
    summary = plan.schema.summary
    lines += ["", "## 2. Schema", "", summary[:1].upper() + summary[1:] + "."]
    if plan.schema.forward_fix:
        lines += ["", "Forward fix:", "", "```sql", *plan.schema.forward_fix, "```"]
    if plan.schema.down_migrations and plan.schema.forward_fix:
        lines += [
            "",
            "Or, instead of the forward fix (not both: it already puts back part of what they "
            "undo, so they may fail after it), the down migrations, in order:",
            "",
        ]
    elif plan.schema.down_migrations:
        lines += ["", "Down migrations, in order:", ""]
    lines += [f"{i}. {m}" for i, m in enumerate(plan.schema.down_migrations, start=1)]
    lines += ["", "## 3. Commands", ""]
    if plan.commands:
        lines += ["```sh", *plan.commands, "```"]
    else:
        lines.append("None.")
    for helm in plan.helm:
        if not helm.caveats:
            continue
        lines += ["", f"What `helm rollback {helm.release}` leaves or runs:", ""]
        lines += [f"- {caveat}" for caveat in helm.caveats]
    lines += ["", "## 4. Manual steps", ""]
    if plan.manual_steps:
        lines += [
            f"- **{s.code}** `{s.where}`: {s.message}. Fix: {s.fix}" for s in plan.manual_steps
        ]
    else:
        lines.append("None found.")
    lines += ["", "## 5. Verify", ""]
    lines += [f"- [ ] {check}" for check in plan.verification]
    return _redactor(plan).redact("\n".join(lines) + "\n")


def render_json(plan: Plan) -> str:
    """The plan as data."""
    document = asdict(plan)
    if not plan.ecs:
        del document["ecs"]  # a plan without ECS reads as it did before ECS was planned
    masked = _redactor(plan).redact_data(document)
    return json.dumps({"version": __version__, **masked}, indent=2) + "\n"


def _redactor(plan: Plan) -> Redactor:
    """What masks the credentials that ``plan``'s image references and findings quote."""
    return Redactor(strings_in(asdict(plan)))
