"""Read recorded cluster state: what ``kubectl get … -o json`` printed, as typed objects.

Accepted input is what an engineer mid-incident can paste: one ``kubectl get
deploy,rs,pods -o json`` ``List``, several such documents one after the other (``kubectl get
… -o json; kubectl get secrets -l owner=helm -o json``), a single object, or the same as YAML.
Deployments come with their ReplicaSets (revision annotations), StatefulSets and DaemonSets
with their ControllerRevisions, and Helm release Secrets (``sh.helm.release.v1.<name>.v<N>``)
are decoded as Helm stores them: base64 of gzip of JSON, under kubectl's own base64 layer.
Input that cannot be read at all raises :class:`StateError` with one line for the user; a Helm
release Secret that cannot be decoded becomes a warning and the rest is still read.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# kubectl's own default when the field is absent (apps/v1 API docs).
DEFAULT_REVISION_HISTORY_LIMIT = 10
_HELM_SECRET = re.compile(r"^sh\.helm\.release\.v1\.(?P<release>.+)\.v(?P<version>\d+)$")
_GZIP_MAGIC = b"\x1f\x8b"
# Kubernetes numbers (revisions, replicas, restart counts) are int64: at most 19 digits. A longer
# one is not something the API server wrote, and past 4,300 digits int() refuses it outright.
_MAX_DIGITS = 19


class StateError(Exception):
    """The state file cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class ContainerImage:
    """One container of a pod template and the image reference it names."""

    container: str
    image: str
    init: bool = False


@dataclass(frozen=True)
class Revision:
    """One retained revision of a workload: a ReplicaSet, ControllerRevision or Helm release.

    ``former_numbers`` are the revision numbers this same template had before it was restored
    (``deployment.kubernetes.io/revision-history``): a template that comes back gets a new
    number, so a non-empty tuple is the trace a rollback leaves.
    """

    number: int
    source: str
    images: tuple[ContainerImage, ...]
    pod_hash: str = ""
    created: str = ""
    former_numbers: tuple[int, ...] = ()
    change_cause: str = ""
    replicas: int | None = None


@dataclass(frozen=True)
class Condition:
    """A status condition (``Progressing``, ``Available``, ``PodScheduled`` …)."""

    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet or DaemonSet with its retained revisions, oldest first."""

    kind: str
    namespace: str
    name: str
    uid: str
    images: tuple[ContainerImage, ...]
    revision_history_limit: int
    paused: bool
    current_revision: int | None
    revisions: tuple[Revision, ...] = ()
    conditions: tuple[Condition, ...] = ()
    managed_by_helm: str = ""

    @property
    def label(self) -> str:
        """``deployment/shop-api`` as kubectl names it."""
        return f"{self.kind.lower()}/{self.name}"


@dataclass(frozen=True)
class ContainerStatus:
    """What one container of a pod runs and how it fares."""

    container: str
    image: str
    image_id: str
    ready: bool
    restart_count: int
    waiting_reason: str = ""
    waiting_message: str = ""
    last_exit_reason: str = ""
    init: bool = False


@dataclass(frozen=True)
class Pod:
    """A pod, the controller that owns it, and the template hash that ties it to a revision."""

    namespace: str
    name: str
    owner_kind: str
    owner_name: str
    template_hash: str
    phase: str
    terminating: bool
    containers: tuple[ContainerStatus, ...]
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class HelmWorkloadImages:
    """The images one workload of a Helm release's rendered manifest names."""

    kind: str
    name: str
    images: tuple[ContainerImage, ...]


@dataclass(frozen=True)
class HelmRevision:
    """One Helm release revision, decoded from its Secret."""

    release: str
    namespace: str
    version: int
    status: str
    description: str
    chart: str
    app_version: str
    updated: str
    workloads: tuple[HelmWorkloadImages, ...]


@dataclass
class ClusterState:
    """Everything read from the state input; ``warnings`` name the objects that could not be."""

    workloads: list[Workload] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    helm: list[HelmRevision] = field(default_factory=list)
    objects_read: int = 0
    warnings: list[str] = field(default_factory=list)


def _documents(text: str) -> Iterator[Any]:
    """JSON values one after the other; YAML when the text is not JSON at all."""
    decoder = json.JSONDecoder()
    position, length = 0, len(text)
    parsed_any = False
    while True:
        while position < length and text[position].isspace():
            position += 1
        if position >= length:
            return
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            if parsed_any:
                raise StateError(
                    f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                ) from None
            yield from _yaml_documents(text, exc)
            return
        except RecursionError:
            raise StateError(_TOO_DEEP) from None
        except ValueError:
            # json refuses an integer of more than 4,300 digits with a plain ValueError.
            raise StateError(_TOO_LONG) from None
        parsed_any = True
        yield value


