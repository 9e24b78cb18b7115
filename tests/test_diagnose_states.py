"""Recorded cluster states for ``backout diagnose``, built in the shapes kubectl prints.

Each builder returns what ``kubectl get deploy,rs,pods -o json`` (and, where noted,
``kubectl get sts,controllerrevisions,secrets -o json``) prints for one incident. The JSON
files under ``tests/fixtures/diagnose/`` and ``examples/shop/incident/`` are these states
written out; the tests below keep them identical to the builders (run with
``BACKOUT_REGEN=1`` to rewrite them after changing a builder).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "diagnose"
EXAMPLE = ROOT / "examples" / "shop" / "incident"

REPO = "registry.example.com/shop/api"
NS = "shop"
DEPLOYMENT_UID = "5b0c6d1e-3f4a-4c2b-9d8e-7a6b5c4d3e2f"


def digest(label: str) -> str:
    """A stable, well-formed sha256 digest named by ``label``."""
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


GOOD = digest("shop-api 2.3 manifest")
BROKEN = digest("shop-api 2.4 manifest")
OLDER = digest("shop-api 2.2 manifest")
CONFIG_ID = digest("shop-api 2.4 config")
MIGRATE = "registry.example.com/shop/migrate"
PROXY = "registry.example.com/shop/proxy"


def _template(image: str, restarted_at: str | None = None) -> dict[str, Any]:
    annotations = {"kubectl.kubernetes.io/restartedAt": restarted_at} if restarted_at else {}
    metadata: dict[str, Any] = {"labels": {"app": "shop-api"}, "creationTimestamp": None}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "metadata": metadata,
        "spec": {
            "containers": [
                {
                    "name": "api",
                    "image": image,
                    "imagePullPolicy": "Always" if image.endswith(":latest") else "IfNotPresent",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "terminationGracePeriodSeconds": 30,
        },
    }


def deployment(
    image: str,
    revision: int,
    history_limit: int | None = 2,
    paused: bool = False,
    restarted_at: str | None = None,
    name: str = "shop-api",
    uid: str = DEPLOYMENT_UID,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    deadline_exceeded_by: str | None = None,
) -> dict[str, Any]:
    """A Deployment as ``kubectl get deploy -o json`` shows it; ``deadline_exceeded_by`` names
    the ReplicaSet the controller gave up on (``Progressing=False``)."""
    spec: dict[str, Any] = {
        "progressDeadlineSeconds": 600,
        "replicas": 3,
        "selector": {"matchLabels": {"app": "shop-api"}},
        "strategy": {
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            "type": "RollingUpdate",
        },
        "template": _template(image, restarted_at),
    }
    if history_limit is not None:
        spec["revisionHistoryLimit"] = history_limit
    if paused:
        spec["paused"] = True
    conditions = [
        {
            "lastTransitionTime": "2026-11-20T09:14:03Z",
            "lastUpdateTime": "2026-11-20T09:14:03Z",
            "message": "Deployment does not have minimum availability.",
            "reason": "MinimumReplicasUnavailable",
            "status": "False",
            "type": "Available",
        }
    ]
    if paused:
        conditions.append(
            {
                "lastTransitionTime": "2026-11-20T09:20:00Z",
                "lastUpdateTime": "2026-11-20T09:20:00Z",
                "message": "Deployment is paused",
                "reason": "DeploymentPaused",
                "status": "Unknown",
                "type": "Progressing",
            }
        )
    if deadline_exceeded_by:
        conditions.append(
            {
                "lastTransitionTime": "2026-11-20T09:41:00Z",
                "lastUpdateTime": "2026-11-20T09:41:00Z",
                "message": f'ReplicaSet "{deadline_exceeded_by}" has timed out progressing.',
                "reason": "ProgressDeadlineExceeded",
                "status": "False",
                "type": "Progressing",
            }
        )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {
                "deployment.kubernetes.io/revision": str(revision),
                **(annotations or {}),
            },
            "creationTimestamp": "2026-10-01T08:00:00Z",
            "generation": revision + 3,
            "labels": {"app": "shop-api", **(labels or {})},
            "name": name,
            "namespace": NS,
            "resourceVersion": "918273",
            "uid": uid,
        },
        "spec": spec,
        "status": {
            "conditions": conditions,
            "observedGeneration": revision + 3,
            "replicas": 3,
            "unavailableReplicas": 3,
            "updatedReplicas": 3,
        },
    }


def replica_set(
    pod_hash: str,
    revision: int,
    image: str,
    created: str,
    replicas: int,
    history: str | None = None,
    restarted_at: str | None = None,
    owner: str = "shop-api",
    owner_uid: str = DEPLOYMENT_UID,
) -> dict[str, Any]:
    """A ReplicaSet owned by the Deployment, with its revision annotations."""
    annotations = {
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
        "deployment.kubernetes.io/revision": str(revision),
    }
    if history:
        annotations["deployment.kubernetes.io/revision-history"] = history
    template = _template(image, restarted_at)
    template["metadata"]["labels"]["pod-template-hash"] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": created,
            "generation": 2,
            "labels": {"app": "shop-api", "pod-template-hash": pod_hash},
            "name": f"{owner}-{pod_hash}",
            "namespace": NS,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "blockOwnerDeletion": True,
                    "controller": True,
                    "kind": "Deployment",
                    "name": owner,
                    "uid": owner_uid,
                }
            ],
            "uid": digest(f"rs {owner} {pod_hash}")[7:43],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "shop-api", "pod-template-hash": pod_hash}},
            "template": template,
        },
        "status": {"observedGeneration": 2, "replicas": replicas},
    }


def pod(
    name: str,
    owner_rs: str,
    pod_hash: str,
    image: str,
    image_id: str,
    crashing: bool = False,
    terminating: bool = False,
    pull_error: str | None = None,
) -> dict[str, Any]:
    """A pod of a ReplicaSet with one container status."""
    if pull_error:
        state: dict[str, Any] = {"waiting": {"message": pull_error, "reason": "ImagePullBackOff"}}
        status_extra: dict[str, Any] = {"ready": False, "restartCount": 0, "started": False}
    elif crashing:
        state = {
            "waiting": {
                "message": "back-off 5m0s restarting failed container",
                "reason": "CrashLoopBackOff",
            }
        }
        status_extra = {
            "ready": False,
            "restartCount": 7,
            "started": False,
            "lastState": {
                "terminated": {
                    "exitCode": 1,
                    "finishedAt": "2026-11-20T09:31:12Z",
                    "reason": "Error",
                    "startedAt": "2026-11-20T09:31:10Z",
                }
            },
        }
    else:
        state = {"running": {"startedAt": "2026-11-20T09:30:00Z"}}
        status_extra = {"ready": True, "restartCount": 0, "started": True}
    container_status = {
        "containerID": "containerd://" + digest(name)[7:],
        "image": image,
        "imageID": image_id,
        "lastState": {},
        "name": "api",
        "state": state,
        **status_extra,
    }
    metadata: dict[str, Any] = {
        "creationTimestamp": "2026-11-20T09:29:41Z",
        "generateName": owner_rs + "-",
        "labels": {"app": "shop-api", "pod-template-hash": pod_hash},
        "name": name,
        "namespace": NS,
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": "ReplicaSet",
                "name": owner_rs,
                "uid": digest(f"rs {owner_rs}")[7:43],
            }
        ],
        "uid": digest(f"pod {name}")[7:43],
    }
    if terminating:
        metadata["deletionTimestamp"] = "2026-11-20T09:30:11Z"
        metadata["deletionGracePeriodSeconds"] = 30
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"image": image, "name": "api"}], "nodeName": "node-2"},
        "status": {
            "containerStatuses": [container_status],
            "phase": "Running",
            "qosClass": "BestEffort",
        },
    }


def add_container(workload: dict[str, Any], name: str, image: str, init: bool = False) -> None:
    """Add a container (or an init container) to a Deployment's or ReplicaSet's pod template."""
    spec = workload["spec"]["template"]["spec"]
    spec.setdefault("initContainers" if init else "containers", []).append(
        {
            "name": name,
            "image": image,
            "imagePullPolicy": "Always" if image.endswith(":latest") else "IfNotPresent",
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
    )


def add_container_status(
    item: dict[str, Any], name: str, image: str, image_id: str, init: bool = False
) -> None:
    """Add a container to a pod, with the status kubectl shows for it: an init container that
    ran to completion, or a container running and ready."""
    item["spec"].setdefault("initContainers" if init else "containers", []).append(
        {"image": image, "name": name}
    )
    status: dict[str, Any] = {
        "containerID": "containerd://" + digest(f"{item['metadata']['name']} {name}")[7:],
        "image": image,
        "imageID": image_id,
        "lastState": {},
        "name": name,
        "restartCount": 0,
    }
    if init:
        status |= {
            "ready": True,
            "started": False,
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "finishedAt": "2026-11-20T09:29:50Z",
                    "reason": "Completed",
                    "startedAt": "2026-11-20T09:29:44Z",
                }
            },
        }
    else:
        status |= {
            "ready": True,
            "started": True,
            "state": {"running": {"startedAt": "2026-11-20T09:30:00Z"}},
        }
    key = "initContainerStatuses" if init else "containerStatuses"
    item["status"].setdefault(key, []).append(status)


def kubectl_list(*items: dict[str, Any]) -> dict[str, Any]:
    """``kubectl get … -o json``: a ``List`` of the objects."""
    return {
        "apiVersion": "v1",
        "items": list(items),
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def rollback_restored_latest() -> dict[str, Any]:
    """Deploys by ``:latest`` with ``rollout restart``; ``rollout undo`` restored ``:latest``.

    Revision 2 (restart at 09:00 on 11-19) ran 2.3; CI pushed 2.4 as ``latest`` and restarted
    (revision 3); the undo brought revision 2's template back as revision 4, whose pods pulled
    ``latest`` again: 2.4, the broken image, still crashing. One pod of revision 3 is still
    terminating.
    """
    latest = f"{REPO}:latest"
    return kubectl_list(
        deployment(latest, 4, restarted_at="2026-11-19T09:00:00Z"),
        replica_set("5d8f7c9b4", 1, f"{REPO}:2.2", "2026-11-02T10:00:00Z", 0),
        replica_set(
            "6c9d4f7a8",
            4,
            latest,
            "2026-11-19T09:00:01Z",
            3,
            history="2",
            restarted_at="2026-11-19T09:00:00Z",
        ),
        replica_set(
            "7f6b8d5c2",
            3,
            latest,
            "2026-11-20T09:10:00Z",
            0,
            restarted_at="2026-11-20T09:10:00Z",
        ),
        *(
            pod(
                f"shop-api-6c9d4f7a8-{suffix}",
                "shop-api-6c9d4f7a8",
                "6c9d4f7a8",
                latest,
                f"{REPO}@{BROKEN}",
                crashing=True,
            )
            for suffix in ("k2x7p", "m4q9z", "t8w3n")
        ),
        pod(
            "shop-api-7f6b8d5c2-r5v2c",
            "shop-api-7f6b8d5c2",
            "7f6b8d5c2",
            latest,
            f"{REPO}@{BROKEN}",
            crashing=True,
            terminating=True,
        ),
    )


def rollback_pinned() -> dict[str, Any]:
    """Digest-pinned releases: undo brought 2.3's digest back and the pods run it."""
    good, broken = f"{REPO}@{GOOD}", f"{REPO}@{BROKEN}"
    return kubectl_list(
        deployment(good, 3),
        replica_set("84c7d9f6b", 3, good, "2026-11-12T14:00:00Z", 3, history="1"),
        replica_set("9b5e6a3d1", 2, broken, "2026-11-20T09:10:00Z", 0),
        *(
            pod(
                f"shop-api-84c7d9f6b-{suffix}",
                "shop-api-84c7d9f6b",
                "84c7d9f6b",
                good,
                f"docker-pullable://{REPO}@{GOOD}",
            )
            for suffix in ("a1b2c", "d3e4f", "g5h6i")
        ),
    )


