"""``backout diagnose`` on recorded kubectl state: verdicts, evidence, pin commands, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backout.diagnose import StateError, diagnose, parse_state
from backout.diagnose.analysis import (
    CHANGED,
    FAILED,
    KEPT,
    MAX_CANDIDATE_TAGS,
    NO_ROLLBACK,
    NOT_ROLLED_OUT,
    newest_first,
)
from backout.diagnose.imageid import IdKind, parse_image_id
from backout.registry.client import RegistryError
from tests.conftest import run_backout
from tests.test_diagnose_states import (
    BROKEN,
    CONFIG_ID,
    FIXTURES,
    GOOD,
    PROXY,
    REPO,
    STATES,
    render,
)


def _state_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(render(STATES[name]()), encoding="utf-8")
    return path


def _diagnosis(name: str):  # type: ignore[no-untyped-def]
    return diagnose(parse_state(render(STATES[name]())))


@pytest.mark.parametrize(
    ("raw", "kind", "digest", "repository"),
    [
        (f"docker-pullable://{REPO}@{GOOD}", IdKind.REGISTRY_DIGEST, GOOD, REPO),
        (f"{REPO}@{GOOD}", IdKind.REGISTRY_DIGEST, GOOD, REPO),
        (f"nginx@{GOOD}", IdKind.REGISTRY_DIGEST, GOOD, "docker.io/library/nginx"),
        (CONFIG_ID, IdKind.CONFIG_ID, CONFIG_ID, ""),
        (f"docker://{CONFIG_ID}", IdKind.CONFIG_ID, CONFIG_ID, ""),
        (f"{REPO}@sha256:abc", IdKind.UNKNOWN, "", ""),
        ("", IdKind.UNKNOWN, "", ""),
    ],
)
def test_image_id_forms_are_normalised(
    raw: str, kind: IdKind, digest: str, repository: str
) -> None:
    image = parse_image_id(raw)
    assert (image.kind, image.digest, image.repository) == (kind, digest, repository)


def test_config_id_is_never_equal_to_a_registry_digest() -> None:
    config = parse_image_id(GOOD)
    registry = parse_image_id(f"{REPO}@{GOOD}")
    assert config.same_image(registry) is None
    assert registry.same_image(parse_image_id(f"docker-pullable://{REPO}@{GOOD}")) is True
    assert registry.same_image(parse_image_id(f"{REPO}@{BROKEN}")) is False


def test_latest_rollback_is_a_failed_rollback_proven_by_pods() -> None:
    result = _diagnosis("rollback-restored-latest")
    (api,) = result.workloads
    assert result.failed_rollback
    assert api.verdict == FAILED
    assert api.rollback is not None
    assert api.rollback.restored == "revision 4"
    assert api.rollback.replaced == "revision 3"
    (comparison,) = api.rollback.containers
    assert comparison.outcome == "same"
    assert "pods of both revisions run" in comparison.evidence
    answers = {a.question: a.answer for a in api.answers}
    assert answers["Deployment bug or untested rollback?"] == "untested rollback"
    assert answers["Incompatible versions or rollback assumption?"] == "rollback assumption"
    # 2.3's digest was never recorded anywhere in this state: say so, do not invent one.
    assert api.pin_command.endswith("@<previous-digest>")
    assert "not in this state" in api.pin_note


def test_pinned_rollback_changed_the_image_and_pins_what_runs() -> None:
    (api,) = _diagnosis("rollback-pinned").workloads
    assert api.verdict == CHANGED
    assert api.pin_command == (f"kubectl -n shop set image deployment/shop-api api={REPO}@{GOOD}")
    row = next(r for r in api.revisions if r.role == "current")
    assert row.former_numbers == (1,)
    assert row.pods == 3
    answers = {a.question: a.answer for a in api.answers}
    assert answers["Deployment bug or untested rollback?"] == "deployment bug"


def test_no_history_says_undo_has_nothing_to_restore() -> None:
    (api,) = _diagnosis("no-history").workloads
    assert api.verdict == NO_ROLLBACK
    assert api.revision_history_limit == 0
    assert "nothing to go back to" in api.summary
    answers = {a.question: (a.answer, a.evidence) for a in api.answers}
    answer, evidence = answers["Infrastructure or procedure gap?"]
    assert answer == "procedure gap"
    assert "revisionHistoryLimit is 0" in evidence
    # The pods show a bare config ID: it is not a registry digest, so it is never offered.
    assert "<previous-digest>" in api.pin_command


def test_paused_deployment_pins_the_retained_digest_and_resumes() -> None:
    (api,) = _diagnosis("paused").workloads
    assert api.paused
    assert api.pin_command == (
        f"kubectl -n shop set image deployment/shop-api api={REPO}@{GOOD}"
        " && kubectl -n shop rollout resume deployment/shop-api"
    )
    answers = {a.question: a.evidence for a in api.answers}
    assert "refuses a paused deployment" in answers["Infrastructure or procedure gap?"]


def test_deleted_rollback_target_is_a_procedure_gap() -> None:
    (api,) = _diagnosis("artifact-gone").workloads
    answers = {a.question: a.answer for a in api.answers}
    assert answers["Infrastructure or procedure gap?"] == "procedure gap"
    assert any("ImagePullBackOff" in p for p in api.pod_problems)
    # Not "the rollback changed the running image": nothing of it runs, nothing else does.
    assert api.verdict == NOT_ROLLED_OUT
    assert api.summary.startswith("ROLLBACK NOT DONE: revision 3 has no ready pod")
    assert "the workload serves nothing" in api.summary


def test_helm_rollback_to_the_same_tag_is_failed_and_statefulset_history_is_read() -> None:
    result = _diagnosis("helm-rollback-latest")
    web = next(w for w in result.workloads if w.name == "shop-web")
    database = next(w for w in result.workloads if w.name == "shop-db")
    assert web.verdict == FAILED
    assert [h.version for h in web.helm] == [1, 2, 3]
    assert web.rollback is not None and "Rollback to 1" in web.rollback.evidence
    assert "Helm release shop" in web.pin_note or "<previous-digest>" in web.pin_command
    assert database.verdict == NO_ROLLBACK
    assert [r.number for r in database.revisions] == [1, 2]
    assert next(r for r in database.revisions if r.number == 2).pods == 1


class _FakeRegistry:
    """Answers like a registry holding 2.3 (good), 2.4 and latest (both the broken image)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def tags(self, registry: str, repository: str, page_size: int = 1000) -> list[str]:
        self.calls.append((registry, repository, "tags"))
        return ["2.3", "2.4", "latest"]

    def head_manifest(self, registry: str, repository: str, reference: str) -> object:
        self.calls.append((registry, repository, reference))
        digest = GOOD if reference == "2.3" else BROKEN

        class Info:
            pass

        info = Info()
        info.digest = digest  # type: ignore[attr-defined]
        return info


