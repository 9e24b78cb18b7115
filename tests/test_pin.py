"""``backout pin`` end to end: the installed command against a real docker-registry."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backout.config import Config
from backout.pin import PinError, plan, update_lock, write_pins
from backout.registry.client import RegistryClient
from backout.registry.credentials import CredentialStore
from backout.sources.lockfile import parse_lock
from tests.conftest import run_backout
from tests.registry_fixture import Registry, start_registry

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop   # the storefront
spec:
  template:
    spec:
      containers:
      - name: api
        image: "{api}"   # keep the quotes
      - name: web
        image: {web}
"""

COMPOSE = "services:\n  worker:\n    image: '{worker}'  # batch jobs\n"


def make_release(root: Path, host: str, api: str, web: str, worker: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "deploy.yaml").write_text(
        DEPLOYMENT.format(api=f"{host}/{api}", web=f"{host}/{web}"), encoding="utf-8"
    )
    (root / "docker-compose.yml").write_text(
        COMPOSE.format(worker=f"{host}/{worker}"), encoding="utf-8"
    )


def pin(root: Path, registry: Registry, *flags: str) -> tuple[int, str, str]:
    done = run_backout("pin", str(root), "--insecure-registry", registry.host, *flags)
    return done.returncode, done.stdout, done.stderr


