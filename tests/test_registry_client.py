"""The OCI client against a real docker-registry on 127.0.0.1, and its edge cases.

Retries, a registry that omits ``Docker-Content-Digest`` and Docker Hub URLs are checked with
``httpx.MockTransport`` (a real registry cannot be made to misbehave, and no test may reach
Docker Hub); everything else talks to the real registry that the tests push images to.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from backout.imageref import parse_reference
from backout.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    parse_challenge,
)
from backout.registry.credentials import Credentials, CredentialStore
from tests.registry_fixture import Registry, TokenServer, digest_of, free_port, start_registry

pytestmark = pytest.mark.registry

USER, PASSWORD = "deployer", "s3cret-Pa55word"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(
        tmp_path_factory.mktemp("basic"), htpasswd_user=(USER, PASSWORD)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = TokenServer(users={USER: PASSWORD})
    with start_registry(tmp_path_factory.mktemp("token"), token_server=server) as running:
        yield running


def client_for(registry: Registry, store: CredentialStore | None = None) -> RegistryClient:
    return RegistryClient(
        insecure_registries=[registry.host], credentials=store or CredentialStore()
    )


def docker_config(tmp_path: Path, registry: Registry, password: str = PASSWORD) -> CredentialStore:
    path = tmp_path / "config.json"
    auth = base64.b64encode(f"{USER}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    return CredentialStore.from_docker_config(path)


def test_tag_resolves_to_the_pushed_oci_manifest(registry: Registry) -> None:
    pushed = registry.pusher().image("shop/api", "1.4", "1.4")
    with client_for(registry) as client:
        info = client.head_manifest(registry.host, "shop/api", "1.4")
    assert info is not None
    assert info.digest == pushed.digest
    assert info.media_type == OCI_MANIFEST
    assert not info.is_index


def test_docker_schema2_manifest(registry: Registry) -> None:
    pushed = registry.pusher().image("shop/legacy", "2.0", "2.0", docker_media_types=True)
    with client_for(registry) as client:
        info = client.head_manifest(registry.host, "shop/legacy", "2.0")
        manifest = client.get_manifest(registry.host, "shop/legacy", pushed.digest)
    assert info is not None and info.digest == pushed.digest
    assert info.media_type == DOCKER_MANIFEST
    assert manifest is not None and manifest.json()["mediaType"] == DOCKER_MANIFEST
    assert digest_of(manifest.body) == pushed.digest


def test_multi_arch_tag_resolves_to_the_index_digest(registry: Registry) -> None:
    index, children = registry.pusher().multi_arch("shop/web", "3.1", "3.1")
    with client_for(registry) as client:
        info = client.head_manifest(registry.host, "shop/web", "3.1")
    assert info is not None
    assert info.digest == index.digest
    assert info.digest not in {child.digest for child in children}
    assert info.media_type == OCI_INDEX and info.is_index


def test_unknown_tag_repository_and_deleted_digest_are_none(registry: Registry) -> None:
    pusher = registry.pusher()
    gone = pusher.image("shop/worker", "0.9", "0.9")
    pusher.delete("shop/worker", gone.digest)
    with client_for(registry) as client:
        assert client.head_manifest(registry.host, "shop/worker", "0.9") is None
        assert client.head_manifest(registry.host, "shop/worker", gone.digest) is None
        assert client.get_manifest(registry.host, "shop/worker", gone.digest) is None
        assert client.head_manifest(registry.host, "no/such-repo", "latest") is None


def test_moved_tag_resolves_to_the_new_image(registry: Registry) -> None:
    pusher = registry.pusher()
    first = pusher.image("shop/cart", "stable", "1")
    second = pusher.image("shop/cart", "stable", "2")
    assert first.digest != second.digest
    with client_for(registry) as client:
        info = client.head_manifest(registry.host, "shop/cart", "stable")
        old = client.head_manifest(registry.host, "shop/cart", first.digest)
    assert info is not None and info.digest == second.digest
    # The old image is still there by digest, only untagged.
    assert old is not None and old.digest == first.digest


def test_tags_of_a_real_repository(registry: Registry) -> None:
    pusher = registry.pusher()
    names = [f"r{i}" for i in range(7)]
    for name in names:
        pusher.image("shop/paged", name, name)
    with client_for(registry) as client:
        tags = client.tags(registry.host, "shop/paged", page_size=2)
        assert client.tags(registry.host, "no/such-repo") == []
    # distribution 2.8 answers every tag in one page, in storage order.
    assert sorted(tags) == sorted(names)


def test_tags_follow_link_pagination() -> None:
    # distribution 2.8 ignores `n`, so paging is checked against a registry that pages as v3
    # and the spec say: `Link: </v2/<name>/tags/list?n=2&last=b>; rel="next"`.
    pages = {"": ["a", "b"], "b": ["c", "d"], "d": ["e"]}
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        last = request.url.params.get("last", "")
        tags = pages[last]
        headers = {}
        if tags[-1] in pages:
            headers["Link"] = f'</v2/app/tags/list?n=2&last={tags[-1]}>; rel="next"'
        return httpx.Response(200, json={"name": "app", "tags": tags}, headers=headers)

    with RegistryClient(
        credentials=CredentialStore(), transport=httpx.MockTransport(handler)
    ) as client:
        tags = client.tags("registry.example", "app", page_size=2)
    assert tags == ["a", "b", "c", "d", "e"]
    assert urls[1] == "https://registry.example/v2/app/tags/list?n=2&last=b"


def test_basic_auth_with_docker_config(basic_registry: Registry, tmp_path: Path) -> None:
    pushed = basic_registry.pusher().image("private/app", "1.0", "1.0")
    with client_for(basic_registry, docker_config(tmp_path, basic_registry)) as client:
        info = client.head_manifest(basic_registry.host, "private/app", "1.0")
        again = client.head_manifest(basic_registry.host, "private/app", "1.0")
    assert info is not None and info.digest == pushed.digest
    assert again == info


def test_basic_auth_without_credentials_says_docker_login(basic_registry: Registry) -> None:
    with (
        client_for(basic_registry) as client,
        pytest.raises(RegistryAuthError, match="docker login"),
    ):
        client.head_manifest(basic_registry.host, "private/app", "1.0")


def test_refused_password_is_never_in_the_message(basic_registry: Registry, tmp_path: Path) -> None:
    wrong = "wrong-Pa55word-xyz"
    store = docker_config(tmp_path, basic_registry, password=wrong)
    with client_for(basic_registry, store) as client, pytest.raises(RegistryAuthError) as caught:
        client.head_manifest(basic_registry.host, "private/app", "1.0")
    message = str(caught.value)
    assert "refused" in message
    assert wrong not in message and USER not in message


def test_credential_helper_is_asked(basic_registry: Registry, tmp_path: Path) -> None:
    pushed = basic_registry.pusher().image("private/helper", "1.0", "1.0")
    helper = tmp_path / "bin" / "docker-credential-backouttest"
    helper.parent.mkdir()
    answer = json.dumps({"ServerURL": basic_registry.host, "Username": USER, "Secret": PASSWORD})
    helper.write_text(f"#!/bin/sh\nread server\necho '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {basic_registry.host: "backouttest"}}))
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{helper.parent}:{path}"
    try:
        store = CredentialStore.from_docker_config(config)
        with client_for(basic_registry, store) as client:
            info = client.head_manifest(basic_registry.host, "private/helper", "1.0")
    finally:
        os.environ["PATH"] = path
    assert info is not None and info.digest == pushed.digest


def test_bearer_token_flow_with_credentials(token_registry: Registry, tmp_path: Path) -> None:
    pushed = token_registry.pusher().image("team/api", "5.0", "5.0")
    server = token_registry.token_server
    assert server is not None
    with client_for(token_registry, docker_config(tmp_path, token_registry)) as client:
        info = client.head_manifest(token_registry.host, "team/api", "5.0")
        tags = client.tags(token_registry.host, "team/api")
    assert info is not None and info.digest == pushed.digest
    assert tags == ["5.0"]
    assert (USER, "repository:team/api:pull") in server.requests


def test_bearer_token_refused_without_credentials(token_registry: Registry) -> None:
    with client_for(token_registry) as client, pytest.raises(RegistryAuthError) as caught:
        client.head_manifest(token_registry.host, "team/api", "5.0")
    assert "token service" in str(caught.value)
    assert "anonymous" in str(caught.value)


def test_plain_http_needs_the_insecure_flag(registry: Registry) -> None:
    waits: list[float] = []
    with (
        RegistryClient(credentials=CredentialStore(), sleep=waits.append) as client,
        pytest.raises(RegistryError) as caught,
    ):
        client.head_manifest(registry.host, "shop/api", "1.4")
    # The registry answered the TLS hello in plain HTTP: say so, and do not retry it.
    assert str(caught.value) == (
        f"{registry.host} does not speak HTTPS; if it is a plain-HTTP registry, pass "
        f"--insecure-registry {registry.host}"
    )
    assert waits == []


def test_untrusted_certificate_is_not_called_plain_http() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = ssl.SSLCertVerificationError(1, "certificate verify failed")
        error.verify_message = "self-signed certificate"
        raise httpx.ConnectError("handshake failed", request=request) from error

    with (
        RegistryClient(credentials=CredentialStore(), transport=httpx.MockTransport(handler)) as c,
        pytest.raises(RegistryError) as caught,
    ):
        c.head_manifest("registry.example", "app", "1.0")
    assert str(caught.value).startswith(
        "the TLS certificate of registry.example is not trusted (self-signed certificate)"
    )


def test_nothing_listening_is_an_error_not_a_traceback() -> None:
    host = f"127.0.0.1:{free_port()}"
    with (
        RegistryClient(insecure_registries=[host], attempts=2, sleep=lambda _: None) as client,
        pytest.raises(RegistryError, match="cannot reach"),
    ):
        client.head_manifest(host, "app", "latest")


def test_retries_429_and_5xx_with_backoff() -> None:
    answers = iter([429, 503, 200])
    seen: list[int] = []
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        seen.append(status)
        headers = {"Docker-Content-Digest": "sha256:" + "a" * 64, "Content-Type": OCI_MANIFEST}
        if status == 429:
            headers["Retry-After"] = "2"
        return httpx.Response(status, headers=headers)

    with RegistryClient(
        credentials=CredentialStore(), transport=httpx.MockTransport(handler), sleep=waits.append
    ) as client:
        info = client.head_manifest("registry.example", "app", "1.0")
    assert info is not None and info.digest == "sha256:" + "a" * 64
    assert seen == [429, 503, 200]
    assert waits == [2.0, 1.0]


def test_gives_up_after_the_last_attempt() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    with (
        RegistryClient(
            credentials=CredentialStore(),
            transport=httpx.MockTransport(handler),
            attempts=3,
            sleep=lambda _: None,
        ) as client,
        pytest.raises(RegistryError, match="answered 503"),
    ):
        client.head_manifest("registry.example", "app", "1.0")


def test_missing_digest_header_is_computed_from_the_body() -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Type": OCI_MANIFEST})
        return httpx.Response(200, content=body, headers={"Content-Type": OCI_MANIFEST})

    with RegistryClient(
        credentials=CredentialStore(), transport=httpx.MockTransport(handler)
    ) as client:
        info = client.head_manifest("old.registry.example", "app", "1.0")
    assert info is not None and info.digest == digest_of(body)


def test_manifest_not_matching_its_digest_is_rejected() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"Content-Type": OCI_MANIFEST})

    with (
        RegistryClient(credentials=CredentialStore(), transport=httpx.MockTransport(handler)) as c,
        pytest.raises(RegistryError, match="not the digest asked for"),
    ):
        c.get_manifest("registry.example", "app", "sha256:" + "b" * 64)


def test_docker_hub_names_are_normalised() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(404)

    reference = parse_reference("nginx")
    assert reference is not None
    with RegistryClient(
        credentials=CredentialStore(), transport=httpx.MockTransport(handler)
    ) as client:
        found = client.head_manifest(
            reference.domain, reference.normalized_repository, reference.effective_tag
        )
    assert found is None
    assert urls == ["https://registry-1.docker.io/v2/library/nginx/manifests/latest"]


def test_www_authenticate_is_parsed() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull",
    }


def test_credentials_never_print_their_secret(tmp_path: Path) -> None:
    credentials = Credentials(USER, PASSWORD)
    assert PASSWORD not in repr(credentials) and PASSWORD not in str(credentials)
    assert USER not in repr(credentials)
    broken = tmp_path / "config.json"
    broken.write_text('{"auths": {"r.example": {"auth": "' + PASSWORD + '"')
    with pytest.raises(Exception) as caught:
        CredentialStore.from_docker_config(broken)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # A HEAD digest that is not a digest would be written into files by `pin`.
        (
            lambda r: (
                httpx.Response(
                    200, headers={"Docker-Content-Digest": "garbage", "Content-Length": "x"}
                )
                if r.method == "HEAD"
                else httpx.Response(200, content=b"{}")
            ),
            digest_of(b"{}"),
        ),
        (lambda r: httpx.Response(302, headers={"Location": str(r.url)}), "too many redirects"),
        (
            lambda r: httpx.Response(
                401, headers={"WWW-Authenticate": 'Bearer realm="http://[::1",service="s"'}
            ),
            "realm is not a valid URL",
        ),
    ],
)
def test_odd_registry_answers_are_errors_not_tracebacks(
    answer: Callable[[httpx.Request], httpx.Response], expected: str
) -> None:
    with RegistryClient(
        credentials=CredentialStore(), transport=httpx.MockTransport(answer), sleep=lambda _: None
    ) as client:
        if expected.startswith("sha256:"):
            info = client.head_manifest("registry.example", "app", "1.0")
            assert info is not None and info.digest == expected
        else:
            with pytest.raises(RegistryError, match=expected):
                client.get_manifest("registry.example", "app", "1.0")


def test_a_tag_list_that_is_not_an_object_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=["1.0"])

    with (
        RegistryClient(credentials=CredentialStore(), transport=httpx.MockTransport(handler)) as c,
        pytest.raises(RegistryError, match="not a JSON object"),
    ):
        c.tags("registry.example", "app")
