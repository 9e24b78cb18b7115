"""Runbooks through the CLI: what a reader of the concise format sees."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_backout


def test_front_matter_and_multi_line_headings_give_one_line_findings(tmp_path: Path) -> None:
    runbook = tmp_path / "docs" / "runbook.md"
    runbook.parent.mkdir()
    runbook.write_text(
        "---\ntitle: Deploying the shop\nowner: team-shop\n---\n\n"
        "# Deploy\n\nRun `helm upgrade --install shop chart/shop`.\n\n"
        "Rollback of\nthe shop\n------------\n\nRun `kubectl rollout undo deployment/shop-api`.\n"
    )
    done = run_backout("check", str(tmp_path), "--select", "BK401", "--output-format", "concise")
    findings = [line for line in done.stdout.splitlines() if " BK401 " in line]
    assert len(findings) == 1, done.stdout
    assert findings[0].startswith("docs/runbook.md:10:1: BK401 ")
    assert "rollback section 'Rollback of the shop' omits" in findings[0]
    assert "title:" not in done.stdout
