"""ECS task definitions in CloudFormation (YAML, JSON) and Terraform, through the real CLI.

``backout check`` must judge each container image at the string that names it, say nothing
where the template leaves the tag to the deployment, and report a template that does not
parse as BK901 at the place it breaks, never with a traceback.
"""

# ruff: noqa: E501  (a CloudFormation JSON line keeps its real, long image)
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import git, run_backout

CFN_YAML = """\
Parameters:
  ImageUri:
    Type: String
    Default: nginx:latest
  Tag:
    Type: String
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: shop
      ContainerDefinitions:
        - Name: web  # literal
          Image: 'nginx:1.27'
        - Name: app
          Image: !Sub "${Repo.RepositoryUri}:latest"
        - Name: proxy
          Image: !Ref ImageUri
        - Name: unknown
          Image: !Sub "${Repo.RepositoryUri}:${Tag}"
"""

CFN_JSON = """\
{
  "Parameters": {"ImageUri": {"Type": "String"}},
  "Resources": {
    "Task": {
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {
        "ContainerDefinitions": [
          {"Name": "web", "Image": "busybox"},
          {"Name": "app", "Image": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/app:main"}},
          {"Name": "param", "Image": {"Ref": "ImageUri"}}
        ]
      }
    }
  }
}
"""

TERRAFORM = """\
resource "aws_ecs_task_definition" "app" {
  family = "app"
  container_definitions = jsonencode([
    { name = "web", image = "nginx:latest" },
    { name = "api", image = "${aws_ecr_repository.api.repository_url}:1.4" },
    { name = "var", image = var.image },
  ])
}
"""


def _check(root: Path, *codes: str) -> list[dict[str, object]]:
    done = run_backout("check", str(root), "--select", ",".join(codes), "--output-format", "json")
    assert "Traceback" not in done.stderr, done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)["findings"]
    return findings


def _where(findings: list[dict[str, object]]) -> list[tuple[str, object, object, object]]:
    return [(str(f["path"]), f["line"], f["column"], f["severity"]) for f in findings]


def test_cloudformation_yaml_images_are_judged_where_written(tmp_path: Path) -> None:
    (tmp_path / "service.yaml").write_text(CFN_YAML)
    findings = _check(tmp_path, "BK101")
    assert _where(findings) == [
        ("service.yaml", 14, 18, "warning"),  # the quote of 'nginx:1.27'
        ("service.yaml", 16, 23, "error"),  # the template string of the !Sub
        ("service.yaml", 18, 23, "error"),  # judged by the parameter's Default
    ]
    assert "TaskDefinition/shop container web" in str(findings[0]["message"])
    assert "`${Repo.RepositoryUri}:latest` is re-pointed" in str(findings[1]["message"])
    assert "Default of parameter `ImageUri` (line 4)" in str(findings[2]["message"])
    # ${Repo}:${Tag}: the tag is the deployment's, so nothing is claimed about it


def test_cloudformation_json_images_are_judged_where_written(tmp_path: Path) -> None:
    (tmp_path / "stack.template.json").write_text(CFN_JSON)
    findings = _check(tmp_path, "BK101")
    assert _where(findings) == [
        ("stack.template.json", 8, 36, "error"),
        ("stack.template.json", 9, 48, "warning"),
    ]
    assert "`busybox` has no tag" in str(findings[0]["message"])
    assert "names the tag `main`" in str(findings[1]["message"])
    assert "${AWS::AccountId}, ${AWS::Region} are known only when deployed" in str(
        findings[1]["message"]
    )


def test_terraform_images_are_judged_where_written(tmp_path: Path) -> None:
    (tmp_path / "ecs.tf").write_text(TERRAFORM)
    findings = _check(tmp_path, "BK101")
    assert _where(findings) == [("ecs.tf", 4, 29, "error"), ("ecs.tf", 5, 29, "warning")]
    assert "TaskDefinition/app container api" in str(findings[1]["message"])
    assert "names the tag `1.4`" in str(findings[1]["message"])


