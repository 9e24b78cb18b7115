"""What users meet first: the GitHub Action, the GitLab template, pre-commit, SARIF validity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import git, run_backout
from tests.sarif_schema import validate

ROOT = Path(__file__).parent.parent
GOLDEN_REPO = Path(__file__).parent / "fixtures" / "golden_repo"
# The scripts installed beside the interpreter running the tests (``backout``, ``pre-commit``)
# come first on PATH, as they do for a user whose environment is activated: the tests also run
# from a virtual environment that is not.
SEARCH_PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

BAD_MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  template:
    spec:
      containers:
        - name: shop
          image: shop:latest
"""


def test_sarif_is_valid_against_the_2_1_0_schema() -> None:
    done = run_backout("check", "--format", "sarif", ".", cwd=GOLDEN_REPO)
    log = json.loads(done.stdout)
    validate(log)
    run = log["runs"][0]
    codes = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {result["ruleId"] for result in run["results"]} <= codes
    justifications = {
        r["ruleId"]: r["suppressions"][0]["justification"]
        for r in run["results"]
        if r.get("suppressions")
    }
    assert justifications == {
        "BK101": "exporter is rebuilt from the same tag on purpose",
        "BK305": "",
    }


def test_action_metadata_declares_the_inputs_users_set() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert set(action["inputs"]) >= {"paths", "base", "fail-on", "online", "drill"}
    assert action["runs"]["using"] == "composite"
    uses = [step.get("uses", "") for step in action["runs"]["steps"]]
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)


def test_action_shell_writes_valid_sarif_and_annotations(
    git_repo: Callable[[dict[str, str]], Path],
) -> None:
    repo = git_repo({"README.md": "shop\n"})
    git(repo, "checkout", "-q", "-b", "pr")
    git_repo({"k8s/shop.yaml": BAD_MANIFEST})
    env = {
        **os.environ,
        "PATH": SEARCH_PATH,
        "NO_COLOR": "1",
        "BACKOUT_PATHS": ".",
        "BACKOUT_BASE": "main",
        "BACKOUT_FAIL_ON": "error",
        "BACKOUT_SARIF": "out.sarif",
    }
    done = subprocess.run(
        ["bash", str(ROOT / "ci" / "github" / "run-check.sh")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("::error file=k8s/shop.yaml,line=9,col=18,title=BK101")
    log = json.loads((repo / "out.sarif").read_text())
    validate(log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["BK101"]


def test_gitlab_code_quality_report_shape(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(BAD_MANIFEST)
    done = run_backout("check", "--format", "gitlab", str(tmp_path))
    issues = json.loads(done.stdout)
    assert len(issues) == 1
    issue = issues[0]
    assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
    assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
    assert issue["location"] == {"path": "shop.yaml", "lines": {"begin": 9}}
    assert len(issue["fingerprint"]) == 64
    template = yaml.safe_load((ROOT / "ci" / "gitlab" / "backout.gitlab-ci.yml").read_text())
    job = template[".backout"]
    assert job["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    assert any("--output-format gitlab" in line for line in job["script"])


def test_pre_commit_hooks_run_through_try_repo(
    git_repo: Callable[[dict[str, str]], Path], tmp_path: Path
) -> None:
    pre_commit = shutil.which("pre-commit", path=SEARCH_PATH)
    assert pre_commit, "pre-commit is a test dependency (pip install -e '.[test]')"
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"] for hook in hooks} == {"backout-check", "backout-pin-check"}
    repo = git_repo({"k8s/shop.yaml": BAD_MANIFEST})
    env = {
        **os.environ,
        "PATH": SEARCH_PATH,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [pre_commit, "try-repo", str(ROOT), "backout-check", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "backout check" in output and "Failed" in output
    assert "BK101" in output


def test_pip_builds_a_wheel_with_the_console_script(tmp_path: Path) -> None:
    import zipfile

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("backout-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "backout = backout._entry:run" in archive.read(entry_points).decode()
        assert "backout/rules/images/BK101_mutable_image_reference.py" in names
        assert not any(n.startswith("tests/") for n in names)