_TOO_DEEP = "the input is nested too deeply to be kubectl output"
_TOO_LONG = "a number in the input is longer than any Kubernetes field holds"


def _yaml_documents(text: str, json_error: json.JSONDecodeError) -> Iterator[Any]:
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))
    except RecursionError:
        raise StateError(_TOO_DEEP) from None
    except ValueError:
        raise StateError(_TOO_LONG) from None
    except yaml.YAMLError:
        raise StateError(
            f"not kubectl JSON (line {json_error.lineno} column {json_error.colno}: "
            f"{json_error.msg}) and not YAML either"
        ) from None
    if not any(isinstance(doc, dict) for doc in documents):
        raise StateError(
            f"not kubectl JSON (line {json_error.lineno} column {json_error.colno}: "
            f"{json_error.msg})"
        )
    yield from (doc for doc in documents if doc is not None)


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Flatten ``List`` objects (and ``DeploymentList`` etc. from the API) into items."""
    if isinstance(value, list):
        for item in value:
            yield from _objects(item)
        return
    if not isinstance(value, dict):
        return
    if isinstance(value.get("items"), list) and str(value.get("kind", "List")).endswith("List"):
        for item in value["items"]:
            yield from _objects(item)
        return
    if "kind" in value:
        yield value


def _map(value: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _list(value: Any, *keys: str) -> list[Any]:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        digits = value.strip()
        if len(digits) > _MAX_DIGITS:
            raise StateError(f"the number {digits[:12]}… ({len(digits)} digits) is out of range")
        return int(digits)
    return None


def template_images(pod_spec: dict[str, Any]) -> tuple[ContainerImage, ...]:
    """Images of a pod spec: init containers first, then containers, in order."""
    out: list[ContainerImage] = []
    for key, init in (("initContainers", True), ("containers", False)):
        for container in _list(pod_spec, key):
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                out.append(ContainerImage(str(container.get("name", "")), container["image"], init))
    return tuple(out)


def _conditions(status: dict[str, Any]) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            str(c.get("type", "")),
            str(c.get("status", "")),
            str(c.get("reason", "") or ""),
            str(c.get("message", "") or ""),
        )
        for c in _list(status, "conditions")
        if isinstance(c, dict)
    )


def _controller(meta: dict[str, Any]) -> tuple[str, str, str]:
    """``(kind, name, uid)`` of the controlling owner reference, empty when none."""
    owners = [o for o in _list(meta, "ownerReferences") if isinstance(o, dict)]
    for owner in owners:
        if owner.get("controller"):
            return str(owner.get("kind", "")), str(owner.get("name", "")), str(owner.get("uid", ""))
    if owners:
        first = owners[0]
        return str(first.get("kind", "")), str(first.get("name", "")), str(first.get("uid", ""))
    return "", "", ""


def _former_numbers(annotations: dict[str, Any]) -> tuple[int, ...]:
    raw = str(annotations.get("deployment.kubernetes.io/revision-history", "") or "")
    numbers = [_int(part) for part in raw.split(",")]
    return tuple(n for n in numbers if n is not None)


@dataclass
class _Pending:
    """Objects collected before they can be tied to their owners."""

    workloads: list[dict[str, Any]] = field(default_factory=list)
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    controller_revisions: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    helm_secrets: list[dict[str, Any]] = field(default_factory=list)


def decode_state(data: bytes) -> str:
    """The text of state bytes: UTF-8 (a BOM dropped), or UTF-16 with its BOM, which Windows
    PowerShell's ``kubectl get … -o json > state.json`` writes; :class:`StateError` otherwise."""
    import codecs  # only for the byte order marks

    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise StateError(f"not UTF-16 text after its byte order mark ({exc.reason})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StateError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save kubectl's output as it prints it"
        ) from None


def parse_state(text: str) -> ClusterState:
    """Read state text (see the module docs) into a :class:`ClusterState`."""
    try:
        return _parse_state(text)
    except RecursionError:
        # Lists of lists within json's own depth limit still recurse in _objects.
        raise StateError(_TOO_DEEP) from None


