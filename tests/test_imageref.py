"""The image reference grammar: the cases peers get wrong, and registry normalisation."""

from __future__ import annotations

import pytest

from backout.imageref import is_pinning_digest, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", None, "nginx", None, None),
        ("nginx:1.25", None, "nginx", "1.25", None),
        ("registry:5000/app", "registry:5000", "app", None, None),
        ("registry:5000/app:2.0", "registry:5000", "app", "2.0", None),
        ("localhost/app", "localhost", "app", None, None),
        ("ghcr.io/acme/shop:v1.4.0", "ghcr.io", "acme/shop", "v1.4.0", None),
        (f"shop:1.4@{DIGEST}", None, "shop", "1.4", DIGEST),
        (f"registry:5000/app@{DIGEST}", "registry:5000", "app", None, DIGEST),
        ("[::1]:5000/app:x", "[::1]:5000", "app", "x", None),
        ("acme/shop_api__v2:1", None, "acme/shop_api__v2", "1", None),
        ("Registry.Example/app", "Registry.Example", "app", None, None),
        ("shop@sha256:abc", None, "shop", None, "sha256:abc"),
    ],
)
def test_parses_the_grammar(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert ref is not None
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.raw == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Shop:1",  # upper case in a repository path
        "shop:",  # empty tag
        "shop:-bad",  # a tag cannot start with '-'
        "shop:" + "x" * 129,  # tag longer than 128
        "shop app",
        "shop@",
        "shop@@sha256:" + "a" * 64,
        "-shop",
        "acme//shop",
        "${IMAGE}",
        "shop:{{ .Values.tag }}",
    ],
)
def test_rejects_what_the_grammar_rejects(text: str) -> None:
    assert parse_reference(text) is None


def test_untagged_with_port_is_untagged_not_tag_5000() -> None:
    ref = parse_reference("registry:5000/app")
    assert ref is not None
    assert ref.is_untagged and not ref.is_pinned and not ref.is_latest
    assert ref.effective_tag == "latest"


def test_tag_and_digest_is_pinned_and_keeps_its_tag() -> None:
    ref = parse_reference(f"shop:1.4@{DIGEST}")
    assert ref is not None
    assert ref.is_pinned and not ref.is_untagged and ref.tag == "1.4"


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:abc",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "md5:" + "a" * 32,
    ],
)
def test_malformed_digest_is_not_pinned(digest: str) -> None:
    ref = parse_reference("shop:1@" + digest)
    assert ref is not None
    assert not ref.is_pinned
    assert ref.has_malformed_digest
    assert not is_pinning_digest(digest)


def test_sha512_pins() -> None:
    ref = parse_reference("shop@sha512:" + "0" * 128)
    assert ref is not None and ref.is_pinned


@pytest.mark.parametrize(
    ("text", "domain", "host", "repository"),
    [
        ("nginx", "docker.io", "registry-1.docker.io", "library/nginx"),
        ("docker.io/nginx:1", "docker.io", "registry-1.docker.io", "library/nginx"),
        ("index.docker.io/acme/shop", "docker.io", "registry-1.docker.io", "acme/shop"),
        ("acme/shop", "docker.io", "registry-1.docker.io", "acme/shop"),
        ("registry:5000/app", "registry:5000", "registry:5000", "app"),
        ("ghcr.io/acme/shop", "ghcr.io", "ghcr.io", "acme/shop"),
    ],
)
def test_normalises_for_the_registry(text: str, domain: str, host: str, repository: str) -> None:
    ref = parse_reference(text)
    assert ref is not None
    assert ref.domain == domain
    assert ref.registry_host == host
    assert ref.normalized_repository == repository


@pytest.mark.parametrize(
    ("text", "pinned"),
    [
        ("shop:1.4", f"shop:1.4@{DIGEST}"),
        ("registry:5000/app", f"registry:5000/app@{DIGEST}"),
        ("docker.io/nginx:latest", f"docker.io/nginx:latest@{DIGEST}"),
        ("shop:1@sha256:abc", f"shop:1@{DIGEST}"),
    ],
)
def test_pinned_keeps_the_written_text_and_tag(text: str, pinned: str) -> None:
    ref = parse_reference(text)
    assert ref is not None
    assert ref.pinned(DIGEST) == pinned
