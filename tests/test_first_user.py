"""Regressions found by using backout as a first-time user would, on small real repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from backout.engine import CheckResult
from backout.report.summary import summary_line
from tests.conftest import BACKOUT, one_line_error, run_backout
from tests.conftest import git as git_as_tester
from tests.drill_repos import backout, git
from tests.test_drill_engines import ALEMBIC_BASE, ALEMBIC_RELEASE


def test_summary_line_counts_one_file_in_the_singular() -> None:
    one = CheckResult(root=Path("."), findings=[], suppressed=[], rules=[], files_read=1)
    two = CheckResult(root=Path("."), findings=[], suppressed=[], rules=[], files_read=2)
    assert summary_line(one) == "No rollback hazards found in 1 file."
    assert summary_line(two) == "No rollback hazards found in 2 files."


def test_summary_line_names_the_files_with_findings_of_the_files_read() -> None:
    # "in 34 files" read as 34 files with problems; it counted the files read
    from backout.models import Finding, Location, Severity

    def finding(path: str) -> Finding:
        return Finding(
            "BK101", "mutable-image-reference", Severity.ERROR, Location(path, 1, 1), "m", "f"
        )

    found = [finding("a.yaml"), finding("a.yaml"), finding("b.yaml")]
    result = CheckResult(root=Path("."), findings=found, suppressed=[], rules=[], files_read=5)
    assert summary_line(result) == "Found 3 problems (3 errors) in 2 of 5 files."
    every = CheckResult(root=Path("."), findings=found, suppressed=[], rules=[], files_read=2)
    assert summary_line(every) == "Found 3 problems (3 errors) in 2 files."


def _deployment_state(revision: int, retained: int) -> dict[str, Any]:
    """``kubectl get deploy,rs,pods -o json`` of a healthy Deployment at ``revision``."""
    image = "ghcr.io/acme/web:1.4.2"
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod", "uid": "d1", "annotations": annotations},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": retained - 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template,
        },
        "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1},
    }
    owner = [{"kind": "Deployment", "name": "web", "uid": "d1", "controller": True}]
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-abc",
            "namespace": "prod",
            "uid": "r1",
            "annotations": annotations,
            "ownerReferences": owner,
        },
        "spec": {"replicas": 1, "template": template},
        "status": {"replicas": 1, "readyReplicas": 1},
    }
    return {"apiVersion": "v1", "kind": "List", "items": [deployment, replica_set]}


def test_diagnose_a_first_rollout_is_no_procedure_gap() -> None:
    first = run_backout("diagnose", "-", stdin=json.dumps(_deployment_state(1, retained=10)))
    assert first.returncode == 0, first.stderr
    assert "first rollout" in first.stdout
    assert "**procedure gap**" not in first.stdout
    assert "<previous-digest>" not in first.stdout


def test_diagnose_a_history_cut_to_one_revision_is_still_a_procedure_gap() -> None:
    cut = run_backout("diagnose", "-", stdin=json.dumps(_deployment_state(5, retained=1)))
    assert cut.returncode == 0, cut.stderr
    assert "**procedure gap**" in cut.stdout
    assert "first rollout" not in cut.stdout


def test_drill_refuses_an_alembic_env_that_migrates_somewhere_else(tmp_path: Path) -> None:
    """An env.py that never connects to the URL backout sets proves nothing: exit 2, not 0."""
    repo = tmp_path / "app"
    repo.mkdir()
    for args in (("init", "-q"), ("config", "user.email", "u@example.com")):
        git(repo, *args)
    git(repo, "config", "user.name", "u")
    (repo / "backout.toml").write_text('sql-dialect = "sqlite"\n')
    versions = repo / "alembic" / "versions"
    versions.mkdir(parents=True)
    (repo / "alembic" / "env.py").write_text("from alembic import context\n")
    (versions / "a1_customers.py").write_text(ALEMBIC_BASE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    (versions / "b2_drop_flag.py").write_text(ALEMBIC_RELEASE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "release")
    result, _ = backout(repo, "drill", "--base", "HEAD~1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no alembic_version table" in result.stderr
    assert "nothing was drilled" in result.stderr


def test_tool_backout_header_in_backout_toml_says_where_the_keys_go(tmp_path: Path) -> None:
    (tmp_path / "backout.toml").write_text('[tool.backout]\nselect = ["ALL"]\n')
    done = run_backout("check", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith(
        "unknown key 'tool': backout.toml takes the keys at top level "
        "(drop the [tool.backout] header; it belongs in pyproject.toml)"
    )


def test_write_baseline_where_it_cannot_be_written_is_one_line_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """A baseline path in a missing directory, or that is a directory, is exit 2 with one
    line naming it, not a traceback; no temporary file is left beside it."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:latest\n")
    missing = tmp_path / "no-such-dir" / "baseline.json"
    line = one_line_error(run_backout("check", ".", "--write-baseline", str(missing), cwd=tmp_path))
    assert line == f"backout: error: cannot write baseline {missing}: No such file or directory"
    taken = tmp_path / "taken"
    taken.mkdir()
    line = one_line_error(run_backout("check", ".", "--write-baseline", "taken", cwd=tmp_path))
    assert line == "backout: error: cannot write baseline taken: Is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yaml", "taken"]
    assert list(taken.iterdir()) == []


