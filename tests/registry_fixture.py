"""A real OCI registry for the tests: Debian's ``docker-registry`` (CNCF distribution) on loopback.

:func:`start_registry` writes a ``config.yml`` with a temporary storage directory, deletes
enabled and an ``http.addr`` of ``127.0.0.1:<free port>``, optionally Basic auth (htpasswd,
bcrypt) or token auth (``auth: token`` with a self-signed certificate bundle and the
:class:`TokenServer` below as the realm), starts ``/usr/bin/docker-registry``, waits for
``/v2/`` and stops it afterwards. :class:`Pusher` pushes real images through the distribution
API: blob uploads (POST then PUT), manifests in OCI and Docker schema-2 media types, and OCI
indexes for multi-arch images; it moves tags and deletes manifests as registries do.

Nothing here touches anything but 127.0.0.1. When the registry binary is missing the tests
fail (they do not skip): ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import bcrypt
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REGISTRY_BINARY = "/usr/bin/docker-registry"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

TOKEN_SERVICE = "backout-test-registry"
TOKEN_ISSUER = "backout-test-token-issuer"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def digest_of(data: bytes) -> str:
    """The ``sha256:`` digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenServer:
    """A token service as distribution's token auth spec describes: Basic in, signed JWT out.

    It signs RS256 JWTs with a fresh key whose self-signed certificate is in the registry's
    ``rootcertbundle`` and travels in the ``x5c`` header. ``users`` maps user names to
    passwords; with ``allow_anonymous`` a request without credentials gets a pull token.
    ``requests`` records (user, scope) of every token issued.
    """

    users: dict[str, str]
    allow_anonymous: bool = False
    port: int = field(default_factory=free_port)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backout test token issuer")])
        now = dt.datetime.now(dt.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self._server: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        """The URL the registry sends clients to."""
        return f"http://127.0.0.1:{self.port}/token"

    def write_bundle(self, path: Path) -> Path:
        """Write the certificate the registry trusts; return its path."""
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(self, subject: str, scope: str) -> str:
        """A signed token granting everything ``scope`` asks for."""
        access = []
        for item in scope.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [
                base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
            ],
        }
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": TOKEN_SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def start(self) -> None:
        """Serve ``/token`` on 127.0.0.1 in a thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                scope = " ".join(query.get("scope", []))
                subject = owner.authenticate(self.headers.get("Authorization", ""))
                if subject is None:
                    self.send_response(401)
                    self.end_headers()
                    return
                owner.requests.append((subject, scope))
                body = json.dumps({"token": owner.issue(subject, scope), "expires_in": 300})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def authenticate(self, header: str) -> str | None:
        """The user a Basic header proves, ``""`` for anonymous when allowed, else ``None``."""
        if not header:
            return "" if self.allow_anonymous else None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user if self.users.get(user) == password else None

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Registry:
    """A running registry: its ``host`` (``127.0.0.1:port``) and how to push to it."""

    host: str
    storage: Path
    user: str = ""
    password: str = ""
    token_server: TokenServer | None = None

    @property
    def url(self) -> str:
        """The base URL of the distribution API."""
        return f"http://{self.host}"

    def pusher(self) -> Pusher:
        """A client that pushes images as ``docker push`` does."""
        return Pusher(self)


@contextlib.contextmanager
def start_registry(
    workdir: Path,
    *,
    htpasswd_user: tuple[str, str] | None = None,
    token_server: TokenServer | None = None,
) -> Iterator[Registry]:
    """Run ``docker-registry`` on a free loopback port until the ``with`` block ends."""
    binary = shutil.which("docker-registry") or REGISTRY_BINARY
    assert Path(binary).exists(), (
        "docker-registry is not installed: apt-get install docker-registry (.ci/run does)"
    )
    port = free_port()
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    auth = ""
    user, password = htpasswd_user or ("", "")
    if htpasswd_user is not None:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        (workdir / "htpasswd").write_text(f"{user}:{hashed}\n")
        auth = f"""auth:
  htpasswd:
    realm: backout-test
    path: {workdir / "htpasswd"}
"""
    elif token_server is not None:
        bundle = token_server.write_bundle(workdir / "token-ca.pem")
        auth = f"""auth:
  token:
    realm: {token_server.realm}
    service: {TOKEN_SERVICE}
    issuer: {TOKEN_ISSUER}
    rootcertbundle: {bundle}