def test_templates_that_do_not_parse_are_bk901_with_their_place(tmp_path: Path) -> None:
    (tmp_path / "service.yaml").write_text(CFN_YAML.replace("Family: shop", "Family: [shop"))
    (tmp_path / "stack.json").write_text(CFN_JSON.replace('"busybox"}', '"busybox"'))
    (tmp_path / "ecs.tf").write_text(TERRAFORM.replace("])\n", "]\n"))
    findings = _check(tmp_path, "BK901", "BK101")
    assert [(f["code"], f["path"], f["line"]) for f in findings] == [
        ("BK901", "ecs.tf", 3),
        ("BK901", "service.yaml", 12),
        ("BK901", "stack.json", 11),  # where the YAML parser finds the missing "}"
    ]


ASSET_HASH = "3f1c0a9d" * 8  # the 64 hex digits of a CDK asset's source hash
CDK_ASSETS = "cdk-hnb659fds-container-assets"
CDK_JSON = f"""\
{{
  "Resources": {{
    "TaskDef54694570": {{
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {{
        "ContainerDefinitions": [
          {{"Name": "literal", "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{CDK_ASSETS}-123456789012-eu-west-1:{ASSET_HASH}"}},
          {{"Name": "sub", "Image": {{"Fn::Sub": "${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{CDK_ASSETS}-${{AWS::AccountId}}-${{AWS::Region}}:{ASSET_HASH}"}}}},
          {{"Name": "join", "Image": {{"Fn::Join": ["", [{{"Ref": "AWS::AccountId"}}, ".dkr.ecr.", {{"Ref": "AWS::Region"}}, ".", {{"Ref": "AWS::URLSuffix"}}, "/{CDK_ASSETS}-", {{"Ref": "AWS::AccountId"}}, "-", {{"Ref": "AWS::Region"}}, ":{ASSET_HASH}"]]}}}},
          {{"Name": "latest", "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{CDK_ASSETS}-123456789012-eu-west-1:latest"}},
          {{"Name": "not-cdk", "Image": {{"Fn::Sub": "${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.amazonaws.com/app:{ASSET_HASH}"}}}},
          {{"Name": "below", "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{CDK_ASSETS}-123456789012-eu-west-1/app:{ASSET_HASH}"}},
          {{"Name": "prefixed", "Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my{CDK_ASSETS}-123456789012-eu-west-1:{ASSET_HASH}"}}
        ]
      }}
    }}
  }}
}}
"""


def test_cdk_container_assets_are_no_mutable_tags_in_any_form(tmp_path: Path) -> None:
    """``cdk synth`` writes a ``DockerImageAsset`` as ``cdk-<qualifier>-container-assets-
    <account>-<region>:<asset hash>``, literally or with ``Fn::Sub``/``Fn::Join``: the
    bootstrap stack makes that repository's tags immutable and the tag is the sha256 of the
    asset's source. ``latest`` there, a 64-hex tag in another repository (or one below the
    assets repository, or a name that only ends like it) are still BK101."""
    (tmp_path / "cdk.out").mkdir()
    (tmp_path / "cdk.out" / "Shop.template.json").write_text(CDK_JSON)
    findings = _check(tmp_path, "BK101")
    assert [(f["line"], str(f["message"]).split(":")[0]) for f in findings] == [
        (10, "TaskDefinition/TaskDef54694570 container latest"),
        (11, "TaskDefinition/TaskDef54694570 container not-cdk"),
        (12, "TaskDefinition/TaskDef54694570 container below"),
        (13, "TaskDefinition/TaskDef54694570 container prefixed"),
    ]


def test_an_image_that_is_no_string_is_not_judged(tmp_path: Path) -> None:
    """``Image: 42`` or ``Image: true`` is no image a task can run: nothing is claimed about
    it, and it does not stop the other containers from being read."""
    (tmp_path / "service.yaml").write_text(
        CFN_YAML.replace("'nginx:1.27'", "42").replace("!Ref ImageUri", "[nginx:latest]")
        + "        - Name: flag\n          Image: true\n"
        + "        - Name: last\n          Image: busybox\n"
    )
    (tmp_path / "stack.json").write_text(CFN_JSON.replace('"busybox"', "42"))
    findings = _check(tmp_path, "BK101", "BK901")
    assert [(f["path"], f["line"]) for f in findings] == [
        ("service.yaml", 16),  # the !Sub "${Repo.RepositoryUri}:latest"
        ("service.yaml", 24),  # busybox
        ("stack.json", 9),
    ]