def _two_branches(origin: Path) -> None:
    """``main`` and ``feature`` that fork after two commits, each with one of its own."""
    origin.mkdir()
    git_as_tester(origin, "init", "-q", "-b", "main")
    for name in ("a", "b"):
        (origin / name).write_text(name)
        git_as_tester(origin, "add", "-A")
        git_as_tester(origin, "commit", "-qm", name)
    git_as_tester(origin, "checkout", "-qb", "feature")
    (origin / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.27\n")
    git_as_tester(origin, "add", "-A")
    git_as_tester(origin, "commit", "-qm", "feature")
    git_as_tester(origin, "checkout", "-q", "main")
    (origin / "c").write_text("c")
    git_as_tester(origin, "add", "-A")
    git_as_tester(origin, "commit", "-qm", "c")


def test_base_without_a_merge_base_in_a_shallow_clone_says_to_fetch_the_history(
    tmp_path: Path,
) -> None:
    """actions/checkout fetches one commit: the PR's base is there, the merge base is not."""
    _two_branches(tmp_path / "origin")
    clone = tmp_path / "clone"
    url = (tmp_path / "origin").as_uri()
    git_as_tester(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", url, str(clone))
    git_as_tester(clone, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    line = one_line_error(run_backout("check", ".", "--base", "origin/main", cwd=clone))
    assert line == (
        "backout: error: --base origin/main: no common ancestor with HEAD in this shallow "
        "clone; fetch the history (`git fetch --unshallow`, or actions/checkout with "
        "`fetch-depth: 0`) or give the previous release's directory"
    )
    git_as_tester(clone, "fetch", "-q", "--unshallow", "origin", "main:refs/remotes/origin/main")
    fetched = run_backout("check", ".", "--base", "origin/main", cwd=clone)
    assert fetched.returncode == 0, fetched.stderr


def test_base_on_an_unrelated_history_says_so(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git_as_tester(repo, "init", "-q", "-b", "main")
    git_as_tester(repo, "commit", "-q", "--allow-empty", "-m", "old history")
    git_as_tester(repo, "checkout", "-q", "--orphan", "rewritten")
    git_as_tester(repo, "commit", "-q", "--allow-empty", "-m", "new history")
    line = one_line_error(run_backout("check", ".", "--base", "main", cwd=repo))
    assert line == (
        "backout: error: --base main: main and HEAD share no history; give a commit that HEAD "
        "descends from, or the previous release's directory"
    )


def test_base_ref_with_a_typo_names_the_nearest_branch(tmp_path: Path) -> None:
    _two_branches(tmp_path / "repo")
    line = one_line_error(run_backout("check", ".", "--base", "featrue", cwd=tmp_path / "repo"))
    assert line == (
        "backout: error: --base featrue: no such directory, and no such commit, branch or tag "
        "in this repository (did you mean 'feature'?)"
    )
    line = one_line_error(run_backout("check", ".", "--base", "v9.9.9", cwd=tmp_path / "repo"))
    assert line.endswith("in this repository (fetch it first, e.g. `git fetch origin main`)")


EXAMPLE_INCIDENT = (
    Path(__file__).parent.parent / "examples/shop/incident/rollback-restored-latest.json"
)


def test_diagnose_reads_the_utf16_that_windows_powershell_redirects(tmp_path: Path) -> None:
    """``kubectl get … -o json > state.json`` in Windows PowerShell 5 writes UTF-16 with a BOM."""
    saved = tmp_path / "state.json"
    saved.write_bytes(EXAMPLE_INCIDENT.read_text(encoding="utf-8").encode("utf-16"))
    done = run_backout("diagnose", str(saved))
    assert done.returncode == 1, done.stderr
    assert "**The last rollback did not change the running image.**" in done.stdout


def test_diagnose_of_stdin_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    """Piped bytes that are no UTF-8 are named as such, not as "a number … longer than any
    Kubernetes field" (what the YAML fallback made of the surrogates stdin decoded them to)."""
    piped = tmp_path / "piped"
    piped.write_bytes(b'{"items": [\xff]}')
    with piped.open("rb") as stdin:
        done = subprocess.run(
            [BACKOUT or sys.executable, *([] if BACKOUT else ["-m", "backout"]), "diagnose", "-"],
            stdin=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
    assert one_line_error(done) == (
        "backout: error: -: not UTF-8 text (byte 0xff at offset 11); "
        "save kubectl's output as it prints it"
    )


def test_an_empty_base_is_exit_2_not_a_comparison_with_the_current_directory(
    tmp_path: Path,
) -> None:
    """``--base "$BASE_SHA"`` with the variable unset: ``Path("")`` is ``.``, so the release
    was compared with itself and passed with no findings."""
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:latest\n")
    for command in ("check", "plan", "drill"):
        line = one_line_error(run_backout(command, ".", "--base", "", cwd=tmp_path))
        assert line == (
            "backout: error: --base is empty: give a git ref or the previous release's "
            "directory (or leave --base out)"
        )
