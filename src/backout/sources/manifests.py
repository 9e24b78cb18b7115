"""Kubernetes manifests: the images each pod template runs, and the fields rollback depends on.

Which files: every ``*.yaml``/``*.yml`` except

* docker-compose and Kustomize files (``docker-compose*.y*ml``, ``compose*.y*ml``,
  ``kustomization.y*ml``), which have their own readers;
* a file below a directory named ``templates`` (``charts/shop/templates/deployment.yaml``)
  that holds a template action ``{{``: Helm requires chart templates to live there, and the
  Helm reader reads them (their literal ``image:`` lines included). Without an action it is
  applied as written (``k8s/templates/deployment.yaml`` with no chart, or a chart's static
  file), so it is read here; a ``helm.sh/hook: test`` resource of it (run by ``helm test``,
  never deployed) runs no image that counts;
* at read time, a file that contains a Go/Jinja template action ``{{`` *and* does not parse as
  YAML: it is a template of some other tool, not the manifest that gets applied. A manifest
  that parses keeps being read even with ``{{`` in a string (alert annotations do that).

A YAML document without a string ``apiVersion`` and ``kind`` is not Kubernetes and is ignored
silently (CI workflows, Helm values, Ansible). A file that does not parse is reported as
:class:`Unreadable` only when it plausibly is a manifest — a line starting with ``apiVersion:``
or ``kind:`` — or when it is not text at all (binary, not UTF-8).

Pod templates are found in Pod (``spec``), PodTemplate (``template.spec``), Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, OpenShift DeploymentConfig and
Argo Rollout (``spec.template.spec``), CronJob (``spec.jobTemplate.spec.template.spec``), and in
the ``items`` of ``kind: List`` (or any ``*List``) documents; in each, ``containers``,
``initContainers`` and ``ephemeralContainers``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.images import (
    BLOCK_SCALAR,
    ImageUse,
    is_helm_test,
    scalar_span,
    scalar_suffix_edit,
)
from backout.sources.paths import in_templates_folder, is_manifest
from backout.sources.yamlfile import (
    elements,
    get,
    get_path,
    location,
    plain,
    scalar,
    text_of,
    yaml_documents,
)

if TYPE_CHECKING:
    from backout.sources.yamlfile import Node

_LOOKS_LIKE_MANIFEST = re.compile(r"^(?:apiVersion|kind)\s*:", re.MULTILINE)

# Where each kind keeps its pod spec.
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "DeploymentConfig": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = (
    ("containers", "container"),
    ("initContainers", "initContainer"),
    ("ephemeralContainers", "ephemeralContainer"),
)
"""A pod spec's container lists, each with the word a message uses for one of its items."""
# Spec fields recorded on a Workload for comparison between releases (BK105).
RECORDED_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Deployment": (("spec", "selector"),),
    "ReplicaSet": (("spec", "selector"),),
    "DaemonSet": (("spec", "selector"),),
    "StatefulSet": (
        ("spec", "selector"),
        ("spec", "volumeClaimTemplates"),
        ("spec", "serviceName"),
        ("spec", "podManagementPolicy"),
    ),
    "Job": (("spec", "template"),),
}
# Resources that run no pods but whose spec the API server refuses to change in place: an
# apply (and a rollback) that changes them fails with "field is immutable".
OTHER_IMMUTABLE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Service": (("spec", "clusterIP"),),
    "RoleBinding": (("roleRef",),),
    "ClusterRoleBinding": (("roleRef",),),
    "StorageClass": (
        ("provisioner",),
        ("parameters",),
        ("reclaimPolicy",),
        ("volumeBindingMode",),
    ),
    "PersistentVolumeClaim": (
        ("spec", "accessModes"),
        ("spec", "storageClassName"),
        ("spec", "volumeName"),
        ("spec", "volumeMode"),
        ("spec", "selector"),
    ),
}
_LIST_DEPTH = 20
# Hook annotations of Helm and Argo CD, with the delete-policy annotation and the policy that
# deletes the previous object before the next release creates it. Both tools apply that
# policy when the annotation is absent (Helm ``pkg/action/hooks.go``; Argo CD "Resource
# Hooks": "if no deletion policy is specified, Argo CD will automatically assume
# BeforeHookCreation").
_HOOK_ANNOTATIONS = (
    ("helm.sh/hook", "helm.sh/hook-delete-policy", "before-hook-creation", "Helm"),
    (
        "argocd.argoproj.io/hook",
        "argocd.argoproj.io/hook-delete-policy",
        "BeforeHookCreation",
        "Argo CD",
    ),
)


@dataclass(frozen=True)
class WorkloadField:
    """One spec field of a workload: its dotted path, its value as canonical JSON, its place."""

    path: str
    value: str
    location: Location


@dataclass(frozen=True)
class ImmutableObject(Fact):
    """A resource that runs no pods with the fields of :data:`OTHER_IMMUTABLE_FIELDS` it
    writes (a Service's ``spec.clusterIP``, a RoleBinding's ``roleRef``…), located at
    ``metadata.name``; ``fields`` as for :class:`Workload`."""

    kind: str
    namespace: str
    name: str
    fields: tuple[WorkloadField, ...] = ()


