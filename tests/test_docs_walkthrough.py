"""The walkthroughs of the docs, run for real.

The "Pin against a local registry" walkthrough of examples/shop/README.md:
``examples/registry/push-demo-image.py`` is run as a user runs it, against the real
docker-registry of :mod:`tests.registry_fixture`; the images it pushes must resolve and pull
(manifest and layer), and ``backout pin --write`` on a copy of the shop's Deployment must pin
them, as the README shows.

And every output the README and the docs show for a ``backout`` command on the examples: each
line shown (``…`` stands for lines left out) must be a line the command prints today.
"""

from __future__ import annotations

import gzip
import io
import re
import shlex
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backout.registry.client import RegistryClient
from backout.registry.credentials import CredentialStore
from tests.conftest import run_backout
from tests.registry_fixture import OCI_MANIFEST, Registry, start_registry

ROOT = Path(__file__).resolve().parent.parent
PUSH_SCRIPT = ROOT / "examples" / "registry" / "push-demo-image.py"
SHOP_API = ROOT / "examples" / "shop" / "k8s" / "api.yaml"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def push(*references: str) -> subprocess.CompletedProcess[str]:
    """Run the demo script as the README does."""
    return subprocess.run(
        [sys.executable, str(PUSH_SCRIPT), *references],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def pushed_digests(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The ``REF DIGEST`` lines the script prints, as a mapping."""
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ") for line in done.stdout.splitlines())


@pytest.mark.registry
def test_pushed_image_resolves_and_pulls(registry: Registry) -> None:
    api = f"{registry.host}/shop/api:2.4"
    other = f"{registry.host}/shop/api:2.3"
    digests = pushed_digests(push(api, other))
    assert set(digests) == {api, other}
    assert digests[api] != digests[other], "each tag should get its own image"

    with RegistryClient([registry.host], CredentialStore()) as client:
        info = client.head_manifest(registry.host, "shop/api", "2.4")
        assert info is not None, "the pushed tag does not resolve"
        assert info.digest == digests[api]
        assert info.media_type == OCI_MANIFEST
        manifest = client.get_manifest(registry.host, "shop/api", digests[api])
        assert manifest is not None
        (layer,) = manifest.json()["layers"]

    blob = httpx.get(f"{registry.url}/v2/shop/api/blobs/{layer['digest']}", timeout=30)
    assert blob.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob.content))) as tar:
        member = tar.extractfile("app/VERSION")
        assert member is not None
        assert member.read().decode() == f"{api}\n"


@pytest.mark.registry
def test_readme_walkthrough_pins_a_copy_of_the_shop_deployment(
    registry: Registry, tmp_path: Path
) -> None:
    host = registry.host
    api, busybox = f"{host}/shop/api:2.4", f"{host}/library/busybox:1.36"
    digests = pushed_digests(push(api, busybox))
    committed = SHOP_API.read_bytes()
    copy = tmp_path / "shop-pin" / "k8s" / "api.yaml"
    copy.parent.mkdir(parents=True)
    # The README's sed: point the Deployment's two images at the local registry.
    copy.write_text(
        committed.decode()
        .replace("registry.example.com/shop/api:latest", api)
        .replace("busybox:1.36", busybox)
    )
    root = copy.parent.parent

    checked = run_backout("pin", "--check", "--insecure-registry", host, str(root))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"k8s/api.yaml:26:18: would pin {api} -> {api}@{digests[api]}" in checked.stdout

    written = run_backout("pin", "--write", "--insecure-registry", host, str(root))
    assert written.returncode == 0, written.stdout + written.stderr
    lines = copy.read_text().splitlines()
    assert lines[21] == f"          image: {busybox}@{digests[busybox]}"
    assert lines[25] == f"          image: {api}@{digests[api]}"
    assert '"written": true' in (root / "backout.lock").read_text()
    assert SHOP_API.read_bytes() == committed, "the committed example was rewritten"

    again = run_backout("pin", "--check", "--insecure-registry", host, str(root))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 already pinned, 0 would pin, 0 problem(s)" in again.stderr


def test_bad_reference_is_one_line_not_a_traceback() -> None:
    done = push("no-repository-here")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "push-demo-image: expected HOST:PORT/REPOSITORY:TAG, got 'no-repository-here'"
    ]


SHOWING_OUTPUT = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHOWING_OUTPUT += sorted((ROOT / "examples").glob("*/README.md"))
# Commands shown on a git history of the example, run on its two directories instead, from
# the example's directory (as the doc's command runs from its repository): paths are printed
# relative to the current directory.
SHOP_DRILL = "backout drill . --base ../shop-previous"
RUN_AS = {"backout drill --base v2.3": SHOP_DRILL}
RUN_IN = {SHOP_DRILL: ROOT / "examples" / "shop"}
# Every registry out of reach, with or without a network: `pin` stops at the first it asks.
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
_FENCE = re.compile(r"^```(?:console|text)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _shown_runs() -> list[tuple[str, str, list[str]]]:
    """``(doc, command, lines shown)`` for each block that shows one ``backout`` command and
    what it printed, runnable from the repository root (no placeholders, no ``$work``)."""
    runs = []
    for doc in SHOWING_OUTPUT:
        for block in _FENCE.findall(doc.read_text(encoding="utf-8")):
            first, *shown = block.splitlines()
            command = RUN_AS.get(first[2:], first[2:])
            if not first.startswith("$ backout ") or any(line.startswith("$ ") for line in shown):
                continue
            if not shown or "$" in command or "[" in command:
                continue
            runs.append((doc.relative_to(ROOT).as_posix(), command, shown))
    return runs


@pytest.mark.parametrize(("doc", "command", "shown"), _shown_runs())
def test_shown_output_is_what_the_command_prints(doc: str, command: str, shown: list[str]) -> None:
    done = run_backout(*shlex.split(command)[1:], cwd=RUN_IN.get(command, ROOT), env=OFFLINE)
    printed = done.stdout.splitlines() + done.stderr.splitlines()
    drifted = [line for line in shown if line != "…" and line not in printed]
    assert not drifted, f"{doc}: `{command}` no longer prints:\n" + "\n".join(drifted)


def test_the_docs_show_the_example_commands() -> None:
    shown = {(doc, command) for doc, command, _ in _shown_runs()}
    drill = "backout drill examples/shop --base examples/shop-previous"
    assert {
        ("docs/index.md", drill),
        ("docs/drill.md", SHOP_DRILL),
        ("README.md", "backout check examples/shop --base examples/shop-previous"),
    } <= shown
    assert ("docs/index.md", "backout pin --check examples/shop") in shown