def no_history() -> dict[str, Any]:
    """``revisionHistoryLimit: 0``: only the broken release's ReplicaSet is left."""
    image = f"{REPO}:2.4"
    return kubectl_list(
        deployment(image, 5, history_limit=0),
        replica_set("c4d8e2f7a", 5, image, "2026-11-20T09:10:00Z", 3),
        *(
            pod(
                f"shop-api-c4d8e2f7a-{suffix}",
                "shop-api-c4d8e2f7a",
                "c4d8e2f7a",
                image,
                CONFIG_ID,
                crashing=True,
            )
            for suffix in ("p1q2r", "s3t4u")
        ),
    )


def paused() -> dict[str, Any]:
    """A paused Deployment: 2.4 crashes, 2.3 (pinned) is retained, undo would be refused."""
    broken, good = f"{REPO}:2.4", f"{REPO}:2.3@{GOOD}"
    return kubectl_list(
        deployment(broken, 6, paused=True),
        replica_set("e7f1a9c3b", 5, good, "2026-11-12T14:00:00Z", 0),
        replica_set("f2b6c8d4e", 6, broken, "2026-11-20T09:10:00Z", 3),
        *(
            pod(
                f"shop-api-f2b6c8d4e-{suffix}",
                "shop-api-f2b6c8d4e",
                "f2b6c8d4e",
                broken,
                f"{REPO}@{BROKEN}",
                crashing=True,
            )
            for suffix in ("v5w6x", "y7z8a")
        ),
    )