def test_registry_lists_the_other_digests() -> None:
    registry = _FakeRegistry()
    state = parse_state(render(STATES["rollback-restored-latest"]()))
    (api,) = diagnose(state, registry).workloads
    assert [(c.tag, c.digest) for c in api.registry_candidates] == [("2.3", GOOD)]
    assert registry.calls[0] == ("registry.example.com", "shop/api", "tags")


class _ManyTags(_FakeRegistry):
    """A repository with 60 patch releases of 2.x plus CI tags; 2.60 is the newest."""

    def tags(self, registry: str, repository: str, page_size: int = 1000) -> list[str]:
        self.calls.append((registry, repository, "tags"))
        return ["latest", "sha-0f3c2a1", *(f"2.{n}" for n in range(1, 61)), "2.60-rc.1"]


def test_registry_candidates_are_newest_version_first_within_the_cap() -> None:
    registry = _ManyTags()
    state = parse_state(render(STATES["rollback-restored-latest"]()))
    diagnose(state, registry)
    asked = [reference for _, _, reference in registry.calls[1:]]
    # Alphabetically 2.9 > 2.60 and the cap of 50 dropped the newest releases.
    assert len(asked) == MAX_CANDIDATE_TAGS
    assert asked[:4] == ["2.60", "2.60-rc.1", "2.59", "2.58"]
    assert asked[-1] == "2.12" and "2.9" not in asked and "latest" not in asked


