"""BK105 immutable-field-changed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.base import FactSet
from backout.sources.helm import (
    HelmNamedTemplate,
    HelmTemplateWorkload,
    readable_name,
    rendered_field,
)
from backout.sources.kustomize import KustomizeSelectorLabels
from backout.sources.manifests import OTHER_IMMUTABLE_FIELDS, ImmutableObject, Workload

# The spec fields the API server refuses to change, per kind.
_IMMUTABLE: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": (
        "spec.selector",
        "spec.volumeClaimTemplates",
        "spec.serviceName",
        "spec.podManagementPolicy",
    ),
    "Job": ("spec.template",),
    **{
        kind: tuple(".".join(keys) for keys in fields)
        for kind, fields in OTHER_IMMUTABLE_FIELDS.items()
    },
}
# What the API server assumes when a field is left out, so that leaving it out and writing
# the default are the same; fields without an entry are compared only when both releases
# write them.
_DEFAULTS: dict[str, str] = {
    "spec.volumeClaimTemplates": "[]",
    "spec.serviceName": '""',
    "spec.podManagementPolicy": '"OrderedReady"',
}


class ImmutableFieldChanged(Rule):
    """A field the API server refuses to update changed between the base and this release.

    ## What it does
    Needs `--base`. For each workload present in both releases (same kind, namespace and
    name), compares the fields Kubernetes makes immutable after creation: `spec.selector` of
    a Deployment, ReplicaSet, DaemonSet or StatefulSet; a StatefulSet's
    `volumeClaimTemplates`, `serviceName` and `podManagementPolicy`; a Job's `spec.template`;
    and, for resources that run no pods, a Service's `spec.clusterIP`, a (Cluster)RoleBinding's
    `roleRef`, a StorageClass's `provisioner`, `parameters`, `reclaimPolicy` and
    `volumeBindingMode`, a PersistentVolumeClaim's `accessModes`, `storageClassName`,
    `volumeName`, `volumeMode` and `selector` (its requested size may grow). A field is
    compared when both releases write it. A kustomization whose selector labels changed
    (`commonLabels`, or `labels:` with `includeSelectors: true`) changes the selector of
    every workload it builds.
    Fields are compared as data, so reordering keys or re-quoting values is not a change.

    Helm charts are compared too: a workload in a chart's `templates/` (same chart, kind and
    name as written, `{{ .Release.Name }}-web`) is compared field by field where the field is
    literal or written through the chart's own helpers (`{{- include
    "shop.selectorLabels" . | nindent 6 }}`, rendered as Helm would); a field that reads
    `.Values` or sits under a condition is left out, since the chart alone does not tell what
    it renders. A change that comes from a helper is reported at the helper.

    Objects that each release creates anew are not compared: a Helm hook (`helm.sh/hook`)
    or Argo CD hook (`argocd.argoproj.io/hook`) whose delete policy is
    `before-hook-creation`/`BeforeHookCreation` or unset (both tools' default), and an
    object named by `metadata.generateName`.

    ## Why is this bad?
    `kubectl apply` of the new release fails with "field is immutable", and so does a
    `helm upgrade`. Teams then delete and recreate the object, which is downtime, and rolling
    back means the same delete-and-recreate in the other direction: `kubectl rollout undo`
    cannot do it, and `helm rollback` fails the same way.

    ## Example
    ```yaml
    # base release
    spec:
      selector:
        matchLabels: {app: shop-api}
    # this release
    spec:
      selector:
        matchLabels: {app: shop-api, tier: web}
    ```

    ## Use instead
    ```yaml
    # keep the selector; add the new label to the pod template only
    spec:
      selector:
        matchLabels: {app: shop-api}
      template:
        metadata:
          labels: {app: shop-api, tier: web}
    ```
    When the field must change, create the workload under a new name, move traffic, then
    delete the old one (for Jobs: give each release's Job its own name, or make it a hook
    deleted before creation).

    ## References
    - Kubernetes: [Deployment label selector updates](https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates)
    """

    code = "BK105"
    name = "immutable-field-changed"
    severity = Severity.ERROR
    family = Family.IMAGES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """Immutable fields whose value differs from the base release's."""
        if context.base is None:
            return
        base_objects: dict[tuple[str, ...], list[_Object]] = {}
        for old_object in _objects(context.base):
            base_objects.setdefault(old_object.identity, []).append(old_object)
        for current in _objects(context.head):
            previous = _counterpart(current, base_objects.get(current.identity, []))
            if previous is None:
                continue
            for path in _IMMUTABLE[current.kind]:
                yield from self._compare(current, previous, path)
        yield from self._kustomize_selectors(context.head, context.base)

    def _kustomize_selectors(self, head: FactSet, base: FactSet) -> Iterator[Finding]:
        """A kustomization whose selector labels changed: kustomize writes them into the
        selector of every workload it builds, and a selector is immutable."""
        before = {f.location.path: f for f in base.of(KustomizeSelectorLabels)}
        after = {f.location.path: f for f in head.of(KustomizeSelectorLabels)}
        for path in sorted(set(before) | set(after)):
            if path not in base.paths or path not in head.paths:
                continue  # a kustomization new in this release, or gone: no selector changed
            old = before[path].labels if path in before else "{}"
            new = after[path].labels if path in after else "{}"
            if old == new:
                continue
            where = after[path].location if path in after else Location(path, 1, 1)
            yield self.finding(
                where,
                f"the labels this kustomization writes into selectors changed since the base "
                f"release ({' -> '.join(_difference(old, new))}): kustomize puts "
                "them in the `spec.selector` of every Deployment, StatefulSet and DaemonSet it "
                'builds, which is immutable: the apply fails with "field is immutable", and '
                "going back needs delete-and-recreate",
                "keep selector labels as they were: add new labels with `labels:` and "
                "`includeSelectors: false` (they go to metadata and pod templates only)",
            )

    def _compare(self, current: _Object, previous: _Object, path: str) -> Iterator[Finding]:
        if path in current.unknown or path in previous.unknown:
            return
        new, old = current.fields.get(path), previous.fields.get(path)
        new_value = new[0] if new is not None else _DEFAULTS.get(path)
        old_value = old[0] if old is not None else _DEFAULTS.get(path)
        if new_value is None or old_value is None or new_value == old_value:
            return
        where = new[1] if new is not None else current.location
        # A change that comes from a helper the field includes is shown at the helper: with
        # --base, findings are reported in the files that changed.
        for helper, (body, helper_location) in current.helpers.get(path, {}).items():
            if previous.helpers.get(path, {}).get(helper, ("", where))[0] != body:
                where = helper_location
                break
        if current.kind == "Job":
            fix = (
                "give the Job a new name for this release, or make it a hook deleted before "
                'each release creates it again ("helm.sh/hook-delete-policy": '
                "before-hook-creation); a Job's template cannot be updated in place"
            )
        else:
            fix = (
                f"keep the base release's {path}; if it must change, create the "
                f"{current.kind} under a new name, move traffic, then delete the old one"
            )
        yield self.finding(
            where,
            f"{current.shown}: `{path}` changed since the base release "
            f"({' -> '.join(_difference(old_value, new_value))}"
            f') and is immutable: the apply fails with "field is '
            'immutable", and going back needs delete-and-recreate, which '
            "`kubectl rollout undo` and `helm rollback` cannot do",
            fix,
        )


@dataclass(frozen=True)
class _Object:
    """A workload of one release as BK105 compares it, from a manifest or a chart template.

    ``fields`` maps a dotted path to its value as canonical JSON and its location;
    ``unknown`` names the fields a template writes through values or conditions, which are
    not compared.
    """

    identity: tuple[str, ...]
    kind: str
    shown: str
    location: Location
    fields: dict[str, tuple[str, Location]]
    unknown: frozenset[str] = frozenset()
    helpers: dict[str, dict[str, tuple[str, Location]]] = field(default_factory=dict)
    """Per field, the chart helpers its template includes: their bodies and locations."""


def _objects(facts: FactSet) -> Iterator[_Object]:
    # An object without a name (``generateName``) or deleted before each release creates it
    # again (a Helm or Argo CD hook) is never updated, so nothing in it is refused as
    # immutable.
    for workload in facts.of(Workload):
        if workload.kind not in _IMMUTABLE or not workload.name or workload.recreated:
            continue
        namespace = f"{workload.namespace}/" if workload.namespace else ""
        yield _Object(
            ("manifest", *workload.identity),
            workload.kind,
            f"{workload.kind} {namespace}{workload.name}",
            workload.location,
            {f.path: (f.value, f.location) for f in workload.fields},
        )
    for other in facts.of(ImmutableObject):
        namespace = f"{other.namespace}/" if other.namespace else ""
        yield _Object(
            ("manifest", other.kind, other.namespace, other.name),
            other.kind,
            f"{other.kind} {namespace}{other.name}",
            other.location,
            {f.path: (f.value, f.location) for f in other.fields},
        )
    # A chart template without template actions is read as a plain manifest too: compared
    # once, as the manifest it is.
    manifests = {w.location for w in facts.of(Workload)}
    for template in facts.of(HelmTemplateWorkload):
        if template.kind not in _IMMUTABLE or not template.name or template.recreated:
            continue
        if template.location in manifests:
            continue
        name = readable_name(template.name, template.chart, facts)
        namespace = readable_name(template.namespace, template.chart, facts)
        fields: dict[str, tuple[str, Location]] = {}
        unknown: set[str] = set()
        helpers: dict[str, dict[str, tuple[str, Location]]] = {}
        for path, written, where in template.fields:
            value = rendered_field(written, template.chart, facts)
            if value is None:
                unknown.add(path)
            else:
                fields[path] = (value, where)
                helpers[path] = {
                    t.name: (t.body, t.location)
                    for t in facts.of(HelmNamedTemplate)
                    if t.chart == template.chart and f'"{t.name}"' in written
                }
        yield _Object(
            ("helm", template.chart, template.kind, namespace, name),
            template.kind,
            f"{template.kind} {namespace + '/' if namespace else ''}{name}",
            template.location,
            fields,
            frozenset(unknown),
            helpers,
        )


def _counterpart(current: _Object, candidates: list[_Object]) -> _Object | None:
    # The same object may be declared in several files (overlays); prefer the same file.
    for candidate in candidates:
        if candidate.location.path == current.location.path:
            return candidate
    return candidates[0] if len(candidates) == 1 else None


def _difference(old: str, new: str, limit: int = 60) -> tuple[str, str]:
    """``old`` and ``new`` cut to at most ``limit`` characters around where they first
    differ, so that a long value shows what changed, not the prefix both share."""
    if len(old) <= limit and len(new) <= limit:
        return old, new
    start = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
    start = max(0, min(start, len(old), len(new)) - 15)
    return _window(old, start, limit), _window(new, start, limit)


def _window(value: str, start: int, limit: int) -> str:
    text = value[start : start + limit]
    return ("…" if start else "") + text + ("…" if start + limit < len(value) else "")