def _parse_state(text: str) -> ClusterState:
    pending = _Pending()
    count = 0
    for document in _documents(text):
        for obj in _objects(document):
            count += 1
            kind = obj.get("kind")
            if kind in WORKLOAD_KINDS:
                pending.workloads.append(obj)
            elif kind == "ReplicaSet":
                pending.replica_sets.append(obj)
            elif kind == "ControllerRevision":
                pending.controller_revisions.append(obj)
            elif kind == "Pod":
                pending.pods.append(obj)
            elif kind == "Secret" and _HELM_SECRET.match(str(_map(obj, "metadata").get("name"))):
                pending.helm_secrets.append(obj)
    if count == 0:
        raise StateError("no Kubernetes objects in the input (expected `kubectl get … -o json`)")
    state = ClusterState(objects_read=count)
    helm: list[HelmRevision] = []
    for secret in pending.helm_secrets:
        # One damaged release Secret loses that Helm revision, not the whole diagnosis.
        try:
            helm.append(_helm_revision(secret))
        except StateError as exc:
            state.warnings.append(f"{exc}; that Helm revision is left out of the history below")
    state.helm = sorted(helm, key=lambda r: (r.namespace, r.release, r.version))
    state.workloads = [_workload(obj, pending) for obj in pending.workloads]
    state.pods = [_pod(obj) for obj in pending.pods]
    return state


def _owned_by(obj: dict[str, Any], kind: str, name: str, uid: str, namespace: str) -> bool:
    meta = _map(obj, "metadata")
    if str(meta.get("namespace", "")) != namespace:
        return False
    owner_kind, owner_name, owner_uid = _controller(meta)
    if owner_kind != kind:
        return False
    return owner_uid == uid if owner_uid and uid else owner_name == name


def _workload(obj: dict[str, Any], pending: _Pending) -> Workload:
    meta, spec = _map(obj, "metadata"), _map(obj, "spec")
    kind, name = str(obj["kind"]), str(meta.get("name", ""))
    namespace, uid = str(meta.get("namespace", "")), str(meta.get("uid", ""))
    annotations = _map(meta, "annotations")
    labels = _map(meta, "labels")
    limit = _int(spec.get("revisionHistoryLimit"))
    revisions: list[Revision] = []
    if kind == "Deployment":
        for rs in pending.replica_sets:
            if _owned_by(rs, kind, name, uid, namespace):
                revisions.append(_rs_revision(rs))
    else:
        for cr in pending.controller_revisions:
            if _owned_by(cr, kind, name, uid, namespace):
                revisions.append(_cr_revision(cr))
    current = _int(annotations.get("deployment.kubernetes.io/revision"))
    if current is None and kind != "Deployment":
        current = _current_cr_revision(_map(obj, "status"), revisions)
    if current is None and revisions:
        current = max(r.number for r in revisions)
    helm_release = ""
    if str(labels.get("app.kubernetes.io/managed-by", "")) == "Helm":
        helm_release = str(annotations.get("meta.helm.sh/release-name", "") or "")
    return Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        uid=uid,
        images=template_images(_map(spec, "template", "spec")),
        revision_history_limit=DEFAULT_REVISION_HISTORY_LIMIT if limit is None else limit,
        paused=bool(spec.get("paused", False)),
        current_revision=current,
        revisions=tuple(sorted(revisions, key=lambda r: r.number)),
        conditions=_conditions(_map(obj, "status")),
        managed_by_helm=helm_release,
    )


def _current_cr_revision(status: dict[str, Any], revisions: list[Revision]) -> int | None:
    # StatefulSets name the revision their pods should run in status.updateRevision.
    wanted = str(status.get("updateRevision", "") or "")
    for revision in revisions:
        if wanted and revision.source.endswith(" " + wanted):
            return revision.number
    return None


def _rs_revision(rs: dict[str, Any]) -> Revision:
    meta, spec = _map(rs, "metadata"), _map(rs, "spec")
    annotations = _map(meta, "annotations")
    number = _int(annotations.get("deployment.kubernetes.io/revision")) or 0
    return Revision(
        number=number,
        source=f"ReplicaSet {meta.get('name', '')}",
        images=template_images(_map(spec, "template", "spec")),
        pod_hash=str(_map(meta, "labels").get("pod-template-hash", "") or ""),
        created=str(meta.get("creationTimestamp", "") or ""),
        former_numbers=_former_numbers(annotations),
        change_cause=str(annotations.get("kubernetes.io/change-cause", "") or ""),
        replicas=_int(spec.get("replicas")),
    )


def _cr_revision(cr: dict[str, Any]) -> Revision:
    meta = _map(cr, "metadata")
    data = _map(cr, "data")
    name = str(meta.get("name", ""))
    return Revision(
        number=_int(cr.get("revision")) or 0,
        source=f"ControllerRevision {name}",
        images=template_images(_map(data, "spec", "template", "spec")),
        pod_hash=name,
        created=str(meta.get("creationTimestamp", "") or ""),
        change_cause=str(_map(meta, "annotations").get("kubernetes.io/change-cause", "") or ""),
    )


