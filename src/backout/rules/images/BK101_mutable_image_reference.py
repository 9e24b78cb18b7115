"""BK101 mutable-image-reference."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from backout.imageref import ImageReference, parse_reference
from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.base import FactSet
from backout.sources.ecs_steps import rendered_containers
from backout.sources.helm import HelmImage, judged_image_uses, misrendered_tag
from backout.sources.images import ImageUse, KnownTag, known_tag
from backout.sources.kustomize import INCLUDE_FIELDS, KustomizeInclude, refused_tag
from backout.sources.paths import KUSTOMIZATION_NAMES

# The kinds `kubectl rollout undo` rolls back; any other pod template goes back by re-applying
# the previous release's manifest.
_UNDOABLE = ("Deployment", "StatefulSet", "DaemonSet")

# What restores the previous image for each kind of file, in the words of the failure.
_RESTORED_BY = {
    "kubernetes": "`kubectl rollout undo` restores the tag, not the image",
    "kubernetes re-applied": "re-applying the previous release's manifest restores the tag, "
    "not the image",
    "kustomize": "kustomize writes this tag into the manifests, and `kubectl rollout undo` "
    "restores the tag, not the image",
    "helm": "`helm rollback` restores the values, so the tag, not the image",
    "helm template": "`helm rollback` restores the chart's templates, so the tag, not the image",
    "compose": "redeploying the previous compose file pulls the tag again, not the image",
    "ecs": "rolling the ECS service back to the previous task definition revision (by hand "
    "or by its deployment circuit breaker) restores the tag, not the image",
}


def _why_mutable(ref: ImageReference, built_as: str = "") -> str:
    shown = f"`{built_as or ref.raw}`"
    if ref.has_malformed_digest:
        return (
            f"{shown} carries the malformed digest `{ref.digest}` (a sha256 digest is 64 "
            "lower-case hex digits), which pins nothing"
        )
    if ref.is_latest:
        return (
            f"{shown} is re-pointed by every push of `latest`, so the rollback can run the "
            "broken image again"
        )
    if ref.is_untagged:
        port = ""
        if ref.registry is not None and ":" in ref.registry:
            port = f" (`:{ref.registry.rsplit(':', 1)[1]}` is the registry's port, not a tag)"
        return (
            f"{shown} has no tag{port}, so it means `:latest`, which every push re-points: "
            "the rollback can run the broken image again"
        )
    return (
        f"{shown} names the tag `{ref.tag}`, which can be pushed again, so the image "
        "restored may not be the one that ran"
    )


def _known_tag(use: ImageUse) -> KnownTag | None:
    """The tag ``use`` runs when its unset variables set only the repository: compose
    interpolation, and ``${…}`` in a manifest that a deploy step (Flux's post-build
    substitution, envsubst) fills in, or that the reader worked out (an ECS task definition
    in a CloudFormation or Terraform template). Dockerfiles are BK305's."""
    if use.known is not None:
        return use.known
    if use.unresolved and use.source == "compose":
        env = {e.name: e.value for e in use.env_values if e.value is not None}
        withheld = {e.name for e in use.env_values if e.value is None}
        return known_tag(use.text_in_file, known=env, withheld=withheld)
    if not use.unresolved and "$" in use.reference and parse_reference(use.reference) is None:
        return known_tag(use.reference, compose=False)
    return None


def _set_by(use: ImageUse) -> str:
    """What the unresolved variables of ``use`` are: ``${TAG:?err}`` is named by its variable,
    which must be set at deploy time; one that a ``.env`` sets to a value backout does not
    read (a credential) is named with the line that sets it."""
    unread = [env for env in use.env_values if env.value is None]
    if not unread:
        return _unresolved(use)
    causes = [
        f"`{env.name}`, which {env.where} sets to a value backout does not read ({env.unread})"
        for env in unread
    ]
    if use.unresolved_rest:
        causes.append(f"{use.unresolved_rest} with no default")
    if use.required:
        names = ", ".join(f"`{name}`" for name in use.required)
        causes.append(f"{names}, which must be set at deploy time")
    return f"the image `{use.text_in_file}` depends on " + ", and on ".join(causes)