def artifact_gone() -> dict[str, Any]:
    """Undo went back to 2.2 by tag, but retention deleted that image: pods cannot pull."""
    old, broken = f"{REPO}:2.2", f"{REPO}:2.4"
    return kubectl_list(
        deployment(old, 3),
        replica_set("1a2b3c4d5", 3, old, "2026-11-02T10:00:00Z", 3, history="1"),
        replica_set("2b3c4d5e6", 2, broken, "2026-11-20T09:10:00Z", 0),
        pod(
            "shop-api-1a2b3c4d5-q1w2e",
            "shop-api-1a2b3c4d5",
            "1a2b3c4d5",
            old,
            "",
            pull_error=f"rpc error: code = NotFound desc = failed to pull and unpack image "
            f'"{old}": {old}: not found',
        ),
    )


def rollback_init_changed_main_kept() -> dict[str, Any]:
    """Undo between two ``:latest`` templates, each with a ``migrate:latest`` init container.

    Revision 1 (restart on 11-19) came back as revision 3 over revision 2 (restart on 11-20).
    Its pods pulled both tags again: ``migrate`` got a newer image, ``api`` the same broken
    2.4 that the one pod of revision 2 still left runs, and ``api`` crash-loops.
    """
    latest, migrate = f"{REPO}:latest", f"{MIGRATE}:latest"
    restored_at, replaced_at = "2026-11-19T09:00:00Z", "2026-11-20T09:10:00Z"
    objects = [
        deployment(latest, 3, restarted_at=restored_at),
        replica_set("6c9d4f7a8", 3, latest, "2026-11-19T09:00:01Z", 2, "1", restored_at),
        replica_set("7f6b8d5c2", 2, latest, "2026-11-20T09:10:01Z", 1, restarted_at=replaced_at),
    ]
    for workload in objects:
        add_container(workload, "migrate", migrate, init=True)
    restored = [
        pod(
            f"shop-api-6c9d4f7a8-{suffix}",
            "shop-api-6c9d4f7a8",
            "6c9d4f7a8",
            latest,
            f"{REPO}@{BROKEN}",
            crashing=True,
        )
        for suffix in ("k2x7p", "m4q9z")
    ]
    replaced = pod(
        "shop-api-7f6b8d5c2-r5v2c", "shop-api-7f6b8d5c2", "7f6b8d5c2", latest, f"{REPO}@{BROKEN}"
    )
    for item in restored:
        add_container_status(item, "migrate", migrate, f"{MIGRATE}@{digest('migrate new')}", True)
    add_container_status(replaced, "migrate", migrate, f"{MIGRATE}@{digest('migrate old')}", True)
    return kubectl_list(*objects, *restored, replaced)


