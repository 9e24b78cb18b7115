"""``check --online``: BK303 and BK304 against a real docker-registry, through the CLI.

These are the fail/pass fixtures of the two online rules (exempt from the offline fixture
driver): each case pushes the images, moves tags or deletes manifests as a pipeline or a
lifecycle rule would, then runs the installed ``backout``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_backout
from tests.registry_fixture import Registry, start_registry

pytestmark = pytest.mark.registry

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
      - name: api
        image: {image}
"""
# Where the image value starts in DEPLOYMENT.
IMAGE_AT = "deploy.yaml:10:16"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def release(root: Path, image: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "deploy.yaml").write_text(DEPLOYMENT.format(image=image), encoding="utf-8")
    return root


def online(
    root: Path, registry: Registry, *flags: str, cwd: Path | None = None
) -> tuple[int, list[str], str]:
    done = run_backout(
        "check",
        str(root),
        "--online",
        "--insecure-registry",
        registry.host,
        "--select",
        "BK303,BK304",
        "--output-format",
        "concise",
        *flags,
        cwd=cwd,
    )
    return done.returncode, done.stdout.splitlines(), done.stderr


def test_bk303_previous_release_deleted_from_registry(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    previous = pusher.image("bk303/api", "1.0", "1.0")
    current = pusher.image("bk303/api", "1.1", "1.1")
    host = registry.host
    base = release(tmp_path / "base", f"{host}/bk303/api:1.0@{previous.digest}")
    head = release(tmp_path / "head", f"{host}/bk303/api:1.1@{current.digest}")

    code, lines, err = online(head, registry, "--base", str(base))
    assert code == 0, [*lines, err]
    assert lines == []

    # A lifecycle rule expires the previous image.
    pusher.delete("bk303/api", previous.digest)
    code, lines, err = online(head, registry, "--base", str(base))
    assert code == 1, err
    assert len(lines) == 1
    assert lines[0].startswith(f"{IMAGE_AT}: BK303 [error]")
    assert f"{host}/bk303/api:1.0@{previous.digest}" in lines[0]
    assert "manifest unknown" in lines[0]


def test_bk304_previous_tag_moved_to_this_release(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    pusher.image("bk304/api", "stable", "1.0")
    new = pusher.image("bk304/api", "2.0", "2.0")
    host = registry.host
    base = release(tmp_path / "base", f"{host}/bk304/api:stable")
    head = release(tmp_path / "head", f"{host}/bk304/api:2.0")

    code, lines, err = online(head, registry, "--base", str(base))
    assert (code, lines) == (0, []), err

    # The pipeline promotes the new build: `stable` now names 2.0's image.
    pusher.manifest(
        "bk304/api",
        "stable",
        _manifest_bytes(registry, "bk304/api", new.digest),
        new.media_type,
    )
    code, lines, err = online(head, registry, "--base", str(base))
    assert code == 1, err
    assert len(lines) == 1
    assert lines[0].startswith(f"{IMAGE_AT}: BK304 [error]")
    assert f"{host}/bk304/api:stable" in lines[0] and new.digest in lines[0]


def test_same_pinned_image_in_both_releases_is_not_bk304(
    registry: Registry, tmp_path: Path
) -> None:
    image = registry.pusher().image("same/api", "1.0", "1.0")
    reference = f"{registry.host}/same/api:1.0@{image.digest}"
    base = release(tmp_path / "base", reference)
    head = release(tmp_path / "head", reference)
    code, lines, err = online(head, registry, "--base", str(base))
    assert (code, lines) == (0, []), err


def test_pinning_the_unchanged_tag_is_not_bk304(registry: Registry, tmp_path: Path) -> None:
    """The previous release ran `api:2.4`; this one runs the same tag pinned as `backout pin
    --write` writes it. The tag has not moved: a rollback restores the same image because the
    release never changed it."""
    image = registry.pusher().image("pinned/api", "2.4", "2.4")
    host = registry.host
    base = release(tmp_path / "base", f"{host}/pinned/api:2.4")
    head = release(tmp_path / "head", f"{host}/pinned/api:2.4@{image.digest}")
    code, lines, err = online(head, registry, "--base", str(base))
    assert (code, lines) == (0, []), err


def test_lock_history_finds_a_moved_latest_tag(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    host = registry.host
    head = release(tmp_path / "repo", f"{host}/locked/api:latest")
    pusher.image("locked/api", "latest", "release-1")
    record = ("pin", str(head), "--insecure-registry", host, "--lock", str(head / "backout.lock"))
    # Release 1 is recorded in the lock; the manifest keeps the tag.
    assert run_backout(*record).returncode == 0
    code, lines, err = online(head, registry)
    assert (code, lines) == (0, []), err

    # The pipeline pushes release 2 under the same tag: undo would restore `latest` = release 2.
    pusher.image("locked/api", "latest", "release-2")
    for _ in range(2):  # before and after release 2 is recorded too
        code, lines, err = online(head, registry)
        assert code == 1, err
        assert len(lines) == 1 and lines[0].startswith(f"{IMAGE_AT}: BK304")
        assert "the previous release ran sha256:" in lines[0]
        assert "backout.lock" in lines[0]
        assert run_backout(*record).returncode == 0


def test_lock_history_finds_a_deleted_previous_digest(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    host = registry.host
    first = pusher.image("history/api", "1.0", "1.0")
    pusher.image("history/api", "1.1", "1.1")
    repo = release(tmp_path / "repo", f"{host}/history/api:1.0")
    pin = ("pin", str(repo), "--insecure-registry", host, "--write")
    assert run_backout(*pin).returncode == 0
    release(repo, f"{host}/history/api:1.1")
    assert run_backout(*pin).returncode == 0

    code, lines, err = online(repo, registry)
    assert (code, lines) == (0, []), err
    pusher.delete("history/api", first.digest)
    code, lines, err = online(repo, registry)
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith(f"{IMAGE_AT}: BK303")
    assert f"history/api:1.0@{first.digest}" in lines[0]


def test_bk303_an_image_the_release_removes_is_still_a_rollback_target(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    host = registry.host
    api = pusher.image("removed/api", "1.0", "api")
    worker = pusher.image("removed/worker", "1.0", "worker")
    base = release(tmp_path / "base", f"{host}/removed/api:1.0@{api.digest}")
    # The previous release also ran a worker container; this release drops it.
    with (base / "deploy.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"      - name: worker\n        image: {host}/removed/worker:1.0\n")
    head = release(tmp_path / "head", f"{host}/removed/api:1.0@{api.digest}")

    code, lines, err = online(head, registry, "--base", str(base))
    assert (code, lines) == (0, []), err

    # Rolling back brings the worker back: its image must still exist.
    pusher.delete("removed/worker", worker.digest)
    code, lines, err = online(head, registry, "--base", str(base))
    assert code == 1, err
    assert len(lines) == 1
    assert lines[0].startswith("deploy.yaml:12:16: BK303 [error]")
    assert "this release removes Deployment/shop container worker" in lines[0]
    assert f"{host}/removed/worker:1.0 from --base {base}" in lines[0]


def test_offline_check_never_reports_online_rules(registry: Registry, tmp_path: Path) -> None:
    base = release(tmp_path / "base", f"{registry.host}/offline/api:1.0@sha256:{'0' * 64}")
    head = release(tmp_path / "head", f"{registry.host}/offline/api:2.0@sha256:{'1' * 64}")
    done = run_backout(
        "check", str(head), "--base", str(base), "--select", "BK303,BK304", "--format", "concise"
    )
    assert done.returncode == 0 and done.stdout == ""
    code, lines, _ = online(head, registry, "--base", str(base))
    assert code == 1 and lines[0].startswith(f"{IMAGE_AT}: BK303")


def test_unreachable_registry_is_exit_2(tmp_path: Path) -> None:
    head = release(tmp_path / "head", "127.0.0.1:9/app/api:1.0")
    base = release(tmp_path / "base", "127.0.0.1:9/app/api:0.9")
    done = run_backout(
        "check", str(head), "--online", "--base", str(base), "--insecure-registry", "127.0.0.1:9"
    )
    assert done.returncode == 2
    assert "--online: cannot reach 127.0.0.1:9" in done.stderr


def _manifest_bytes(registry: Registry, repository: str, digest: str) -> bytes:
    response = httpx.get(
        f"{registry.url}/v2/{repository}/manifests/{digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert response.status_code == 200
    return response.content


BUILT_TEMPLATE = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cartservice\nspec:\n"
    "  template:\n    spec:\n      containers:\n      - name: server\n"
    "        image: {{{{ .Values.{key}.repository }}}}/{{{{ .Values.cartService.name }}}}"
    ":{{{{ .Values.{key}.tag }}}}\n"
)


def chart_release(root: Path, key: str, repository: str, tag: str) -> Path:
    """microservices-demo's chart: one mapping of values (``images`` there) from which each
    service's template builds its image with the service's name."""
    (root / "chart" / "templates").mkdir(parents=True, exist_ok=True)
    (root / "chart" / "Chart.yaml").write_text(
        "apiVersion: v2\nname: onlineboutique\nversion: 0.4.2\n", encoding="utf-8"
    )
    (root / "chart" / "templates" / "cartservice.yaml").write_text(
        BUILT_TEMPLATE.format(key=key), encoding="utf-8"
    )
    (root / "chart" / "values.yaml").write_text(
        f'{key}:\n  repository: {repository}\n  tag: "{tag}"\n\n'
        "cartService:\n  name: cartservice\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize("key", ["image", "images"])
def test_an_image_a_template_builds_from_more_than_its_values_is_not_asked_about(
    registry: Registry, tmp_path: Path, key: str
) -> None:
    # The images that run are demo/cartservice:1.0 and :1.1; `demo:1.0`, what the mapping
    # reads as alone, names nothing. Asking about it gave a BK303 error (`image`); the online
    # checks must say that they did not check this image (`images` was left out silently).
    pusher = registry.pusher()
    pusher.image("demo/cartservice", "1.0", "1.0")
    pusher.image("demo/cartservice", "1.1", "1.1")
    base = chart_release(tmp_path / "base", key, f"{registry.host}/demo", "1.0")
    head = chart_release(tmp_path / "head", key, f"{registry.host}/demo", "1.1")

    code, lines, err = online(head, registry, "--base", str(base))
    assert (code, lines) == (0, []), [*lines, err]
    assert (
        "check --online: warning: not checked: chart/values.yaml:3:8: "
        "chart/templates/cartservice.yaml:10:16 builds the image from more than "
        f"`{key}` ({registry.host}/demo/<.Values.cartService.name>:1.1), so no reference in "
        "the repository names it\n"
    ) in err, err


def test_an_image_a_variable_without_default_decides_is_named_as_not_checked(
    registry: Registry, tmp_path: Path
) -> None:
    head = tmp_path / "head"
    head.mkdir()
    (head / "compose.yaml").write_text(
        "services:\n  api:\n    image: ${API_IMAGE}\n  web:\n"
        f"    image: {registry.host}/gap/web:1.0\n",
        encoding="utf-8",
    )
    # A manifest's placeholder that envsubst fills in at deploy was skipped without a word.
    (head / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n"
        "  template:\n    spec:\n      containers:\n"
        "      - name: api\n        image: ${SIDECAR_IMAGE}\n",
        encoding="utf-8",
    )
    registry.pusher().image("gap/web", "1.0", "1.0")
    # Run from above the release: the paths are shown as the report shows them.
    code, lines, err = online(Path("head"), registry, cwd=tmp_path)
    assert (code, lines) == (0, []), err
    gaps = [line for line in err.splitlines() if "not checked" in line]
    assert gaps == [
        "check --online: warning: not checked: head/compose.yaml:3:12: the image is set "
        "entirely by ${API_IMAGE}, which has no value in the repository",
        "check --online: warning: not checked: head/deploy.yaml:10:16: `${SIDECAR_IMAGE}` is "
        "filled in at deploy (no valid image reference as written)",
    ]


CLOUDFORMATION = """\
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: api
          Image: {image}
        - Name: worker
          Image: !Sub "${{Repo.RepositoryUri}}:latest"
"""


def test_ecs_cloudformation_images_are_asked_about(registry: Registry, tmp_path: Path) -> None:
    """A template's literal image is a rollback target like a manifest's; one whose repository
    only the stack knows is named as not checked."""
    pusher = registry.pusher()
    previous = pusher.image("cfn303/api", "1.0", "1.0")
    current = pusher.image("cfn303/api", "1.1", "1.1")
    host = registry.host
    for name, tag, image in (("base", "1.0", previous), ("head", "1.1", current)):
        (tmp_path / name).mkdir()
        pinned = f"{host}/cfn303/api:{tag}@{image.digest}"
        (tmp_path / name / "stack.yaml").write_text(CLOUDFORMATION.format(image=pinned))
    pusher.delete("cfn303/api", previous.digest)

    code, lines, err = online(Path("head"), registry, "--base", "base", cwd=tmp_path)
    assert code == 1, err
    assert len(lines) == 1
    assert lines[0].startswith("head/stack.yaml:7:18: BK303 [error]")
    assert f"{host}/cfn303/api:1.0@{previous.digest}" in lines[0]
    gaps = [line for line in err.splitlines() if "not checked" in line]
    assert gaps == [
        "check --online: warning: not checked: head/stack.yaml:9:23: the image "
        "`${Repo.RepositoryUri}:latest` depends on ${Repo.RepositoryUri}, which has no value "
        "in the repository"
    ]
