"""The CI pipeline reader: jobs, steps, shell lines, artifacts, pushes, deploys, positions."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.ci import (
    RETENTION_DEFAULT,
    RETENTION_NEVER,
    RETENTION_SECONDS,
    RETENTION_UNKNOWN,
    CiArtifact,
    CiCommand,
    CiImageDeploy,
    CiImagePush,
    CiJob,
    CiReader,
    CiRolloutRestart,
    CiStep,
    HelmHistoryMax,
    ScriptReader,
    split_reference,
)
from backout.sources.gitlab_includes import GitLabFile, GitLabIncludes, link_included_pipelines
from tests.conftest import git, run_backout

GITHUB_WORKFLOW = """\
name: release
on: push
env:
  IMAGE: ghcr.io/acme/shop
jobs:
  build:
    name: Build image
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: push
        run: |
          # a comment line is not a command
          docker build -t $IMAGE:latest \\
            --label x=y .

          docker push "$IMAGE:latest"
      - id: bp
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: |
            ghcr.io/acme/shop:${{ github.sha }}
            ghcr.io/acme/shop:latest, ghcr.io/acme/shop:stable
      - uses: actions/upload-artifact@v4
        with:
          name: dist
          path: |
            dist/
            out/
          retention-days: 7
  deploy:
    needs: [build]
    environment:
      name: production
    steps:
      - run: >
          helm upgrade shop ./chart
          --history-max 3
          --set image.repository=ghcr.io/acme/shop,image.tag=latest
      - run: kubectl set image deployment/shop shop=${{ env.IMAGE }}:latest && echo ok
      - uses: actions/download-artifact@v4
        with:
          name: "dist"
  call:
    uses: ./.github/workflows/deploy.yml
    with:
      tag: latest
"""

GITLAB_PIPELINE = """\
variables:
  IMAGE: $CI_REGISTRY_IMAGE
default:
  before_script:
    - echo default
  artifacts:
    expire_in: 1 week
.deploy: &deploy
  stage: deploy
  script:
    - kubectl set image deploy/shop shop=$IMAGE:$CI_COMMIT_REF_SLUG
build:
  stage: build
  script:
    - /kaniko/executor --context . --destination "$IMAGE:$CI_COMMIT_REF_SLUG"
    - |
      echo hi
      docker push $IMAGE
    - !reference [.deploy, script]
  artifacts:
    paths: [dist/]
    expire_in: "3 days"
prod:
  extends: .deploy
  needs: [{job: build, artifacts: true}]
  environment: production
staging:
  <<: *deploy
  dependencies: [build]
stages: [build, deploy]
"""


def read(path: str, text: str, reader: CiReader | ScriptReader | None = None) -> list[Fact]:
    """One file's facts, GitLab jobs included: read, then linked as the engine does once
    every file is read."""
    facts = FactSet()
    facts.paths.add(path)
    facts.extend((reader or CiReader()).read(SourceFile(path, text.encode())))
    link_included_pipelines(facts)
    return list(facts)


def at(fact: Fact) -> str:
    return f"{fact.location.line}:{fact.location.column}"


def of(facts: list[Fact], kind: type) -> list:  # type: ignore[type-arg]
    return [f for f in facts if isinstance(f, kind)]


def test_reader_wants_pipeline_files_only() -> None:
    reader = CiReader()
    assert reader.wants(".github/workflows/ci.yml")
    assert reader.wants("svc/.github/workflows/ci.yaml")
    assert reader.wants(".github/actions/deploy/action.yml")
    assert reader.wants(".gitlab-ci.yml")
    assert reader.wants("ci/deploy.gitlab-ci.yml")
    assert reader.wants(".gitlab/ci/deploy.yml")
    assert not reader.wants(".github/workflows/sub/ci.yml")
    assert not reader.wants(".github/dependabot.yml")
    assert not reader.wants("chart/templates/deployment.yaml")
    assert not reader.wants("deploy.sh")


def test_other_yaml_is_read_only_when_it_holds_gitlab_jobs() -> None:
    # any YAML may be a GitLab `include: local:` target: content decides, quietly
    included = "deploy:\n  stage: deploy\n  script:\n    - helm upgrade shop chart/\n"
    facts = read("ci/deploy.yml", included)
    assert [(c.job_id, c.command, at(c)) for c in of(facts, CiCommand)] == [
        ("deploy", "helm upgrade shop chart/", "4:7")
    ]
    manifest = "apiVersion: v1\nkind: ConfigMap\ndata:\n  script: x\n"
    assert read("k8s/config.yaml", manifest) == []
    assert read("k8s/broken.yaml", "a: [\n") == []
    assert read("vendor/lib/action.yml", "name: x\nruns:\n  using: node20\n") == []


def test_github_jobs() -> None:
    jobs = of(read(".github/workflows/r.yml", GITHUB_WORKFLOW), CiJob)
    assert [(j.job_id, j.name, j.needs, j.environment, at(j)) for j in jobs] == [
        ("build", "Build image", (), None, "6:3"),
        ("deploy", "deploy", ("build",), "production", "32:3"),
        ("call", "call", (), None, "45:3"),
    ]


@pytest.mark.parametrize(
    ("on", "job_if", "only_tags"),
    [
        ("{push: {tags: ['v*']}}", None, True),
        ("{push: {tags-ignore: ['nightly']}, release: {types: [published]}}", None, True),
        ("release", None, True),
        ("{push: {branches: [main], tags: ['v*']}}", None, False),
        ("{push: {tags: ['v*']}, workflow_dispatch: {}}", None, False),
        ("push", None, False),
        ("[push, pull_request]", None, False),
        ("push", "startsWith(github.ref, 'refs/tags/')", True),
        ("push", "github.ref_type == 'tag' && github.repository == 'acme/shop'", True),
        ("push", "startsWith(github.ref, 'refs/tags/') || github.ref == 'refs/heads/main'", False),
    ],
)
def test_github_job_runs_only_for_tags(on: str, job_if: str | None, only_tags: bool) -> None:
    condition = f"    if: {job_if}\n" if job_if else ""
    workflow = f"on: {on}\njobs:\n  release:\n{condition}    steps:\n      - run: make\n"
    (job,) = of(read(".github/workflows/release.yml", workflow), CiJob)
    assert job.only_tags is only_tags


@pytest.mark.parametrize(
    ("when", "only_tags"),
    [
        ("only: [tags]", True),
        ("only:\n    - tags", True),
        ("only: {refs: [tags]}", True),
        ("only: [tags, main]", False),
        ("rules:\n    - if: $CI_COMMIT_TAG", True),
        ("rules:\n    - if: $CI_COMMIT_BRANCH\n      when: never\n    - if: $CI_COMMIT_TAG", True),
        ("rules:\n    - if: '$CI_COMMIT_TAG =~ /^v/ && $CI_PIPELINE_SOURCE == \"push\"'", True),
        ("rules:\n    - if: '$CI_COMMIT_TAG != null'", True),
        ("rules:\n    - if: '$CI_COMMIT_TAG == null'", False),
        ("rules:\n    - if: $CI_COMMIT_TAG\n    - if: $CI_COMMIT_BRANCH", False),
        ("rules:\n    - if: '$CI_COMMIT_TAG || $CI_COMMIT_BRANCH'", False),
        # parentheses, and && binding tighter than ||
        ("rules:\n    - if: '($CI_COMMIT_TAG || $FORCE) && $CI_COMMIT_TAG =~ /^v/'", True),
        ("rules:\n    - if: '$CI_COMMIT_TAG && $A == \"1\" || $CI_COMMIT_TAG && $B'", True),
        ("rules:\n    - if: '$CI_COMMIT_TAG && $A == \"1\" || $B'", False),
        ("rules:\n    - if: '($CI_COMMIT_TAG || $FORCE) && $A'", False),
        # an undefined variable is nil: nil != "" holds, and /^$/ matches nil's empty text
        ("rules:\n    - if: '$CI_COMMIT_TAG != \"\"'", False),
        ("rules:\n    - if: '$CI_COMMIT_TAG == \"\"'", True),  # nil == "" never holds
        ("rules:\n    - if: '$CI_COMMIT_TAG =~ /^$/'", False),
        ("rules:\n    - if: '$CI_COMMIT_TAG !~ /^v/'", False),
        ("rules:\n    - if: '$CI_COMMIT_TAG =~ /^V/i'", True),
        ("rules:\n    - if: '\"v1\" == $CI_COMMIT_TAG'", True),
        # a never rule that matches every branch pipeline leaves the job out of them
        ("rules: [{if: $CI_COMMIT_TAG == null, when: never}, {when: on_success}]", True),
        ("rules: [{if: '$CI_COMMIT_TAG == null || $A', when: never}, {when: always}]", True),
        ("rules: [{if: $CI_COMMIT_TAG == null, changes: [x], when: never}, {}]", False),
        ("rules: [{if: '$CI_COMMIT_TAG == null && $A', when: never}, {when: always}]", False),
        ("rules:\n    - if: $CI_COMMIT_TAG\n    - when: never", True),
        # && and || give one of their operands, as Ruby's do, and the result is then taken as
        # true when present: "" is Ruby-true but blank, so `$SKIP || …` with SKIP set to ""
        # gives "" (no match), and `"" && …` gives what follows
        ("rules: [{if: '$SKIP || $CI_COMMIT_TAG == null', when: never}, {when: always}]", False),
        ("rules: [{if: '\"\" || $CI_COMMIT_TAG == null', when: never}, {when: always}]", False),
        ("rules:\n    - if: '\"\" && $CI_COMMIT_TAG == null'", False),
        ("rules:\n    - if: '\" \" || $CI_COMMIT_TAG'", True),
        ("rules:\n    - if: '$CI_COMMIT_TAG && \"x\" || $CI_COMMIT_TAG =~ /v/'", True),
        # rules GitLab would refuse, or backout cannot read, may run the job
        ("rules:\n    - if: '($CI_COMMIT_TAG'", False),
        ("rules:\n    - if: '$CI_COMMIT_TAG ==' ", False),
        ("rules:\n    - if: $CI_COMMIT_TAG\n      changes: [x]", True),
        ("rules:\n    - when: always", False),
        ("stage: deploy", False),
        # rules taken from templates, as a whole or as items of the list (GitLab flattens them)
        ("rules: !reference [.tags, rules]", True),
        (
            "rules:\n    - !reference [.never-on-branches, rules]\n    - !reference [.tags, rules]",
            True,
        ),
        ("rules:\n    - !reference [.tags, rules]\n    - if: $CI_COMMIT_BRANCH", False),
        ("extends: .tags", True),
    ],
)
def test_gitlab_job_runs_only_for_tags(when: str, only_tags: bool) -> None:
    templates = (
        ".tags:\n  rules:\n    - if: $CI_COMMIT_TAG\n"
        ".never-on-branches:\n  rules:\n    - if: $CI_COMMIT_BRANCH\n      when: never\n"
    )
    pipeline = f"{templates}release:\n  {when}\n  script:\n    - make\n"
    (job,) = of(read(".gitlab-ci.yml", pipeline), CiJob)
    assert job.only_tags is only_tags
    workflow = "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\n"
    (job,) = of(read(".gitlab-ci.yml", workflow + pipeline), CiJob)
    assert job.only_tags


def test_github_steps_with_inputs() -> None:
    steps = of(read(".github/workflows/r.yml", GITHUB_WORKFLOW), CiStep)
    assert [(s.job_id, s.index, s.action, at(s)) for s in steps] == [
        ("build", 0, "actions/checkout", "10:15"),
        ("build", 2, "docker/build-push-action", "19:15"),
        ("build", 3, "actions/upload-artifact", "25:15"),
        ("deploy", 2, "actions/download-artifact", "42:15"),
        ("call", -1, "./.github/workflows/deploy.yml", "46:11"),
    ]
    download = steps[3].input("name")
    assert download is not None
    assert (download.value, at(download)) == ("dist", "44:18")
    assert steps[1].step_id == "bp"


def test_github_shell_lines_have_their_own_positions() -> None:
    commands = of(read(".github/workflows/r.yml", GITHUB_WORKFLOW), CiCommand)
    assert [(c.job_id, c.command, at(c)) for c in commands] == [
        ("build", "docker build -t $IMAGE:latest  --label x=y .", "14:11"),
        ("build", 'docker push "$IMAGE:latest"', "17:11"),
        (
            "deploy",
            "helm upgrade shop ./chart --history-max 3 "
            "--set image.repository=ghcr.io/acme/shop,image.tag=latest",
            "38:11",
        ),
        (
            "deploy",
            "kubectl set image deployment/shop shop=${{ env.IMAGE }}:latest && echo ok",
            "41:14",
        ),
    ]


def test_github_upload_artifact_retention_position() -> None:
    (artifact,) = of(read(".github/workflows/r.yml", GITHUB_WORKFLOW), CiArtifact)
    assert artifact.name == "dist"
    assert artifact.paths == ("dist/", "out/")
    assert artifact.retention_raw == "7"
    assert artifact.retention_location is not None
    assert (artifact.retention_location.line, artifact.retention_location.column) == (31, 27)


def test_github_pushes_and_deploys() -> None:
    facts = read(".github/workflows/r.yml", GITHUB_WORKFLOW)
    pushes = [(p.reference, p.how, at(p)) for p in of(facts, CiImagePush)]
    assert pushes == [
        ("ghcr.io/acme/shop:latest", "docker push", "17:24"),
        ("ghcr.io/acme/shop:${{ github.sha }}", "docker/build-push-action", "23:13"),
        ("ghcr.io/acme/shop:latest", "docker/build-push-action", "24:13"),
        ("ghcr.io/acme/shop:stable", "docker/build-push-action", "24:39"),
    ]
    deploys = [(d.reference, d.tag, d.how, at(d)) for d in of(facts, CiImageDeploy)]
    assert deploys == [
        ("ghcr.io/acme/shop:latest", "latest", "helm --set image.tag", "40:62"),
        ("ghcr.io/acme/shop:latest", "latest", "kubectl set image", "41:53"),
    ]
    (history,) = of(facts, HelmHistoryMax)
    assert (history.value, at(history)) == (3, "39:25")


def test_kubectl_set_image_names_its_workload_namespace_and_context() -> None:
    workflow = """\