def rollback_main_changed_sidecar_kept() -> dict[str, Any]:
    """Undo from 2.4 back to 2.3 with a ``proxy:latest`` sidecar: the API image changed, the
    proxy ran the same image before and after, and the restored pods are healthy. One pod of
    the replaced revision is still terminating."""
    good, broken, proxy = f"{REPO}:2.3", f"{REPO}:2.4", f"{PROXY}:latest"
    proxy_id = f"{PROXY}@{digest('proxy 1.9')}"
    objects = [
        deployment(good, 3),
        replica_set("84c7d9f6b", 3, good, "2026-11-12T14:00:00Z", 3, history="1"),
        replica_set("9b5e6a3d1", 2, broken, "2026-11-20T09:10:00Z", 0),
    ]
    for workload in objects:
        add_container(workload, "proxy", proxy)
    restored = [
        pod(
            f"shop-api-84c7d9f6b-{suffix}",
            "shop-api-84c7d9f6b",
            "84c7d9f6b",
            good,
            f"{REPO}@{GOOD}",
        )
        for suffix in ("a1b2c", "d3e4f", "g5h6i")
    ]
    replaced = pod(
        "shop-api-9b5e6a3d1-x9y8z",
        "shop-api-9b5e6a3d1",
        "9b5e6a3d1",
        broken,
        f"{REPO}@{BROKEN}",
        terminating=True,
    )
    for item in [*restored, replaced]:
        add_container_status(item, "proxy", proxy, proxy_id)
    return kubectl_list(*objects, *restored, replaced)


