"""An OCI distribution API client: manifest digests and tags, with the auth registries use.

Calls (distribution-spec ``spec.md``): ``HEAD``/``GET /v2/<name>/manifests/<ref>`` with the
``Accept`` types of an OCI index and manifest and a Docker schema-2 manifest and list, so that a
multi-arch image answers with its index digest; ``GET /v2/<name>/tags/list`` following ``Link``
pages. Auth: on a 401, the ``WWW-Authenticate`` challenge says ``Basic`` (send the stored
credentials) or ``Bearer realm=…,service=…,scope=…`` (fetch a token from the realm, with the
stored credentials when there are any, and retry). 429 and 5xx answers and dropped connections
are retried with exponential backoff. Plain HTTP is used only for hosts the user lists as
insecure registries.

No message raised here contains a credential or token: errors name the registry, the repository
and the HTTP status, and the token endpoint's answer body is never echoed.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from backout.imageref import DOCKER_HUB, DOCKER_HUB_REGISTRY, is_pinning_digest
from backout.registry.credentials import CredentialError, Credentials, CredentialStore

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

DEFAULT_TIMEOUT = 15.0
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.5
# A Retry-After longer than this is not waited for: the check would stall a CI job.
MAX_RETRY_AFTER = 30.0
USER_AGENT = "backout (+https://github.com/backout-dev/backout)"

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RegistryError(Exception):
    """The registry could not be asked or refused to answer; the message is safe to show."""


class RegistryAuthError(RegistryError):
    """The registry wants credentials that are missing or were refused."""


@dataclass(frozen=True)
class ManifestInfo:
    """What a registry says a reference resolves to today."""

    digest: str
    media_type: str
    size: int

    @property
    def is_index(self) -> bool:
        """True for a multi-arch image index (OCI index or Docker manifest list)."""
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True)
class Manifest:
    """A manifest's bytes as served, with the digest of exactly those bytes."""

    info: ManifestInfo
    body: bytes

    def json(self) -> Any:
        """The manifest parsed as JSON."""
        return json.loads(self.body)