env:
  NS: prod
jobs:
  deploy:
    steps:
      - run: kubectl --context eu set image deployment/api api=a/api:${{ github.sha }} -n $NS
      - run: kubectl set image -n web deployments.apps web web=ghcr.io/a/web:1.2 proxy=envoy:1.30
      - run: kubectl set image sts/db --namespace=data db=postgres:16 --record
      - run: kubectl set image -nweb -l app=x deploy/z z=ghcr.io/a/z:1
      - run: kubectl set image --local -f x.yaml z=ghcr.io/a/z:1 -o yaml
      - run: kubectl set image --dry-run=client deploy/z z=ghcr.io/a/z:1
      - run: kubectl set image deploy/y deploy/z z=ghcr.io/a/z:1
"""
    deploys = [
        (d.workload, d.container, d.reference, d.namespace, d.kube_context, at(d))
        for d in of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/api", "api", "a/api:${{ github.sha }}", "prod", "eu", "6:64"),
        ("deployment/web", "web", "ghcr.io/a/web:1.2", "web", "", "7:64"),
        ("deployment/web", "proxy", "envoy:1.30", "web", "", "7:88"),
        ("statefulset/db", "db", "postgres:16", "data", "", "8:59"),
        # selected by label or file, rendered locally, or several workloads: none is named
        ("", "z", "ghcr.io/a/z:1", "web", "", "9:58"),
        ("", "z", "ghcr.io/a/z:1", "", "", "10:52"),
        ("", "z", "ghcr.io/a/z:1", "", "", "11:60"),
        ("", "z", "ghcr.io/a/z:1", "", "", "12:52"),
    ]


def test_kubectl_set_image_keeps_its_workload_before_a_redirection() -> None:
    # Found by review: a redirection's words (`>`, `log`, `2>&1`) were read as kubectl's
    # resources, so `deployment/web` was no longer the one workload the command names
    script = """\
kubectl set image deployment/web web=app:v2 > log
kubectl set image deployment/web web=app:v2 2>&1 | tee out
kubectl set image deployment web web=app:v2 >>log 2>/dev/null
kubectl set image deployment/web web=app:v2>log
(cd deploy; kubectl set image deployment/web web=app:v2) 2>&1
kubectl set image deployment/web web=app:v2 &>log
kubectl rollout restart deployment/web > log 2>&1
"""
    facts = read("deploy.sh", script, ScriptReader())
    deploys = [(d.workload, d.reference, at(d)) for d in of(facts, CiImageDeploy)]
    assert deploys == [
        ("deployment/web", "app:v2", "1:38"),
        ("deployment/web", "app:v2", "2:38"),
        ("deployment/web", "app:v2", "3:38"),
        ("deployment/web", "app:v2", "4:38"),
        ("deployment/web", "app:v2", "5:50"),
        # bash's `&>log`: a redirection, not `&` (a background command) and `>log`
        ("deployment/web", "app:v2", "6:38"),
    ]
    assert [r.workload for r in of(facts, CiRolloutRestart)] == ["deployment/web"]


def test_kubectl_set_image_names_every_kind_it_accepts_by_its_full_name() -> None:
    # kubectl set image: pod (po), replicationcontroller (rc), deployment (deploy), daemonset
    # (ds), statefulset (sts), cronjob (cj), replicaset (rs); and Job (polymorphichelpers)
    script = """\
kubectl set image cj/report report=r:1
kubectl set image cronjobs.batch cleanup cleanup=c:1
kubectl set image po/debug debug=d:1
kubectl set image rs/legacy legacy=l:1
kubectl set image replicationcontrollers old old=o:1
kubectl set image jobs/migrate migrate=m:1
kubectl set image ds/agent agent=a:1
"""
    deploys = [d.workload for d in of(read("deploy.sh", script, ScriptReader()), CiImageDeploy)]
    assert deploys == [
        "cronjob/report",
        "cronjob/cleanup",
        "pod/debug",
        "replicaset/legacy",
        "replicationcontroller/old",
        "job/migrate",
        "daemonset/agent",
    ]


def test_a_variable_the_script_assigns_is_substituted_in_what_it_deploys() -> None:
    script = """\
APP=orders
export NS="shop" REGISTRY=ghcr.io/acme
kubectl -n $NS set image deployment/$APP app=$REGISTRY/$APP:1.4
# a value set in one branch only: which one ran is not known
if [ "$ENV" = prod ]; then
  APP=orders-prod
fi
kubectl set image deployment/$APP app=x:1
TAG=$(git rev-parse --short HEAD)
kubectl set image deployment/web web=$REGISTRY/web:$TAG
# the prefix sets the command's environment: the shell expands $SVC before it
SVC=billing kubectl set image deployment/$SVC billing=x:1
for JOB in a b; do kubectl set image cronjob/$JOB job=x:1; done
NS=shop
case "$ENV" in
  prod) NS=shop-prod ;;
esac
kubectl -n $NS set image deployment/api api=x:1
"""
    deploys = [
        (d.workload, d.namespace, d.reference)
        for d in of(read("deploy.sh", script, ScriptReader()), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/orders", "shop", "ghcr.io/acme/orders:1.4"),
        ("deployment/$APP", "", "x:1"),
        ("deployment/web", "", "ghcr.io/acme/web:$TAG"),
        ("deployment/$SVC", "", "x:1"),
        ("cronjob/$JOB", "", "x:1"),
        ("deployment/api", "$NS", "x:1"),  # a case arm may have set it
    ]
    # make runs each recipe line in its own shell, and `$APP` is make's `$(A)PP`
    makefile = "APP=orders\ndeploy:\n\tkubectl set image deployment/$APP app=x:1\n"
    (deploy,) = of(read("Makefile", makefile, ScriptReader()), CiImageDeploy)
    assert deploy.workload == "deployment/$APP"


def test_a_variable_lasts_as_long_as_the_shell_that_assigned_it() -> None:
    # GitLab: before_script and script share a shell, after_script has its own; each GitHub
    # `run:` step is a shell of its own
    pipeline = """\
variables:
  NS: shop
deploy:
  before_script:
    - export APP=orders
  script:
    - NS=prod
    - kubectl -n $NS set image deployment/$APP app=x:1
  after_script:
    - kubectl -n $NS set image deployment/$APP app=x:1
"""
    deploys = [
        (d.workload, d.namespace) for d in of(read(".gitlab-ci.yml", pipeline), CiImageDeploy)
    ]
    assert deploys == [("deployment/orders", "prod"), ("deployment/$APP", "shop")]
    workflow = """\
jobs:
  deploy:
    steps:
      - run: APP=orders
      - run: kubectl set image deployment/$APP app=x:1
"""
    (deploy,) = of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    assert deploy.workload == "deployment/$APP"


def test_a_gitlab_job_runs_the_default_before_script_in_the_shell_of_its_script() -> None:
    # GitLab puts the default's (or the top level's) before_script before a job's script in
    # one shell, unless the job has its own or does not inherit it; after_script has its own
    pipeline = """\
default:
  before_script:
    - export APP=orders
    - kubectl set image deployment/api api=x:1
deploy:
  script:
    - kubectl set image deployment/$APP app=x:1
  after_script:
    - kubectl set image deployment/$APP after=x:1
own:
  before_script:
    - echo hi
  script:
    - kubectl set image deployment/$APP own=x:1
uninherited:
  inherit:
    default: false
  script:
    - kubectl set image deployment/$APP uninherited=x:1