def rollback_not_rolled_out() -> dict[str, Any]:
    """Undo from 2.4 back to 2.2: the new pod cannot pull 2.2 (kubectl shows only the
    back-off), the Deployment gave up, and the three pods of 2.4 still serve."""
    old, broken = f"{REPO}:2.2", f"{REPO}:2.4"
    workload = deployment(old, 3, deadline_exceeded_by="shop-api-1a2b3c4d5")
    # The old pods keep the Deployment available; one of four pods is updated.
    workload["status"]["conditions"][0] |= {
        "message": "Deployment has minimum availability.",
        "reason": "MinimumReplicasAvailable",
        "status": "True",
    }
    workload["status"] |= {
        "availableReplicas": 3,
        "readyReplicas": 3,
        "replicas": 4,
        "unavailableReplicas": 1,
        "updatedReplicas": 1,
    }
    return kubectl_list(
        workload,
        replica_set("1a2b3c4d5", 3, old, "2026-11-02T10:00:00Z", 1, history="1"),
        replica_set("2b3c4d5e6", 2, broken, "2026-11-20T09:10:00Z", 3),
        pod(
            "shop-api-1a2b3c4d5-q1w2e",
            "shop-api-1a2b3c4d5",
            "1a2b3c4d5",
            old,
            "",
            pull_error=f'Back-off pulling image "{old}"',
        ),
        *(
            pod(
                f"shop-api-2b3c4d5e6-{suffix}",
                "shop-api-2b3c4d5e6",
                "2b3c4d5e6",
                broken,
                f"{REPO}@{BROKEN}",
            )
            for suffix in ("h7j8k", "l9m0n", "p2r3s")
        ),
    )


def helm_secret(
    release: str, version: int, status: str, description: str, image: str
) -> dict[str, Any]:
    """A Helm release Secret exactly as Helm stores it and ``kubectl -o json`` shows it."""
    manifest = (
        "---\n# Source: shop/templates/deployment.yaml\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-web\n"
        "  labels:\n    app.kubernetes.io/managed-by: Helm\n"
        "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
        f'        - name: web\n          image: "{image}"\n'
    )
    body = {
        "name": release,
        "namespace": NS,
        "version": version,
        "info": {
            "first_deployed": "2026-11-01T10:00:00Z",
            "last_deployed": f"2026-11-{18 + version}T10:00:00Z",
            "deleted": "",
            "description": description,
            "status": status,
        },
        "chart": {"metadata": {"name": "shop", "version": f"0.{version}.0", "appVersion": "2.4"}},
        "config": {"image": {"tag": "latest"}},
        "manifest": manifest,
    }
    helm_bytes = base64.b64encode(gzip.compress(json.dumps(body).encode(), mtime=0))
    return {
        "apiVersion": "v1",
        "data": {"release": base64.b64encode(helm_bytes).decode()},
        "kind": "Secret",
        "metadata": {
            "creationTimestamp": f"2026-11-{18 + version}T10:00:00Z",
            "labels": {
                "modifiedAt": "1763632800",
                "name": release,
                "owner": "helm",
                "status": status,
                "version": str(version),
            },
            "name": f"sh.helm.release.v1.{release}.v{version}",
            "namespace": NS,
        },
        "type": "helm.sh/release.v1",
    }


