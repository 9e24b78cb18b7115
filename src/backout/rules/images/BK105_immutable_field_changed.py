"""BK105 immutable-field-changed."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.manifests import Workload, WorkloadField

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
    `volumeClaimTemplates`, `serviceName` and `podManagementPolicy`; a Job's `spec.template`.
    Fields are compared as data, so reordering keys or re-quoting values is not a change.

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
        base_workloads: dict[tuple[str, str, str], list[Workload]] = {}
        for workload in context.base.of(Workload):
            base_workloads.setdefault(workload.identity, []).append(workload)
        for workload in context.head.of(Workload):
            # An object without a name (``generateName``) or deleted before each release
            # creates it again (a Helm or Argo CD hook) is never updated, so nothing in it is
            # refused as immutable.
            if not workload.name or workload.recreated:
                continue
            fields = _IMMUTABLE.get(workload.kind)
            previous = _counterpart(workload, base_workloads.get(workload.identity, []))
            if fields is None or previous is None:
                continue
            for path in fields:
                yield from self._compare(workload, previous, path)

    def _compare(self, workload: Workload, previous: Workload, path: str) -> Iterator[Finding]:
        new, old = workload.field(path), previous.field(path)
        new_value = _value(new, path)
        old_value = _value(old, path)
        if new_value is None or old_value is None or new_value == old_value:
            return
        where = new.location if new is not None else workload.location
        namespace = f"{workload.namespace}/" if workload.namespace else ""
        what = f"{workload.kind} {namespace}{workload.name}"
        if workload.kind == "Job":
            fix = (
                "give the Job a new name for this release, or make it a hook deleted before "
                'each release creates it again ("helm.sh/hook-delete-policy": '
                "before-hook-creation); a Job's template cannot be updated in place"
            )
        else:
            fix = (
                f"keep the base release's {path}; if it must change, create the "
                f"{workload.kind} under a new name, move traffic, then delete the old one"
            )
        yield self.finding(
            where,
            f"{what}: `{path}` changed since the base release ({_short(old_value)} -> "
            f'{_short(new_value)}) and is immutable: the apply fails with "field is '
            'immutable", and going back needs delete-and-recreate, which '
            "`kubectl rollout undo` and `helm rollback` cannot do",
            fix,
        )


def _counterpart(workload: Workload, candidates: list[Workload]) -> Workload | None:
    # The same object may be declared in several files (overlays); prefer the same file.
    for candidate in candidates:
        if candidate.location.path == workload.location.path:
            return candidate
    return candidates[0] if len(candidates) == 1 else None


def _value(field: WorkloadField | None, path: str) -> str | None:
    if field is not None:
        return field.value
    return _DEFAULTS.get(path)


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