def endpoint_host(registry: str) -> str:
    """The host to call for a registry domain: Docker Hub's API lives on registry-1."""
    if registry.lower() in (DOCKER_HUB, "index.docker.io"):
        return DOCKER_HUB_REGISTRY
    return registry


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Bearer realm="…",service="…"`` into the scheme and its parameters."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        match.group(1).lower(): (
            match.group(2).replace('\\"', '"') if match.group(2) is not None else match.group(3)
        )
        for match in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def sha256_digest(body: bytes) -> str:
    """The ``sha256:`` digest of ``body``."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


class RegistryClient:
    """Asks registries what references resolve to. Use as a context manager, or ``close()``.

    ``insecure_registries`` lists hosts (``host`` or ``host:port``) reached over plain HTTP.
    ``credentials`` defaults to the user's Docker ``config.json``. ``sleep`` is the backoff's
    clock, replaceable so that retry tests do not wait.
    """

    def __init__(
        self,
        insecure_registries: Iterable[str] = (),
        credentials: CredentialStore | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.insecure = frozenset(h.strip().lower() for h in insecure_registries if h.strip())
        self._credentials = credentials
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )
        # Bearer tokens by (host, scope); Basic auth by host once a registry asked for it.
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic_hosts: set[str] = set()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- the distribution API ---------------------------------------------------------------

    def head_manifest(self, registry: str, repository: str, reference: str) -> ManifestInfo | None:
        """What ``repository:reference`` (a tag or a digest) resolves to; ``None`` if unknown.

        Registries that omit ``Docker-Content-Digest`` are asked again with ``GET`` and the
        digest is computed from the body.
        """
        response = self._request("HEAD", registry, repository, f"manifests/{reference}")
        if _is_unknown(response):
            return None
        self._raise_for(response, registry, repository, reference)
        digest = response.headers.get("Docker-Content-Digest", "")
        size = response.headers.get("Content-Length", "")
        # A digest that is not one (a proxy's garbage) would be written into the user's files
        # by `pin`: ask for the body and compute it instead.
        if not is_pinning_digest(digest):
            manifest = self.get_manifest(registry, repository, reference)
            return manifest.info if manifest is not None else None
        return ManifestInfo(
            digest=digest,
            media_type=_media_type(response),
            size=int(size) if size.isdigit() else 0,
        )

    def get_manifest(self, registry: str, repository: str, reference: str) -> Manifest | None:
        """The manifest (or index) ``repository:reference`` names; ``None`` if unknown.

        When ``reference`` is a digest, the body is checked against it, as the spec asks.
        """
        response = self._request("GET", registry, repository, f"manifests/{reference}")
        if _is_unknown(response):
            return None
        self._raise_for(response, registry, repository, reference)
        body = response.content
        computed = sha256_digest(body)
        if reference.startswith("sha256:") and computed != reference:
            raise RegistryError(
                f"{registry}/{repository}@{reference}: the registry served a manifest whose "
                f"sha256 is {computed}, not the digest asked for"
            )
        digest = response.headers.get("Docker-Content-Digest", "")
        if not is_pinning_digest(digest):
            digest = computed
        return Manifest(ManifestInfo(digest, _media_type(response), len(body)), body)

    def tags(self, registry: str, repository: str, page_size: int = 1000) -> list[str]:
        """Every tag of ``repository``, following ``Link`` pagination; empty when unknown."""
        found: list[str] = []
        path = f"tags/list?n={page_size}"
        while path:
            response = self._request("GET", registry, repository, path)
            if _is_unknown(response):
                return found
            self._raise_for(response, registry, repository, "tags/list")
            try:
                page = response.json()
            except ValueError:
                page = None
            if not isinstance(page, dict):
                raise RegistryError(f"{registry}/{repository}: the tag list is not a JSON object")
            listed = page.get("tags")
            if isinstance(listed, list):
                found.extend(t for t in listed if isinstance(t, str))
            path = _next_page(response, self._base_url(registry, repository))
        return found

    # -- transport, retries and auth --------------------------------------------------------

    def _base_url(self, registry: str, repository: str) -> str:
        host = endpoint_host(registry)
        scheme = "http" if self._is_insecure(registry) else "https"
        return f"{scheme}://{host}/v2/{repository}/"

    def _is_insecure(self, registry: str) -> bool:
        host = registry.lower()
        return host in self.insecure or host.split(":", 1)[0] in self.insecure

    def _request(self, method: str, registry: str, repository: str, path: str) -> httpx.Response:
        url = urljoin(self._base_url(registry, repository), path)
        host = endpoint_host(registry)
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        scope = f"repository:{repository}:pull"
        response = self._send(method, url, headers, self._authorization(host, scope))
        if response.status_code == 401:
            auth = self._answer_challenge(response, host, scope, registry)
            response = self._send(method, url, headers, auth)
            if response.status_code == 401:
                raise RegistryAuthError(
                    f"{registry} refused the credentials for {repository} (401 unauthorized)"
                )
        return response

    def _authorization(self, host: str, scope: str) -> str | None:
        token = self._tokens.get((host, scope))
        if token is not None:
            return f"Bearer {token}"
        if host in self._basic_hosts:
            credentials = self._lookup(host)
            return credentials.basic_header() if credentials else None
        return None

    def _send(
        self, method: str, url: str, headers: dict[str, str], authorization: str | None
    ) -> httpx.Response:
        all_headers = dict(headers)
        if authorization is not None:
            all_headers["Authorization"] = authorization
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._http.request(method, url, headers=all_headers)
            except httpx.RequestError as exc:
                netloc = httpx.URL(url).netloc.decode()
                tls = _tls_failure(exc)
                # A failed TLS handshake fails the same way every time: no retry.
                if tls is not None:
                    raise RegistryError(_tls_message(netloc, tls)) from None
                if attempt == self.attempts:
                    raise RegistryError(
                        f"cannot reach {netloc}: {_transport_reason(exc)}"
                    ) from None
                self._sleep(self.backoff * 2.0 ** (attempt - 1))
                continue
            if response.status_code not in _RETRY_STATUSES or attempt == self.attempts:
                return response
            self._sleep(self._delay(response, attempt))
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _delay(self, response: httpx.Response, attempt: int) -> float:
        computed = self.backoff * 2.0 ** (attempt - 1)
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            return min(float(retry_after), MAX_RETRY_AFTER)
        return computed

    def _lookup(self, host: str) -> Credentials | None:
        if self._credentials is None:
            try:
                self._credentials = CredentialStore.from_docker_config()
            except CredentialError as exc:
                raise RegistryAuthError(str(exc)) from None
        try:
            return self._credentials.lookup(host)
        except CredentialError as exc:
            raise RegistryAuthError(str(exc)) from None

    def _answer_challenge(
        self, response: httpx.Response, host: str, scope: str, registry: str
    ) -> str:
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        credentials = self._lookup(host)
        if scheme == "basic":
            if credentials is None:
                raise RegistryAuthError(
                    f"{registry} asks for a user name and password and the docker config has "
                    f"none for {host} (run `docker login {registry}`)"
                )
            self._basic_hosts.add(host)
            return credentials.basic_header()
        if scheme == "bearer" and params.get("realm"):
            token = self._fetch_token(params, scope, credentials, registry)
            self._tokens[(host, scope)] = token
            return f"Bearer {token}"
        raise RegistryAuthError(
            f"{registry} answered 401 with an authentication scheme backout does not speak "
            f"({scheme or 'none given'})"
        )

    def _fetch_token(
        self,
        challenge: dict[str, str],
        scope: str,
        credentials: Credentials | None,
        registry: str,
    ) -> str:
        realm = challenge["realm"]
        # The registry's own scope wins: it may name the repository differently.
        wanted_scope = challenge.get("scope") or scope
        params = {"scope": wanted_scope}
        if challenge.get("service"):
            params["service"] = challenge["service"]
        try:
            if credentials is not None and credentials.identity_token:
                # An OAuth2 refresh token (docker login with an identity provider) is POSTed.
                form = {
                    **params,
                    "grant_type": "refresh_token",
                    "refresh_token": credentials.secret,
                    "client_id": "backout",
                }
                answer = self._http.post(realm, data=form)
            else:
                headers = {"Authorization": credentials.basic_header()} if credentials else {}
                answer = self._http.get(realm, params=params, headers=headers)
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            reason = (
                _transport_reason(exc)
                if isinstance(exc, httpx.RequestError)
                else "its realm is not a valid URL"
            )
            raise RegistryAuthError(
                f"cannot reach the token service of {registry}: {reason}"
            ) from None
        if answer.status_code in (401, 403):
            who = "the stored credentials" if credentials else "anonymous access"
            raise RegistryAuthError(
                f"the token service of {registry} refused {who} for {wanted_scope} "
                f"({answer.status_code})"
            )
        if answer.status_code != 200:
            raise RegistryAuthError(
                f"the token service of {registry} answered {answer.status_code}"
            )
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"the token service of {registry} answered without a token")
        return token

    def _raise_for(
        self, response: httpx.Response, registry: str, repository: str, reference: str
    ) -> None:
        status = response.status_code
        if status < 400:
            return
        where = f"{registry}/{repository}" + (
            f"@{reference}" if reference.startswith("sha256:") else f":{reference}"
        )
        codes = _error_codes(response)
        detail = f" ({', '.join(codes)})" if codes else ""
        if status == 403:
            raise RegistryAuthError(f"{where}: access denied (403){detail}")
        if status == 429:
            raise RegistryError(f"{where}: rate limited (429) after {self.attempts} attempts")
        raise RegistryError(f"{where}: the registry answered {status}{detail}")


def _is_unknown(response: httpx.Response) -> bool:
    """True when the registry says the manifest or repository does not exist."""
    if response.status_code != 404:
        return False
    codes = _error_codes(response)
    # A HEAD has no body to say why; a 404 on the manifests endpoint means unknown.
    return not codes or bool({"MANIFEST_UNKNOWN", "NAME_UNKNOWN"} & set(codes))


def _error_codes(response: httpx.Response) -> list[str]:
    if response.request.method == "HEAD" or not response.content:
        return []
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [
        str(e["code"]) for e in errors if isinstance(e, dict) and isinstance(e.get("code"), str)
    ]


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("Content-Type", "")
    return content_type.split(";", 1)[0].strip()


def _next_page(response: httpx.Response, base_url: str) -> str:
    match = _LINK_NEXT.search(response.headers.get("Link", ""))
    if not match:
        return ""
    # The Link target is relative to the registry root (``/v2/<name>/tags/list?…``).
    return urljoin(base_url, str(match.group(1)))


def _tls_failure(exc: httpx.RequestError) -> ssl.SSLError | None:
    """The TLS error under an httpx ``ConnectError``, if the handshake is what failed.

    httpx raises ``ConnectError`` from httpcore's, which is raised from the ``ssl`` error:
    the registry answered, but not with TLS (or with a certificate that is not trusted).
    """
    if not isinstance(exc, httpx.ConnectError):
        return None
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _tls_message(netloc: str, error: ssl.SSLError) -> str:
    """What to tell the user about a failed TLS handshake with ``netloc``."""
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or "verification failed"
        return (
            f"the TLS certificate of {netloc} is not trusted ({reason}); point SSL_CERT_FILE "
            "at a bundle with its CA"
        )
    return (
        f"{netloc} does not speak HTTPS; if it is a plain-HTTP registry, pass "
        f"--insecure-registry {netloc}"
    )


def _transport_reason(exc: httpx.RequestError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or name not resolved"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.DecodingError):
        return "the answer could not be decoded"
    return type(exc).__name__