"""
    deploys = [
        (d.job_id, d.workload, d.container)
        for d in of(read(".gitlab-ci.yml", pipeline), CiImageDeploy)
    ]
    assert deploys == [
        ("default", "deployment/api", "api"),  # read once, as the pipeline's
        ("deploy", "deployment/orders", "app"),
        ("deploy", "deployment/$APP", "after"),
        ("own", "deployment/$APP", "own"),
        ("uninherited", "deployment/$APP", "uninherited"),
    ]
    top_level = pipeline.replace("default:\n  before_script:", "before_script:")
    assert [d.workload for d in of(read(".gitlab-ci.yml", top_level), CiImageDeploy)] == [
        d[1] for d in deploys
    ]


def test_what_a_github_step_writes_to_github_env_holds_in_the_later_steps() -> None:
    # the runner reads the file after the step: NAME=value or NAME<<DELIMITER lines; the
    # later steps see the variables (a step's own env: first), as $NAME and ${{ env.NAME }}
    workflow = """\
env:
  REGISTRY: ghcr.io/acme
jobs:
  deploy:
    steps:
      - run: |
          echo "APP=orders" >> $GITHUB_ENV
          kubectl set image deployment/$APP same=x:1
          printf '%s\\n' "NS=shop" "TAG=$(git rev-parse HEAD)" >> "$GITHUB_ENV"
          echo 'NOTE<<EOF' >> $GITHUB_ENV
          echo "a<<b" >> $GITHUB_ENV
          echo 'EOF' >> $GITHUB_ENV
          cat <<EOF | tee -a "${GITHUB_ENV}"
          IMAGE=$REGISTRY/api:2.4
          EOF
      - run: kubectl -n $NS set image deployment/$APP app=${{ env.IMAGE }}
      - env:
          APP: web
        run: kubectl -n $NS set image deployment/$APP web=x:$TAG
      - run: kubectl set image deployment/$NOTE note=x:1
"""
    deploys = [
        (d.workload, d.namespace, d.reference)
        for d in of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/$APP", "", "x:1"),  # the step that writes it does not see it
        ("deployment/orders", "shop", "ghcr.io/acme/api:2.4"),
        ("deployment/web", "shop", "x:$TAG"),  # a value a command makes is unknown
        ("deployment/a<<b", "", "x:1"),  # a quoted `<<` starts no here-document
    ]


def test_an_assignment_the_shell_may_not_run_or_keep_leaves_the_variable_unknown() -> None:
    # Each NS=staging below may not run (after && or ||, the operator ending the line before
    # included), runs in a subshell or a pipeline (gone when it ends), is a function's body
    # (run when called, if ever) or a here-document's text: the namespace is no longer known
    # to be prod. Found by review: `[ -z "$NS" ] && NS=default` (common in deploy scripts,
    # find_string "] && export NAMESPACE=") made the plan name the default's namespace.
    script = """\
NS=prod
[ -n "$TARGET" ] || NS=staging
kubectl -n $NS set image deployment/a a=x:1
NS=prod
[ "$BRANCH" = main ] &&
  export NS=staging
kubectl -n $NS set image deployment/b b=x:1
NS=prod
(cd chart && NS=staging)
kubectl -n $NS set image deployment/c c=x:1
NS=prod
echo staging | NS=staging
kubectl -n $NS set image deployment/d d=x:1
NS=prod
deploy() {
  NS=staging
}
kubectl -n $NS set image deployment/e e=x:1
NS=prod
cat > .env <<EOF
NS=staging
EOF
kubectl -n $NS set image deployment/f f=x:1
NS=prod && kubectl -n $NS set image deployment/g g=x:1
"""
    deploys = [
        (d.workload, d.namespace)
        for d in of(read("deploy.sh", script, ScriptReader()), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/a", "$NS"),
        ("deployment/b", "$NS"),
        ("deployment/c", "$NS"),
        ("deployment/d", "$NS"),
        ("deployment/e", "$NS"),
        ("deployment/f", "$NS"),
        ("deployment/g", "prod"),  # the first command of a chain always runs
    ]


def test_a_here_document_runs_its_commands_only_when_a_shell_reads_it() -> None:
    # a file's text runs nothing; a shell's (here, or ssh's on another host) may, with this
    # shell's variables unless the word is quoted, which leaves them to the shell that reads it
    script = """\
IMAGE=x:1
cat <<EOF > deploy.sh
kubectl set image deployment/file file=$IMAGE
EOF
bash -s <<EOF
kubectl set image deployment/bash bash=$IMAGE
EOF
ssh deploy@bastion <<'EOF'
kubectl set image deployment/ssh ssh=$IMAGE
EOF
cat <<"EOF" | sudo sh
kubectl set image deployment/sh sh=$IMAGE
EOF
kubectl set image deployment/after after=$IMAGE
"""
    facts = read("deploy.sh", script, ScriptReader())
    assert [
        (d.workload, d.reference.removesuffix(":latest")) for d in of(facts, CiImageDeploy)
    ] == [
        ("deployment/bash", "x:1"),
        ("deployment/ssh", "$IMAGE"),
        ("deployment/sh", "$IMAGE"),
        ("deployment/after", "x:1"),
    ]
    assert [c.command for c in of(facts, CiCommand) if not c.runs] == [
        "kubectl set image deployment/file file=$IMAGE",
        "EOF",
    ]


def test_a_variable_assigned_from_itself_or_appended_to_is_read_as_the_shell_does() -> None:
    # TAG=${TAG}-amd64 with TAG unknown is unknown (it was read as $TAG-amd64-amd64-amd64…);
    # NS+=-eu appends; A=$B keeps the B of that moment, whatever B becomes after it
    script = """\
TAG=${TAG}-amd64
kubectl set image deployment/a a=r:$TAG
NS=shop
NS+=-eu
kubectl -n $NS set image deployment/b b=x:1
REGISTRY=ghcr.io/acme
IMAGE=$REGISTRY/c
REGISTRY=docker.io/acme
SHA_TAG=$SHA
SHA=fixed
kubectl set image deployment/c c=$IMAGE:$SHA_TAG
"""
    deploys = [
        (d.workload, d.namespace, d.reference)
        for d in of(read("deploy.sh", script, ScriptReader()), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/a", "", "r:$TAG"),
        ("deployment/b", "shop-eu", "x:1"),
        ("deployment/c", "", "ghcr.io/acme/c:$SHA_TAG"),
    ]


def test_the_variables_of_a_line_are_those_its_own_commands_see() -> None:
    # `NS=prod; helm … -n $NS`: helm sees prod, not the job's staging; a line whose commands
    # see two values of one variable gives it none
    pipeline = """\
variables:
  NS: staging
deploy:
  script:
    - NS=prod; helm upgrade --install shop ./chart -n $NS
    - helm upgrade --install web ./chart -n $NS; NS=other
    - echo $NS; NS=last; helm upgrade --install api ./chart -n $NS
"""
    commands = of(read(".gitlab-ci.yml", pipeline), CiCommand)
    assert [c.variables for c in commands] == [
        (("NS", "prod"),),
        (("NS", "prod"),),
        (),
    ]


def test_kubectl_rollout_restart_names_its_workload() -> None:
    script = """\
kubectl --context eu -n shop rollout restart deployment/web
kubectl rollout restart sts db --namespace=data
kubectl rollout restart deployment -l app=web
kubectl rollout restart deployment/a deploy/b
kubectl -n shop rollout restart deployments.apps c d
kubectl rollout restart deployment -n shop
kubectl rollout restart deploy,ds
kubectl rollout restart deployment/e --dry-run=client
kubectl rollout status deployment/web
"""
    restarts = [
        (r.workload, r.every_kind, r.namespace, r.kube_context, at(r))
        for r in of(read("deploy.sh", script, ScriptReader()), CiRolloutRestart)
    ]
    # by label, or changing no cluster: none; several at once: each; a kind alone: every one
    # of the kind in the namespace
    assert restarts == [
        ("deployment/web", "", "shop", "eu", "1:1"),
        ("statefulset/db", "", "data", "", "2:1"),
        ("deployment/a", "", "", "", "4:1"),
        ("deployment/b", "", "", "", "4:1"),
        ("deployment/c", "", "shop", "", "5:1"),
        ("deployment/d", "", "shop", "", "5:1"),
        ("", "deployment", "shop", "", "6:1"),
        ("", "deployment", "", "", "7:1"),
        ("", "daemonset", "", "", "7:1"),
    ]


def test_kubectl_set_image_after_a_global_value_flag_is_still_a_deploy(tmp_path: Path) -> None:
    # A global flag whose value the list of kubectl's value flags does not know (`--log-dir
    # DIR`) left its value as the first operand: `set image` was not found, no deploy was
    # read, and the BK103 of the pushed `latest` was lost.
    workflow = tmp_path / ".github" / "workflows" / "release.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on:\n  push:\n    branches: [main]\njobs:\n  build:\n    runs-on: x\n    steps:\n"
        "      - run: docker build -t ghcr.io/acme/shop:latest . && "
        "docker push ghcr.io/acme/shop:latest\n"
        "  deploy:\n    needs: build\n    runs-on: x\n    steps:\n"
        "      - run: kubectl --log-dir /tmp/k --profile cpu -n shop set image deploy/shop "
        "shop=ghcr.io/acme/shop:latest\n",
        encoding="utf-8",
    )
    deploys = [
        (d.workload, d.container, d.namespace)
        for d in of(read(".github/workflows/release.yml", workflow.read_text()), CiImageDeploy)
    ]
    assert deploys == [("deployment/shop", "shop", "shop")]
    done = run_backout("check", ".", "--select", "BK103", "--format", "concise", cwd=tmp_path)
    assert "BK103 [error]" in done.stdout, done.stdout + done.stderr


def test_build_without_push_is_not_a_push() -> None:
    workflow = """\
jobs:
  b:
    steps:
      - run: docker build -t shop:latest .
      - uses: docker/build-push-action@v6
        with:
          tags: shop:latest
"""
    assert of(read(".github/workflows/b.yml", workflow), CiImagePush) == []


def test_composite_action_steps() -> None:
    action = """\
name: deploy
runs:
  using: composite
  steps:
    - run: helm upgrade --install shop chart --history-max=2
      shell: bash
