"""``backout plan`` for Amazon ECS services, through the real CLI on real git repositories
(``--base HEAD~1``): the task definitions' containers are the targets, and the service goes
back by ``aws ecs update-service`` to an earlier revision (or to a new one pinned by digest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backout.plan import aws_ecs_command
from tests.conftest import run_backout

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_L = "sha256:" + "4" * 64

Repo = Callable[[dict[str, str]], Path]


def _taskdef(family: str, *containers: tuple[str, str], cpu: str = "256") -> str:
    definitions = [{"name": name, "image": image, "essential": True} for name, image in containers]
    return json.dumps(
        {"family": family, "cpu": cpu, "memory": "512", "containerDefinitions": definitions},
        indent=2,
    )


def _lock(reference: str, digest: str) -> str:
    registry, _, repository = reference.partition("/")
    entry = {
        "reference": reference,
        "digest": digest,
        "registry": registry,
        "repository": repository.partition(":")[0],
        "media_type": "application/vnd.oci.image.index.v1+json",
        "resolved_at": "2026-11-12T14:00:00Z",
        "written": False,
    }
    return json.dumps({"version": 1, "images": [entry]}, indent=2)


def _workflow(*steps: str, env: str = "") -> str:
    return (
        "name: deploy\non: push\n"
        + (f"env:\n{env}" if env else "")
        + "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
        + "".join(steps)
    )


RUN_UPDATE = (
    "      - run: |\n"
    "          aws ecs register-task-definition --cli-input-json file://ecs/web.json\n"
    "          aws --region eu-west-1 ecs update-service --cluster=shop-prod --service web "
    "--task-definition arn:aws:ecs:eu-west-1:123456789012:task-definition/web "
    "--force-new-deployment\n"
)


def _pinned_release(git_repo: Repo, path: str, family: str, ci: dict[str, str]) -> Path:
    """A repository whose release moves ``family``'s one container from a pinned ``:1.0`` to
    a pinned ``:1.1``, the previous release holding the ``ci`` files."""
    image = f"{ECR}/shop/{family}"
    git_repo({path: _taskdef(family, (family, f"{image}:1.0@{DIGEST_A}")), **ci})
    return git_repo({path: _taskdef(family, (family, f"{image}:1.1@{DIGEST_B}"))})


def _plan(repo: Path, *flags: str) -> tuple[str, dict[str, Any]]:
    markdown = run_backout("plan", ".", "--base", "HEAD~1", *flags, cwd=repo)
    assert markdown.returncode == 0, markdown.stderr
    data = run_backout("plan", ".", "--base", "HEAD~1", "--format", "json", *flags, cwd=repo)
    assert data.returncode == 0, data.stderr
    return markdown.stdout, json.loads(data.stdout)


def _commands(markdown: str) -> str:
    return markdown.split("## 3. Commands")[1].split("## 4.")[0]


def test_a_tag_with_a_locked_digest_goes_back_by_a_new_revision_pinned_to_it(
    git_repo: Repo,
) -> None:
    workflow = _workflow(RUN_UPDATE)
    git_repo(
        {
            "ecs/web.json": _taskdef("web", ("web", f"{ECR}/shop/web:1.4")),
            ".github/workflows/deploy.yml": workflow,
            "backout.lock": _lock(f"{ECR}/shop/web:1.4", DIGEST_L),
        }
    )
    repo = git_repo({"ecs/web.json": _taskdef("web", ("web", f"{ECR}/shop/web:1.5"))})
    markdown, plan = _plan(repo)
    assert "no rollback target to name" not in markdown
    (target,) = plan["targets"]
    assert target["source"] == "ecs"
    assert target["workload"] == "TaskDefinition/web"
    assert target["container"] == "web"
    assert target["rollback_image"] == f"{ECR}/shop/web:1.4"
    assert (target["digest"], target["digest_source"]) == (DIGEST_L, "backout.lock")
    # cluster and service from the CI's line (`--cluster=…`, an ARN as task definition)
    (service,) = plan["ecs"]
    assert (service["cluster"], service["service"], service["family"]) == (
        "shop-prod",
        "web",
        "web",
    )
    assert service["found_in"] == ".github/workflows/deploy.yml:9:11"
    # the old revision names the tag: the plan registers one pinned by the digest instead
    commands = plan["commands"]
    assert commands[0].startswith(
        "aws ecs describe-services --cluster shop-prod --services web --query "
        "'services[0].deployments[].[status,taskDefinition,rolloutState]'"
    )
    assert commands[1].startswith(
        "aws ecs list-task-definitions --family-prefix web --sort DESC --max-items 5"
    )
    assert commands[2].startswith(
        "aws ecs describe-task-definition --task-definition web:<REVISION> --query "
        "taskDefinition --output json | jq 'del(.taskDefinitionArn, .revision"
    )
    assert (
        f'(.containerDefinitions[] | select(.name == "web") | .image) |= '
        f'"{ECR}/shop/web@{DIGEST_L}"\' > /tmp/backout-rollback-web.json'
    ) in commands[2]
    assert commands[3].startswith(
        "aws ecs register-task-definition --cli-input-json file:///tmp/backout-rollback-web.json"
    )
    assert commands[4:] == [
        "aws ecs update-service --cluster shop-prod --service web --task-definition "
        "web:<NEW_REVISION>",
        "aws ecs wait services-stable --cluster shop-prod --services web",
    ]
    assert any(
        "pointing the service at it makes ECS resolve the tag again" in w for w in plan["warnings"]
    )
    assert any(
        f"every task of the service web runs {DIGEST_L} in container web" in check
        and "'tasks[].containers[].[name,imageDigest]'" in check
        for check in plan["verification"]
    )
    assert "| TaskDefinition/web | web |" in markdown
    assert "aws ecs update-service --cluster shop-prod" in _commands(markdown)


def test_a_digest_pinned_in_the_previous_release_is_the_old_revision_as_it_is(
    git_repo: Repo,
) -> None:
    ci = {".github/workflows/deploy.yml": _workflow(RUN_UPDATE)}
    repo = _pinned_release(git_repo, "ecs/web.json", "web", ci)
    _, plan = _plan(repo)
    (target,) = plan["targets"]
    assert (target["digest"], target["digest_source"]) == (
        DIGEST_A,
        "pinned in the previous release",
    )
    assert not any("register-task-definition" in c for c in plan["commands"])
    assert (
        "aws ecs update-service --cluster shop-prod --service web --task-definition web:<REVISION>"
        in plan["commands"]
    )


def test_a_tag_without_digest_is_a_loud_warning_and_no_ci_gives_placeholders(
    git_repo: Repo,
) -> None:
    git_repo({"taskdef.json": _taskdef("api", ("api", f"{ECR}/shop/api:2.3"))})
    repo = git_repo({"taskdef.json": _taskdef("api", ("api", f"{ECR}/shop/api:2.4"))})
    markdown, plan = _plan(repo)
    (target,) = plan["targets"]
    assert target["digest"] == ""
    assert "is a mutable tag and no digest is recorded" in target["warning"]
    assert "**unknown**" in markdown
    assert (
        "aws ecs update-service --cluster <cluster> --service <service> --task-definition "
        "api:<REVISION>  # restores a mutable tag, see the warning"
    ) in plan["commands"]
    assert any(
        "no CI step or command of this repository names the ECS service that runs "
        "TaskDefinition/api (taskdef.json)" in w
        for w in plan["warnings"]
    )
    assert plan["ecs"][0]["found_in"] == ""


def test_a_container_a_render_step_fills_is_the_pipelines_image(git_repo: Repo) -> None:
    workflow = _workflow(
        "      - id: render\n"
        "        uses: aws-actions/amazon-ecs-render-task-definition@v1\n"
        "        with:\n"
        "          task-definition: ${{ env.TASK_DEFINITION }}\n"
        "          container-name: worker\n"
        f"          image: {ECR}/shop/worker:${{{{ github.sha }}}}\n"
        "      - uses: aws-actions/amazon-ecs-deploy-task-definition@v2\n"
        "        with:\n"
        "          task-definition: ${{ steps.render.outputs.task-definition }}\n"
        "          cluster: ${{ secrets.ECS_CLUSTER }}\n"
        "          service: ${{ env.SERVICE }}\n",
        env="  TASK_DEFINITION: ./ecs/worker.json\n  SERVICE: shop-worker\n",
    )
    files = {
        "ecs/worker.json": _taskdef(
            "worker", ("worker", "PLACEHOLDER"), ("proxy", f"envoyproxy/envoy:v1.30@{DIGEST_A}")
        ),
        ".github/workflows/deploy.yml": workflow,
    }
    git_repo(files)
    repo = git_repo({"README.md": "a release that changes only code\n"})
    markdown, plan = _plan(repo)
    (target,) = plan["targets"]  # the proxy's image did not change
    assert target["container"] == "worker"
    assert target["current_image"] == f"{ECR}/shop/worker:${{{{ github.sha }}}}"
    assert (target["rollback_image"], target["digest"]) == ("", "")
    assert target["ci_override"].startswith(
        f"image: {ECR}/shop/worker:${{{{ github.sha }}}} (.github/workflows/deploy.yml:"
    )
    assert "what the previous deploy rendered" in markdown
    assert (
        "aws ecs describe-task-definition --task-definition worker:<REVISION>"
        in (target["warning"])
    )
    (service,) = plan["ecs"]
    assert service["cluster"] == "<${{ secrets.ECS_CLUSTER }}>"
    assert service["service"] == "shop-worker"
    assert any(
        "the cluster of the `aws-actions/amazon-ecs-deploy-task-definition` step at "
        ".github/workflows/deploy.yml:"
        in w
        and "GitHub Actions expression `${{ secrets.ECS_CLUSTER }}`" in w
        for w in plan["warnings"]
    )
    assert (
        "aws ecs update-service --cluster <${{ secrets.ECS_CLUSTER }}> --service shop-worker "
        "--task-definition worker:<REVISION>  # restores the image the previous deploy "
        "rendered, unknown to the plan: see the warning"
    ) in plan["commands"]
    assert any(
        "the plan does not know which image the previous deploy rendered" in check
        for check in plan["verification"]
    )


def test_an_unchanged_task_definition_is_listed_with_no_command(git_repo: Repo) -> None:
    # describe-task-definition output: the revision ECS adds differs, the definition not
    def described(revision: int) -> str:
        definition = json.loads(_taskdef("cron", ("cron", f"{ECR}/shop/cron:latest")))
        return json.dumps(
            {"taskDefinition": {**definition, "revision": revision, "status": "ACTIVE"}}
        )

    git_repo({"ecs/cron.json": described(6)})
    repo = git_repo({"ecs/cron.json": described(7)})
    markdown, plan = _plan(repo)
    assert plan["unchanged"] == ["TaskDefinition/cron"]
    assert plan["targets"] == [] and plan["commands"] == []
    assert "ecs" not in plan  # no service to roll back
    assert "Unchanged by this release, so no command: TaskDefinition/cron." in markdown
    assert "no rollback target to name" not in markdown
    assert any(
        "TaskDefinition/cron is unchanged by this release" in w and f"`{ECR}/shop/cron:latest`" in w
        for w in plan["warnings"]
    )


def test_a_change_beyond_images_lists_every_container(git_repo: Repo) -> None:
    containers = (("web", f"{ECR}/shop/web:1.4@{DIGEST_A}"), ("sidecar", "busybox:1.36"))
    git_repo(
        {
            "ecs/web.json": _taskdef("web", *containers),
            ".github/workflows/d.yml": _workflow(RUN_UPDATE),
        }
    )
    repo = git_repo({"ecs/web.json": _taskdef("web", *containers, cpu="512")})
    _, plan = _plan(repo)
    assert [t["container"] for t in plan["targets"]] == ["web", "sidecar"]
    assert any(
        c.startswith("aws ecs update-service --cluster shop-prod --service web")
        for c in plan["commands"]
    )


def test_a_codedeploy_service_is_not_updated_by_update_service(git_repo: Repo) -> None:
    workflow = _workflow(
        "      - uses: aws-actions/amazon-ecs-deploy-task-definition@v2\n"
        "        with:\n"
        "          task-definition: taskdef.json\n"
        "          service: api\n"
        "          cluster: shop\n"
        "          codedeploy-appspec: appspec.yaml\n"
    )
    repo = _pinned_release(
        git_repo, "taskdef.json", "api", {".github/workflows/deploy.yml": workflow}
    )
    _, plan = _plan(repo)
    assert plan["ecs"][0]["codedeploy"] is True
    assert not any(c.startswith("aws ecs update-service") for c in plan["commands"])
    assert any(c.startswith("aws deploy stop-deployment") for c in plan["commands"])
    assert any("deployed through CodeDeploy (blue/green)" in w for w in plan["warnings"])
    # a CODE_DEPLOY service has task sets, no deployments: `wait services-stable` never
    # returns for it, and the query of `deployments` shows nothing
    assert plan["commands"][0] == (
        "aws ecs describe-services --cluster shop --services api --query "
        "'services[0].taskSets[].[status,taskDefinition,stabilityStatus,externalId]' "
        "--output table  # the PRIMARY task set runs this release's revision; externalId: "
        "the CodeDeploy deployment ID"
    )
    checks = "\n".join(plan["verification"])
    assert "wait services-stable" not in checks
    assert "deployments" not in checks
    assert "'services[0].taskSets[].[status,taskDefinition,stabilityStatus]'" in checks


def test_the_services_of_two_families_are_told_apart_by_the_ci_lines(git_repo: Repo) -> None:
    script = (
        "#!/bin/sh\nset -e\n"
        'CLUSTER="shop-prod"\n'
        'aws ecs update-service --cluster "$CLUSTER" --service api-svc --task-definition api:12\n'
        "aws ecs deploy --cluster shop-prod --service web-svc --task-definition ./ecs/web.json "
        "--codedeploy-appspec appspec.yaml\n"
    )
    git_repo(
        {
            "ecs/api.json": _taskdef("api", ("api", f"{ECR}/shop/api:2.3@{DIGEST_A}")),
            "ecs/web.json": _taskdef("web", ("web", f"{ECR}/shop/web:1.4@{DIGEST_A}")),
            "scripts/deploy.sh": script,
        }
    )
    repo = git_repo(
        {
            "ecs/api.json": _taskdef("api", ("api", f"{ECR}/shop/api:2.4@{DIGEST_B}")),
            "ecs/web.json": _taskdef("web", ("web", f"{ECR}/shop/web:1.5@{DIGEST_B}")),
        }
    )
    _, plan = _plan(repo)
    services = {(s["family"], s["cluster"], s["service"], s["codedeploy"]) for s in plan["ecs"]}
    assert services == {
        ("api", "shop-prod", "api-svc", False),
        ("web", "shop-prod", "web-svc", True),
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "aws ecs update-service --cluster c --service s --task-definition f:3",
            ("update-service", {"--cluster": "c", "--service": "s", "--task-definition": "f:3"}),
        ),
        (
            "aws --region eu-west-1 --no-cli-pager ecs update-service --cluster=c "
            "--force-new-deployment --service s && echo done",
            ("update-service", {"--cluster": "c", "--force-new-deployment": "", "--service": "s"}),
        ),
        ("aws ecs describe-services --cluster c --services s", None),
        ("aws s3 cp x y", None),
        ("echo aws", None),
    ],
)
def test_aws_ecs_command_reads_the_options_as_the_cli_does(
    line: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert aws_ecs_command(line) == expected


def test_a_family_deployed_to_staging_and_production_warns_to_pick_one(git_repo: Repo) -> None:
    gitlab = (
        "deploy-staging:\n  script:\n"
        "    - aws ecs update-service --cluster staging --service web --task-definition web\n"
        "deploy-production:\n  variables:\n    CLUSTER: prod\n  script:\n"
        '    - aws ecs update-service --cluster "$CLUSTER" --service web --task-definition web\n'
    )
    repo = _pinned_release(git_repo, "ecs/web.json", "web", {".gitlab-ci.yml": gitlab})
    _, plan = _plan(repo)
    assert [(s["cluster"], s["service"]) for s in plan["ecs"]] == [
        ("staging", "web"),
        ("prod", "web"),
    ]
    assert any(
        "the CI deploys TaskDefinition/web to several services (`web` of `staging` "
        "(.gitlab-ci.yml:3:7), `web` of `prod` (.gitlab-ci.yml:8:7))" in w
        for w in plan["warnings"]
    )
    assert sum(c.startswith("aws ecs update-service") for c in plan["commands"]) == 2


def test_a_render_step_that_writes_the_image_out_names_the_previous_one(git_repo: Repo) -> None:
    def workflow(tag: str) -> str:
        return _workflow(
            "      - id: render\n"
            "        uses: aws-actions/amazon-ecs-render-task-definition@v1\n"
            "        with:\n"
            "          task-definition: taskdef.json\n"
            "          container-name: app\n"
            f"          image: {ECR}/shop/app:{tag}\n"
            "      - uses: aws-actions/amazon-ecs-deploy-task-definition@v2\n"
            "        with:\n"
            "          task-definition: ${{ steps.render.outputs.task-definition }}\n"
            "          cluster: shop\n"
            "          service: app\n"
        )

    taskdef = _taskdef("app", ("app", "PLACEHOLDER"))
    git_repo(
        {
            "taskdef.json": taskdef,
            ".github/workflows/deploy.yml": workflow("1.2"),
            "backout.lock": _lock(f"{ECR}/shop/app:1.2", DIGEST_L),
        }
    )
    repo = git_repo({".github/workflows/deploy.yml": workflow("1.3")})
    markdown, plan = _plan(repo)
    (target,) = plan["targets"]
    assert (target["current_image"], target["rollback_image"]) == (
        f"{ECR}/shop/app:1.3",
        f"{ECR}/shop/app:1.2",
    )
    assert (target["digest"], target["digest_source"]) == (DIGEST_L, "backout.lock")
    assert "what the previous deploy rendered" not in markdown
    assert (
        "aws ecs update-service --cluster shop --service app --task-definition app:<NEW_REVISION>"
        in plan["commands"]
    )


def test_without_base_the_revision_is_not_pinned_to_this_releases_digest(
    git_repo: Repo,
) -> None:
    # without --base the target is the current image: its locked digest is this release's
    git_repo({"ecs/web.json": _taskdef("web", ("web", f"{ECR}/shop/web:1.4"))})
    repo = git_repo(
        {
            "ecs/web.json": _taskdef("web", ("web", f"{ECR}/shop/web:1.5")),
            ".github/workflows/deploy.yml": _workflow(RUN_UPDATE),
            "backout.lock": _lock(f"{ECR}/shop/web:1.5", DIGEST_L),
        }
    )
    result = run_backout("plan", ".", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    commands = "\n".join(plan["commands"])
    assert DIGEST_L not in commands
    assert "register-task-definition" not in commands
    assert (
        "aws ecs update-service --cluster shop-prod --service web --task-definition web:<REVISION>"
        in commands
    )
    checks = "\n".join(plan["verification"])
    assert f"runs {DIGEST_L}" not in checks
    assert "run a different imageDigest in container web" in checks
    assert not any("pointing the service at it makes ECS" in w for w in plan["warnings"])
    assert any("--base" in w and "TaskDefinition/web" in w for w in plan["warnings"])


def _familyless(*containers: tuple[str, str]) -> str:
    definition = json.loads(_taskdef("x", *containers))
    del definition["family"]
    return json.dumps(definition, indent=2)


def test_task_definitions_without_family_are_each_planned_with_a_family_to_fill_in(
    git_repo: Repo,
) -> None:
    # two files that name no family (a pipeline sets it): neither hides the other, and no
    # command names the family `?` (a shell glob, and no family ECS knows)
    git_repo(
        {
            "ecs/web.json": _familyless(("app", f"{ECR}/shop/web:1.0@{DIGEST_A}")),
            "ecs/worker.json": _familyless(("app", f"{ECR}/shop/worker:1.0@{DIGEST_A}")),
        }
    )
    repo = git_repo(
        {
            "ecs/web.json": _familyless(("app", f"{ECR}/shop/web:1.1@{DIGEST_B}")),
            "ecs/worker.json": _familyless(("app", f"{ECR}/shop/worker:1.1@{DIGEST_B}")),
        }
    )
    markdown, plan = _plan(repo)
    rollback = {t["rollback_image"] for t in plan["targets"]}
    assert rollback == {f"{ECR}/shop/web:1.0@{DIGEST_A}", f"{ECR}/shop/worker:1.0@{DIGEST_A}"}
    assert len({t["workload"] for t in plan["targets"]}) == 2
    assert sorted(s["task_definition"] for s in plan["ecs"]) == ["ecs/web.json", "ecs/worker.json"]
    assert all(s["family"] == "" for s in plan["ecs"])
    commands = _commands(markdown)
    assert "?" not in commands
    assert "--family-prefix <family> " in commands
    assert "--task-definition <family>:<REVISION>" in commands
    assert any(
        "ecs/web.json names no family" in w and "in place of `<family>`" in w
        for w in plan["warnings"]
    )
