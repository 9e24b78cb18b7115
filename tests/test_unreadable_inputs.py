"""A file or directory that cannot be read is BK901, never a silent pass.

Through the real CLI on a file and a directory without permissions. Root reads and lists
them whatever their mode, so when the tests run as root the CLI runs as ``nobody`` (a
``setuid`` in the child, no external tool): either way the permission is really denied.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backout.discovery import ReadFailure, read_working_files
from tests.conftest import git, run_backout

NOBODY = 65534
AS_ROOT = os.geteuid() == 0

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - {name: web, image: "shop@sha256:DIGEST"}
""".replace("DIGEST", "a" * 64)


def run_unprivileged(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``backout`` as a user that file permissions apply to."""
    env = {"HOME": str(cwd), "GIT_CONFIG_GLOBAL": "/dev/null"}
    return run_backout(*args, cwd=cwd, env=env, user=NOBODY if AS_ROOT else None)


@pytest.fixture
def release() -> Iterator[Path]:
    """A release directory that ``nobody`` may enter (pytest's tmp_path is root's alone)."""
    top = Path(tempfile.mkdtemp(prefix="backout-unreadable-"))
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        for directory, _, _ in os.walk(top):
            os.chmod(directory, 0o755)
        shutil.rmtree(top)


def _build(root: Path) -> None:
    (root / "k8s").mkdir()
    (root / "k8s" / "web.yaml").write_text(MANIFEST)
    (root / "k8s" / "api.yaml").write_text(MANIFEST.replace("web", "api"))
    (root / "db").mkdir()
    (root / "db" / "0001_init.up.sql").write_text("CREATE TABLE t (id int);\n")
    for path in (root, root / "k8s", root / "db"):
        os.chmod(path, 0o755)
    for path in (root / "k8s" / "web.yaml", root / "k8s" / "api.yaml"):
        os.chmod(path, 0o644)


def _deny(root: Path) -> None:
    os.chmod(root / "k8s" / "api.yaml", 0)
    os.chmod(root / "db", 0)


def _findings(done: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert "Traceback" not in done.stderr, done.stderr
    return [(f["path"], f["code"], f["message"]) for f in json.loads(done.stdout)["findings"]]


def test_a_file_and_a_directory_without_permission_are_bk901(release: Path) -> None:
    _build(release)
    _deny(release)
    done = run_unprivileged("check", ".", "--format", "json", "--fail-on", "warning", cwd=release)
    assert done.returncode == 1, done.stderr
    assert _findings(done) == [
        (
            "db",
            "BK901",
            "could not list this directory: permission denied; no file in it was checked "
            "for rollback hazards",
        ),
        (
            "k8s/api.yaml",
            "BK901",
            "could not open this kubernetes input: permission denied; nothing in it was "
            "checked for rollback hazards",
        ),
    ]
    assert "Found 2 problems (2 warnings) in 2 files." in done.stderr  # both files

    concise = run_unprivileged("check", ".", "--format", "concise", cwd=release)
    assert concise.returncode == 0  # BK901 is a warning
    assert "k8s/api.yaml:1: BK901 [warning] could not open" in concise.stdout
    assert "No rollback hazards found" not in concise.stderr


def test_in_a_git_work_tree_too(release: Path) -> None:
    _build(release)
    git(release, "init", "-q", "-b", "main")
    git(release, "add", "-A")
    git(release, "commit", "-q", "-m", "release")
    (release / "new").mkdir(mode=0o755)
    (release / "new" / "job.yaml").write_text(MANIFEST)
    if AS_ROOT:  # git refuses a work tree that another user owns
        for directory, names, files in os.walk(release):
            for name in [directory, *(os.path.join(directory, n) for n in names + files)]:
                os.lchown(name, NOBODY, NOBODY)
    _deny(release)
    os.chmod(release / "new", 0)
    done = run_unprivileged("check", ".", "--format", "json", cwd=release)
    found = _findings(done)
    # db/ is tracked: git lists its file, which cannot be opened; new/ is not: git could not
    # list it. Both directories are named, as what git found below them is incomplete.
    assert [(path, code) for path, code, _ in found] == [
        ("db", "BK901"),
        ("db/0001_init.up.sql", "BK901"),
        ("k8s/api.yaml", "BK901"),
        ("new", "BK901"),
    ]
    assert all("permission denied" in message for _, _, message in found)


def test_a_read_error_is_a_failure_and_a_file_gone_is_skipped(tmp_path: Path) -> None:
    # /proc/self/mem is a regular file whose first page is never mapped: reading it fails
    # with EIO, for root too.
    (tmp_path / "mem.yaml").symlink_to("/proc/self/mem")
    (tmp_path / "here.yaml").write_text("a: 1\n")
    (tmp_path / "was_a_dir").write_text("")
    paths = ["gone.yaml", "here.yaml", "mem.yaml", "was_a_dir/x.yaml"]
    read = dict(read_working_files(str(tmp_path), paths))
    assert read == {"here.yaml": b"a: 1\n", "mem.yaml": ReadFailure("input/output error")}


def test_a_previous_release_that_cannot_be_listed_is_exit_2(release: Path) -> None:
    head, previous = release / "head", release / "previous"
    head.mkdir()
    previous.mkdir()
    _build(head)
    os.chmod(previous, 0)
    done = run_unprivileged("check", "head", "--base", "previous", cwd=release)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "backout: error: cannot list previous: permission denied"
