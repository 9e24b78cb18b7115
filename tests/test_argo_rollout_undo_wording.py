"""Argo Rollouts are undone with the kubectl plugin: the findings must name that command."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_backout

# Modelled on argoproj/argo-rollouts examples/rollout-canary.yaml.
_ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: rollout-canary
spec:
  replicas: 5
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: rollout-canary
  template:
    metadata:
      labels:
        app: rollout-canary
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
  strategy:
    canary:
      steps:
      - setWeight: 20
      - pause: {}
"""


def _findings(tmp_path: Path, text: str) -> dict[str, str]:
    (tmp_path / "rollout.yaml").write_text(text)
    done = run_backout(
        "check", str(tmp_path), "--select", "BK101,BK102", "--output-format", "concise"
    )
    found = {}
    for line in done.stdout.splitlines():
        for code in ("BK101", "BK102"):
            if f" {code} " in line:
                found[code] = line
    return found


def test_a_rollout_names_the_argo_plugin_undo(tmp_path: Path) -> None:
    found = _findings(tmp_path, _ROLLOUT)
    assert set(found) == {"BK101", "BK102"}, found
    for line in found.values():
        assert "`kubectl argo rollouts undo`" in line
        assert "`kubectl rollout undo`" not in line


def test_a_deployment_keeps_kubectl_rollout_undo(tmp_path: Path) -> None:
    deployment = _ROLLOUT.replace("argoproj.io/v1alpha1", "apps/v1").replace(
        "kind: Rollout", "kind: Deployment"
    )
    deployment = deployment[: deployment.index("  strategy:")]
    found = _findings(tmp_path, deployment)
    assert set(found) == {"BK101", "BK102"}, found
    for line in found.values():
        assert "`kubectl rollout undo`" in line