@dataclass(frozen=True)
class Workload(Fact):
    """A Kubernetes resource that runs pods, with the fields that decide how it rolls back.

    ``location`` points at ``metadata.name`` (or the document start when unnamed);
    ``namespace`` is ``""`` when the manifest sets none. ``revision_history_limit`` is the
    integer written in ``spec.revisionHistoryLimit`` (``None`` when absent), located at its
    value. ``fields`` holds the spec fields of :data:`RECORDED_FIELDS` that are present, as
    canonical JSON (sorted keys), so two releases can be compared by text. ``pod_template`` is
    the pod template (``spec.template``; a Pod's ``spec``) as canonical JSON with every
    container's ``image`` left out: two releases whose workloads have the same
    ``pod_template`` differ at most in the images they run.

    ``generate_name`` is ``metadata.generateName`` (the API server makes up a new name at
    each create). ``recreated`` says why each release deletes the object and creates it
    anew instead of updating it (a Helm or Argo CD hook deleted before it is created again),
    ``""`` when it is updated in place.

    ``workload_ref`` is, for an Argo Rollout, the name of the Deployment its
    ``spec.workloadRef`` points at (the Rollout runs that Deployment's pod template),
    ``""`` otherwise.
    """

    kind: str
    api_version: str
    namespace: str
    name: str
    revision_history_limit: int | None = None
    revision_history_limit_location: Location | None = None
    fields: tuple[WorkloadField, ...] = ()
    pod_template: str = ""
    generate_name: str = ""
    recreated: str = ""
    workload_ref: str = ""

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two releases' workloads the same object: kind, namespace, name."""
        return (self.kind, self.namespace, self.name)

    def field(self, path: str) -> WorkloadField | None:
        """The recorded field at dotted ``path`` (``spec.selector``), if present."""
        for recorded in self.fields:
            if recorded.path == path:
                return recorded
        return None


# Kinds whose chart versions :mod:`backout.sources.gitops` reads.
_GITOPS_KINDS = ("HelmRelease", "Application", "ApplicationSet", "OCIRepository", "HelmChart")


def _kind_of(doc: Node) -> tuple[str, str] | None:
    api_version, kind = text_of(get(doc, "apiVersion")), text_of(get(doc, "kind"))
    if not api_version or not kind:
        return None
    return api_version, kind


def _pod_kind(api_version: str, kind: str) -> bool:
    if kind == "Rollout":
        return api_version.startswith("argoproj.io/")
    return kind in _POD_SPEC_PATHS


def recreated_by(metadata: Node | None) -> str:
    """Why the object with this ``metadata`` is deleted and created again by each release
    instead of updated in place, or ``""``."""
    annotations = get(metadata, "annotations")
    for hook_key, policy_key, before_creation, tool in _HOOK_ANNOTATIONS:
        if not text_of(get(annotations, hook_key)):
            continue
        policies = [p.strip() for p in (text_of(get(annotations, policy_key)) or "").split(",")]
        policies = [p for p in policies if p]
        if not policies or before_creation in policies:
            return f"a {tool} hook deleted before each release creates it again"
    return ""


def _canonical(node: Node) -> str:
    return canonical_json(plain(node))


def canonical_json(value: object) -> str:
    """``value`` as JSON with sorted keys and no spaces: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _pod_template_without_images(doc: Node, kind: str) -> str:
    """The pod template of ``doc`` as canonical JSON, the containers' images left out."""
    spec_path = _POD_SPEC_PATHS[kind]
    template = plain(get_path(doc, *spec_path[:-1]) if len(spec_path) > 1 else get(doc, "spec"))
    spec = template.get("spec") if len(spec_path) > 1 and isinstance(template, dict) else template
    if isinstance(spec, dict):
        for list_key, _ in CONTAINER_LISTS:
            for container in spec.get(list_key) or ():
                if isinstance(container, dict):
                    container.pop("image", None)
    return canonical_json(template)