def _container_statuses(status: dict[str, Any]) -> tuple[ContainerStatus, ...]:
    out: list[ContainerStatus] = []
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for item in _list(status, key):
            if not isinstance(item, dict):
                continue
            waiting = _map(item, "state", "waiting")
            last = _map(item, "lastState", "terminated")
            out.append(
                ContainerStatus(
                    container=str(item.get("name", "")),
                    image=str(item.get("image", "") or ""),
                    image_id=str(item.get("imageID", "") or ""),
                    ready=bool(item.get("ready", False)),
                    restart_count=_int(item.get("restartCount")) or 0,
                    waiting_reason=str(waiting.get("reason", "") or ""),
                    waiting_message=str(waiting.get("message", "") or ""),
                    last_exit_reason=str(last.get("reason", "") or ""),
                    init=init,
                )
            )
    return tuple(out)


def _pod(obj: dict[str, Any]) -> Pod:
    meta, status = _map(obj, "metadata"), _map(obj, "status")
    labels = _map(meta, "labels")
    owner_kind, owner_name, _ = _controller(meta)
    template_hash = str(
        labels.get("pod-template-hash", "") or labels.get("controller-revision-hash", "") or ""
    )
    return Pod(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        owner_kind=owner_kind,
        owner_name=owner_name,
        template_hash=template_hash,
        phase=str(status.get("phase", "") or ""),
        terminating=bool(meta.get("deletionTimestamp")),
        containers=_container_statuses(status),
        conditions=_conditions(status),
    )


def decode_helm_release(encoded: str) -> dict[str, Any]:
    """The release JSON inside a Helm Secret's ``data.release`` as ``kubectl -o json`` shows it.

    Three layers: kubectl's base64 of the Secret bytes, Helm's own base64, and gzip (Helm
    writes plain JSON when it did not compress, so gzip is optional).
    """
    try:
        helm_text = base64.b64decode(encoded, validate=True)
        payload = base64.b64decode(helm_text, validate=True)
        if payload[:2] == _GZIP_MAGIC:
            payload = gzip.decompress(payload)
        release = json.loads(payload)
    except (binascii.Error, ValueError, OSError, EOFError, zlib.error) as exc:
        raise StateError(f"Helm release data is not base64(gzip(JSON)): {exc}") from None
    if not isinstance(release, dict):
        raise StateError("Helm release data is not a JSON object")
    return release


def _helm_revision(secret: dict[str, Any]) -> HelmRevision:
    meta = _map(secret, "metadata")
    name = str(meta.get("name", ""))
    match = _HELM_SECRET.match(name)
    assert match is not None
    encoded = _map(secret, "data").get("release")
    if not isinstance(encoded, str):
        raise StateError(f"Helm release Secret {name} has no data.release")
    try:
        release = decode_helm_release(encoded)
    except StateError as exc:
        raise StateError(f"Secret {name}: {exc}") from None
    info, chart_meta = _map(release, "info"), _map(release, "chart", "metadata")
    labels = _map(meta, "labels")
    version = _int(release.get("version")) or _int(match.group("version")) or 0
    return HelmRevision(
        release=str(release.get("name", match.group("release"))),
        namespace=str(release.get("namespace", meta.get("namespace", "")) or ""),
        version=version,
        status=str(info.get("status", labels.get("status", "")) or ""),
        description=str(info.get("description", "") or ""),
        chart=f"{chart_meta.get('name', '')}-{chart_meta.get('version', '')}".strip("-"),
        app_version=str(chart_meta.get("appVersion", "") or ""),
        updated=str(info.get("last_deployed", "") or ""),
        workloads=_manifest_workloads(str(release.get("manifest", "") or ""), name),
    )


def _manifest_workloads(manifest: str, secret: str) -> tuple[HelmWorkloadImages, ...]:
    try:
        documents = list(yaml.load_all(manifest, Loader=_Loader))
    except yaml.YAMLError:
        raise StateError(f"Secret {secret}: the release's rendered manifest is not YAML") from None
    out: list[HelmWorkloadImages] = []
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        spec = _map(doc, "spec")
        pod_spec = _map(spec, "template", "spec") or _map(
            spec, "jobTemplate", "spec", "template", "spec"
        )
        images = template_images(pod_spec)
        if images:
            name = str(_map(doc, "metadata").get("name", ""))
            out.append(HelmWorkloadImages(str(doc.get("kind", "")), name, images))
    return tuple(out)
