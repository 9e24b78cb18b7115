"""Inputs a fuzz audit found to crash, hang or exhaust a reader: each is one clear answer.

Every case runs the real CLI in a subprocess under a timeout, so a reader that loops or
backtracks again fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

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
