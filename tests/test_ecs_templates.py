"""ECS task definitions in CloudFormation (YAML, JSON) and Terraform, through the real CLI.

``backout check`` must judge each container image at the string that names it, say nothing
where the template leaves the tag to the deployment, and report a template that does not
parse as BK901 at the place it breaks, never with a traceback.
"""

# ruff: noqa: E501  (a CloudFormation JSON line keeps its real, long image)
from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_backout

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
