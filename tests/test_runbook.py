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


def _bk401(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "RUNBOOK.md").write_text(text)
    done = run_backout("check", str(tmp_path), "--select", "BK401", "--output-format", "concise")
    return [line for line in done.stdout.splitlines() if " BK401 " in line]


def test_a_bold_rollback_lead_in_is_judged_as_a_rollback_step(tmp_path: Path) -> None:
    found = _bk401(
        tmp_path,
        "# Runbook\n\nDeploy with `kubectl apply -f k8s/`.\n\n## Alarm: 5xx\n\n"
        "- __Roll back__ — `kubectl rollout undo deployment/web`\n"
        "- **Escalation:** check the dashboard and the health endpoint.\n",
    )
    assert len(found) == 1, found
    assert found[0].startswith("RUNBOOK.md:7:5: BK401 ")
    # the lines after the next lead-in are not part of the rollback step
    assert "rollback section 'Roll back' omits" in found[0]
    assert "how to verify" in found[0]


def test_bold_words_in_a_sentence_or_in_code_are_no_rollback_step(tmp_path: Path) -> None:
    found = _bk401(
        tmp_path,
        "# Runbook\n\nDeploy with `kubectl apply -f k8s/`.\n\n"
        "**Rollback** is never done by hand here.\n\n"
        "```\n**Rollback:** not markdown, a code block\n```\n",
    )
    assert len(found) == 1, found
    assert "has no rollback section" in found[0]
