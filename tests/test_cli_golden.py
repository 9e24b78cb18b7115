"""One golden file per output format, through the real CLI, exit code included.

Regenerate after an intended change with ``BACKOUT_UPDATE_GOLDEN=1 pytest tests/test_cli_golden.py``
and read the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backout import __version__
from backout.report import OutputFormat
from tests.conftest import run_backout

REPO = Path(__file__).parent / "fixtures" / "golden_repo"
GOLDEN = Path(__file__).parent / "golden" / "check"


def _normalise(text: str) -> str:
    return text.replace(f'"{__version__}"', '"<version>"')


@pytest.mark.parametrize("output_format", [f.value for f in OutputFormat])
def test_every_format_matches_its_golden_file(output_format: str) -> None:
    done = run_backout("check", ".", "--output-format", output_format, cwd=REPO)
    actual = f"exit: {done.returncode}\n" + _normalise(done.stdout)
    golden = GOLDEN / f"{output_format}.txt"
    if os.environ.get("BACKOUT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden}; run with BACKOUT_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")


def test_summary_goes_to_stderr_and_report_to_stdout() -> None:
    done = run_backout("check", ".", "--format", "json", cwd=REPO)
    assert done.stdout.lstrip().startswith("{")
    assert "Found " in done.stderr and "Found " not in done.stdout