def _from_env_file(use: ImageUse) -> str:
    """Which variables of ``use`` a ``.env`` file sets, and where (values that are read)."""
    return ", ".join(
        f"`{env.name}={env.value}` from {env.where}"
        for env in use.env_values
        if env.value is not None
    )


def _unresolved(use: ImageUse) -> str:
    if use.required:
        names = ", ".join(f"`{name}`" for name in use.required)
        one = len(use.required) == 1
        required = (
            f"{names}, which must be set at deploy time (compose refuses to start without "
            f"{'it' if one else 'them'}) and {'has' if one else 'have'} no default"
        )
        if use.unresolved_rest:
            return (
                f"the image `{use.text_in_file}` depends on {use.unresolved_rest} with no "
                f"default, and on {required}"
            )
        if use.text_in_file == use.unresolved:
            return f"the image is set entirely by {required}"
        return f"the image `{use.text_in_file}` depends on {required}"
    if use.text_in_file == use.unresolved:
        return f"the image is set entirely by {use.unresolved} with no default"
    return f"the image `{use.text_in_file}` depends on {use.unresolved} with no default"


# A token a pipeline replaces before applying the file (`sed 's|<IMAGE>|…|'`, a release
# tool's `#{Image}#`, envsubst's `${TAG}`), which makes the reference invalid as written:
# `<IMAGE>`, `app:<TAG>`, `app:${TAG}`.
_PLACEHOLDER = re.compile(
    r"<[A-Za-z0-9_.-]+>|#\{[^{}]+\}#?|__[A-Za-z0-9_]+__|\$\{[^{}]+\}|\$[A-Za-z_][A-Za-z0-9_]*"
)


def _ecs_container(use: ImageUse) -> tuple[str, str]:
    """``(file, container name)`` of an ECS image (its context ends ``container <name>``)."""
    return use.location.path, use.context.rpartition(" container ")[2]