def test_tags_sort_semver_aware_with_other_tags_last() -> None:
    tags = ["main", "2.9", "v2.10.0", "2.10.0-rc.10", "2.10.0-rc.9", "latest", "1.4-alpine"]
    assert newest_first(tags) == [
        "v2.10.0",
        "2.10.0-rc.10",
        "2.10.0-rc.9",
        "2.9",
        "1.4-alpine",
        "latest",
        "main",
    ]


class _Unreachable(_FakeRegistry):
    def head_manifest(self, registry: str, repository: str, reference: str) -> object:
        raise RegistryError(f"{registry}/{repository}:{reference}: the registry answered 503")


class _Broken(_FakeRegistry):
    def head_manifest(self, registry: str, repository: str, reference: str) -> object:
        raise KeyError("a bug, not a registry answer")


def test_registry_failure_is_a_note_naming_what_failed_and_bugs_are_not_swallowed() -> None:
    state = parse_state(render(STATES["rollback-restored-latest"]()))
    notes = diagnose(state, _Unreachable()).notes
    assert notes == [
        "registry lookup of registry.example.com/shop/api:2.4 failed: "
        "registry.example.com/shop/api:2.4: the registry answered 503"
    ]
    with pytest.raises(KeyError):
        diagnose(state, _Broken())


def test_a_damaged_helm_secret_is_a_warning_and_the_rest_is_diagnosed(tmp_path: Path) -> None:
    workloads, secrets = STATES["helm-rollback-latest"]()
    secrets["items"][1]["data"]["release"] = "bm90IGhlbG0="  # base64 of "not helm"
    path = tmp_path / "state.json"
    path.write_text(render([workloads, secrets]), encoding="utf-8")
    done = run_backout("diagnose", str(path), "--format", "json")
    # Still the failed rollback of the intact state: exit 1, not 2.
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    (note,) = document["notes"]
    assert note.startswith("Secret sh.helm.release.v1.shop.v2: Helm release data is not base64")
    assert note.endswith("that Helm revision is left out of the history below")
    web = next(w for w in document["workloads"] if w["name"] == "shop-web")
    assert [h["version"] for h in web["helm"]] == [1, 3]
    markdown = run_backout("diagnose", str(path)).stdout
    assert "> Secret sh.helm.release.v1.shop.v2: Helm release data" in markdown


def _diagnose_fixture(name: str) -> tuple[int, dict[str, Any], str]:
    """Exit code, JSON workload and Markdown of ``backout diagnose`` on a recorded state."""
    path = str(FIXTURES / f"{name}.json")
    as_json = run_backout("diagnose", path, "--format", "json")
    markdown = run_backout("diagnose", path)
    assert as_json.returncode == markdown.returncode, markdown.stderr
    (workload,) = json.loads(as_json.stdout)["workloads"]
    return markdown.returncode, workload, markdown.stdout


