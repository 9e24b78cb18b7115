"""Inputs a fuzz audit found to crash, hang or exhaust a reader: each is one clear answer.

Every case runs the real CLI in a subprocess under a timeout, so a reader that loops or
backtracks again fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_backout

TIMEOUT = 60


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``backout`` under a timeout; a hang raises ``TimeoutExpired``."""
    done = run_backout(*args, cwd=cwd, timeout=TIMEOUT)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _diagnose_error(tmp_path: Path, text: str) -> str:
    (tmp_path / "state.json").write_text(text)
    done = cli("diagnose", "state.json", cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_diagnose_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    line = _diagnose_error(tmp_path, "[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in line


def test_diagnose_nested_lists_within_json_depth_are_one_line(tmp_path: Path) -> None:
    # Shallow enough for json, deep enough to exhaust the recursion that flattens Lists.
    line = _diagnose_error(tmp_path, "[" * 990 + "]" * 990)
    assert "nested too deeply" in line or "no Kubernetes objects" in line


def test_diagnose_json_number_of_5000_digits_is_one_line(tmp_path: Path) -> None:
    line = _diagnose_error(tmp_path, '{"kind": "Pod", "spec": {"x": ' + "9" * 5000 + "}}")
    assert "longer than any Kubernetes field" in line


def test_diagnose_revision_of_5000_digits_is_one_line(tmp_path: Path) -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {
            "name": "api",
            "annotations": {"deployment.kubernetes.io/revision": "9" * 5000},
        },
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}},
    }
    line = _diagnose_error(tmp_path, json.dumps({"kind": "List", "items": [deployment]}))
    assert "(5000 digits) is out of range" in line


def _check(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str, str]]:
    """``backout check`` of a release made of ``files``: (path, code, message) per finding."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    done = cli("check", ".", "--format", "json", cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert not any("internal error" in f["message"] for f in findings), findings
    return [(f["path"], f["code"], f["message"]) for f in findings]


TF_HEAD = 'resource "aws_ecr_lifecycle_policy" "api" {\n  policy = '


@pytest.mark.parametrize(
    "tail",
    ["jsonencode({a = ", "jsonencode({a = [1, ", "jsonencode(1, ", "[for x in y", "{a = 1\n"],
)
def test_truncated_terraform_is_bk901_at_once(tmp_path: Path, tail: str) -> None:
    findings = _check(tmp_path, {"main.tf": TF_HEAD + tail})
    assert [(path, code) for path, code, _ in findings] == [("main.tf", "BK901")]
    assert "is never closed" in findings[0][2]


def _gitlab(expire_in: str) -> str:
    return (
        f"build:\n  script: [make]\n  artifacts:\n    paths: [dist]\n    expire_in: '{expire_in}'\n"
    )


@pytest.mark.parametrize(
    "expire_in",
    [
        "1" * 3000,  # backtracked cubically in the chrono pattern: minutes
        "1" * 400 + " days",  # float infinity: int() raised OverflowError
    ],
)
def test_gitlab_expire_in_out_of_range_is_bk901(tmp_path: Path, expire_in: str) -> None:
    findings = _check(tmp_path, {".gitlab-ci.yml": _gitlab(expire_in)})
    assert [(path, code) for path, code, _ in findings] == [(".gitlab-ci.yml", "BK901")]
    assert "is out of range" in findings[0][2]


def test_dockerfile_args_that_double_are_bk901_not_gigabytes(tmp_path: Path) -> None:
    # A0 is 2 characters, A40 would be 2 TiB: before the cap this ran out of memory.
    lines = ["ARG A0=xx", *(f"ARG A{i + 1}=$A{i}$A{i}" for i in range(40)), "FROM $A40"]
    findings = _check(tmp_path, {"Dockerfile": "\n".join(lines) + "\n"})
    assert [(path, code) for path, code, _ in findings] == [("Dockerfile", "BK901")]
    assert "FROM $A40: ARG A40 expands to more than 4,096 characters" in findings[0][2]


def test_a_long_arg_no_from_uses_is_no_finding(tmp_path: Path) -> None:
    dockerfile = f"ARG BASE=python:3.12\nARG PACKAGES={'y' * 6000}\nFROM ${{BASE}}\n"
    findings = _check(tmp_path, {"Dockerfile": dockerfile})
    assert all(code != "BK901" for _, code, _ in findings), findings


def _ecr(count: str) -> str:
    return (
        '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", '
        f'"countType": "imageCountMoreThan", "countNumber": {count}}}, '
        '"action": {"type": "expire"}}]}'
    )


def _no_internal_error(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str, str]]:
    findings = _check(tmp_path, files)  # fails on a traceback or an "internal error"
    return [f for f in findings if f[1] == "BK901"]


def test_ecr_count_of_5000_digits_is_out_of_range(tmp_path: Path) -> None:
    (finding,) = _no_internal_error(tmp_path, {"lifecycle.json": _ecr("9" * 5000)})
    assert "out of range" in finding[2]


def test_ecr_count_of_5000_digits_in_terraform_is_out_of_range(tmp_path: Path) -> None:
    tf = TF_HEAD + "jsonencode({rules = [{selection = {countNumber = " + "9" * 5000 + "}}]})\n}\n"
    (finding,) = _no_internal_error(tmp_path, {"main.tf": tf})
    assert "out of range" in finding[2]


@pytest.mark.parametrize("count", ["9" * 400, '"' + "9" * 5000 + '"'])
def test_ecr_count_too_large_for_a_float_is_no_internal_error(tmp_path: Path, count: str) -> None:
    _no_internal_error(tmp_path, {"lifecycle.json": _ecr(count)})


def test_gar_older_than_too_long_for_a_float_is_bk901(tmp_path: Path) -> None:
    policy = '[{"name": "d", "action": {"type": "Delete"}, "condition": {"olderThan": "%ss"}}]'
    (finding,) = _no_internal_error(tmp_path, {"cleanup-policy.json": policy % ("1" * 3000)})
    assert "is not a duration" in finding[2]


def test_github_retention_days_of_5000_digits_is_no_internal_error(tmp_path: Path) -> None:
    workflow = (
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/upload-artifact@v4\n"
        f"        with: {{name: dist, path: dist, retention-days: {'9' * 5000}}}\n"
    )
    assert _no_internal_error(tmp_path, {".github/workflows/ci.yml": workflow}) == []


def test_helm_tag_of_5000_digits_is_no_internal_error(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text(f"image:\n  repository: shop/api\n  tag: {'9' * 5000}\n")
    (chart / "templates" / "d.yaml").write_text(
        "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        '        - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
    )
    done = cli("check", ".", "--output-format", "concise", cwd=tmp_path)
    assert done.returncode in (0, 1)
    assert "internal error" not in done.stdout, done.stdout