def test_write_pins_in_place_keeping_every_other_byte(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    api = pusher.image("pin/api", "1.0", "1.0")
    web, _ = pusher.multi_arch("pin/web", "2.0", "2.0")
    worker = pusher.image("pin/worker", "latest", "w1", docker_media_types=True)
    root = tmp_path / "release"
    make_release(root, registry.host, "pin/api:1.0", "pin/web:2.0", "pin/worker")
    # CRLF line endings must survive the rewrite too.
    compose = root / "docker-compose.yml"
    compose.write_bytes(compose.read_bytes().replace(b"\n", b"\r\n"))
    before = {p.name: p.read_bytes() for p in root.iterdir()}

    code, out, err = pin(root, registry)
    assert code == 0, err
    assert out.count("would pin") == 3
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before, "dry run wrote files"
    assert pin(root, registry, "--check")[0] == 1

    code, out, err = pin(root, registry, "--write")
    assert code == 0, err
    host = registry.host
    expected_deploy = DEPLOYMENT.format(
        api=f"{host}/pin/api:1.0@{api.digest}", web=f"{host}/pin/web:2.0@{web.digest}"
    )
    assert (root / "deploy.yaml").read_text() == expected_deploy
    expected_compose = COMPOSE.format(worker=f"{host}/pin/worker@{worker.digest}")
    assert compose.read_bytes() == expected_compose.encode().replace(b"\n", b"\r\n")

    lock = parse_lock((root / "backout.lock").read_text())
    by_reference = {entry.reference: entry for entry in lock}
    assert by_reference[f"{host}/pin/web:2.0"].digest == web.digest  # the index, not a child
    assert by_reference[f"{host}/pin/web:2.0"].media_type.endswith("image.index.v1+json")
    assert by_reference[f"{host}/pin/api:1.0"].repository == "pin/api"
    assert all(entry.written for entry in lock)

    code, out, err = pin(root, registry, "--check")
    assert code == 0, out + err
    assert "3 already pinned, 0 would pin, 0 problem(s)" in err


def test_check_fails_when_a_pinned_digest_is_gone(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    api = pusher.image("gone/api", "1.0", "1.0")
    web = pusher.image("gone/web", "1.0", "1.0")
    worker = pusher.image("gone/worker", "1.0", "1.0")
    root = tmp_path / "release"
    make_release(
        root,
        registry.host,
        f"gone/api:1.0@{api.digest}",
        f"gone/web@{web.digest}",
        f"gone/worker:1.0@{worker.digest}",
    )
    assert pin(root, registry, "--check")[0] == 0
    pusher.delete("gone/web", web.digest)
    code, out, _ = pin(root, registry, "--check")
    assert code == 1
    assert f"deploy.yaml:12:16: {registry.host}/gone/web@{web.digest}" in out
    assert "pinned digest no longer exists" in out


def test_unknown_tag_is_a_problem_not_a_crash(registry: Registry, tmp_path: Path) -> None:
    registry.pusher().image("missing/api", "1.0", "1.0")
    root = tmp_path / "release"
    make_release(root, registry.host, "missing/api:1.0", "missing/nope:9", "missing/api:1.0")
    code, out, _ = pin(root, registry, "--write")
    assert code == 1
    assert "tag 9 not found" in out
    # What could be pinned was pinned; the unknown tag stays as written.
    assert "missing/nope:9\n" in (root / "deploy.yaml").read_text()
    assert "@sha256:" in (root / "docker-compose.yml").read_text()


def test_unreachable_registry_is_exit_2_with_one_line(tmp_path: Path) -> None:
    root = tmp_path / "release"
    make_release(root, "127.0.0.1:9", "a/api:1", "a/web:1", "a/worker:1")
    done = run_backout("pin", str(root), "--insecure-registry", "127.0.0.1:9")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot reach 127.0.0.1:9" in done.stderr


def test_plain_http_registry_without_insecure_flag_says_so(
    registry: Registry, tmp_path: Path
) -> None:
    registry.pusher().image("tls/api", "1.0", "1.0")
    root = tmp_path / "release"
    make_release(root, registry.host, "tls/api:1.0", "tls/api:1.0", "tls/api:1.0")
    done = run_backout("pin", str(root), "--check")
    assert done.returncode == 2
    # The registry answered (plain HTTP to a TLS hello): not "cannot reach".
    assert done.stderr.strip() == (
        f"backout: error: {registry.host} does not speak HTTPS; if it is a plain-HTTP "
        f"registry, pass --insecure-registry {registry.host}"
    )


def test_check_and_write_together_is_a_usage_error(tmp_path: Path) -> None:
    done = run_backout("pin", str(tmp_path), "--check", "--write")
    assert done.returncode == 2 and "--check only reports" in done.stderr


def test_a_file_changed_since_reading_is_not_overwritten(
    registry: Registry, tmp_path: Path
) -> None:
    registry.pusher().image("race/api", "1.0", "1.0")
    root = tmp_path / "release"
    make_release(root, registry.host, "race/api:1.0", "race/api:1.0", "race/api:1.0")
    config = Config(root=root, insecure_registries=(registry.host,))
    with RegistryClient(config.insecure_registries, CredentialStore()) as client:
        pin_plan = plan(root, config, client)
    edited = (root / "deploy.yaml").read_text() + "# edited by someone else\n"
    (root / "deploy.yaml").write_text(edited)
    with pytest.raises(PinError, match="changed since it was read"):
        write_pins(pin_plan)
    assert (root / "deploy.yaml").read_text() == edited
    assert not list(root.glob(".*.tmp")), "a temp file was left behind"


def test_lock_keeps_a_history_per_repository(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    root = tmp_path / "release"
    make_release(root, registry.host, "hist/api:stable", "hist/web:1", "hist/web:1")
    pusher.image("hist/web", "1", "1")
    config = Config(root=root, insecure_registries=(registry.host,), keep_releases=2)
    lock = root / "backout.lock"
    digests = []
    for day in range(3):
        digests.append(pusher.image("hist/api", "stable", f"build-{day}").digest)
        with RegistryClient(config.insecure_registries, CredentialStore()) as client:
            pin_plan = plan(root, config, client)
        when = dt.datetime(2024, 5, 1 + day, tzinfo=dt.timezone.utc)
        update_lock(lock, pin_plan, config.keep_releases, written=False, now=when)
    entries = parse_lock(lock.read_text())
    api = [e for e in entries if e.repository == "hist/api"]
    # Newest first, trimmed to keep-releases; the unchanged web image is recorded once.
    assert [e.digest for e in api] == [digests[2], digests[1]]
    assert [e.resolved_at for e in api] == ["2024-05-03T00:00:00Z", "2024-05-02T00:00:00Z"]
    assert len([e for e in entries if e.repository == "hist/web"]) == 1
    assert not any(e.written for e in entries)
    assert json.loads(lock.read_text())["version"] == 1


def test_a_broken_lock_is_reported_not_crashed_on(tmp_path: Path) -> None:
    root = tmp_path / "release"
    root.mkdir()
    (root / "backout.lock").write_text('{"version": 1, "images": [{"reference": "a"}]}\n')
    done = run_backout("check", str(root), "--select", "BK901", "--format", "concise")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backout.lock:1: BK901")
    assert "entry 1 lacks one of reference, digest" in done.stdout
    refused = run_backout("pin", str(root), "--lock", str(root / "backout.lock"))
    assert refused.returncode == 2 and "fix or delete it" in refused.stderr


def test_block_scalar_is_a_problem_and_the_rest_is_still_pinned(
    registry: Registry, tmp_path: Path
) -> None:
    api = registry.pusher().image("block/api", "1.0", "1.0")
    root = tmp_path / "release"
    make_release(root, registry.host, "block/api:1.0", "block/api:1.0", "block/api:1.0")
    deploy = root / "deploy.yaml"
    folded = deploy.read_text().replace(
        f"image: {registry.host}/block/api:1.0\n",
        f"image: >-\n          {registry.host}/block/api:1.0\n",
    )
    deploy.write_text(folded)
    code, out, err = pin(root, registry, "--write")
    # Not "the file changed since it was read": the folded value is left for the user.
    assert code == 1, err
    assert "written as a YAML block scalar" in out
    assert f'image: "{registry.host}/block/api:1.0@{api.digest}"' in deploy.read_text()
    assert f">-\n          {registry.host}/block/api:1.0\n" in deploy.read_text()


def test_a_symlinked_manifest_is_written_through_once(registry: Registry, tmp_path: Path) -> None:
    api = registry.pusher().image("link/api", "1.0", "1.0")
    root = tmp_path / "release"
    make_release(root, registry.host, "link/api:1.0", "link/api:1.0", "link/api:1.0")
    real = root / "real"
    real.mkdir()
    (root / "deploy.yaml").rename(real / "deploy.yaml")
    (root / "deploy.yaml").symlink_to("real/deploy.yaml")
    code, out, err = pin(root, registry, "--write")
    assert code == 0, out + err
    assert (root / "deploy.yaml").is_symlink(), "the link was replaced by a copy"
    assert (real / "deploy.yaml").read_text().count(f"link/api:1.0@{api.digest}") == 2


ANCHORED_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: api
          image: &apiimg "{api}"   # anchored, quoted
        - name: sidecar
          image: *apiimg
"""

ANCHORED_COMPOSE = """\
x-img: &img {web}
services:
  web:
    image: *img
  admin:
    image: *img
"""


def test_an_anchored_value_is_pinned_once_for_every_alias(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    api = pusher.image("anchor/api", "2.4", "2.4")
    web = pusher.image("anchor/web", "1.0", "1.0")
    host = registry.host
    root = tmp_path / "release"
    root.mkdir()
    deploy = root / "deploy.yaml"
    deploy.write_text(ANCHORED_DEPLOYMENT.format(api=f"{host}/anchor/api:2.4"))
    compose = root / "docker-compose.yml"
    compose.write_text(ANCHORED_COMPOSE.format(web=f"{host}/anchor/web:1.0"))

    code, out, err = pin(root, registry)
    assert code == 0, out + err
    # At the value, not at the `&`.
    assert f"deploy.yaml:10:26: would pin {host}/anchor/api:2.4 " in out
    assert f"docker-compose.yml:1:13: would pin {host}/anchor/web:1.0 " in out

    code, out, err = pin(root, registry, "--write")
    assert code == 0, out + err
    assert deploy.read_text() == ANCHORED_DEPLOYMENT.format(
        api=f"{host}/anchor/api:2.4@{api.digest}"
    )
    assert compose.read_text() == ANCHORED_COMPOSE.format(web=f"{host}/anchor/web:1.0@{web.digest}")


def test_paths_are_relative_to_the_current_directory_as_in_check(
    registry: Registry, tmp_path: Path
) -> None:
    """``backout pin deploy`` from the repository root names ``deploy/deploy.yaml``, as
    ``backout check deploy`` does (it named ``deploy.yaml``, relative to its target)."""
    pusher = registry.pusher()
    pusher.image("cwd/api", "1.0", "1.0")
    root = tmp_path / "deploy"
    make_release(root, registry.host, "cwd/api:1.0", "cwd/nope:9", "cwd/api:1.0")
    for flags in (("--check",), ("--write",)):
        done = run_backout(
            "pin", "deploy", "--insecure-registry", registry.host, *flags, cwd=tmp_path
        )
        assert done.returncode == 1, done.stderr
        lines = done.stdout.splitlines()
        assert lines and all(line.startswith("deploy/") for line in lines), lines
        assert any(line.startswith("deploy/deploy.yaml:12:16: ") for line in lines), lines
    check = run_backout("check", "deploy", "--format", "concise", cwd=tmp_path).stdout
    assert "deploy/deploy.yaml:12:16: BK101" in check
    # Inside the target, as before.
    inside = run_backout("pin", ".", "--insecure-registry", registry.host, cwd=root).stdout
    assert inside.startswith("deploy.yaml:")


def test_an_image_built_from_more_than_its_values_is_a_problem_without_asking_a_registry(
    tmp_path: Path,
) -> None:
    # microservices-demo: the tag of `images` feeds every service's image, and the values'
    # repository alone names none of them: no registry is asked, nothing is written.
    case = Path(__file__).parent / "fixtures" / "rules" / "BK101" / "fail"
    root = tmp_path / "repo"
    shutil.copytree(case / "helm_image_built_from_more_than_its_values", root)
    before = (root / "chart" / "values.yaml").read_bytes()
    done = run_backout("pin", str(root), "--write")
    assert done.returncode == 1, done.stderr
    assert "cannot reach" not in done.stderr
    assert (
        "chart/values.yaml:3:15: us-central1-docker.pkg.dev/google-samples/microservices-demo"
        "/<.Values.cartService.name>:v0.4.2: not pinned: chart/templates/cartservice.yaml:16:16 "
        "builds the image from more than `images`"
    ) in done.stdout
    assert (root / "chart" / "values.yaml").read_bytes() == before


def test_a_tag_set_in_the_env_file_is_resolved_but_not_written(
    registry: Registry, tmp_path: Path
) -> None:
    """compose runs ``TAG`` from the ``.env`` beside the compose file: pin resolves that
    image, and leaves the compose file alone (a digest in the default would pin ``1.0``)."""
    pusher = registry.pusher()
    pusher.image("env/api", "1.0", "1.0")
    two = pusher.image("env/api", "2.0", "2.0")
    host = registry.host
    root = tmp_path / "release"
    root.mkdir()
    compose = root / "docker-compose.yml"
    compose.write_text(f"services:\n  api:\n    image: {host}/env/api:${{TAG:-1.0}}\n")
    (root / ".env").write_text("TAG=2.0\n")
    before = compose.read_bytes()
    code, out, _ = pin(root, registry, "--write")
    assert code == 1
    assert (
        f"docker-compose.yml:3:12: {host}/env/api:${{TAG:-1.0}}: resolves to {two.digest} but "
        "TAG is set in .env, which pin does not rewrite; pin it by hand"
    ) in out
    assert compose.read_bytes() == before


def test_an_image_built_from_more_whose_tag_holds_a_digest_is_pinned(tmp_path: Path) -> None:
    # microservices-demo with the digest written in the shared tag: every service's image
    # runs by it. Which repository holds it cannot be told, so no registry is asked.
    case = Path(__file__).parent / "fixtures" / "rules" / "BK101" / "fail"
    root = tmp_path / "repo"
    shutil.copytree(case / "helm_image_built_from_more_than_its_values", root)
    values = root / "chart" / "values.yaml"
    digest = "sha256:" + "0123456789" * 6 + "0123"
    values.write_text(values.read_text().replace('tag: ""', f'tag: "v0.4.2@{digest}"'))
    done = run_backout("pin", str(root), "--check", "--insecure-registry", "127.0.0.1:9")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 already pinned, 0 would pin, 0 problem(s)" in done.stderr


def test_an_image_rendered_from_chart_values_is_resolved_but_not_written(
    registry: Registry, tmp_path: Path
) -> None:
    """istio's `{{ .Values.hub }}/app:{{ .Values.tag }}`: pin resolves the image the chart's
    values render, and writes nothing (a digest in `tag` would go to every image it tags)."""
    pushed = registry.pusher().image("istio/app", "latest", "latest")
    root = tmp_path / "chart"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    values = root / "values.yaml"
    values.write_text(f"hub: {registry.host}/istio\ntag: latest\n")
    (root / "templates" / "deployment.yaml").write_text(
        "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
        '        - name: app\n          image: "{{ .Values.hub }}/app:{{ .Values.tag }}"\n'
    )
    before = values.read_bytes()
    code, out, _ = pin(root, registry, "--write")
    assert code == 1
    assert (
        f"values.yaml:2:6: {registry.host}/istio/app:latest: resolves to {pushed.digest} but "
        "templates/deployment.yaml:7:18 builds the image from several values"
    ) in out
    assert values.read_bytes() == before