"""
        token_server.start()
    config = workdir / "config.yml"
    config.write_text(
        f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
{auth}"""
    )
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    registry = Registry(f"127.0.0.1:{port}", storage, user, password, token_server)
    try:
        _wait_ready(registry, process, workdir / "registry.log")
        yield registry
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if token_server is not None:
            token_server.stop()


def _wait_ready(registry: Registry, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            status = httpx.get(f"{registry.url}/v2/", timeout=1).status_code
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if status in (200, 401):
            return
    raise AssertionError(f"docker-registry did not answer on {registry.host}")


def layer_tarball(content: bytes) -> bytes:
    """A gzipped tar holding one file, as an image layer is."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("app/VERSION")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass(frozen=True)
class Pushed:
    """A manifest the registry now holds: its digest and media type."""

    digest: str
    media_type: str


class Pusher:
    """Pushes blobs and manifests over the distribution API, answering auth challenges."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.http = httpx.Client(base_url=registry.url, timeout=30)

    def _call(self, method: str, url: str, repository: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        if response.status_code != 401:
            return response
        challenge = response.headers.get("WWW-Authenticate", "")
        credentials = base64.b64encode(
            f"{self.registry.user}:{self.registry.password}".encode()
        ).decode()
        if challenge.lower().startswith("basic"):
            authorization = f"Basic {credentials}"
        else:
            server = self.registry.token_server
            assert server is not None
            user = next(iter(server.users))
            token = server.issue(user, f"repository:{repository}:pull,push,delete")
            authorization = f"Bearer {token}"
        headers = {**kwargs.pop("headers", {}), "Authorization": authorization}
        return self.http.request(method, url, headers=headers, **kwargs)

    def blob(self, repository: str, data: bytes) -> str:
        """Upload a blob (POST to start, PUT with the digest to finish); return its digest."""
        digest = digest_of(data)
        started = self._call("POST", f"/v2/{repository}/blobs/uploads/", repository)
        assert started.status_code == 202, started.text
        # The upload URL carries its own state in the query: add the digest, keep the rest.
        location = httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest})
        done = self._call(
            "PUT",
            str(location),
            repository,
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> Pushed:
        """PUT a manifest under a tag or digest."""
        response = self._call(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            content=body,
            headers={"Content-Type": media_type},
        )
        assert response.status_code == 201, response.text
        return Pushed(response.headers["Docker-Content-Digest"], media_type)

    def image(
        self,
        repository: str,
        tag: str,
        version: str,
        *,
        docker_media_types: bool = False,
        architecture: str = "amd64",
    ) -> Pushed:
        """Push a one-layer image whose file says ``version``; tag it (or push by digest)."""
        layer = layer_tarball(f"{version} {architecture}\n".encode())
        layer_digest = self.blob(repository, layer)
        config = json.dumps(
            {
                "architecture": architecture,
                "os": "linux",
                "config": {"Labels": {"version": version}},
                "rootfs": {
                    "type": "layers",
                    "diff_ids": [digest_of(gzip.decompress(layer))],
                },
            }
        ).encode()
        config_digest = self.blob(repository, config)
        manifest_type = DOCKER_MANIFEST if docker_media_types else OCI_MANIFEST
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": {
                    "mediaType": DOCKER_CONFIG if docker_media_types else OCI_CONFIG,
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": DOCKER_LAYER if docker_media_types else OCI_LAYER,
                        "digest": layer_digest,
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        return self.manifest(repository, tag or digest_of(body), body, manifest_type)

    def multi_arch(self, repository: str, tag: str, version: str) -> tuple[Pushed, list[Pushed]]:
        """Push amd64 and arm64 images by digest and an OCI index over them, tagged."""
        children = [
            self.image(repository, "", version, architecture=arch) for arch in ("amd64", "arm64")
        ]
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": child.digest,
                        "size": self.size(repository, child.digest),
                        "platform": {"architecture": arch, "os": "linux"},
                    }
                    for child, arch in zip(children, ("amd64", "arm64"), strict=True)
                ],
            }
        ).encode()
        return self.manifest(repository, tag, body, OCI_INDEX), children

    def size(self, repository: str, digest: str) -> int:
        """The byte size of a stored manifest."""
        response = self._call(
            "GET",
            f"/v2/{repository}/manifests/{digest}",
            repository,
            headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}"},
        )
        assert response.status_code == 200, response.text
        return len(response.content)

    def delete(self, repository: str, digest: str) -> None:
        """Delete a manifest by digest (every tag on it goes too), as a lifecycle rule does."""
        response = self._call("DELETE", f"/v2/{repository}/manifests/{digest}", repository)
        assert response.status_code == 202, response.text