def _diagnose_edited(tmp_path: Path, state: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON workload of ``backout diagnose`` on a recorded state edited by a test."""
    path = tmp_path / "state.json"
    path.write_text(render(state), encoding="utf-8")
    done = run_backout("diagnose", str(path), "--format", "json")
    assert not done.stderr
    (workload,) = json.loads(done.stdout)["workloads"]
    return done.returncode, workload


def test_main_container_kept_its_image_while_the_init_container_changed_is_failed() -> None:
    # migrate:latest pulled a newer image, api:latest the same broken digest, which crashes.
    code, api, markdown = _diagnose_fixture("rollback-init-changed-main-kept")
    assert code == 1
    assert api["verdict"] == FAILED
    outcomes = {c["container"]: c["outcome"] for c in api["rollback"]["containers"]}
    assert outcomes == {"migrate": "changed", "api": "same"}
    assert api["summary"] == (
        "FAILED ROLLBACK: revision 3 replaced revision 2, but the same image is running "
        "in container api"
    )
    answers = {a["question"]: a["answer"] for a in api["answers"]}
    assert answers["Deployment bug or untested rollback?"] == "untested rollback"
    assert answers["Incompatible versions or rollback assumption?"] == "rollback assumption"
    # The broken digest is what both revisions ran: it is never offered as the good one.
    assert BROKEN not in api["pin_command"]
    assert api["pin_command"].endswith(f"api={REPO}@<previous-digest>")
    assert "**The last rollback did not change the running image.**" in markdown
    assert "the rollback changed the running image" not in markdown


def test_sidecar_that_kept_its_image_does_not_fail_a_rollback_that_worked() -> None:
    code, api, _ = _diagnose_fixture("rollback-main-changed-sidecar-kept")
    assert code == 0
    assert api["verdict"] == CHANGED
    outcomes = {c["container"]: c["outcome"] for c in api["rollback"]["containers"]}
    assert outcomes == {"api": "changed", "proxy": "same"}
    answers = {a["question"]: a["answer"] for a in api["answers"]}
    assert answers["Deployment bug or untested rollback?"] == "deployment bug"
    # The proxy digest is one the replaced revision ran too: pin the API only.
    assert api["pin_command"] == f"kubectl -n shop set image deployment/shop-api api={REPO}@{GOOD}"
    assert PROXY not in api["pin_command"]


def test_restored_revision_without_a_ready_pod_while_the_broken_one_serves_is_not_done() -> None:
    code, api, markdown = _diagnose_fixture("rollback-not-rolled-out")
    assert code == 1
    assert api["verdict"] == NOT_ROLLED_OUT
    assert api["summary"] == (
        "ROLLBACK NOT DONE: revision 3 has no ready pod and the Deployment stopped waiting for "
        "one (Progressing=False, ProgressDeadlineExceeded); still serving: 3 pods of revision 2 "
        "(the revision rolled back from)"
    )
    assert "the rollback changed the running image" not in markdown
    assert "**The last rollback has not rolled out: the release it replaced still serves.**" in (
        markdown
    )
    answers = {a["question"]: (a["answer"], a["evidence"]) for a in api["answers"]}
    assert answers["Deployment bug or untested rollback?"][0] == "untested rollback"
    assert answers["Incompatible versions or rollback assumption?"][0] == "no evidence"
    # kubectl's bare back-off says nothing of why the pull failed: say so, and where to look.
    answer, evidence = answers["Infrastructure or procedure gap?"]
    assert answer == "not told by this state"
    assert "could not be reached" not in evidence
    assert "`kubectl -n shop describe pod shop-api-1a2b3c4d5-q1w2e`" in evidence
    assert "involvedObject.name=shop-api-1a2b3c4d5-q1w2e" in evidence
    assert BROKEN not in api["pin_command"]
    assert api["pin_command"].endswith("@<previous-digest>")


def test_not_rolled_out_pins_the_restored_digest_when_it_differs_from_the_broken_one(
    tmp_path: Path,
) -> None:
    # Both revisions name api:latest, but the restored pods pulled another image than the
    # one pod of the replaced revision still serving: that image is the one to pin.
    state = STATES["rollback-init-changed-main-kept"]()
    for item in state["items"]:
        if item["metadata"]["name"].startswith("shop-api-6c9d4f7a8-"):
            item["status"]["containerStatuses"][0]["imageID"] = f"{REPO}@{GOOD}"
    code, api = _diagnose_edited(tmp_path, state)
    assert code == 1
    assert api["verdict"] == NOT_ROLLED_OUT
    assert api["still_serving"] == "1 pod of revision 2 (the revision rolled back from)"
    assert api["pin_command"] == f"kubectl -n shop set image deployment/shop-api api={REPO}@{GOOD}"


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        (
            f'Back-off pulling image "{REPO}:2.2": ErrImagePull: failed to pull and unpack image '
            f'"{REPO}:2.2": failed to resolve reference "{REPO}:2.2": {REPO}:2.2: not found',
            "procedure gap",
        ),
        (
            f'failed to pull and unpack image "{REPO}:2.2": failed to authorize: failed to fetch '
            "oauth token: unexpected status: 401 Unauthorized",
            "infrastructure",
        ),
        (
            f'failed to pull and unpack image "{REPO}:2.2": failed to do request: Head '
            '"https://registry.example.com/v2/shop/api/manifests/2.2": dial tcp: lookup '
            "registry.example.com on 10.96.0.10:53: no such host",
            "infrastructure",
        ),
        (
            f'failed to pull and unpack image "{REPO}:2.2": dial tcp 10.20.0.7:443: i/o timeout',
            "infrastructure",
        ),
    ],
    ids=["not-found", "unauthorized", "no-such-host", "i/o-timeout"],
)
def test_pull_failure_of_the_restored_revision_is_judged_by_what_its_message_says(
    tmp_path: Path, message: str, answer: str
) -> None:
    state = STATES["rollback-not-rolled-out"]()
    restored_pod = next(i for i in state["items"] if i["metadata"]["name"].endswith("-q1w2e"))
    restored_pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = message
    code, api = _diagnose_edited(tmp_path, state)
    assert code == 1
    assert api["verdict"] == NOT_ROLLED_OUT
    answers = {a["question"]: (a["answer"], a["evidence"]) for a in api["answers"]}
    assert answers["Infrastructure or procedure gap?"][0] == answer
    assert message in answers["Infrastructure or procedure gap?"][1]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("rollback-restored-latest", 1),
        ("helm-rollback-latest", 1),
        ("rollback-init-changed-main-kept", 1),
        ("rollback-not-rolled-out", 1),
        ("rollback-pinned", 0),
        ("rollback-main-changed-sidecar-kept", 0),
        ("no-history", 0),
        ("paused", 0),
        # The restored revision's only pod cannot pull its image, and no other pod serves.
        ("artifact-gone", 1),
    ],
)
def test_cli_exit_code(tmp_path: Path, name: str, code: int) -> None:
    done = run_backout("diagnose", str(_state_file(tmp_path, name)))
    assert done.returncode == code, done.stderr
    assert done.stdout.startswith("# backout diagnose")


def test_cli_says_when_the_state_records_no_revision() -> None:
    # A Deployment without its revision annotation and no ReplicaSet: there is no number.
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "shop", "namespace": "default", "uid": "u1"},
        "spec": {
            "selector": {"matchLabels": {"app": "shop"}},
            "template": {
                "metadata": {"labels": {"app": "shop"}},
                "spec": {"containers": [{"name": "shop", "image": "shop:1.0"}]},
            },
        },
    }
    state = json.dumps({"kind": "List", "items": [deployment]})
    done = run_backout("diagnose", "-", stdin=state)
    assert done.returncode == 0, done.stderr
    assert "None" not in done.stdout
    assert "no rollback in this state; the running revision is not recorded;" in done.stdout
    assert "the running template is the only one in this state (its revision is not recorded)" in (
        done.stdout
    )


def test_cli_reads_stdin_and_writes_json(tmp_path: Path) -> None:
    text = render(STATES["rollback-restored-latest"]())
    done = run_backout("diagnose", "-", "--format", "json", stdin=text)
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["failed_rollback"] is True
    (workload,) = document["workloads"]
    assert workload["label"] == "deployment/shop-api"
    assert workload["verdict"] == FAILED


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"kind": "List", "items": [', "not kubectl JSON"),
        ("{}\n{oops", "invalid JSON"),
        ('{"kind": "List", "items": []}', "no Kubernetes objects"),
    ],
)
def test_cli_unreadable_state_is_one_line_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content, encoding="utf-8")
    done = run_backout("diagnose", str(path))
    assert done.returncode == 2
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_cli_missing_file_and_bad_format(tmp_path: Path) -> None:
    missing = run_backout("diagnose", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read state" in missing.stderr
    bad = run_backout("diagnose", str(_state_file(tmp_path, "paused")), "--format", "jsn")
    assert bad.returncode == 2 and "did you mean 'json'" in bad.stderr


def test_parse_state_rejects_garbage_with_state_error() -> None:
    with pytest.raises(StateError):
        parse_state("this is : not [ kubectl")


def test_a_state_without_pods_of_the_restored_revision_is_no_failed_rollback(
    tmp_path: Path,
) -> None:
    # Captured right after `kubectl rollout undo`: the restored ReplicaSet has no pod yet.
    # Nothing shows the rollback failing, so it is not "not rolled out" (exit 0, as before).
    state = json.loads(_state_file(tmp_path, "rollback-not-rolled-out").read_text())
    state["items"] = [
        item
        for item in state["items"]
        if not (item["kind"] == "Pod" and item["metadata"]["name"] == "shop-api-1a2b3c4d5-q1w2e")
    ]
    path = tmp_path / "no-restored-pods.json"
    path.write_text(json.dumps(state))
    done = run_backout("diagnose", str(path))
    assert done.returncode == 0, done.stdout
    assert "ROLLBACK NOT DONE" not in done.stdout


def test_a_rollback_between_revisions_pinned_to_one_digest_kept_the_image(
    tmp_path: Path,
) -> None:
    # Both revisions pin the same digest and differ in configuration only: the rollback was
    # not meant to change the image, and it did not.
    state = json.loads(_state_file(tmp_path, "rollback-pinned").read_text())
    pinned = "registry.example.com/shop/api@sha256:" + "c" * 64
    for item in state["items"]:
        spec = item.get("spec", {}).get("template", {}).get("spec")
        for container in (spec or {}).get("containers", []):
            container["image"] = pinned
        for status in item.get("status", {}).get("containerStatuses", []):
            status["image"] = pinned
            status["imageID"] = f"docker-pullable://{pinned}"
    path = tmp_path / "kept.json"
    path.write_text(json.dumps(state))
    (api,) = diagnose(parse_state(path.read_text())).workloads
    assert api.verdict == KEPT
    assert "kept the pinned image" in api.summary
    assert run_backout("diagnose", str(path)).returncode == 0


@pytest.mark.parametrize("document_format", ["markdown", "json"])
def test_an_image_with_a_password_is_masked(tmp_path: Path, document_format: str) -> None:
    """Found by review: diagnose printed a credential that `check` and `plan` mask. Images
    written with a user and password (`bob:pw@registry/…`) in every workload and pod."""
    recorded = (FIXTURES / "rollback-pinned.json").read_text(encoding="utf-8")
    path = tmp_path / "state.json"
    path.write_text(
        recorded.replace(
            '"registry.example.com/shop/', '"bob:Pa55w0rdZ@registry.example.com/shop/'
        ),
        encoding="utf-8",
    )
    done = run_backout("diagnose", str(path), "--format", document_format)
    assert (
        done.returncode
        == run_backout("diagnose", str(FIXTURES / "rollback-pinned.json")).returncode
    )
    assert "bob:***@registry.example.com/shop/" in done.stdout
    assert "Pa55w0rdZ" not in done.stdout
    if document_format == "json":
        json.loads(done.stdout)