def test_with_base_the_containers_file_a_task_definition_reads_is_what_changed(
    git_repo: Callable[[dict[str, str]], Path],
) -> None:
    """``--base`` reports the images of a ``container_definitions = file(…)`` file when that
    file changed, and when the task definition now reads a file it did not read before (the
    file itself unchanged): either way the release runs other images. A file read as before,
    unchanged, is not reported."""
    main_tf = """\
resource "aws_ecs_task_definition" "app" {{
  family                = "app"
  container_definitions = file("{app}")
}}
resource "aws_ecs_task_definition" "legacy" {{
  family                = "legacy"
  container_definitions = file("${{path.module}}/legacy.json")
}}
"""
    containers = '[\n  {{"name": "web", "image": "{image}"}}\n]\n'
    repo = git_repo(
        {
            "infra/main.tf": main_tf.format(app="containers.json"),
            "infra/containers.json": containers.format(image="nginx:1.27"),
            "infra/canary.json": containers.format(image="nginx:canary"),
            "infra/legacy.json": containers.format(image="redis:latest"),
        }
    )
    git(repo, "checkout", "-q", "-b", "release")
    git_repo({"infra/containers.json": containers.format(image="nginx:latest")})

    def reported(base: str) -> list[tuple[object, object]]:
        done = run_backout("check", "--format", "json", "--base", base, ".", cwd=repo)
        assert "Traceback" not in done.stderr, done.stderr
        return [(f["path"], f["line"]) for f in json.loads(done.stdout)["findings"]]

    assert reported("main") == [("infra/containers.json", 2)]
    git(repo, "tag", "v2")
    git_repo({"infra/main.tf": main_tf.format(app="./canary.json")})
    assert reported("v2") == [("infra/canary.json", 2)]


def test_a_child_modules_file_paths_are_read_as_terraform_reads_them(tmp_path: Path) -> None:
    """In a module that a root module calls (``module "svc" { source = "./modules/svc" }``),
    ``${path.module}/…`` is the module's directory, while ``${path.root}/…`` and a relative
    path are the root module's (where Terraform runs): the file that is read is there, not
    the one of the same name beside the module."""
    infra = tmp_path / "infra"
    module = infra / "modules" / "svc"
    module.mkdir(parents=True)
    (infra / "main.tf").write_text('module "svc" {\n  source = "./modules/svc"\n}\n')
    (module / "ecs.tf").write_text(
        "".join(
            f'resource "aws_ecs_task_definition" "{name}" {{\n'
            f'  family                = "{name}"\n'
            f'  container_definitions = file("{path}")\n'
            "}\n"
            for name, path in (
                ("mod", "${path.module}/mod.json"),
                ("root", "${path.root}/root.json"),
                ("relative", "./relative.json"),
                ("bare", "bare.json"),
            )
        )
    )
    pinned = "nginx@sha256:" + "ab" * 32
    for name in ("mod", "root", "relative", "bare"):
        at_root, beside = (infra, module) if name != "mod" else (module, infra)
        (at_root / f"{name}.json").write_text(f'[{{"name": "{name}", "image": "nginx:latest"}}]')
        (beside / f"{name}.json").write_text(f'[{{"name": "{name}", "image": "{pinned}"}}]')
    # A file that only calls modules is read for its calls; HCL it cannot parse is not the
    # ECS reader's to report.
    (tmp_path / "other.tf").write_text('module "x" {\n  source = [\n')
    findings = _check(tmp_path, "BK101", "BK901")
    assert sorted(str(f["path"]) for f in findings) == [
        "infra/bare.json",
        "infra/modules/svc/mod.json",
        "infra/relative.json",
        "infra/root.json",
    ]