"""
    facts = read(".github/actions/deploy/action.yml", action)
    (history,) = of(facts, HelmHistoryMax)
    assert (history.job_id, history.value, at(history)) == ("composite", 2, "5:60")


def test_gitlab_jobs_extends_merge_keys_and_reference() -> None:
    facts = read(".gitlab-ci.yml", GITLAB_PIPELINE)
    jobs = of(facts, CiJob)
    assert [(j.job_id, j.stage, j.needs, j.dependencies, j.environment, at(j)) for j in jobs] == [
        ("build", "build", (), (), None, "12:1"),
        ("prod", "deploy", ("build",), (), "production", "23:1"),
        ("staging", "deploy", (), ("build",), None, "27:1"),
    ]
    commands = [(c.job_id, c.section, c.command, at(c)) for c in of(facts, CiCommand)]
    deploy_line = "kubectl set image deploy/shop shop=$IMAGE:$CI_COMMIT_REF_SLUG"
    assert commands == [
        ("default", "before_script", "echo default", "5:7"),
        (
            "build",
            "script",
            '/kaniko/executor --context . --destination "$IMAGE:$CI_COMMIT_REF_SLUG"',
            "15:7",
        ),
        ("build", "script", "echo hi", "17:7"),
        ("build", "script", "docker push $IMAGE", "18:7"),
        ("build", "script", deploy_line, "11:7"),
        ("prod", "script", deploy_line, "11:7"),
        ("staging", "script", deploy_line, "11:7"),
    ]


def test_gitlab_reference_to_itself_or_lists_of_lists_ends() -> None:
    """A ``!reference`` that reaches the list holding it (GitLab refuses it) is not expanded
    again (three made 3¹⁰ copies of its line, six ran for hours), and lists of references to
    lists of references stop at a budget."""
    looped = "".join("    - !reference [.a, script]\n" for _ in range(3))
    pipeline = f".a:\n  script:\n{looped}    - echo hi\njob:\n  script: !reference [.a, script]\n"
    commands = [
        (c.job_id, c.command, at(c)) for c in of(read(".gitlab-ci.yml", pipeline), CiCommand)
    ]
    assert commands == [("job", "echo hi", "6:7")]
    levels = "".join(
        f".l{level}:\n  script:\n" + f"    - !reference [.l{level + 1}, script]\n" * 10
        for level in range(9)
    )
    wide = f"{levels}.l9:\n  script: [echo leaf]\njob:\n  script: !reference [.l0, script]\n"
    leaves = of(read(".gitlab-ci.yml", wide), CiCommand)
    assert 0 < len(leaves) < 100_000
    assert {c.command for c in leaves} == {"echo leaf"}


def test_gitlab_artifacts_default_and_job() -> None:
    artifacts = of(read(".gitlab-ci.yml", GITLAB_PIPELINE), CiArtifact)
    summary = [
        (a.job_id, a.retention_raw, at(a), a.retention_location and a.retention_location.column)
        for a in artifacts
    ]
    # a job's own artifacts: replace default:'s; jobs without take default:'s (no paths here)
    assert summary == [
        ("build", "3 days", "20:3", 17),
        ("prod", "1 week", "6:3", 16),
        ("staging", "1 week", "6:3", 16),
    ]
    assert [(a.paths, a.from_default) for a in artifacts] == [
        (("dist/",), False),
        ((), True),
        ((), True),
    ]


def test_gitlab_artifacts_extends_is_a_reverse_deep_merge() -> None:
    text = """\
default:
  artifacts:
    paths: [default/]
.keep:
  artifacts:
    expire_in: 1 week
    reports:
      junit: report.xml
.untracked:
  artifacts:
    untracked: true
build:
  extends: [.keep, .untracked]
  script: make
  artifacts:
    paths: [dist/]
    reports: null
plain:
  extends: .keep
  script: make
  artifacts: null
refuses:
  inherit:
    default: [image]
  script: make
"""
    artifacts = of(read(".gitlab-ci.yml", text), CiArtifact)
    summary = [
        (a.job_id, a.paths, a.retention_raw, a.untracked, a.reports, at(a), a.from_default)
        for a in artifacts
    ]
    assert summary == [
        ("build", ("dist/",), "1 week", True, (), "15:3", False),
        ("plain", ("default/",), None, False, (), "2:3", True),
    ]
    assert artifacts[0].retention_location is not None
    assert artifacts[0].retention_location.line == 6


def test_gitlab_jobs_say_whose_artifacts_they_download() -> None:
    text = """\
a:
  script: make
all:
  script: make
none:
  dependencies: []
  script: make
needed:
  needs: [a, {job: b, artifacts: false}, {job: c, project: x/y, ref: main}]
  script: make
nothing:
  needs: []
  script: make
both:
  needs: [{job: a, artifacts: false}]
  dependencies: [a, b]
  script: make
"""
    jobs = of(read(".gitlab-ci.yml", text), CiJob)
    assert [(j.job_id, j.artifacts_from) for j in jobs] == [
        ("a", None),
        ("all", None),
        ("none", ()),
        ("needed", ("a",)),
        ("nothing", ()),
        ("both", ("b",)),
    ]


@pytest.mark.parametrize(
    ("value", "kind", "seconds", "problem"),
    [
        ("'2 weeks and 3 days'", RETENTION_SECONDS, 17 * 86400, None),
        ("'42'", RETENTION_SECONDS, 42, None),
        ("Never", RETENTION_NEVER, None, None),
        ("~", RETENTION_DEFAULT, None, None),
        ("1 fortnight", RETENTION_UNKNOWN, None, "'fortnight' is not a unit of time"),
        ("'0'", RETENTION_UNKNOWN, None, "zero seconds"),
        ("42", RETENTION_UNKNOWN, None, "bare YAML value 42, not a string"),
        ("1.5", RETENTION_UNKNOWN, None, "bare YAML value 1.5"),
        ("[1]", RETENTION_UNKNOWN, None, "is a list"),
        ("{days: 1}", RETENTION_UNKNOWN, None, "is a mapping"),
        ("!reference [.keep, artifacts, expire_in]", RETENTION_SECONDS, 86400, None),
        ("$[[ inputs.artifact_expiry ]]", RETENTION_UNKNOWN, None, None),
        ("'$[[ inputs.days ]] days'", RETENTION_UNKNOWN, None, None),
    ],
)
def test_gitlab_expire_in_is_read_by_the_reader(
    value: str, kind: str, seconds: int | None, problem: str | None
) -> None:
    text = (
        ".keep:\n  artifacts:\n    expire_in: 1 day\n"
        f"build:\n  script: make\n  artifacts:\n    paths: [dist/]\n    expire_in: {value}\n"
    )
    facts = read(".gitlab-ci.yml", text)
    (artifact,) = of(facts, CiArtifact)
    assert (artifact.retention, artifact.retention_seconds) == (kind, seconds)
    unreadable = of(facts, Unreadable)
    if problem is None:
        assert unreadable == []
    else:
        (fact,) = unreadable
        assert problem in fact.reason
        # the position is the value's first character, inside quotes when quoted
        column = 17 if value.startswith("'") else 16
        assert (at(fact), fact.reader) == (f"8:{column}", "ci")


@pytest.mark.parametrize(
    ("value", "kind", "seconds", "problem"),
    [
        (None, RETENTION_DEFAULT, None, False),
        ("0", RETENTION_DEFAULT, None, False),
        ("7", RETENTION_SECONDS, 7 * 86400, False),
        ("'7 days'", RETENTION_SECONDS, 7 * 86400, False),
        ("${{ inputs.days }}", RETENTION_UNKNOWN, None, False),
        ("a week", RETENTION_UNKNOWN, None, True),
    ],
)
def test_github_retention_days_read_as_upload_artifact_does(
    value: str | None, kind: str, seconds: int | None, problem: bool
) -> None:
    extra = f"\n          retention-days: {value}" if value is not None else ""
    text = (
        "jobs:\n  b:\n    steps:\n      - uses: actions/upload-artifact@v4\n"
        f"        with:\n          path: dist/{extra}\n"
    )
    facts = read(".github/workflows/r.yml", text)
    (artifact,) = of(facts, CiArtifact)
    assert (artifact.retention, artifact.retention_seconds) == (kind, seconds)
    assert [at(f) for f in of(facts, Unreadable)] == (["7:27"] if problem else [])


def test_gitlab_pushes_and_deploys_substitute_variables() -> None:
    facts = read(".gitlab-ci.yml", GITLAB_PIPELINE)
    pushes = [(p.reference, p.how, at(p)) for p in of(facts, CiImagePush)]
    assert pushes == [
        ("$CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG", "kaniko --destination", "15:51"),
        ("$CI_REGISTRY_IMAGE:latest", "docker push", "18:19"),
    ]
    deploys = {(d.job_id, d.reference, at(d)) for d in of(facts, CiImageDeploy)}
    assert ("prod", "$CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG", "11:42") in deploys


def test_invalid_yaml_is_unreadable_with_position() -> None:
    facts = read(".gitlab-ci.yml", "build:\n  script: [a\n")
    assert len(facts) == 1
    assert isinstance(facts[0], Unreadable)
    assert facts[0].location.line >= 2


def test_facts_pickle() -> None:
    facts = read(".github/workflows/r.yml", GITHUB_WORKFLOW)
    assert pickle.loads(pickle.dumps(facts)) == facts


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("registry:5000/app", ("registry:5000/app", None, None)),
        ("registry:5000/app:1.2", ("registry:5000/app", "1.2", None)),
        (
            "${REG:-r.io}/app:${{ github.ref_name }}",
            ("${REG:-r.io}/app", "${{ github.ref_name }}", None),
        ),
        ("app:1@sha256:abc", ("app", "1", "sha256:abc")),
        ("$CI_REGISTRY_IMAGE", ("$CI_REGISTRY_IMAGE", None, None)),
    ],
)
def test_split_reference(reference: str, expected: tuple[str, str | None, str | None]) -> None:
    assert split_reference(reference) == expected


def test_script_reader_shell_and_makefile() -> None:
    script = textwrap.dedent(
        """\
        #!/bin/sh
        set -e
        helm upgrade shop chart \\
          --history-max 1
        sudo docker push shop:prod; echo done
        """
    )
    facts = read("deploy/release.sh", script, ScriptReader())
    (history,) = of(facts, HelmHistoryMax)
    assert (history.provider, history.value, at(history)) == ("script", 1, "4:17")
    (pushed,) = of(facts, CiImagePush)
    assert (pushed.reference, at(pushed)) == ("shop:prod", "5:18")
    makefile = "deploy:\n\t@helm upgrade shop chart --history-max 2\n"
    (history,) = of(read("Makefile", makefile, ScriptReader()), HelmHistoryMax)
    assert (history.value, at(history)) == (2, "2:41")
    assert ScriptReader().wants("Makefile") and not ScriptReader().wants("chart/values.yaml")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    for path in (".gitlab-ci.yml", ".github/workflows/x.yml", "run.sh"):
        reader = ScriptReader() if path.endswith(".sh") else CiReader()
        for fact in read(path, text, reader):
            assert isinstance(fact, Fact)


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.one_of(st.text(max_size=20), st.integers(), st.none()),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["jobs", "steps", "run", "script", "uses", "with", "env", "extends"]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_random_yaml_structures_never_raise(value: object) -> None:
    import yaml

    text = yaml.safe_dump({"jobs": {"j": value}, "build": value})
    for path in (".gitlab-ci.yml", ".github/workflows/x.yml"):
        for fact in read(path, text):
            assert isinstance(fact, Fact)


METADATA_WORKFLOW = """\
env:
  REGISTRY: ghcr.io/acme
