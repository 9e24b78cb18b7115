"""BK301 ci-artifact-retention-shorter-than-window."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from backout.config import format_duration
from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, LazyRegex, Rule
from backout.sources.base import FactSet
from backout.sources.ci import (
    GITHUB,
    GITLAB,
    RETENTION_DEFAULT,
    RETENTION_SECONDS,
    CiArtifact,
    CiCommand,
    CiImageDeploy,
    CiImagePush,
    CiJob,
    CiStep,
)

_DAY = 86400
# actions/upload-artifact: "0 means using default retention", and the default is 90 days.
GITHUB_DEFAULT_DAYS = 90
# GitLab's instance default for artifacts without expire_in (Admin > CI/CD), out of the box.
GITLAB_DEFAULT_SECONDS = 30 * _DAY

_DEPLOY_COMMAND = LazyRegex(
    r"\b(?:kubectl\s+(?:apply|create|replace|set\s+image|rollout)|helm\s+(?:upgrade|install)"
    r"|helmfile\s+(?:apply|sync)|argocd\s+app\s+(?:sync|set)|flux\s+reconcile"
    r"|terraform\s+apply|ansible-playbook|kustomize\s+build)\b"
)

# What a release ships, by name or path: bundles, rendered manifests, charts, packages.
_RELEASE_WORDS = LazyRegex(
    r"(?i)(?:^|[^a-z])(?:dist|bundles?|build|release|packages?|pkg|manifests?|rendered|k8s"
    r"|helm|charts?|deploy)(?:[^a-z]|$)"
    r"|\.(?:deb|rpm|apk|aab|ipa|whl|jar|war|ear|tgz|tar\.gz|zip|nupkg|gem|msi|dmg|exe)$"
)
# What a job uploads about itself: reports, logs, coverage, SBOMs, screenshots.
_REPORT_WORDS = LazyRegex(
    r"(?i)report|(?:^|[^a-z])logs?(?:[^a-z]|$)|\.log$|test|coverage|htmlcov|junit|sbom|lint"
    r"|screenshot|trace|playwright|cypress|results?(?:[^a-z]|$)|benchmark|lighthouse|smoke"
)

JobKey = tuple[str, str]


def deploy_jobs(facts: FactSet) -> set[JobKey]:
    """Jobs that deploy: an environment, an image deploy, or a deploy command."""
    found: set[JobKey] = set()
    for job in facts.of(CiJob):
        label = f"{job.job_id} {job.name}".lower()
        if job.environment is not None or "deploy" in label:
            found.add((job.workflow, job.job_id))
    for deploy in facts.of(CiImageDeploy):
        found.add((deploy.workflow, deploy.job_id))
    for command in facts.of(CiCommand):
        if (
            command.provider != "script"
            and command.runs  # not text written to a file that is never run
            and _DEPLOY_COMMAND.search(command.command)
        ):
            found.add((command.workflow, command.job_id))
    return found


def release_jobs(facts: FactSet) -> set[JobKey]:
    """Jobs whose outputs are the release: they push images or are named for releasing."""
    found = {(push.workflow, push.job_id) for push in facts.of(CiImagePush)}
    for job in facts.of(CiJob):
        if "release" in f"{job.job_id} {job.name}".lower():
            found.add((job.workflow, job.job_id))
    return found


def retention_seconds(artifact: CiArtifact) -> tuple[int, str] | None:
    """How long the artifact is kept and how to say so; ``None`` when never or unknowable.

    The reader has read the value; an expression, or a value the provider rejects (reported
    by BK901), is unknowable here.
    """
    if artifact.retention == RETENTION_DEFAULT:
        if artifact.provider == GITHUB:
            return GITHUB_DEFAULT_DAYS * _DAY, f"GitHub's default of {GITHUB_DEFAULT_DAYS} days"
        if artifact.provider == GITLAB:
            return GITLAB_DEFAULT_SECONDS, "GitLab's default of 30 days"
        return None
    if artifact.retention != RETENTION_SECONDS or artifact.retention_seconds is None:
        return None
    seconds = artifact.retention_seconds
    if artifact.provider == GITHUB:
        days = seconds // _DAY
        return seconds, f"{days} day{'s' if days != 1 else ''}"
    return seconds, f"'{artifact.retention_raw}'"


def _downloads(step: CiStep, name: str) -> bool:
    """Whether an ``actions/download-artifact`` step fetches the artifact called ``name``."""
    wanted = step.input("name")
    pattern = step.input("pattern")
    if wanted is not None:
        return wanted.value == name
    if pattern is not None:
        return fnmatch.fnmatchcase(name, pattern.value)
    return True  # without name or pattern it downloads every artifact of the run


def _downloads_from_another_run(step: CiStep, workflow: str, name: str) -> bool:
    """Whether ``step`` fetches the artifact ``name`` of ``workflow`` from another workflow's
    run: ``actions/download-artifact`` with ``run-id`` (v4), or the widely used
    ``dawidd6/action-download-artifact`` (its ``workflow`` input names the workflow file;
    without it, the step's own workflow, which is not ``workflow``)."""
    if step.action == "actions/download-artifact":
        return step.input("run-id") is not None and _downloads(step, name)
    if step.action != "dawidd6/action-download-artifact":
        return False
    source = step.input("workflow")
    if source is None or source.value.rsplit("/", 1)[-1] != workflow.rsplit("/", 1)[-1]:
        return False
    wanted = step.input("name")
    if wanted is None:
        return True  # every artifact of the run
    regexp = step.input("name_is_regexp")
    if regexp is not None and regexp.value.lower() == "true":
        try:
            return re.search(wanted.value, name) is not None
        except re.error:
            return False
    return wanted.value == name


def is_release_output(artifact: CiArtifact) -> bool:
    """Whether the artifact's name or paths say it is what a release ships (a bundle, rendered
    manifests, a chart, a package) rather than a report, a log or test output."""
    words = [artifact.name or "", *artifact.paths]
    if any(_REPORT_WORDS.search(word) for word in words):
        return False
    return any(_RELEASE_WORDS.search(word) for word in words)


@dataclass
class DeployIndex:
    """The CI's jobs and steps as :func:`why_it_matters` looks them up, built once per check:
    asking every artifact about every job was quadratic (a 12,000-job pipeline spent 79 of
    93 s there)."""

    deployers: set[JobKey]
    releasers: set[JobKey]
    jobs: dict[JobKey, CiJob] = field(default_factory=dict)
    deploy_jobs: dict[str, list[CiJob]] = field(default_factory=dict)
    """A workflow's deploy jobs, in file order."""
    deploy_steps: list[CiStep] = field(default_factory=list)
    """The deploy jobs' steps, in file order."""

    @classmethod
    def of(cls, facts: FactSet) -> DeployIndex:
        """The index of ``facts``' jobs and steps."""
        index = cls(deploy_jobs(facts), release_jobs(facts))
        for job in facts.of(CiJob):
            key = (job.workflow, job.job_id)
            index.jobs.setdefault(key, job)
            if key in index.deployers:
                index.deploy_jobs.setdefault(job.workflow, []).append(job)
        index.deploy_steps = [
            step for step in facts.of(CiStep) if (step.workflow, step.job_id) in index.deployers
        ]
        return index


def why_it_matters(artifact: CiArtifact, index: DeployIndex) -> str | None:
    """Which deploy consumes the artifact, or which release produces it; else ``None``.

    A job's own upload counts only when it is a release output (:func:`is_release_output`)
    of a job that pushes images, is named for releasing, or deploys: a rollback re-runs the
    old deploy, which downloads its inputs, not the smoke-test report it uploaded afterwards.
    """
    workflow, owner = artifact.workflow, artifact.job_id
    if artifact.provider == GITHUB:
        name = artifact.name or "artifact"
        for step in index.deploy_steps:
            if step.workflow == workflow:
                if (
                    step.job_id != owner
                    and step.action == "actions/download-artifact"
                    and _downloads(step, name)
                ):
                    return f"downloaded by deploy job '{step.job_id}'"
            elif _downloads_from_another_run(step, workflow, name):
                return f"downloaded by deploy job '{step.job_id}' of {step.workflow}"
    else:
        if not artifact.paths and not artifact.untracked:
            # reports only (junit, dotenv…): stored apart from the archive later jobs download
            return None
        owner_job = index.jobs.get((workflow, owner))
        for job in index.deploy_jobs.get(workflow, ()):
            if job.job_id == owner:
                continue
            if job.artifacts_from is not None:
                if owner in job.artifacts_from:
                    return f"downloaded by deploy job '{job.job_id}'"
            # Without needs/dependencies a GitLab job downloads the artifacts of earlier stages.
            elif owner_job is not None and owner_job.stage != job.stage:
                return f"downloaded by deploy job '{job.job_id}'"
    if (workflow, owner) in index.releasers and is_release_output(artifact):
        return f"an output of release job '{owner}'"
    if (workflow, owner) in index.deployers and is_release_output(artifact):
        return f"an output of deploy job '{owner}'"
    return None


class CiArtifactRetentionShorterThanWindow(Rule):
    """A CI artifact that a rollback needs expires before the rollback window ends.

    ## What it does
    Compares how long CI keeps an artifact — GitHub Actions `actions/upload-artifact`
    `retention-days` (90 days when unset or 0), GitLab `artifacts:expire_in` in any syntax
    GitLab accepts (`3 mins 4 sec`, `2h20min`, `6 mos 1 day`, `never`; in jobs and in
    `default:`; 30 days when unset) — with `rollback-window`. Only artifacts that matter for
    a rollback are judged: those a deploy job downloads, and release outputs (a bundle,
    rendered manifests, a chart, a package — not a report or a log) of a job that pushes
    images, is named for releasing, or deploys. A deploy job of another workflow counts when
    it downloads the artifact from the build's run: `actions/download-artifact` with
    `run-id`, or `dawidd6/action-download-artifact` naming the build's workflow file.

    GitLab artifacts are read as GitLab builds them: `extends:` is a reverse deep merge (a
    template's `expire_in` applies to the job's own `paths`); a job's own `artifacts:`
    replaces `default:`'s without merging, so `default:`'s `expire_in` is judged only for
    the jobs that inherit it (`inherit: default` can refuse it). A GitLab deploy job downloads
    the artifacts of every earlier stage, unless `dependencies:` (`[]`: none) or `needs:`
    (`artifacts: false`, `needs: []`) say otherwise. Only `paths` and `untracked` make the
    archive later jobs download: `artifacts:reports` (JUnit, coverage…) are stored apart and
    never judged. An `expire_in` that is a CI/CD input (`$[[ inputs.expiry ]]`), like a
    GitHub expression (`${{ inputs.days }}`), is known only when the pipeline is created and
    is not judged. The files a pipeline includes (`include: ci/deploy.yml`,
    `include: [{local: /ci/build.yml}]`, wildcards `ci/*.yml` and `ci/**.yml`, nested
    includes) are one pipeline with it, as GitLab merges them: a deploy job in an included
    file downloads the artifacts of a build job in another, and a job's `extends:` (a list,
    several levels, hidden `.templates`) and `!reference [.template, artifacts]` reach
    templates in any of its files; the finding points at the `expire_in` where it is written.
    `remote:`, `project:`, `template:` and `component:` includes are outside the repository
    and not followed. An include with `rules:` counts as included: GitLab evaluates their
    `if:` (the run's variables), `exists:` and `changes:` when it creates each pipeline,
    which backout cannot do, and a file that some pipelines include is judged; only rules
    that can never include the file (each one that may apply says `when: never`) leave it
    out.

    ## Why is this bad?
    Rolling back means redeploying the previous release's build: its bundle, its rendered
    manifests, its package. When CI has already deleted that artifact, the rollback pipeline
    fails on "artifact not found", and the only way back is to rebuild an old commit, which
    rarely yields the same bytes. Bugs are often found a week or two after a deploy.

    ## Example
    ```yaml
    - uses: actions/upload-artifact@v4
      with:
        name: shop-bundle
        path: dist/
        retention-days: 7
    ```

    ## Use instead
    ```yaml
    - uses: actions/upload-artifact@v4
      with:
        name: shop-bundle
        path: dist/
        retention-days: 45
    ```
    Keep release artifacts at least as long as the rollback window, or archive them where
    they do not expire (a registry, a release asset, object storage).

    ## References
    - [actions/upload-artifact retention-days](https://github.com/actions/upload-artifact#retention-period)
    - [GitLab `artifacts:expire_in`](https://docs.gitlab.com/ci/yaml/#artifactsexpire_in)
    """

    code = "BK301"
    name = "ci-artifact-retention-shorter-than-window"
    severity = Severity.ERROR
    family = Family.ARTIFACTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per deploy-relevant artifact that expires inside the window."""
        facts = context.head
        window = context.config.rollback_window
        shown_window = format_duration(window)
        index: DeployIndex | None = None
        reported: set[Location] = set()
        for artifact in facts.of(CiArtifact):
            kept = retention_seconds(artifact)
            if kept is None or kept[0] >= window:
                continue
            if index is None:
                index = DeployIndex.of(facts)
            why = why_it_matters(artifact, index)
            where = artifact.retention_location or artifact.location
            if why is None or where in reported:
                continue  # default: artifacts inherited by several jobs are reported once
            reported.add(where)
            seconds, shown = kept
            if artifact.from_default:
                what = f"the default: artifacts, which job '{artifact.job_id}' inherits"
            elif artifact.name:
                what = f"artifact '{artifact.name}'"
            else:
                what = f"the artifacts of job '{artifact.job_id}'"
            yield self.finding(
                where,
                f"{what} ({why}): kept for {shown}, shorter than the {shown_window} "
                f"rollback window: rolling back to a release older than "
                f"{format_duration(seconds)} finds this artifact deleted",
                _fix(artifact, window),
            )


def _fix(artifact: CiArtifact, window: int) -> str:
    days = -(-window // _DAY)
    if artifact.provider == GITHUB:
        if days > GITHUB_DEFAULT_DAYS:
            return (
                f"GitHub keeps artifacts at most {GITHUB_DEFAULT_DAYS} days in public "
                "repositories (400 in private ones): set retention-days to the maximum and "
                "archive release artifacts elsewhere (a registry, a release asset)"
            )
        return f"set retention-days to at least {days}, or archive release artifacts elsewhere"
    return f"set expire_in to at least '{days} days' (or 'never' for release artifacts)"