class ManifestReader:
    """Reads Kubernetes manifests (multi-document YAML) into :class:`ImageUse` and
    :class:`Workload` facts."""

    name: ClassVar[str] = "kubernetes"

    def wants(self, path: str) -> bool:
        """YAML files that are not compose or Kustomize files (Helm templates: by content)."""
        return is_manifest(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """The file's workloads and images; Unreadable when a plausible manifest is broken."""
        if in_templates_folder(file.path) and "{{" in (file.text() or ""):
            return []  # a Helm template: the Helm reader's
        documents = yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            text = file.text()
            if text is None:
                return [documents]
            if "{{" in text or not _LOOKS_LIKE_MANIFEST.search(text):
                return []
            return [documents]
        facts: list[Fact] = []
        # A container merged from another (``- <<: *api``) shares its image node: report the
        # image once, where it is written, so findings and ``backout pin`` see it once.
        images_seen: set[int] = set()
        text = file.text() or ""
        for doc in documents:
            for fact in self._document(file.path, text, doc, 0):
                if isinstance(fact, ImageUse):
                    if fact.value_start in images_seen:
                        continue
                    images_seen.add(fact.value_start)
                facts.append(fact)
        return facts

    def _document(self, path: str, text: str, doc: Node, depth: int) -> Iterator[Fact]:
        identity = _kind_of(doc)
        if identity is None:
            return
        api_version, kind = identity
        if kind.endswith("List") and depth < _LIST_DEPTH:
            for item in elements(get(doc, "items")):
                yield from self._document(path, text, item, depth + 1)
            return
        if not _pod_kind(api_version, kind):
            if kind in OTHER_IMMUTABLE_FIELDS:
                yield from _immutable_object(path, doc, kind)
            elif kind in _GITOPS_KINDS:
                from backout.sources.gitops import chart_versions

                yield from chart_versions(path, doc, api_version, kind)
            return
        metadata = get(doc, "metadata")
        if in_templates_folder(path) and is_helm_test(metadata):
            return
        name_node = get(metadata, "name")
        name = text_of(name_node) or ""
        # ``generateName: seed-`` names the object seed-<generated> (a new suffix each time)
        shown_name = name or (
            f"{generated}<generated>"
            if (generated := text_of(get(metadata, "generateName")))
            else "?"
        )
        namespace = text_of(get(metadata, "namespace")) or ""
        where = location(path, name_node if name_node is not None else doc)
        yield self._workload(path, doc, api_version, kind, namespace, name, where)
        pod_spec = get_path(doc, *_POD_SPEC_PATHS[kind])
        for list_key, label in CONTAINER_LISTS:
            for container in elements(get(pod_spec, list_key)):
                image = get(container, "image")
                if not isinstance(image, yamlfile.ScalarNode):
                    continue
                reference = text_of(image)
                # A ``{{ }}`` value is filled in by a template engine: the Helm reader judges
                # the value that feeds it.
                if not reference or "{{" in reference:
                    continue
                container_name = text_of(get(container, "name")) or "?"
                loc, start, end, quote = scalar_span(path, text, image)
                edit = scalar_suffix_edit(text, image)
                yield ImageUse(
                    loc,
                    reference=reference,
                    source="kubernetes",
                    context=f"{kind}/{shown_name} {label} {container_name}",
                    value_start=start,
                    value_end=end,
                    quote=quote,
                    pin_edit=edit,
                    pin_blocked="" if edit else BLOCK_SCALAR,
                )

    @staticmethod
    def _workload(
        path: str,
        doc: Node,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        where: Location,
    ) -> Workload:
        spec = get(doc, "spec")
        limit_node = get(spec, "revisionHistoryLimit")
        limit = scalar(limit_node)
        has_limit = isinstance(limit, int) and not isinstance(limit, bool)
        fields: list[WorkloadField] = []
        for keys in RECORDED_FIELDS.get(kind, ()):
            node = get_path(doc, *keys)
            if node is not None and (not isinstance(node, yamlfile.ScalarNode) or text_of(node)):
                fields.append(WorkloadField(".".join(keys), _canonical(node), location(path, node)))
        return Workload(
            where,
            kind=kind,
            api_version=api_version,
            namespace=namespace,
            name=name,
            revision_history_limit=limit if has_limit else None,
            revision_history_limit_location=(
                location(path, limit_node) if has_limit and limit_node is not None else None
            ),
            fields=tuple(fields),
            pod_template=_pod_template_without_images(doc, kind),
            generate_name=text_of(get(get(doc, "metadata"), "generateName")) or "",
            recreated=recreated_by(get(doc, "metadata")),
            workload_ref=_workload_ref(spec) if kind == "Rollout" else "",
        )


def _workload_ref(spec: Node | None) -> str:
    """The Deployment an Argo Rollout's ``spec.workloadRef`` names (``kind`` defaults to
    nothing in Argo's schema, so a ref without one is read as a Deployment)."""
    ref = get(spec, "workloadRef")
    kind = text_of(get(ref, "kind")) or "Deployment"
    return (text_of(get(ref, "name")) or "") if kind == "Deployment" else ""


def _immutable_object(path: str, doc: Node, kind: str) -> Iterator[ImmutableObject]:
    """The fields of a non-pod resource the API server refuses to change, when it is named
    (one made by ``generateName`` is never updated)."""
    metadata = get(doc, "metadata")
    name_node = get(metadata, "name")
    name = text_of(name_node) or ""
    if not name or name_node is None:
        return
    fields = []
    for keys in OTHER_IMMUTABLE_FIELDS[kind]:
        node = get_path(doc, *keys)
        if node is not None and (not isinstance(node, yamlfile.ScalarNode) or text_of(node)):
            fields.append(WorkloadField(".".join(keys), _canonical(node), location(path, node)))
    yield ImmutableObject(
        location(path, name_node),
        kind=kind,
        namespace=text_of(get(metadata, "namespace")) or "",
        name=name,
        fields=tuple(fields),
    )