jobs:
  image:
    steps:
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: |
            $REGISTRY/shop
            name=docker.io/acme/shop,enable=false
          flavor: |
            prefix=web-
          tags: |
            type=ref,event=branch
            type=raw,value=latest,prefix=
            type=semver,pattern={{major}}.{{minor}}
            type=sha
            type=edge,enable=false
            type=ref,event=pr
      - id: defaults
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/acme/api
      - uses: docker/build-push-action@v6
        with:
          push: ${{ github.event_name != 'pull_request' }}
          tags: |
            ${{ steps.meta.outputs.tags }}
            ${{ steps.defaults.outputs.tags }}
            ghcr.io/acme/shop:${{ github.sha }}
"""


def test_metadata_action_tags_are_pushed_where_each_entry_is_written() -> None:
    pushes = of(read(".github/workflows/r.yml", METADATA_WORKFLOW), CiImagePush)
    assert [(p.reference, at(p)) for p in pushes] == [
        ("ghcr.io/acme/shop:web-{{branch}}", "15:13"),
        ("ghcr.io/acme/shop:latest", "16:13"),
        ("ghcr.io/acme/shop:web-{{major}}.{{minor}}", "17:13"),
        ("ghcr.io/acme/shop:sha-{{sha}}", "18:13"),
        # the action's default entries (no tags input), at the step's uses:
        ("ghcr.io/acme/api:nightly", "22:15"),
        ("ghcr.io/acme/api:{{branch}}", "22:15"),
        ("ghcr.io/acme/api:{{tag}}", "22:15"),
        ("ghcr.io/acme/api:latest", "22:15"),
        ("ghcr.io/acme/shop:${{ github.sha }}", "31:13"),
    ]
    assert pushes[0].written == "type=ref,event=branch"
    assert pushes[0].how == "docker/metadata-action tags pushed by docker/build-push-action"


@pytest.mark.parametrize(
    ("flavor", "latest_at"),
    # auto: at the semver entry that makes the action add latest; true: at the flavor line
    [("", "12:13"), ("latest=false", None), ("latest=true", "9:13")],
)
def test_metadata_action_latest_follows_the_flavor(flavor: str, latest_at: str | None) -> None:
    text = textwrap.dedent(
        f"""\
        jobs:
          i:
            steps:
              - id: m
                uses: docker/metadata-action@v5
                with:
                  images: a/b
                  flavor: |
                    {flavor or "prefix="}
                  tags: |
                    type=sha
                    type=semver,pattern={{{{version}}}}
              - uses: docker/build-push-action@v6
                with: {{push: true, tags: "${{{{ steps.m.outputs.tags }}}}"}}
        """
    )
    pushes = of(read(".github/workflows/r.yml", text), CiImagePush)
    latest = [at(p) for p in pushes if p.reference.endswith(":latest")]
    assert latest == ([latest_at] if latest_at else [])


def _linked(files: dict[str, str]) -> FactSet:
    """``files`` read by the CI reader, then linked as the engine does after reading."""
    facts = FactSet()
    for path, text in files.items():
        facts.paths.add(path)
        facts.extend(CiReader().read(SourceFile(path, textwrap.dedent(text).encode())))
    link_included_pipelines(facts)
    return facts


_DEPLOY_JOB = "{name}:\n  stage: deploy\n  script: [./deploy.sh]\n"


@pytest.mark.parametrize(
    "include",
    [
        "include: ci/deploy.yml",
        "include: '/ci/deploy.yml'",
        "include:\n  - local: /ci/deploy.yml",
        "include: [{local: ci/deploy.yml, rules: [{if: $CI_COMMIT_BRANCH}]}]",
        "include:\n  - 'https://example.com/ci.yml'\n  - ci/*.yml",
        "include: ci/**.yml",
        "include: ci/all.yml",  # nested: ci/all.yml includes ci/deploy.yml
    ],
)
def test_gitlab_jobs_of_included_files_belong_to_the_including_pipeline(include: str) -> None:
    facts = _linked(
        {
            ".gitlab-ci.yml": f"{include}\nbuild:\n  script: [make]\n",
            "ci/all.yml": "include:\n  - local: ci/deploy.yml\n",
            "ci/deploy.yml": _DEPLOY_JOB.format(name="deploy"),
            "ci/sub/other.yml": _DEPLOY_JOB.format(name="other"),
            "tools/lint.yml": _DEPLOY_JOB.format(name="lint"),  # included by nobody
        }
    )
    workflows = {job.job_id: job.workflow for job in facts.of(CiJob)}
    assert workflows["build"] == ".gitlab-ci.yml"
    assert workflows["deploy"] == ".gitlab-ci.yml"
    assert workflows["lint"] == "tools/lint.yml"
    # ``*`` stays in its directory, ``**`` goes through them (GitLab's include:local docs).
    assert workflows["other"] == (".gitlab-ci.yml" if "**" in include else "ci/sub/other.yml")
    commands = {c.job_id: c.workflow for c in facts.of(CiCommand)}
    assert commands["deploy"] == ".gitlab-ci.yml"


def test_gitlab_remote_project_and_variable_includes_link_nothing() -> None:
    facts = _linked(
        {
            ".gitlab-ci.yml": (
                "include:\n"
                "  - remote: https://example.com/ci/deploy.yml\n"
                "  - project: acme/ci\n    file: ci/deploy.yml\n"
                "  - template: Auto-DevOps.gitlab-ci.yml\n"
                "  - local: $CI_DIR/deploy.yml\n"
                "build:\n  script: [make]\n"
            ),
            "ci/deploy.yml": _DEPLOY_JOB.format(name="deploy"),
        }
    )
    (includes,) = facts.of(GitLabIncludes)
    assert includes.patterns == ()
    assert {j.job_id: j.workflow for j in facts.of(CiJob)}["deploy"] == "ci/deploy.yml"


def test_gitlab_tag_only_workflow_rules_hold_for_included_jobs() -> None:
    facts = _linked(
        {
            ".gitlab-ci.yml": (
                "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\ninclude: ci/release.yml\n"
            ),
            "ci/release.yml": _DEPLOY_JOB.format(name="release"),
        }
    )
    (job,) = facts.of(CiJob)
    assert (job.workflow, job.only_tags) == (".gitlab-ci.yml", True)


def test_gitlab_extends_and_reference_reach_templates_of_included_files() -> None:
    """GitLab merges the included files first, then resolves ``extends:`` (several levels, a
    list of parents, across files) and ``!reference``; each value keeps its own file's line."""
    facts = _linked(
        {
            ".gitlab-ci.yml": """\
                include:
                  - local: ci/base.yml
                  - local: ci/deploy.yml
                variables:
                  IMAGE: registry.gitlab.com/acme/shop
                deploy:
                  extends: [.deploy, .production]
                  variables:
                    TAG: $CI_COMMIT_SHORT_SHA
                  script:
                    - !reference [.login, script]
                    - kubectl set image deployment/shop shop=$IMAGE:$TAG
                """,
            "ci/base.yml": """\
                .login:
                  script:
                    - echo login
                .kubectl:
                  stage: deploy
                  variables:
                    KUBE_CONTEXT: acme/shop:production
                    TAG: latest
                  before_script:
                    - kubectl config use-context $KUBE_CONTEXT
                """,
            "ci/deploy.yml": """\
                .deploy:
                  extends: .kubectl
                  needs: [build]
                  script:
                    - ./replaced.sh
                .production:
                  environment: {name: production}
                """,
        }
    )
    (job,) = facts.of(CiJob)
    assert (job.workflow, job.job_id, job.stage, job.needs, job.environment, str(job.location)) == (
        ".gitlab-ci.yml",
        "deploy",
        "deploy",
        ("build",),
        "production",
        ".gitlab-ci.yml:6:1",
    )
    commands = [(c.section, c.command, str(c.location)) for c in facts.of(CiCommand)]
    assert commands == [
        ("before_script", "kubectl config use-context $KUBE_CONTEXT", "ci/base.yml:10:7"),
        ("script", "echo login", "ci/base.yml:3:7"),
        (
            "script",
            "kubectl set image deployment/shop shop=$IMAGE:$TAG",
            ".gitlab-ci.yml:12:7",
        ),
    ]
    assert all(c.workflow == ".gitlab-ci.yml" for c in facts.of(CiCommand))
    (deploy,) = facts.of(CiImageDeploy)
    # the job's TAG wins over the template's; the template's other variables stay
    assert deploy.reference == "registry.gitlab.com/acme/shop:$CI_COMMIT_SHORT_SHA"
    assert not facts.of(GitLabFile)  # the files' contents are let go once read together
    assert pickle.loads(pickle.dumps(list(facts))) == list(facts)


def test_gitlab_extends_merges_hashes_and_replaces_lists() -> None:
    text = """\
.registry:
  variables:
    REGISTRY: registry.example.com
    MIRROR: mirror.example.com
.a:
  stage: a
  script: [echo a]
.b:
  stage: b
.c:
  extends: .a
push:
  extends: [.registry, .b, .c]
  variables:
    TAG: latest
    MIRROR: null
  script:
    - docker push $REGISTRY/shop:$TAG
    - docker push $MIRROR/shop:$TAG
.x:
  extends: .y
  script: [echo x]
.y:
  extends: .x
cycle:
  extends: .x
"""
    facts = read(".gitlab-ci.yml", text)
    jobs = {job.job_id: job for job in of(facts, CiJob)}
    # the last parent wins (.c, which takes .a's stage over .b's); a cycle is read, not followed
    assert (jobs["push"].stage, jobs["cycle"].stage) == ("a", "test")
    pushes = [p.reference for p in of(facts, CiImagePush)]
    # variables merge key by key (`null` drops one); the job's own script replaces .a's
    assert pushes == ["registry.example.com/shop:latest", "$MIRROR/shop:latest"]
    scripts = [c.command for c in of(facts, CiCommand) if c.job_id == "push"]
    assert scripts == ["docker push $REGISTRY/shop:$TAG", "docker push $MIRROR/shop:$TAG"]


def test_gitlab_jobs_default_and_workflow_merge_across_files() -> None:
    facts = _linked(
        {
            ".gitlab-ci.yml": (
                "include: ci/*.yml\n"
                "deploy:\n  environment: production\n"  # merged with ci/jobs.yml's deploy
            ),
            "ci/jobs.yml": (
                "default:\n  before_script: [./login.sh]\n"
                "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\n"
                "deploy:\n  stage: deploy\n  script: [helm upgrade shop chart/]\n"
            ),
        }
    )
    (job,) = facts.of(CiJob)
    assert (job.environment, job.stage, job.only_tags, str(job.location)) == (
        "production",
        "deploy",
        True,
        ".gitlab-ci.yml:2:1",
    )
    assert [(c.job_id, c.command, str(c.location)) for c in facts.of(CiCommand)] == [
        ("default", "./login.sh", "ci/jobs.yml:2:19"),
        ("deploy", "helm upgrade shop chart/", "ci/jobs.yml:8:12"),
    ]