class MutableImageReference(Rule):
    """An image is referenced by a tag instead of a digest, so a rollback may not restore it.

    ## What it does
    Flags every image reference without a valid `@sha256:` digest in what a release deploys:
    the containers, init containers and ephemeral containers of Deployment, StatefulSet,
    DaemonSet, ReplicaSet, Job, CronJob, Pod, PodTemplate and Argo Rollout manifests (also
    inside `kind: List`); docker-compose `image:`; Amazon ECS task definitions in JSON
    (`containerDefinitions[].image`, also `describe-task-definition` output), except a
    container whose image a GitHub Actions `aws-actions/amazon-ecs-render-task-definition`
    step replaces (its `task-definition` and `container-name` as written, through `${{
    env.NAME }}`, or an earlier render step's output for a second container; BK103 judges
    the image the pipeline writes in); ECS task definitions in CloudFormation templates (YAML
    or JSON, `AWS::ECS::TaskDefinition` `ContainerDefinitions[].Image`) and Terraform
    (`aws_ecs_task_definition` `container_definitions` as `jsonencode([...])`, a JSON
    heredoc, or the file `file()`/`templatefile()` reads, judged in that file): a literal image as any other, a parameter's `Default` as the image it gives
    when the stack does not set it, and an image whose repository only the deployment knows
    (`!Sub "${Repo.RepositoryUri}:latest"`, `"${aws_ecr_repository.api.repository_url}:1.4"`)
    by its tag; one whose tag the deployment may set (`!Ref Image` without default,
    `${Repo}:${Tag}`, `var.image`) is not judged; Kustomize `images:` entries with `newTag`
    but no `digest`; Helm chart values (`image.repository`/`image.tag`, or one string such as
    `image: nginx`) that a template of the chart uses as an image, judged as the template
    builds it: a registry before the mapping (`ghcr.io/{{ .Values.image.repository }}:…`,
    `{{ .Values.imageRegistry }}/…` with the registry set in the values, a `global.` one
    where set) is part of the image, a value read only as a `default` is not; an
    `{{ if .Values.global.registry }}…{{ else }}…{{ end }}` is rendered as Helm would with
    the values (true for a non-empty string, a non-zero number, `true`, a non-empty mapping
    or list; `not`, `eq`, `ne`, `and`, `or`, `contains`, `empty` are followed), and one it
    cannot tell stays unknown; a template that
    builds the image from more than that (microservices-demo's
    `{{ .Values.images.repository }}/{{ .Values.cartService.name }}:{{ .Values.images.tag }}`)
    is named as it builds it, with the line. A container's `image:` line that no values
    image holds (istio's `{{ .Values.pilot.hub | default .Values.global.hub }}/pilot:{{
    .Values.pilot.tag | default .Values.global.tag }}`, `{{ .Values.hub }}/app:{{
    .Values.tag }}`) is rendered with the chart's `values.yaml` (a value it does not set is
    unset; the defaults current istio charts keep under `_internal_defaults_do_not_set` and
    merge into `.Values` count as the values beside them, and are merged as
    `mustMergeOverwrite` merges them: a value set beside one overrides it, an empty one too,
    but a mapping beside a non-empty value does not; under a subchart's key in a parent
    chart's values they are the subchart's, merged the same way) where its `{{ if }}`/`{{
    else }}` conditions hold and the values tell every action, and is judged at the value that sets its tag (`global.tag: latest`), naming
    the line; `backout pin` resolves it but writes nothing there, as that value may tag
    other images. A value printed whole by a line whose conditions are false with those
    values (`{{ if contains "/" .Values.pilot.image }}` with `image: pilot`) is no image. A mapping
    `{registry, image, tag, digest}` (ingress-nginx) or `{registry, repository, tag, digest}`
    is one image, `registry/image:tag@digest`; its templates may read it inside
    `{{ with .Values.controller.image }}` and through helpers passed the dot. A `sha: <64 hex>`
    (kube-prometheus-stack) pins the image where a template appends `@sha256:{{ … .sha }}`.
    A values file beside the chart's `values.yaml` that sets only the tag
    (`values-prod.yaml`: `image: {tag: latest}`) is judged at that tag, merged as Helm merges
    it with the image of `values.yaml` (a `digest:` there still pins it).
    Under any other key
    (`worker: {repository: …, tag: …}`, `sidecars: {proxy: envoy:1.30}`) the templates decide:
    a value is judged when a container's `image:` reads it as the image (`worker.repository`
    and `worker.tag` joined by `:` or by a `printf`, or the whole string), and a
    `backup: {repository: s3://…}` no container runs is not. An image a chart template
    writes as it is (`image: busybox:latest`) is judged there; a `helm.sh/hook: test`
    resource (run by `helm test`, never deployed) is not, nor is a values image that only
    such resources read (grafana's `testFramework.image`). A file under a `templates/`
    directory with no `{{ }}` action is read as a plain manifest (`k8s/templates/`, no chart).
    A manifest that a kustomization builds, and whose image that kustomization sets
    (`images: [{name: nginx, newName: …, newTag: 1.27}]`, or a `digest:`), is deployed with
    what the entry sets: the manifest's own tag (argo-cd's bases say `:latest`) is not
    flagged, the `images:` entry is judged instead. A kustomization builds what it includes,
    as `kustomize build` does: the files its `resources:` list in or below its directory
    (kustomize refuses `../api.yaml` by default), and what the kustomizations of
    the directories listed in `resources:`, the legacy `bases:` and `components:` build; so an
    overlay's `images:` reach its base's manifests, and a component's `images:` reach what
    the kustomization that includes it builds. A manifest beside a `kustomization.yaml` that
    does not list it is not built by it, and is judged by its own tag.

    References are parsed with the distribution reference grammar, so
    `registry:5000/app` is an *untagged* image on the registry `registry:5000`, and
    `shop:1.4@sha256:<64 hex>` is pinned. A digest that is not 64 hex digits pins nothing.
    Compose interpolation is judged as `docker compose` substitutes it where the deploy's
    shell does not set the variable: from the `.env` file beside the compose file (compose's
    own syntax: `export`, quotes, comments, `${VAR}` inside values), else by its default:
    `image: shop:${TAG}` with `TAG=latest` in `.env` is `shop:latest`, and the finding names
    the `.env` line; `${TAG:-latest}` is `latest` whenever `TAG` is unset. A `.env` value that
    looks like a credential (`API_TOKEN=…`, `user:pw@host/…`) is never read, so never
    printed. A variable with no default that sets only the repository does not hide the tag:
    `${REGISTRY:-ghcr.io}/${IMAGE_PREFIX}/api:${IMAGE_TAG:-latest}` is judged as `latest` and
    `${REGISTRY}/api` as untagged (errors), whatever `IMAGE_PREFIX` and `REGISTRY` hold; a
    digest pins it all the same. So are `${…}` and `$VAR` in a manifest, Kustomize `images:`
    or Helm values that a deploy step fills in (envsubst, Flux's post-build substitution,
    whose `${TAG:=latest}` is a default). An image whose name or tag a variable with no
    default may set (`${IMAGE}`, `api:${TAG}`) cannot be judged and is
    reported as a warning; `${TAG:?message}` is named as a variable that must be set at
    deploy time (compose refuses to start without it). An empty Helm tag that the templates replace by
    `.Chart.AppVersion` is judged as the `appVersion` of the chart's `Chart.yaml`; one they
    replace by another value (`{{ .Values.image.tag | default .Values.defaultTag }}`) as
    that value of the chart's `values.yaml`, naming its line, or, where it sets none, as a
    tag the fallback (named in the message) decides. An
    unquoted Helm tag is judged as Helm renders it (values go
    through JSON, so numbers are printed as float64): `tag: 1.0` deploys `repo:1`, `1e3`
    deploys `repo:1000`, `20240501` deploys `repo:2.0240501e+07`; that is an error, fixed by
    quoting the tag (`tag: "1.0"`). An unquoted Kustomize `newTag` that YAML reads as a
    number or a boolean (`newTag: 1.10`, `newTag: 553640e6`) is an error too: kustomize's
    `newTag` is a string field, so `kustomize build` refuses the kustomization instead of
    deploying any tag.

    Severity: error for `latest` or no tag (they move on every push); warning for any other
    tag (it moves when someone pushes it again).

    ## Why is this bad?
    `kubectl rollout undo` restores the previous pod template, and the template holds the
    tag, not the image. When the broken release re-pointed the tag (`latest`, `main`, or a
    re-pushed `1.4`), the "rolled back" pods pull the same broken image: the rollback
    succeeds and nothing changes (the pod's `imageID` is the same as before). `helm rollback`,
    redeploying an old compose file, re-applying the previous manifest of a Job, CronJob,
    Pod or ReplicaSet (kinds `kubectl rollout undo` does not accept), and rolling an ECS
    service back to its previous task definition revision fail the same way.

    ## Example
    ```yaml
    containers:
      - name: api
        image: registry:5000/api     # untagged (5000 is the port): means :latest
      - name: worker
        image: worker:1.4
    ```

    ## Use instead
    ```yaml
    containers:
      - name: api
        image: registry:5000/api:2.4@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      - name: worker
        image: worker:1.4@sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
    ```
    `backout pin --write` resolves each tag against its registry and rewrites the files,
    keeping the tag for readers.

    ## References
    - Kubernetes: [Images](https://kubernetes.io/docs/concepts/containers/images/)
    - distribution reference grammar: `distribution/reference` `regexp.go`
    """  # noqa: E501 - the examples hold full 64-digit digests

    code = "BK101"
    name = "mutable-image-reference"
    severity = Severity.ERROR
    family = Family.IMAGES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per deployed image reference that no digest pins."""
        # Helm values count only where a template of their chart uses them as an image
        # (`image: nginx` printed as `{{ .Values.image }}`, not `image: enabled`).
        uses = judged_image_uses(context.head)
        overridden = _set_by_kustomize(context.head, uses)
        rendered = rendered_containers(context.head)
        for use in uses:
            if use.source == "dockerfile":
                continue  # build inputs are BK305's
            if use.source == "ecs" and _ecs_container(use) in rendered:
                continue  # the pipeline writes the image it built: BK103 judges that one
            if use.source == "kubernetes" and _image_name(use.reference) in overridden.get(
                use.location.path, set()
            ):
                continue  # what deploys is what a kustomization sets: its entry is judged
            finding = self._judge(use)
            if finding is not None:
                yield finding

    def _tag_only(self, use: ImageUse, known: KnownTag, restored_by: str) -> Finding:
        """The finding for an image whose repository a variable without default sets, and
        whose tag the file decides: the tag moves whatever the repository is."""
        ref = known.reference
        template = use.source == "ecs"  # a CloudFormation or Terraform template computes it
        defaults = ", ".join(f"default of {used}" for used in known.defaults_used)
        unset_by = "the stack does not set it" if template else "the variable is unset"
        by = [f"the {defaults}, used when {unset_by}"] if defaults else []
        from_env = _from_env_file(use)
        if from_env:
            by.append(f"{from_env}, used unless the shell sets it")
        judged = f" (judged by {', and by '.join(by)})" if by else ""
        unset = ", ".join(known.unset)
        one = len(known.unset) == 1
        if template:
            unknown = f"{unset} {'is' if one else 'are'} known only when deployed, but set"
            where = "in the template (`…:1.4@sha256:…`)"
        else:
            unknown = f"{unset} {'has' if one else 'have'} no default but set"
            where = (
                "(inside the tag's default when it has one, `${TAG:-1.4@sha256:…}`, so a tag "
                "set at deploy still wins)"
            )
        return self.finding(
            use.location,
            f"{use.context}: {restored_by}: {_why_mutable(ref, use.text_in_file)}{judged}; "
            f"{unknown}{'s' if one else ''} only the repository, not the tag",
            f"pin it by digest: end the reference with `@sha256:…` {where}, "
            f"resolved against the repository that {unset} names: `backout pin` cannot "
            "resolve it while the repository has no value in the files",
            Severity.ERROR if ref.is_untagged or ref.is_latest else Severity.WARNING,
        )

    def _judge(self, use: ImageUse) -> Finding | None:
        restored_by = _RESTORED_BY.get(use.source, _RESTORED_BY["kubernetes"])
        if use.source == "helm" and not isinstance(use, HelmImage):
            restored_by = _RESTORED_BY["helm template"]
        elif use.source == "kubernetes" and use.context.startswith("Rollout/"):
            # an Argo Rollout is undone by the plugin; plain `kubectl rollout` refuses the kind
            restored_by = "`kubectl argo rollouts undo` restores the tag, not the image"
        elif use.source == "kubernetes" and use.context.split("/", 1)[0] not in _UNDOABLE:
            # `kubectl rollout undo` refuses a Job, CronJob, Pod or ReplicaSet
            restored_by = _RESTORED_BY["kubernetes re-applied"]
        refused = refused_tag(use)
        if refused is not None:
            why, fix = refused
            return self.finding(
                use.location,
                f"{use.context}: {why}",
                f"{fix}, then pin it by digest (`backout pin --write`)",
                Severity.ERROR,
            )
        misread = misrendered_tag(use)
        if misread is not None:
            why, fix = misread
            return self.finding(
                use.location,
                f"{use.context}: {why}: the file does not say which image runs, and {restored_by}",
                f"{fix}, then pin it by digest (`backout pin --write`)",
                Severity.ERROR,
            )
        if isinstance(use, HelmImage) and use.unresolved:
            fallback = use.tag_fallback or ".Chart.AppVersion"
            return self.finding(
                use.location,
                f"{use.context}: chart default tag is empty: the templates fall back to "
                f"`{fallback}`, a tag, so `{use.reference}` is deployed by tag and "
                f"{restored_by}",
                "set the image's `digest` in the values (or pin `tag: <tag>@sha256:…`), so "
                "`helm rollback` restores the image itself",
                Severity.WARNING,
            )
        known = _known_tag(use)
        if known is not None:
            return None if known.reference.is_pinned else self._tag_only(use, known, restored_by)
        if use.unresolved:
            return self.finding(
                use.location,
                f"{use.context}: {_set_by(use)}, so which image runs, and "
                "which one a rollback restores, cannot be known from the repository",
                "give the variable a pinned default (`${IMAGE:-app:1.4@sha256:…}`), or set "
                "it from a deploy step that records the digest",
                Severity.WARNING,
            )
        ref = parse_reference(use.reference)
        placeholder = _PLACEHOLDER.search(use.reference) if ref is None else None
        if placeholder is not None:
            token = placeholder.group()
            whole = f"`{use.reference}`, " if use.reference != token else ""
            return self.finding(
                use.location,
                f"{use.context}: `{token}` is a placeholder that a deploy step fills in "
                f"({whole}replaced by sed, envsubst or a token task before it is applied), "
                "so which image runs, and which one a rollback "
                "restores, cannot be judged from the repository",
                "have the step that fills it in write a digest (`repo:tag@sha256:…`) and "
                "record it, or check the manifests that step writes",
                Severity.WARNING,
            )
        if ref is None:
            return self.finding(
                use.location,
                f"{use.context}: `{use.reference}` is not a valid image reference, so what a "
                "rollback restores cannot be judged (and the runtime will refuse to pull it)",
                "write a reference the registry accepts, pinned by digest: "
                "`repo:tag@sha256:<64 hex>`",
                Severity.WARNING,
            )
        if ref.is_pinned:
            return None
        if isinstance(use, HelmImage):
            judged = f" ({use.note})" if use.note else ""
        else:
            unset = "the stack does not set it" if use.source == "ecs" else "the variable is unset"
            by = [f"the {use.note}, used when {unset}"] if use.note else []
            from_env_file = _from_env_file(use)
            if from_env_file:
                # compose takes the shell's value first: the file decides where it is unset
                by.append(f"{from_env_file}, used unless the shell sets it")
            judged = f" (judged by {' and '.join(by)})" if by else ""
        severity = Severity.ERROR if ref.is_untagged or ref.is_latest else Severity.WARNING
        built_as = use.built_as if isinstance(use, HelmImage) else ""
        if isinstance(use, HelmImage) and use.built_at is not None:
            restored_by += f"; {use.built_at} builds the image from more than these values"
            fix = (
                f"pin the image where it is built ({use.built_at}): give each image it builds "
                "a digest value that the template appends as `@{{ … }}`; a digest written "
                f"into `{use.values_path}` would pin no image, or the wrong one"
            )
        elif isinstance(use, HelmImage) and use.rendered_at is not None:
            fix = (
                f"pin the image where it is built ({use.rendered_at}): give it a digest value "
                "that the template appends as `@{{ … }}`, or a value that holds the whole "
                "pinned reference"
                + (
                    f"; a digest written into `{use.values_path}` would pin every image that "
                    "reads it to this one"
                    if use.values_path
                    else ""
                )
            )
        elif use.source == "kustomize":
            fix = "add `digest: sha256:…` to this `images:` entry (`backout pin --write`)"
        elif use.source == "ecs" and (use.note or use.written):
            example = ref.pinned("sha256:…")
            fix = (
                f"pin it by digest: `{example}`, written where the template sets it "
                f"({use.note or 'by hand'}): `backout pin` resolves it but does not rewrite "
                "a computed image"
            )
        else:
            example = ref.pinned("sha256:…")
            fix = f"pin it by digest: `{example}` (`backout pin --write` resolves and rewrites it)"
        return self.finding(
            use.location,
            f"{use.context}: {restored_by}: {_why_mutable(ref, built_as)}{judged}",
            fix,
            severity,
        )


_KUSTOMIZE_ENTRY = re.compile(r"images\[(?P<name>.+)\]$")


def _image_name(reference: str) -> str:
    """The name an ``images:`` entry matches: the reference without tag and digest."""
    parsed = parse_reference(reference)
    if parsed is None:
        return reference
    return f"{parsed.registry}/{parsed.repository}" if parsed.registry else parsed.repository


def _set_by_kustomize(facts: FactSet, uses: Sequence[ImageUse]) -> dict[str, set[str]]:
    """For each manifest that a kustomization of the repository builds, the image names whose
    tag or digest a kustomization building it sets (``images: [{name, newTag}]`` or
    ``digest``): the manifest is deployed with what the entry sets, whatever its own tag says,
    and the entry is judged in its place.

    A kustomization builds what it includes (:class:`KustomizeInclude`): the files its
    ``resources:`` list in or below its directory (``kustomize build`` refuses a file above
    it unless given ``--load-restrictor LoadRestrictionsNone``), and everything the
    kustomization of a listed directory builds (a base through ``resources:`` or the legacy
    ``bases:``, a ``components:`` entry). Its ``images:``
    apply to all of it, and so do those of the components it includes. A manifest beside a
    kustomization that does not list it is not built by it, so not changed by its images.
    """
    own: dict[str, set[str]] = {}
    for use in uses:
        match = _KUSTOMIZE_ENTRY.search(use.context) if use.source == "kustomize" else None
        if match:
            own.setdefault(use.location.path, set()).add(match.group("name"))
    if not own:
        return {}
    paths = facts.paths
    includes: dict[str, list[KustomizeInclude]] = {}
    for include in facts.of(KustomizeInclude):
        includes.setdefault(include.location.path, []).append(include)

    def kustomization_in(directory: str) -> str | None:
        for name in KUSTOMIZATION_NAMES:  # the order kustomize looks for them in
            candidate = name if directory == "." else f"{directory}/{name}"
            if candidate in paths:
                return candidate
        return None

    def walk(kustomization: str, fields: tuple[str, ...]) -> tuple[set[str], set[str]]:
        """The files ``kustomization`` builds through ``fields``, and the kustomizations met."""
        files: set[str] = set()
        seen = {kustomization}
        todo = [kustomization]
        while todo:
            current = todo.pop()
            root = current.rpartition("/")[0]
            for include in includes.get(current, []):
                if include.field not in fields or not include.target:
                    continue
                if include.target in paths:
                    # A file must lie in or below the kustomization's directory: kustomize
                    # refuses one above it (its default load restrictor), so never sets it.
                    if not root or include.target.startswith(root + "/"):
                        files.add(include.target)
                    continue
                inner = kustomization_in(include.target)
                if inner is not None and inner not in seen:
                    seen.add(inner)
                    todo.append(inner)
        return files, seen

    overridden: dict[str, set[str]] = {}
    for kustomization in {include.location.path for include in facts.of(KustomizeInclude)}:
        # Its own entries, and those of the components it includes (components of components
        # too), which kustomize runs over what it has built so far.
        names: set[str] = set()
        for applied in walk(kustomization, ("components",))[1]:
            names |= own.get(applied, set())
        if not names:
            continue
        for path in walk(kustomization, INCLUDE_FIELDS)[0]:
            overridden.setdefault(path, set()).update(names)
    return overridden
