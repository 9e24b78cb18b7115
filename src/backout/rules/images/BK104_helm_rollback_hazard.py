"""BK104 helm-rollback-hazard."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.gitops import ChartVersionRange, FluxChartRef, FluxChartSource, names
from backout.sources.helm import (
    HelmChart,
    HelmCrd,
    HelmHook,
    HelmResourcePolicy,
    readable_name,
)

# Hook events that run when a release is upgraded: what they do stays when Helm rolls back.
_UPGRADE_HOOKS = ("pre-upgrade", "post-upgrade")
_ROLLBACK_HOOKS = ("pre-rollback", "post-rollback")


def _why_not_reversed(hook: HelmHook, rollback_hooks: list[HelmHook], context: CheckContext) -> str:
    """Why the chart's own rollback hooks, if any, do not count as reversing ``hook``."""
    if any(h in _ROLLBACK_HOOKS for h in hook.hooks):
        return (
            "; that it also runs on rollback undoes nothing: Helm runs the target release's "
            "copy of the same forward migration"
        )
    others = [h for h in rollback_hooks if h.chart == hook.chart]
    if not others:
        return ""
    name = readable_name(others[0].name, others[0].chart, context.head)
    return f"; the rollback hook `{name}` runs no down migration"


class HelmRollbackHazard(Rule):
    """A Helm chart does something that `helm rollback` does not undo.

    ## What it does
    Flags, in a Helm chart (a directory with `Chart.yaml`):

    - CRDs under `crds/`: Helm installs them once and never upgrades, rolls back or deletes
      them; CRDs rendered from `templates/` are flagged too, because a rollback to a release
      without them deletes them, and every custom resource of that kind with them. A
      template CRD with `helm.sh/resource-policy: keep` is never deleted but is left outside
      the release; one whose keep annotation sits inside an `{{ if }}` (cert-manager's
      `{{- if .Values.crds.keep }}`) is deleted unless that condition holds. Each CRD gets
      one finding, its keep policy included;
    - `pre-upgrade`/`post-upgrade` hooks that run code (a Job, a Pod: typically a database
      migration) when the chart has no `pre-rollback`/`post-rollback` hook to reverse them.
      Only a rollback hook whose command runs a down migration counts (a word `down`,
      `downgrade`, `rollback`, `undo`, `revert` or `goto`, as in `alembic downgrade -1`,
      `migrate down`, `rake db:rollback`, `flyway undo`, or `manage.py migrate <app>
      <target>`): a Job annotated `pre-upgrade,pre-rollback` that runs `alembic upgrade
      head`, `flyway migrate`, `liquibase update`, `dbmate up` or `manage.py migrate` undoes
      nothing, because on rollback Helm runs the target release's copy of the same forward
      migration. kube-webhook-certgen's `create`/`patch` jobs (ingress-nginx,
      kube-prometheus-stack; told by their flags, all certgen's, with the ones it requires)
      are not flagged: they create the webhook's certificate secret if it is missing and
      patch its CA into the webhook configurations, which the previous release uses as they
      are;
    - `helm.sh/resource-policy: keep`: the resource outlives uninstall and rollback;
    - a chart that a GitOps controller installs by a version range: a Flux `HelmRelease`
      whose `spec.chart.spec.version` names no single release (`6.x`, `>=6.0.0`, `~6.5`,
      `*`, a partial `6.5`, or no `version`: the newest), or an Argo CD `Application` (or
      `ApplicationSet` template) whose Helm source's `targetRevision` does. Masterminds
      semver, which both use, reads `6.5.4` and `=v6.5.4` as one release. A kustomize
      overlay's patch of a `HelmRelease` (no `chart`, only the `version` that overlay
      deploys: `version: ">=1.0.0-alpha"`) is judged by that version. A `HelmRelease`
      whose `chartRef` names an `OCIRepository` or `HelmChart` of the checked tree is
      judged by that object, reported where it floats: an `OCIRepository` whose `ref` has
      no `digest` and a `semver` range, a moving `tag`, or nothing (Flux pulls `latest`);
      a `HelmChart` whose `version` is a range or absent. Not flagged: a chart from a git
      repository or bucket (its commit versions it), a version filled in before the
      controller reads it (Flux post-build `${version}`, an ApplicationSet parameter
      `{{values.chartVersion}}`), a source object that no `chartRef` names, a version that
      is no constraint (`targetRevision: HEAD`: the controller refuses it).

    Templates are read with their `{{ }}` actions masked, so a valid chart is never reported
    as unreadable. A hook annotation built inside an action and merged in by a helper counts
    like a written one (bitnami's charts: `{{- $defaultAnnotations := dict "helm.sh/hook"
    "pre-upgrade" … }}`, or `set $hooks "helm.sh/hook" "post-upgrade"`); one inside a
    `{{ define }}` does not, as it renders only where the template is included. A variable
    is the file's from where it is declared, as Go templates scope it, unless declared in an
    `{{ if }}`/`{{ with }}`/`{{ range }}` block, where it ends with the block: a hook dict
    built at the top of the template, or in an earlier document, makes a hook of each later
    resource that prints it (`annotations: {{ toYaml $hook | nindent 4 }}`, or a variable
    merged from it), reported where that resource prints it.

    ## Why is this bad?
    `helm rollback` re-applies the previous release's manifests and runs the *target's*
    rollback hooks; it does not undo what an upgrade hook did. A `pre-upgrade` migration Job
    that dropped a column is still applied after the rollback, and the old pods crash on the
    new schema. A CRD changed in `crds/` never reaches the cluster on upgrade, and never goes
    back on rollback. A kept resource stays at the new release's version. A chart version
    range moves by itself: the controller upgrades to each new chart release that matches, so
    there is no commit to revert when one breaks, and a `helm rollback` by hand lasts until
    the next reconcile.

    ## Example
    ```yaml
    # templates/migrate-job.yaml
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: shop-migrate
      annotations:
        "helm.sh/hook": pre-upgrade
    spec:
      template:
        spec:
          containers:
            - name: migrate
              command: ["shop-api", "migrate", "up"]
    ```

    ## Use instead
    ```yaml
    # templates/migrate-down-job.yaml: the rollback reverses the migration
    apiVersion: batch/v1
    kind: Job
    metadata:
      name: shop-migrate-down
      annotations:
        "helm.sh/hook": pre-rollback
    spec:
      template:
        spec:
          containers:
            - name: migrate
              command: ["shop-api", "migrate", "down"]
    ```
    Better still, keep migrations backward compatible (expand, deploy, contract) so the old
    release runs on the new schema, and manage CRDs outside the chart's release cycle.

    ## References
    - <https://helm.sh/docs/chart_best_practices/custom_resource_definitions/>
    - <https://helm.sh/docs/topics/charts_hooks/>
    - <https://helm.sh/docs/howto/charts_tips_and_tricks/#tell-helm-not-to-uninstall-a-resource>
    """

    code = "BK104"
    name = "helm-rollback-hazard"
    severity = Severity.WARNING
    family = Family.IMAGES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per CRD, unreversed upgrade hook and kept resource of a chart, and per
        chart a GitOps controller installs by a version range."""
        charts = {chart.chart for chart in context.head.of(HelmChart)}
        rollback_hooks = [
            hook
            for hook in context.head.of(HelmHook)
            if hook.runs_containers and any(h in _ROLLBACK_HOOKS for h in hook.hooks)
        ]
        reversed_charts = {hook.chart for hook in rollback_hooks if hook.runs_a_reversal}
        for crd in context.head.of(HelmCrd):
            if crd.chart not in charts:
                continue
            name = f" `{readable_name(crd.name, crd.chart, context.head)}`" if crd.name else ""
            if crd.in_templates and crd.kept and not crd.kept_only_if:
                yield self.finding(
                    crd.location,
                    f"the CustomResourceDefinition{name} is rendered from templates/ with "
                    '"helm.sh/resource-policy: keep": Helm never deletes it, so `helm '
                    "rollback` to a release without it leaves it, and its custom resources, "
                    "outside the release as this release left it",
                    "keep the policy (it saves the custom resources) and document the manual "
                    "step that restores the CRD on rollback, or manage CRDs outside the "
                    "chart's releases",
                )
            elif crd.in_templates and crd.kept:
                yield self.finding(
                    crd.location,
                    f"the CustomResourceDefinition{name} is rendered from templates/ and kept "
                    f"only if `{crd.kept_only_if}` (its helm.sh/resource-policy: keep is "
                    "inside that `{{ if }}`): unless that holds, `helm rollback` to a release "
                    "without it deletes it, and with it every custom resource of that kind",
                    f"make sure `{crd.kept_only_if}` holds in every release, or write the "
                    "keep policy unconditionally, or move the CRD to crds/ or its own chart",
                )
            elif crd.in_templates:
                yield self.finding(
                    crd.location,
                    f"the CustomResourceDefinition{name} is rendered from templates/: "
                    "`helm rollback` to a release without it deletes it, and with it every "
                    "custom resource of that kind",
                    "move the CRD to crds/ or to its own chart, or guard it with "
                    '`"helm.sh/resource-policy": keep`',
                )
            else:
                yield self.finding(
                    crd.location,
                    f"the CustomResourceDefinition{name} is shipped in crds/: Helm installs it "
                    "once and never upgrades or rolls it back, so `helm rollback` leaves the "
                    "cluster's CRD as it is, whatever this release changed",
                    "manage CRDs outside the chart's releases (apply them with kubectl or a "
                    "separate CRD chart) and keep every schema change backward compatible",
                )
        for hook in context.head.of(HelmHook):
            upgrade = [h for h in hook.hooks if h in _UPGRADE_HOOKS]
            if (
                hook.chart not in charts
                or not upgrade
                or not hook.runs_containers
                or hook.chart in reversed_charts
                or hook.makes_webhook_certificate
            ):
                continue
            command = readable_name(hook.command, hook.chart, context.head)
            what = f" (`{command}`)" if hook.command else ""
            name = readable_name(hook.name, hook.chart, context.head)
            yield self.finding(
                hook.location,
                f"{hook.kind} `{name}`{what} runs as a {'/'.join(upgrade)} hook: "
                "`helm rollback` does not undo what it did (a migration stays applied), so "
                "the previous release comes back on the state this one left"
                + _why_not_reversed(hook, rollback_hooks, context),
                "add a pre-rollback hook that reverses it, or make the change backward "
                "compatible (expand now, contract in a later release)",
            )
        for policy in context.head.of(HelmResourcePolicy):
            if (
                policy.chart not in charts
                or not policy.keeps
                or policy.kind == "CustomResourceDefinition"  # reported with the CRD
            ):
                continue
            when = f" when `{policy.only_if}` holds" if policy.only_if else ""
            yield self.finding(
                policy.location,
                f"{policy.kind} `{readable_name(policy.name, policy.chart, context.head)}` "
                f'has "helm.sh/resource-policy: keep"{when}: Helm '
                "stops managing it on uninstall and rollback, so it stays as this release "
                "left it",
                "remove the policy, or document the manual step that restores the resource "
                "on rollback",
            )
        for floating in context.head.of(ChartVersionRange):
            yield self._floating_chart(floating)
        references = context.head.of(FluxChartRef)
        for source in context.head.of(FluxChartSource) if references else ():
            users = [r.resource for r in references if names(r, source)]
            if users:
                yield self._floating_source(source, users)

    def _floating_source(self, source: FluxChartSource, users: list[str]) -> Finding:
        """The finding for a Flux source object whose chart version floats, named by the
        ``chartRef`` of the ``users`` (HelmReleases)."""
        what = f"{source.kind}/{source.name}"
        if source.version is None and source.kind == "OCIRepository":
            picks = f"which sets no `ref`, so Flux pulls the `latest` tag of `{source.chart}`"
        elif source.version is None:
            picks = (
                f"which has no `version`, so Flux fetches the newest release of `{source.chart}`"
            )
        elif source.field == "ref.tag":
            picks = f"whose `ref.tag` is `{source.version}`, a tag that the next chart push moves"
        else:
            picks = (
                f"whose `{source.field}` is the range `{source.version}`, so Flux fetches the "
                "newest chart release that matches"
            )
        pin = "`ref.tag` (or `ref.digest`)" if source.kind == "OCIRepository" else "`version`"
        return self.finding(
            source.location,
            f"{', '.join(dict.fromkeys(users))} takes its chart from {what}, {picks}: a new "
            "chart release upgrades the app with no commit to revert, and a `helm rollback` "
            "by hand is undone at the next reconcile, which installs the newest release again",
            f"pin {pin} of {what} to one chart release (`6.5.4`) and let a bot (Renovate, "
            "Dependabot) propose each bump as a commit: rolling back is then reverting it",
        )

    def _floating_chart(self, floating: ChartVersionRange) -> Finding:
        """The finding for a chart that a GitOps controller installs by a version range."""
        chart = f"`{floating.chart}`" if floating.chart else "its chart"  # a patch names none
        if floating.version is None:
            picks = f"{chart} has no `version`, so Flux installs the newest chart release"
        else:
            picks = (
                f"{chart} is installed by the range `{floating.version}`, so "
                f"{'Flux' if floating.controller == 'flux' else 'Argo CD'} installs the "
                "newest chart release that matches"
            )
        if floating.controller == "flux":
            field, undone = (
                "version",
                (
                    "a `helm rollback` by hand is undone at the next reconcile, which installs "
                    "the newest release again"
                ),
            )
        else:
            field, undone = (
                "targetRevision",
                (
                    "Argo CD's own rollback (History and Rollback) is refused while automated "
                    "sync is on, and lasts only until the next sync renders the newest release "
                    "again"
                ),
            )
        return self.finding(
            floating.location,
            f"{floating.resource}: {picks}: a new chart release upgrades the app with no "
            f"commit to revert, and {undone}",
            f"pin `{field}` to one chart release (`6.5.4`) and let a bot (Renovate, "
            "Dependabot) propose each bump as a commit: rolling back is then reverting it",
        )