def test_gitlab_templates_serve_every_pipeline_that_includes_them() -> None:
    """Two pipelines include one file of templates (and a job): each pipeline's jobs extend
    the templates; the file's own job counts once, in the first pipeline in path order."""
    facts = _linked(
        {
            "a/.gitlab-ci.yml": "include: ci/templates.yml\na:\n  extends: .deploy\n",
            "b/.gitlab-ci.yml": "include: ci/templates.yml\nb:\n  extends: .deploy\n",
            "ci/templates.yml": (
                ".deploy:\n  script: [kubectl apply -f k8s/]\nlint:\n  script: [make lint]\n"
            ),
        }
    )
    assert sorted((job.job_id, job.workflow) for job in facts.of(CiJob)) == [
        ("a", "a/.gitlab-ci.yml"),
        ("b", "b/.gitlab-ci.yml"),
        ("lint", "a/.gitlab-ci.yml"),
    ]
    assert sorted((c.job_id, str(c.location)) for c in facts.of(CiCommand)) == [
        ("a", "ci/templates.yml:2:12"),
        ("b", "ci/templates.yml:2:12"),
        ("lint", "ci/templates.yml:4:12"),
    ]


_INCLUDING_PIPELINE = """\
include: ci/templates.yml
variables:
  IMAGE: registry.example.com/shop/api
build:
  stage: build
  script:
    - docker build -t $IMAGE:latest .
    - docker push $IMAGE:latest
deploy:
  stage: deploy
  extends: .deploy_base
"""


def _templates(tag: str) -> str:
    return (
        ".deploy_base:\n  environment: production\n  script:\n"
        f"    - kubectl set image deployment/api api=$IMAGE:{tag}\n"
    )


@pytest.mark.parametrize("changed", ["ci/templates.yml", ".gitlab-ci.yml"])
def test_with_base_a_change_to_any_file_of_a_pipeline_counts_its_every_file(
    git_repo,
    changed: str,  # type: ignore[no-untyped-def]
) -> None:
    """With --base, a pipeline read with its includes changes when any of its files does: the
    deploy of `latest` that a template now makes is reported at the job in .gitlab-ci.yml."""
    repo = git_repo({".gitlab-ci.yml": _INCLUDING_PIPELINE, "ci/templates.yml": _templates("1.0")})
    git(repo, "tag", "v1")
    if changed == "ci/templates.yml":
        git_repo({"ci/templates.yml": _templates("latest")})
    else:  # the pipeline's own file changes: the template file is reported with it
        git_repo({".gitlab-ci.yml": _INCLUDING_PIPELINE + "# changed\n"})
    base = run_backout("check", "--format", "concise", "--base", "v1", ".", cwd=repo)
    without = run_backout("check", "--format", "concise", ".", cwd=repo)
    assert base.stdout == without.stdout
    if changed == "ci/templates.yml":
        assert base.stdout.startswith(".gitlab-ci.yml:8:19: BK103 [error]"), base.stdout


def test_with_base_an_unchanged_pipeline_stays_out(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(
        {".gitlab-ci.yml": _INCLUDING_PIPELINE, "ci/templates.yml": _templates("latest")}
    )
    git(repo, "tag", "v1")
    git_repo({"README.md": "docs\n"})
    done = run_backout("check", "--format", "json", "--base", "v1", ".", cwd=repo)
    assert '"findings": []' in done.stdout, done.stdout


def test_a_file_that_many_pipelines_include_is_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten pipelines include the same templates: the merge parses no file again that the
    reader parsed in this process, and a file the reader's worker parsed (its GitLabFile
    pickled, without the parsed tree) once for all ten pipelines."""
    from backout.sources import yamlfile

    parsed: list[str] = []
    parse = yamlfile.yaml_documents

    def counting(file: SourceFile, reader: str = "yaml") -> object:
        if "yaml_documents" not in file.cache:
            parsed.append(file.path)
        return parse(file, reader)

    monkeypatch.setattr(yamlfile, "yaml_documents", counting)
    templates = ".deploy:\n  environment: production\n  script: [./deploy.sh]\n"
    files = {
        f"s{n}/.gitlab-ci.yml": f"include: ci/t.yml\nd{n}:\n  extends: .deploy\n" for n in range(10)
    }
    files["ci/t.yml"] = templates
    facts = _linked(files)
    assert sorted(parsed) == sorted(files)  # by the reader, once each
    assert len(facts.of(CiJob)) == 10

    parsed.clear()
    facts = FactSet()
    for path, text in files.items():
        facts.paths.add(path)
        read = CiReader().read(SourceFile(path, text.encode()))
        facts.extend(pickle.loads(pickle.dumps(list(read))))  # from a pool's worker
    assert sorted(parsed) == sorted(files)
    file_facts = facts.of(GitLabFile)
    assert file_facts and all(fact.file is None for fact in file_facts)
    parsed.clear()
    link_included_pipelines(facts)
    assert sorted(parsed) == sorted(files)  # parsed again, once each, for the merge
    assert len(facts.of(CiJob)) == 10


def test_each_gitlab_job_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job of an included file is read in its pipeline only, not also on its own first:
    each job's facts come from one reading, wherever it is written (a pipeline of one file,
    an included file, a file two pipelines include)."""
    from backout.sources import ci

    built: list[str] = []

    def counted_job(*args: object, **kwargs: object) -> CiJob:
        job = CiJob(*args, **kwargs)  # type: ignore[arg-type]
        built.append(f"{job.workflow}:{job.job_id}")
        return job

    monkeypatch.setattr(ci, "CiJob", counted_job)
    facts = _linked(
        {
            ".gitlab-ci.yml": "include: ci/*.yml\nbuild:\n  script: [make]\n",
            "ci/deploy.yml": _DEPLOY_JOB.format(name="deploy"),
            "ci/templates.yml": ".deploy:\n  script: [./deploy.sh]\nlint:\n  script: [make]\n",
            "b/.gitlab-ci.yml": "include: ci/templates.yml\nb:\n  extends: .deploy\n",
            "tools/alone.yml": _DEPLOY_JOB.format(name="alone"),
        }
    )
    assert sorted(built) == [
        ".gitlab-ci.yml:build",
        ".gitlab-ci.yml:deploy",
        ".gitlab-ci.yml:lint",
        "b/.gitlab-ci.yml:b",
        "tools/alone.yml:alone",
    ]
    assert len(facts.of(CiJob)) == 5


_PINNING_TEMPLATE = ".deploy_base:\n  variables:\n    TAG: '1.0'\n"


@pytest.mark.parametrize("how", ["deleted", "moved"])
def test_with_base_a_file_only_the_base_included_changes_the_pipeline(
    git_repo,  # type: ignore[no-untyped-def]
    how: str,
) -> None:
    """The base release's pipeline included ci/zz-pin.yml (by the wildcard ci/*.yml), which
    pinned the template's tag; the release deletes it (or moves it out of ci/), so the job of
    the unchanged .gitlab-ci.yml now deploys `latest`: reported with --base as without."""
    root = _INCLUDING_PIPELINE.replace("include: ci/templates.yml", "include: ci/*.yml")
    templates = _templates("$TAG") + "  variables:\n    TAG: latest\n"
    repo = git_repo(
        {".gitlab-ci.yml": root, "ci/templates.yml": templates, "ci/zz-pin.yml": _PINNING_TEMPLATE}
    )
    git(repo, "tag", "v1")
    assert "BK103" not in run_backout("check", "--format", "concise", ".", cwd=repo).stdout
    if how == "moved":
        (repo / "old").mkdir()
        git(repo, "mv", "ci/zz-pin.yml", "old/zz-pin.yml")
    else:
        git(repo, "rm", "-q", "ci/zz-pin.yml")
    git(repo, "commit", "-q", "-m", "drop the pin")
    base = run_backout("check", "--format", "concise", "--base", "v1", ".", cwd=repo)
    without = run_backout("check", "--format", "concise", ".", cwd=repo)
    assert without.stdout.startswith(".gitlab-ci.yml:8:19: BK103 [error]"), without.stdout
    assert base.stdout == without.stdout


@pytest.mark.parametrize(
    ("rules", "included"),
    [
        # GitLab evaluates these when it creates the pipeline, with the run's variables and
        # files, which backout cannot know: the file may be included, so it counts as included.
        ("[{if: $CI_COMMIT_TAG}]", True),
        ("[{if: '$DEPLOY == \"true\"', when: always}]", True),
        ("[{exists: [Dockerfile]}]", True),
        ("[{exists: {paths: [Dockerfile], project: acme/ci}}]", True),
        ("[{exists: [exception-file.md], when: never}, {when: always}]", True),
        ("[{changes: [ci/deploy.yml]}]", True),
        ("[{exists: [file.md], when: null}]", True),
        ("!reference [.deploy-rules, rules]", True),
        ("[]", True),
        # no rule can include it: a matching rule says never, and none matching leaves it out
        ("[{when: never}]", False),
        ("[{when: never}, {if: $CI_COMMIT_TAG}]", False),
        ("[{if: '$DONT_DEPLOY == \"true\"', when: never}]", False),
        ("[{if: $A, when: never}, {exists: [x.md], when: never}]", False),
    ],
)
def test_gitlab_include_rules_count_the_file_as_included_unless_never(
    rules: str, included: bool
) -> None:
    facts = _linked(
        {
            ".gitlab-ci.yml": (
                f"include:\n  - local: ci/deploy.yml\n    rules: {rules}\n"
                ".deploy-rules:\n  rules: [{if: $CI_COMMIT_BRANCH}]\n"
                "build:\n  script: [make]\n"
            ),
            "ci/deploy.yml": _DEPLOY_JOB.format(name="deploy"),
        }
    )
    workflows = {job.job_id: job.workflow for job in facts.of(CiJob)}
    assert workflows == {
        "build": ".gitlab-ci.yml",
        "deploy": ".gitlab-ci.yml" if included else "ci/deploy.yml",
    }
    assert not facts.of(Unreadable)


_RELEASE_BY_REF_NAME = """\
release:
  stage: deploy
  script:
    - docker build -t registry.example.com/acme/shop:$CI_COMMIT_REF_NAME .
    - docker push registry.example.com/acme/shop:$CI_COMMIT_REF_NAME
    - kubectl set image deployment/shop shop=registry.example.com/acme/shop:$CI_COMMIT_REF_NAME
"""


