"""BK102 revision-history-too-short."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.ci import HelmHistoryMax
from backout.sources.manifests import Workload

# The kinds whose revisionHistoryLimit bounds how far `kubectl rollout undo` can go.
_LIMITED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")


class RevisionHistoryTooShort(Rule):
    """Fewer old revisions are kept than the releases a rollback must be able to reach.

    ## What it does
    Flags `spec.revisionHistoryLimit` on a Deployment, StatefulSet, DaemonSet or Argo Rollout
    below `keep-releases` (default 5), and `helm upgrade|install --history-max N` in CI
    workflows and scripts that leave fewer previous releases than that: Helm's `N` counts
    the deployed revision, so `N - 1` previous ones stay reachable (`0`, unlimited, is not
    flagged).

    This rule is off when `rollback-via = "git"`: GitOps teams roll back by reverting the
    commit and letting the controller re-apply it, not with `kubectl rollout undo`, and some
    set the limit to 0 on purpose.

    ## Why is this bad?
    `kubectl rollout undo --to-revision=N` (for an Argo Rollout, `kubectl argo rollouts undo
    --to-revision=N`) can only return to a revision whose ReplicaSet (or ControllerRevision)
    still exists; older ones are garbage-collected beyond the limit.
    With `revisionHistoryLimit: 0`, "a new Deployment rollout cannot be undone" at all. Helm
    likewise prunes release records beyond `--history-max`, and `helm rollback` then fails
    with "release has no N version".

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    spec:
      revisionHistoryLimit: 0
    ```

    ## Use instead
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    spec:
      revisionHistoryLimit: 10   # the default; at least keep-releases
    ```
    Or set `keep-releases` to what your rollback policy really needs, or
    `rollback-via = "git"` if you roll back by reverting Git.

    ## References
    - Kubernetes: [Deployments, Revision History Limit](https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#revision-history-limit)
    - Helm: `helm upgrade --history-max` (default 10)
    """

    code = "BK102"
    name = "revision-history-too-short"
    severity = Severity.ERROR
    family = Family.IMAGES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """Workload history limits and Helm ``--history-max`` below ``keep-releases``."""
        if context.config.rollback_via == "git":
            return
        yield from self._workload_limits(context)
        yield from self._helm_history_max(context)

    def _workload_limits(self, context: CheckContext) -> Iterator[Finding]:
        keep = context.config.keep_releases
        for workload in context.head.of(Workload):
            limit = workload.revision_history_limit
            where = workload.revision_history_limit_location
            if workload.kind not in _LIMITED_KINDS or limit is None or where is None:
                continue
            if limit >= keep:
                continue
            what = f"{workload.kind}/{workload.name}"
            # an Argo Rollout is undone by the plugin; plain `kubectl rollout` refuses the kind
            undo = (
                "`kubectl argo rollouts undo`"
                if workload.kind == "Rollout"
                else "`kubectl rollout undo`"
            )
            if limit == 0:
                consequence = f"no old revision is kept, so {undo} has nothing to go back to"
            else:
                consequence = (
                    f"only {limit} old {'revision is' if limit == 1 else 'revisions are'} kept, so "
                    f"{undo} cannot reach older releases"
                )
            yield self.finding(
                where,
                f"{what}: revisionHistoryLimit {limit} is below keep-releases {keep}: "
                f"{consequence}",
                f"set revisionHistoryLimit to at least {keep} (the default is 10), or set "
                'rollback-via = "git" if you roll back by reverting Git',
            )

    def _helm_history_max(self, context: CheckContext) -> Iterator[Finding]:
        keep = context.config.keep_releases
        for history in context.head.of(HelmHistoryMax):
            # Helm keeps N revisions, the deployed one included (Storage.Create prunes to
            # N - 1 before it stores the new one): N - 1 previous releases stay reachable.
            previous = history.value - 1
            if history.value == 0 or previous >= keep:
                continue  # 0 means Helm keeps every revision
            yield self.finding(
                history.location,
                f"`{history.command}` keeps {history.value} Helm release revision"
                f"{'s' if history.value != 1 else ''}, the deployed one included: only "
                f"{previous} previous release{'s' if previous != 1 else ''} stay reachable, "
                f"below keep-releases {keep}; `helm rollback` to an older one fails with "
                '"release has no N version"',
                f"raise --history-max to at least {keep + 1} (or 0 for unlimited), or set "
                'rollback-via = "git" if you roll back by reverting Git',
            )