def helm_rollback_latest() -> list[dict[str, Any]]:
    """``helm rollback shop 1`` where every revision said ``:latest``: nothing rolled out.

    Two documents, as ``kubectl get deploy,rs,pods -o json; kubectl get secrets -l owner=helm
    -o json`` prints them, plus a StatefulSet with its ControllerRevisions.
    """
    image = "registry.example.com/shop/web:latest"
    uid = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    web = deployment(
        image,
        1,
        name="shop-web",
        uid=uid,
        labels={"app.kubernetes.io/managed-by": "Helm"},
        annotations={"meta.helm.sh/release-name": "shop"},
    )
    web["spec"]["template"]["spec"]["containers"][0]["name"] = "web"
    rs = replica_set(
        "3d4e5f6a7", 1, image, "2026-11-19T10:00:00Z", 2, owner="shop-web", owner_uid=uid
    )
    rs["spec"]["template"]["spec"]["containers"][0]["name"] = "web"
    web_pods = []
    for suffix in ("b8c9d", "e1f2g"):
        item = pod(
            f"shop-web-3d4e5f6a7-{suffix}",
            "shop-web-3d4e5f6a7",
            "3d4e5f6a7",
            image,
            f"registry.example.com/shop/web@{BROKEN}",
            crashing=True,
        )
        item["status"]["containerStatuses"][0]["name"] = "web"
        web_pods.append(item)
    db_uid = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "shop-db", "namespace": NS, "uid": db_uid},
        "spec": {
            "replicas": 1,
            "serviceName": "shop-db",
            "template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:16.4"}]}},
        },
        "status": {"currentRevision": "shop-db-7b9c5d", "updateRevision": "shop-db-7b9c5d"},
    }
    revisions = []
    for number, (name, pg) in enumerate(
        (("shop-db-5f8a2e", "postgres:16.3"), ("shop-db-7b9c5d", "postgres:16.4")), start=1
    ):
        revisions.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {
                    "name": name,
                    "namespace": NS,
                    "creationTimestamp": f"2026-11-1{number}T08:00:00Z",
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "StatefulSet",
                            "name": "shop-db",
                            "uid": db_uid,
                            "controller": True,
                        }
                    ],
                },
                "data": {
                    "spec": {
                        "template": {
                            "$patch": "replace",
                            "spec": {"containers": [{"name": "postgres", "image": pg}]},
                        }
                    }
                },
                "revision": number,
            }
        )
    db_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "shop-db-0",
            "namespace": NS,
            "labels": {"controller-revision-hash": "shop-db-7b9c5d"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": "shop-db",
                    "uid": db_uid,
                    "controller": True,
                }
            ],
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "postgres",
                    "image": "docker.io/library/postgres:16.4",
                    "imageID": "docker.io/library/postgres@" + digest("postgres 16.4"),
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {}},
                }
            ],
        },
    }
    secrets = kubectl_list(
        helm_secret("shop", 1, "superseded", "Install complete", image),
        helm_secret("shop", 2, "superseded", "Upgrade complete", image),
        helm_secret("shop", 3, "deployed", "Rollback to 1", image),
    )
    return [kubectl_list(web, rs, *web_pods, statefulset, *revisions, db_pod), secrets]


def render(state: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The state as kubectl writes it (4-space indent); several documents one after another."""
    documents = state if isinstance(state, list) else [state]
    return "".join(json.dumps(doc, indent=4) + "\n" for doc in documents)


STATES = {
    "rollback-restored-latest": rollback_restored_latest,
    "rollback-pinned": rollback_pinned,
    "no-history": no_history,
    "paused": paused,
    "artifact-gone": artifact_gone,
    "helm-rollback-latest": helm_rollback_latest,
    "rollback-init-changed-main-kept": rollback_init_changed_main_kept,
    "rollback-main-changed-sidecar-kept": rollback_main_changed_sidecar_kept,
    "rollback-not-rolled-out": rollback_not_rolled_out,
}
EXAMPLE_STATES = ("rollback-restored-latest", "rollback-pinned")


def _written_files() -> list[tuple[Path, str]]:
    files = [(FIXTURES / f"{name}.json", name) for name in STATES]
    files += [(EXAMPLE / f"{name}.json", name) for name in EXAMPLE_STATES]
    return files


@pytest.mark.parametrize(("path", "name"), _written_files(), ids=lambda v: str(v).split("/")[-1])
def test_recorded_state_matches_its_builder(path: Path, name: str) -> None:
    expected = render(STATES[name]())
    if os.environ.get("BACKOUT_REGEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == expected


def test_helm_secret_is_encoded_as_helm_does() -> None:
    secret = helm_secret("shop", 1, "deployed", "Install complete", "x:1")
    outer = base64.b64decode(secret["data"]["release"])
    inner = base64.b64decode(outer)
    assert inner[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(inner))["version"] == 1