@pytest.mark.parametrize(
    ("include", "reported"),
    [
        # the file's jobs exist only in tag pipelines: the ref name is the git tag's
        ("[{local: ci/release.yml, rules: [{if: $CI_COMMIT_TAG}]}]", False),
        ("[{local: ci/release.yml, rules: [{if: '$CI_COMMIT_TAG != null', when: always}]}]", False),
        ("[{local: ci/release.yml, rules: [{if: '$CI_COMMIT_TAG =~ /^v\\d/'}]}]", False),
        (
            "[{local: ci/release.yml, rules: [{if: $CI_MERGE_REQUEST_IID, when: never}, "
            "{if: $CI_COMMIT_TAG}]}]",
            False,
        ),
        ("[{local: ci/all.yml, rules: [{if: $CI_COMMIT_TAG}]}]", False),  # nested
        (
            "[{local: ci/release.yml, rules: [{if: '($CI_COMMIT_TAG && $A) || $CI_COMMIT_TAG'}]}]",
            False,
        ),
        # a branch pipeline may include it: the ref name is a branch's
        ("ci/release.yml", True),
        ("[{local: ci/release.yml, rules: [{if: $CI_COMMIT_BRANCH}]}]", True),
        ("[{local: ci/release.yml, rules: [{if: '$CI_COMMIT_TAG != \"\"'}]}]", True),  # nil != ""
        ("[{local: ci/release.yml, rules: [{if: $CI_COMMIT_TAG}, {exists: [Dockerfile]}]}]", True),
        ("[{local: ci/all.yml, rules: [{if: $CI_COMMIT_TAG}]}, ci/release.yml]", True),
        # a branch named v2 matches too
        ("[{local: ci/release.yml, rules: [{if: '$CI_COMMIT_REF_NAME =~ /^v\\d/'}]}]", True),
    ],
)
def test_jobs_of_a_file_included_only_for_tags_run_only_for_tags(
    git_repo,  # type: ignore[no-untyped-def]
    include: str,
    reported: bool,
) -> None:
    """`backout check` on a pipeline whose release job, in a file included only for git tags,
    pushes and deploys `$CI_COMMIT_REF_NAME`: the tag's name, unique per release, where the
    include's rules hold only in tag pipelines; a branch name, which BK103 reports, where a
    branch pipeline may include the file."""
    repo = git_repo(
        {
            ".gitlab-ci.yml": f"include: {include}\nbuild:\n  script: [make]\n",
            "ci/all.yml": "include: [{local: ci/release.yml}]\n",
            "ci/release.yml": _RELEASE_BY_REF_NAME,
        }
    )
    done = run_backout("check", "--format", "concise", ".", cwd=repo)
    found = [line.split(" ")[1] for line in done.stdout.splitlines() if ": BK" in line]
    assert found == (["BK103", "BK402"] if reported else ["BK402"]), done.stdout


def test_a_file_another_pipeline_merges_on_branches_keeps_its_jobs_on_branches() -> None:
    """Two pipelines merge ci/release.yml: the first only for tags, the second always. The
    jobs are read once, in the first; they still run on branches, through the second."""
    tags_only = "include:\n  - local: ci/release.yml\n    rules: [{if: $CI_COMMIT_TAG}]\n"
    files = {
        ".gitlab-ci.yml": tags_only,
        ".gitlab/nightly.gitlab-ci.yml": "include: ci/release.yml\n",
        "ci/release.yml": _DEPLOY_JOB.format(name="release"),
    }
    (job,) = _linked(files).of(CiJob)
    assert (job.workflow, job.only_tags) == (".gitlab-ci.yml", False)
    files[".gitlab/nightly.gitlab-ci.yml"] = tags_only
    (job,) = _linked(files).of(CiJob)
    assert (job.workflow, job.only_tags) == (".gitlab-ci.yml", True)


@pytest.mark.parametrize(
    ("files", "only_tags"),
    [
        # the include's condition holds for the jobs the file defines
        ({"ci/release.yml": _DEPLOY_JOB.format(name="release")}, True),
        # .gitlab-ci.yml writes the job too: it exists in branch pipelines, merged or not
        (
            {
                "ci/release.yml": _DEPLOY_JOB.format(name="release"),
                ".gitlab-ci.yml": "release:\n  variables: {A: b}\n",
            },
            False,
        ),
        # included through a file that every pipeline includes as well
        (
            {
                "ci/all.yml": "include: ci/release.yml\n",
                "ci/release.yml": _DEPLOY_JOB.format(name="release"),
            },
            False,
        ),
    ],
)
def test_gitlab_include_rules_for_tags_hold_for_the_file_s_jobs(
    files: dict[str, str], only_tags: bool
) -> None:
    root = (
        "include:\n  - local: ci/release.yml\n    rules: [{if: $CI_COMMIT_TAG}]\n"
        + ("  - ci/all.yml\n" if "ci/all.yml" in files else "")
        + files.pop(".gitlab-ci.yml", "")
    )
    facts = _linked({".gitlab-ci.yml": root, **files})
    (job,) = facts.of(CiJob)
    assert (job.workflow, job.only_tags) == (".gitlab-ci.yml", only_tags)


@pytest.mark.parametrize(
    ("write", "run"),
    [
        ("cat <<EOF > deploy.sh", "bash deploy.sh"),
        ("cat > ./deploy.sh <<'EOF'", "sh ./deploy.sh"),
        ("cat <<EOF >deploy.sh", "chmod +x deploy.sh && ./deploy.sh"),
        ("cat <<'EOF' > deploy.sh", "source deploy.sh"),
        ("cat <<EOF > deploy.sh", ". ./deploy.sh"),
        ("tee deploy.sh <<EOF", "bash -e deploy.sh --dry-run=none"),
        ("cat <<-EOF | sudo tee /tmp/deploy.sh >/dev/null", "sudo -u deploy bash /tmp/deploy.sh"),
        ("cat <<EOF > deploy.sh", "bash < deploy.sh"),
        ("cat <<EOF > $DIR/deploy.sh", "bash /opt/deploy.sh"),
        # Found by review: -o's value (pipefail) was taken for the script
        ("cat <<EOF > deploy.sh", "bash -euo pipefail deploy.sh"),
        ("cat <<EOF > deploy.sh", "bash -e -o pipefail ./deploy.sh"),
        ("echo '#!/bin/bash' > deploy.sh; cat <<EOF >> deploy.sh", "bash deploy.sh"),
        # Found by review: the file printed into a shell's input was not read
        ("cat <<EOF > deploy.sh", "cat deploy.sh | bash"),
        ("cat <<EOF > deploy.sh", "cat ./deploy.sh | sudo bash -s"),
        ("cat <<EOF > deploy.sh", "cat deploy.sh | kubectl exec -i deploy/toolbox -- sh"),
    ],
)
def test_a_here_document_written_to_a_file_runs_where_the_file_runs(write: str, run: str) -> None:
    # Found by review: the text written to a file was read as nothing at all, so a
    # deploy script written by the job and run right after gave no deploy
    script = f"""\
DIR=/opt
IMAGE=x:1
{write}
kubectl set image deployment/api api=$IMAGE
EOF
echo written
{run}
"""
    facts = read("deploy.sh", script, ScriptReader())
    assert [(d.workload, d.location.line) for d in of(facts, CiImageDeploy)] == [
        ("deployment/api", 4)  # located where the line is written
    ]
    commands = [(c.command, c.runs) for c in of(facts, CiCommand) if "kubectl set" in c.command]
    assert commands[0] == ("kubectl set image deployment/api api=$IMAGE", False)
    assert commands[1][1] is True and len(commands) == 2


@pytest.mark.parametrize(
    "replace",
    [
        "echo 'kubectl version' > deploy.sh",
        "{ echo '#!/bin/sh'; echo 'kubectl version'; } >deploy.sh",
        "curl -fsSL https://example.com/deploy.sh | tee deploy.sh",
        "rm -f deploy.sh",
    ],
)
def test_a_written_file_the_job_writes_over_or_removes_no_longer_runs_its_text(
    replace: str,
) -> None:
    # Found by review: `> deploy.sh` from another command left the here-document's text as
    # the file's, so `bash deploy.sh` still ran it
    script = f"""\
cat <<'EOF' > deploy.sh
kubectl set image deployment/api api=x:1
EOF
{replace}
bash deploy.sh
"""
    facts = read("deploy.sh", script, ScriptReader())
    assert of(facts, CiImageDeploy) == []
    assert [c.runs for c in of(facts, CiCommand) if c.command.startswith("kubectl set")] == [False]
    # one that may not run may leave the text there
    maybe = script.replace(replace, '[ -n "$CLEAN" ] && rm -f deploy.sh')
    assert len(of(read("deploy.sh", maybe, ScriptReader()), CiImageDeploy)) == 1


