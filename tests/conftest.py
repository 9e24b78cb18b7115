"""Shared test helpers: running the installed CLI, and building real git repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BACKOUT = shutil.which("backout")


def run_backout(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    user: int | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``backout`` command (``python -m backout`` if it is not on PATH),
    as ``user`` (a uid, also its group) when given; a hang past ``timeout`` seconds raises."""
    command = [BACKOUT] if BACKOUT else [sys.executable, "-m", "backout"]
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "BACKOUT_OUTPUT_FORMAT")
    }
    full_env = {**inherited, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        **({"user": user, "group": user, "extra_groups": []} if user is not None else {}),
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The one line on stderr of a run that must exit 2 without a traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity; return stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A factory: ``make(files)`` writes files into a new git repo and commits them."""
    repo = tmp_path / "repo"

    def make(files: dict[str, str]) -> Path:
        if not (repo / ".git").exists():
            repo.mkdir(parents=True, exist_ok=True)
            git(repo, "init", "-q", "-b", "main")
        for name, text in files.items():
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "release", "--allow-empty")
        return repo

    return make
