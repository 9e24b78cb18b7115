"""BK103 tag-reused-by-pipeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from backout.imageref import parse_reference
from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, LazyRegex, Rule
from backout.sources.ci import CiImageDeploy, CiImagePush, CiJob, split_reference
from backout.sources.images import ImageUse

# Tags that teams move on purpose: each push re-points them at the newest build.
MOVING_TAGS = frozenset(
    {
        "latest",
        "stable",
        "prod",
        "production",
        "main",
        "master",
        "trunk",
        "develop",
        "development",
        "dev",
        "staging",
        "stage",
        "edge",
        "nightly",
        "canary",
        "current",
        "live",
        "release",
        "next",
        "head",
    }
)

# CI variables whose value is a branch name: the same value for every push to that branch.
_BRANCH_VARIABLE = LazyRegex(
    r"github\.ref_name|github\.head_ref|github\.base_ref|github\.ref\b"
    r"|default_branch|CI_COMMIT_REF_NAME|CI_COMMIT_REF_SLUG|CI_COMMIT_BRANCH"
    r"|CI_DEFAULT_BRANCH|CI_MERGE_REQUEST_(?:SOURCE|TARGET)_BRANCH_NAME"
    r"|BITBUCKET_BRANCH|BRANCH_NAME|GIT_BRANCH|CIRCLE_BRANCH"
    r"|\{\{\s*(?:branch|base_ref)\s*\}\}"  # docker/metadata-action's template words
)
# CI variables unique to one build: a tag that contains one is not reused.
_BUILD_VARIABLE = LazyRegex(
    r"github\.sha|github\.run_id|github\.run_number|github\.event\.release"
    r"|CI_COMMIT_SHA|CI_COMMIT_SHORT_SHA|CI_COMMIT_TAG|CI_PIPELINE_I?ID|CI_JOB_ID"
    r"|steps\.[\w-]+\.outputs\.(?:sha|version|digest)"
    r"|\{\{\s*(?:sha|tag|version|raw|patch|match|date|commit_date)\b"
)
# CI variables holding the name of the ref the pipeline runs for: a branch name, or the git
# tag's name in a job that runs only for tags (``CiJob.only_tags``), which is unique per release.
_REF_NAME_VARIABLE = LazyRegex(
    r"github\.ref_name|github\.ref\b|GITHUB_REF_NAME|CI_COMMIT_REF_NAME|CI_COMMIT_REF_SLUG"
)
# docker/metadata-action semver/pep440 patterns without the patch level (``{{major}}``,
# ``v{{major}}.{{minor}}``): every patch release re-points them.
_PARTIAL_VERSION = LazyRegex(r"\{\{\s*(?:major|minor)\s*\}\}")


# Literal tags a branch-name tag takes when the branch is one of the usual long-lived ones:
# a push of ``{{branch}}`` or ``$CI_COMMIT_REF_SLUG`` from ``develop`` re-points ``develop``.
_BRANCH_NAMES = frozenset(
    {"main", "master", "trunk", "develop", "development", "dev", "staging", "stage"}
    | {"production", "prod", "release", "next"}
)
_WHOLE_VARIABLE = LazyRegex(r"^\$[\w.]+$")


def _is_branch_tag(tag: str) -> bool:
    """Whether the (spelled-one-way) tag is nothing but a branch-name variable."""
    return _WHOLE_VARIABLE.search(tag) is not None and _BRANCH_VARIABLE.search(tag) is not None


def _tag_matches(wanted: str, deployed: str) -> bool:
    """The deployed tag is the pushed one: the same text, or the literal name of a
    long-lived branch where the push tags with the branch name."""
    deployed = _same_text(deployed)
    if deployed == wanted:
        return True
    return _is_branch_tag(wanted) and deployed.lower() in _BRANCH_NAMES


def _how_it_moves(tag: str, only_tags: bool = False) -> str | None:
    """What re-points the tag (``latest``, a branch name…), in words; ``None`` if unique.

    ``only_tags``: the job runs only for git tags, so a ref-name variable is the tag's name.
    """
    if tag.lower() in MOVING_TAGS:
        return f"`{tag}`"
    if _BUILD_VARIABLE.search(tag):
        return None
    if only_tags and _REF_NAME_VARIABLE.search(tag):
        return None
    if _BRANCH_VARIABLE.search(tag):
        return f"the branch-name tag `{tag}`"
    if _PARTIAL_VERSION.search(tag):
        return f"the version-line tag `{tag}`"
    return None


def _same_text(text: str) -> str:
    """Spell CI variables one way: ``${{ env.X }}``/``${X}`` → ``$X``, no inner spaces."""
    text = re.sub(r"\$\{\{\s*(?:env\.)?([\w.-]+)\s*\}\}", r"$\1", text)
    # docker/metadata-action's {{branch}} is the branch name, as github.ref_name is
    text = re.sub(r"\{\{\s*branch\s*\}\}", "$github.ref_name", text)
    return re.sub(r"\$\{(\w+)\}", r"$\1", text)


def _repository(text: str) -> str:
    """The repository of a reference as the registry knows it (text as is when templated)."""
    parsed = parse_reference(text)
    if parsed is not None:
        return f"{parsed.domain}/{parsed.normalized_repository}"
    return _same_text(split_reference(text)[0])


_FILE_KINDS = {
    "kubernetes": "the manifest",
    "compose": "the compose file",
    "kustomize": "the kustomization",
    "helm": "the chart's values",
    "ecs": "the ECS task definition",
}


@dataclass(frozen=True)
class _DeployedBy:
    """Somewhere the moving tag is deployed: a pipeline command or a file in the repository."""

    location: Location
    how: str
    job_id: str


def _deploys_of(push: CiImagePush, context: CheckContext) -> list[_DeployedBy]:
    tag = split_reference(push.reference)[1]
    assert tag is not None  # pushes always carry a tag (``:latest`` added when none written)
    wanted_tag = _same_text(tag)
    wanted_repository = _repository(push.reference)
    found: list[_DeployedBy] = []
    for deploy in context.head.of(CiImageDeploy):
        if deploy.reference is not None:
            _, deploy_tag, digest = split_reference(deploy.reference)
            if digest is not None or deploy_tag is None:
                continue
            if _tag_matches(wanted_tag, deploy_tag) and (
                _repository(deploy.reference) == wanted_repository
            ):
                found.append(_DeployedBy(deploy.location, f"`{deploy.how}`", deploy.job_id))
        elif deploy.tag is not None and _same_text(deploy.tag) == wanted_tag:
            found.append(_DeployedBy(deploy.location, f"`{deploy.how}`", deploy.job_id))
    for use in context.head.of(ImageUse):
        if use.source == "dockerfile":
            continue  # building FROM the tag is BK305's concern, not a deploy
        parsed = parse_reference(use.reference)
        if parsed is None or parsed.is_pinned:
            continue
        if (
            _tag_matches(wanted_tag, parsed.effective_tag)
            and f"{parsed.domain}/{parsed.normalized_repository}" == wanted_repository
        ):
            found.append(_DeployedBy(use.location, _FILE_KINDS.get(use.source, "a file"), ""))
    return found


class TagReusedByPipeline(Rule):
    """A pipeline pushes a moving tag and deploys by that same tag.

    ## What it does
    Finds GitHub Actions and GitLab CI jobs (and the shell scripts they call) that push an
    image under a tag that every build re-points — `latest`, `stable`, `prod`, `main`, a
    branch name such as `${{ github.ref_name }}` or `$CI_COMMIT_REF_SLUG` — when the same
    image and tag is also deployed: by `kubectl set image`, `helm … --set image.tag=…`,
    `kustomize edit set image`, the image input of a deploy action (`azure/k8s-deploy` and
    `azure/webapps-deploy` `images:`, `aws-actions/amazon-ecs-render-task-definition`
    `image:`), or a manifest, compose file (its tag taken from the `.env` beside it, as
    `docker compose` takes it) or Helm values file in the repository. Cloud Run's
    `google-github-actions/deploy-cloudrun` is not a deploy by tag: Cloud Run resolves the
    tag to a digest when it creates the revision, and a rollback routes traffic back to the
    old revision. A branch-name tag (`{{branch}}`, `${{ github.ref_name }}`,
    `$CI_COMMIT_REF_SLUG`) is deployed when something names the same image by a long-lived
    branch's name (`:main`, `:develop`, `:staging`…): the push from that branch re-points
    it. Pushes come from `docker push`, `docker build --push`, `docker buildx build
    --push`, kaniko `--destination`, `crane tag`/`copy`, `skopeo copy` and
    `docker/build-push-action`, including the tags a `docker/metadata-action` step generates
    for it (`type=ref,event=branch`, `type=raw,value=latest`, `type=edge`, the `latest` that
    `flavor: latest=auto` adds for `type=semver`, and semver patterns without the patch level
    such as `{{major}}.{{minor}}`; `type=sha` and `{{version}}` are unique per build).
    GitLab jobs are read as GitLab builds them: with the files the pipeline includes
    (`include: local:`), and with the templates their `extends:` and `!reference` name in
    any of those files (scripts, `variables:`, `rules:`).

    A ref name is a branch name only where a branch can start the job: in a GitHub workflow
    started only by tag pushes (`on: push: tags: ['v*']` without `branches:`) or releases,
    or a job whose `if:` requires `refs/tags/`, `${{ github.ref_name }}` is the git tag,
    unique per release; so are GitLab's `$CI_COMMIT_TAG`, and `$CI_COMMIT_REF_NAME` or
    `$CI_COMMIT_REF_SLUG` in a job that runs only for tags (`only: [tags]`, or `rules:` that
    all require `$CI_COMMIT_TAG`, in the job, in `workflow: rules:`, or in the `include:`
    entry that merges the job's file, or a file that includes it, into the pipeline: GitLab
    merges such a file only into tag pipelines). In such a GitHub job
    `docker/metadata-action` generates no `type=ref,event=branch` or `type=edge` tag and its
    `{{branch}}` is empty (a tag that comes out empty is skipped), so they push nothing there.

    ## Why is this bad?
    Each release re-points the tag, so the cluster's history holds one pod template for all
    of them. `kubectl rollout undo` restores the tag, not the image: the "previous" revision
    says `shop:latest`, which now names the broken build, and nodes pull it again (`latest`
    is pulled `Always`). `helm rollback` restores `image.tag=latest` the same way. The
    rollback reports success and the broken image keeps running.

    ## Example
    ```yaml
    jobs:
      release:
        steps:
          - run: docker build -t ghcr.io/acme/shop:latest --push .
          - run: kubectl set image deployment/shop shop=ghcr.io/acme/shop:latest
    ```

    ## Use instead
    ```yaml
    jobs:
      release:
        steps:
          - run: docker build -t ghcr.io/acme/shop:${{ github.sha }} --push .
          - run: kubectl set image deployment/shop shop=ghcr.io/acme/shop:${{ github.sha }}
    ```
    Push an immutable tag per build (commit SHA, version) and deploy by it, or by digest.
    A moving tag may still be pushed for people, as long as nothing deploys by it.

    ## References
    - <https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy>
    - <https://docs.docker.com/build/ci/github-actions/manage-tags-labels/>
    """

    code = "BK103"
    name = "tag-reused-by-pipeline"
    severity = Severity.ERROR
    family = Family.IMAGES

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per push of a moving tag that something deploys by."""
        seen: set[tuple[Location, str]] = set()
        tag_jobs = {
            (job.provider, job.workflow, job.job_id)
            for job in context.head.of(CiJob)
            if job.only_tags
        }
        for push in context.head.of(CiImagePush):
            tag = split_reference(push.reference)[1]
            only_tags = (push.provider, push.workflow, push.job_id) in tag_jobs
            moved = _how_it_moves(tag, only_tags) if tag is not None else None
            if moved is None or (push.location, push.reference) in seen:
                continue
            seen.add((push.location, push.reference))
            deploys = _deploys_of(push, context)
            if not deploys:
                continue
            first = deploys[0]
            where = f"{first.location.path}:{first.location.line}"
            by = (
                f"job `{first.job_id}` deploys it with {first.how}"
                if first.job_id
                else (f"{first.how} at {where} deploys it")
            )
            if first.job_id:
                by += f" ({where})"
            more = f" (and {len(deploys) - 1} more)" if len(deploys) > 1 else ""
            pusher = f"job `{push.job_id}`" if push.job_id else "this script"
            yield self.finding(
                push.location,
                f"{pusher} pushes the moving tag `{push.reference}` ({push.how}) and {by}{more}: "
                f"every release re-points {moved}, so `kubectl rollout undo`/`helm rollback` "
                "restores the tag and pulls the image it names now, not the previous release",
                "push an immutable tag per build (commit SHA or version) and deploy by that tag "
                "or by digest; nothing should deploy by a tag that the next build moves",
            )