def test_a_written_file_runs_with_the_variables_of_when_it_is_written_or_run() -> None:
    # unquoted word: this shell's variables, expanded when the text is written (\$ kept for
    # the script); quoted: the script's, at the time it runs, exported ones only in a child
    script = """\
IMAGE=x:1
export REGISTRY=ghcr.io/acme
cat <<EOF > expanded.sh
kubectl set image deployment/a a=$IMAGE
kubectl set image deployment/b b=\\$REGISTRY/b:1
EOF
cat <<'EOF' > quoted.sh
kubectl set image deployment/c c=$REGISTRY/c:1
kubectl set image deployment/d d=$IMAGE
TAG=2.0
kubectl set image deployment/e e=$REGISTRY/e:$TAG
EOF
cat <<'EOF' > never.sh
kubectl set image deployment/never never=x:1
EOF
IMAGE=x:2
export REGISTRY=docker.io/acme
bash expanded.sh
./quoted.sh
source quoted.sh
kubectl set image deployment/after after=$REGISTRY/after:$TAG
"""
    deploys = [
        (d.workload, d.reference)
        for d in of(read("deploy.sh", script, ScriptReader()), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/a", "x:1"),
        ("deployment/b", "docker.io/acme/b:1"),
        ("deployment/c", "docker.io/acme/c:1"),
        ("deployment/d", "$IMAGE:latest"),  # IMAGE is not exported: the child has none
        ("deployment/e", "docker.io/acme/e:2.0"),
        ("deployment/c", "docker.io/acme/c:1"),
        ("deployment/d", "x:2"),  # sourced: this shell's IMAGE
        ("deployment/e", "docker.io/acme/e:2.0"),
        ("deployment/after", "docker.io/acme/after:2.0"),  # the sourced file's TAG holds
    ]


def test_a_written_file_sees_the_assignments_before_the_command_that_runs_it() -> None:
    # Found by review: `TAG=2 bash d.sh` ran d.sh with this shell's TAG (1), a wrong image
    script = """\
export TAG=1
REGISTRY=ghcr.io/acme
cat <<'EOF' > d.sh
kubectl set image deployment/api api=$REGISTRY/api:$TAG
EOF
TAG=2 bash d.sh
bash d.sh
REGISTRY=$REGISTRY TAG=3 ./d.sh
sudo env TAG=4 bash d.sh
TAG="$(git describe)" bash d.sh
"""
    deploys = [d.reference for d in of(read("deploy.sh", script, ScriptReader()), CiImageDeploy)]
    assert deploys == [
        "$REGISTRY/api:2",  # REGISTRY is not exported
        "$REGISTRY/api:1",  # only the command that runs it sees TAG=2
        "ghcr.io/acme/api:3",
        "$REGISTRY/api:4",
        "$REGISTRY/api:$TAG",
    ]


def test_a_pipeline_variable_assigned_again_stays_exported_to_a_written_file() -> None:
    # Found by review: once its value was unknown (`$(cat …)`), the job's env variable was
    # taken for a new one of the shell's, not exported, so the script saw no IMAGE
    workflow = """\
jobs:
  deploy:
    env:
      IMAGE: ghcr.io/acme/api:1
    steps:
      - run: |
          cat <<'EOF' > d.sh
          kubectl set image deployment/api api=$IMAGE
          kubectl set image deployment/web web=ghcr.io/acme/web:$WEB
          EOF
          IMAGE=$(cat image.txt)
          IMAGE=ghcr.io/acme/api:2
          export WEB=1
          unset WEB
          WEB=2
          bash d.sh
"""
    deploys = [
        (d.workload, d.reference)
        for d in of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    ]
    assert deploys == [
        ("deployment/api", "ghcr.io/acme/api:2"),
        ("deployment/web", "ghcr.io/acme/web:$WEB"),  # unset: WEB=2 is the shell's own
    ]


def test_a_file_a_step_writes_runs_in_a_later_step_of_its_job_only() -> None:
    workflow = """\
jobs:
  deploy:
    steps:
      - run: |
          cat <<'EOF' > deploy.sh
          kubectl set image deployment/api api=$IMAGE
          EOF
      - env:
          IMAGE: ghcr.io/acme/api:2.4
        run: bash deploy.sh
  other:
    steps:
      - run: bash deploy.sh
"""
    deploys = [
        (d.job_id, d.workload, d.reference, d.location.line)
        for d in of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    ]
    assert deploys == [("deploy", "deployment/api", "ghcr.io/acme/api:2.4", 6)]


def test_a_file_a_step_writes_is_in_its_working_directory() -> None:
    # Found by review: files were keyed by the name the shell gives them, so a step in
    # another working-directory ran a file of the same name it never wrote, and
    # `bash infra/deploy.sh` from the workspace did not run the file written in infra/
    workflow = """\
defaults:
  run:
    working-directory: ./infra
jobs:
  deploy:
    steps:
      - run: |
          cat <<'EOF' > deploy.sh
          kubectl set image deployment/api api=$IMAGE
          EOF
      - working-directory: .
        env: {IMAGE: "x:workspace"}
        run: bash deploy.sh
      - working-directory: .
        env: {IMAGE: "x:infra"}
        run: bash infra/deploy.sh
      - env: {IMAGE: "x:default"}
        run: ./deploy.sh
  other:
    defaults:
      run:
        working-directory: app
    steps:
      - run: |
          cat <<'EOF' > deploy.sh
          kubectl set image deployment/app app=$IMAGE
          EOF
      - working-directory: app/
        env: {IMAGE: "x:app"}
        run: bash ./deploy.sh
"""
    deploys = [
        (d.job_id, d.reference, d.location.line)
        for d in of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    ]
    assert deploys == [
        ("deploy", "x:infra", 9),
        ("deploy", "x:default", 9),
        ("other", "x:app", 26),
    ]


@pytest.mark.parametrize(
    ("heredoc", "runs"),
    [
        ('ssh deploy@bastion "cat > deploy.sh" <<EOF', False),
        ("ssh -i key.pem -p 2222 deploy@bastion 'cat >> notes' <<EOF", False),
        ("ssh deploy@bastion bash <<EOF", True),
        ("ssh -o StrictHostKeyChecking=no deploy@bastion 'bash -s' <<'EOF'", True),
        ("ssh -T deploy@bastion <<EOF", True),
        ('ssh deploy@bastion "sudo bash -s" <<EOF', True),
        ("ssh -N deploy@bastion <<EOF", False),
        ("ssh -oStrictHostKeyChecking=No -p2222 deploy@bastion <<EOF", True),
        ("ssh -tt -i key deploy@bastion sudo -i bash -s <<EOF", True),
        # in a container: the commands run there
        ("kubectl exec -i deploy/toolbox -- sh <<EOF", True),
        ("docker compose exec -T toolbox bash -s <<EOF", True),
        ("docker run --rm -i alpine/k8s:1.29.2 sh <<EOF", True),
        ("kubectl exec -i deploy/toolbox -- sh deploy.sh <<EOF", False),
        ("bash deploy.sh <<EOF", False),  # the script's input, not commands
        ("bash -c 'cat > x' <<EOF", False),
        ("sudo -u deploy bash <<EOF", True),
        ("grep bash <<EOF", False),
        # Found by review: options before the subcommand, the command after kubectl's --,
        # and a container's input is attached only with -i (compose attaches it itself)
        ("kubectl -n shop exec -i deploy/toolbox -- sh <<EOF", True),
        ("kubectl --context prod exec --stdin deploy/toolbox -- bash -s <<EOF", True),
        ("docker compose -f deploy.yml exec -T toolbox sh <<EOF", True),
        ("docker exec -it toolbox bash <<EOF", True),
        ("docker run --interactive --rm alpine/k8s:1.29.2 sh <<EOF", True),
        ("kubectl exec -i deploy/toolbox -- tee /opt/bin/sh <<EOF", False),
        ("kubectl exec -i deploy/toolbox -c bash -- cat <<EOF", False),
        ("docker exec toolbox sh <<EOF", False),
        ("docker run --rm alpine/k8s:1.29.2 sh <<EOF", False),
        ("kubectl exec deploy/toolbox -- sh <<EOF", False),
        # Found by review: ssh reads options after the host too, and -- ends them
        ("ssh deploy@bastion -- bash -s <<EOF", True),
        ("ssh deploy@bastion -p 2222 'bash -s' <<EOF", True),
        ("ssh deploy@bastion -p 2222 'cat > f' <<EOF", False),
        ('sshpass -p "$PASS" ssh deploy@bastion <<EOF', True),
        ("sshpass -e ssh -o StrictHostKeyChecking=no deploy@bastion 'cat > f' <<EOF", False),
    ],
)
def test_a_here_document_fed_to_ssh_runs_only_when_the_remote_command_is_a_shell(
    heredoc: str, runs: bool
) -> None:
    # Found by review: `ssh host "cat > f" <<EOF` was read as run, since ssh is a shell
    script = f"{heredoc}\nkubectl set image deployment/api api=x:1\nEOF\n"
    facts = read("deploy.sh", script, ScriptReader())
    assert [d.workload for d in of(facts, CiImageDeploy)] == (["deployment/api"] if runs else [])
    (text,) = [c for c in of(facts, CiCommand) if c.command.startswith("kubectl set")]
    assert text.runs is runs


def test_two_here_documents_of_one_line_are_read_in_turn() -> None:
    # Found by review: the second here-document's text was read as commands (or its end
    # word as a line): bash reads each text in turn after the line
    script = """\
cat <<A > a.sh; cat <<'B' > b.sh
kubectl set image deployment/a a=x:$TAG
A
kubectl set image deployment/b b=x:$TAG
B
bash <<ONE <<TWO
kubectl set image deployment/one one=x:1
ONE
kubectl set image deployment/two two=x:1
TWO
TAG=2
bash b.sh
"""
    facts = read("deploy.sh", script, ScriptReader())
    assert [(d.workload, d.reference) for d in of(facts, CiImageDeploy)] == [
        ("deployment/two", "x:1"),  # the last one is what bash reads on its input
        ("deployment/b", "x:$TAG"),  # TAG is not exported
    ]
    assert [c.command for c in of(facts, CiCommand) if not c.runs] == [
        "kubectl set image deployment/a a=x:$TAG",
        "A",
        "kubectl set image deployment/b b=x:$TAG",
        "B",
        "kubectl set image deployment/one one=x:1",
        "ONE",
    ]


def test_a_single_redirection_to_github_env_replaces_what_the_step_wrote_before() -> None:
    # the runner gives each step a new file and reads it after the step: `>` truncates the
    # step's own (a `>` that may not run leaves its lines unknown), not the earlier steps'
    workflow = """\
jobs:
  deploy:
    steps:
      - run: echo "Z=earlier" >> "$GITHUB_ENV"
      - run: |
          echo "A=dropped" >> "$GITHUB_ENV"
          echo "B=dropped" >> "$GITHUB_ENV"
          echo "A=kept" > "$GITHUB_ENV"
          echo "C=kept" >> "$GITHUB_ENV"
      - run: |
          echo "G=1" >> "$GITHUB_ENV"
          [ -n "$X" ] && echo "H=x" > "$GITHUB_ENV"
      - run: |
          echo "I=dropped" >> "$GITHUB_ENV"
          cat > "$GITHUB_ENV" <<EOF
          E=kept
          EOF
          echo "F=kept" | tee "$GITHUB_ENV"
      - run: kubectl set image deployment/$A a=x:$Z-$B-$C-$G-$I-$E-$F
"""
    (deploy,) = of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    assert (deploy.workload, deploy.reference) == (
        "deployment/kept",
        "x:earlier-$B-kept-$G-$I-$E-kept",
    )


@pytest.mark.parametrize("empty", ['> "$GITHUB_ENV"', ': > "$GITHUB_ENV"', "true >$GITHUB_ENV"])
def test_a_redirection_of_nothing_to_github_env_empties_what_the_step_wrote(empty: str) -> None:
    # Found by review: a redirection with no command (or `:`) printed nothing, so it did
    # not cut the file, or it made every variable unknown
    workflow = f"""\
jobs:
  deploy:
    steps:
      - run: echo "Z=earlier" >> "$GITHUB_ENV"
      - run: |
          echo "A=dropped" >> "$GITHUB_ENV"
          {empty}
          echo "B=kept" >> "$GITHUB_ENV"
      - run: kubectl set image deployment/api api=x:$Z-$A-$B
"""
    (deploy,) = of(read(".github/workflows/d.yml", workflow), CiImageDeploy)
    assert deploy.reference == "x:earlier-$A-kept"


def test_a_file_a_gitlab_job_writes_runs_in_its_script_and_after_script() -> None:
    # before_script, script and after_script share the job's working directory
    pipeline = """\
variables:
  IMAGE: registry.example.com/api:1.2
deploy:
  before_script:
    - |
      cat <<'EOF' > deploy.sh
      kubectl set image deployment/api api=$IMAGE
      EOF
  script:
    - chmod +x deploy.sh
    - ./deploy.sh
  after_script:
    - bash deploy.sh
other:
  script:
    - ./deploy.sh
"""
    deploys = [
        (d.job_id, d.reference, d.location.line)
        for d in of(read(".gitlab-ci.yml", pipeline), CiImageDeploy)
    ]
    assert deploys == [("deploy", "registry.example.com/api:1.2", 7)] * 2
