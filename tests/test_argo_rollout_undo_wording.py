"""What undoes a workload, named in its findings: the Argo Rollouts plugin for a Rollout,
`kubectl rollout undo` for the kinds it accepts, re-applying the manifest for the others."""

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


# Modelled on argoproj/argocd-example-apps sync-waves/manifests.yaml: a Job named by
# generateName and a ReplicaSet, neither of which `kubectl rollout undo` accepts.
_HOOK_AND_REPLICASET = """\
apiVersion: batch/v1
kind: Job
metadata:
  generateName: upgrade-sql-schema-
  annotations:
    argocd.argoproj.io/hook: PostSync
spec:
  template:
    spec:
      containers:
        - name: upgrade-sql-schema
          image: alpine:latest
      restartPolicy: Never
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: backend
spec:
  selector:
    matchLabels:
      tier: backend
  template:
    metadata:
      labels:
        tier: backend
    spec:
      containers:
        - name: main
          image: nginx:latest
"""


def test_kinds_rollout_undo_refuses_name_reapplying_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifests.yaml").write_text(_HOOK_AND_REPLICASET)
    done = run_backout("check", str(tmp_path), "--select", "BK101", "--output-format", "concise")
    lines = [line for line in done.stdout.splitlines() if " BK101 " in line]
    assert len(lines) == 2, done.stdout
    for line in lines:
        assert "re-applying the previous release's manifest restores the tag" in line
        assert "rollout undo" not in line
    assert "Job/upgrade-sql-schema-<generated> container upgrade-sql-schema:" in lines[0]
    assert "ReplicaSet/backend container main:" in lines[1]
