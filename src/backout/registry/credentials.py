"""Registry credentials as the Docker CLI stores them, found without ever printing them.

Lookup order for a registry host, as ``docker pull`` does it: ``credHelpers[host]`` (run
``docker-credential-<helper> get``), then ``credsStore`` (the default helper), then the
``auths`` entry (``auth`` = base64 of ``user:password``, or ``username``/``password``). The
config is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``. Docker Hub is stored
under ``https://index.docker.io/v1/``.

A :class:`Credentials` object hides its secret from ``repr`` and ``str``, and every error
raised here names the host and the helper, never a user name, password or token.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backout.imageref import DOCKER_HUB_REGISTRY

DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
# Every spelling under which Docker Hub credentials may have been saved.
_HUB_KEYS = (DOCKER_HUB_AUTH_KEY, "index.docker.io", "docker.io", DOCKER_HUB_REGISTRY)
HELPER_TIMEOUT = 20.0


class CredentialError(Exception):
    """Credentials exist but could not be read; the message names no secret."""


@dataclass(frozen=True)
class Credentials:
    """A user name and a secret (password or token) for one registry.

    ``identity_token`` is set instead of a password when the store holds an OAuth2 refresh
    token (``identitytoken``, or a helper answering with the user ``<token>``).
    """

    username: str = field(repr=False)
    secret: str = field(repr=False)
    identity_token: bool = False

    def __str__(self) -> str:
        return "Credentials(<hidden>)"

    def basic_header(self) -> str:
        """The value of an ``Authorization: Basic`` header."""
        raw = f"{self.username}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the Docker CLI keeps ``config.json``."""
    env = os.environ if environ is None else environ
    directory = env.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def _auth_keys(host: str) -> tuple[str, ...]:
    if host in _HUB_KEYS:
        return _HUB_KEYS
    return (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"{host}/v2/")


class CredentialStore:
    """The credentials of a Docker ``config.json`` (or none), looked up per registry host."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._config: Mapping[str, Any] = config or {}
        self._cache: dict[str, Credentials | None] = {}

    @classmethod
    def from_docker_config(cls, path: Path | None = None) -> CredentialStore:
        """Read ``config.json``; a missing file means no credentials, a broken one is an error."""
        where = path if path is not None else docker_config_path()
        try:
            text = where.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise CredentialError(f"cannot read {where}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # Only the position: the text around it could be a secret.
            raise CredentialError(
                f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise CredentialError(f"{where} is not a JSON object")
        return cls(data)

    def lookup(self, host: str) -> Credentials | None:
        """The credentials for ``host`` (``registry-1.docker.io`` means Docker Hub), if any."""
        if host not in self._cache:
            self._cache[host] = self._find(host)
        return self._cache[host]

    def _find(self, host: str) -> Credentials | None:
        keys = _auth_keys(host)
        helpers = self._config.get("credHelpers")
        if isinstance(helpers, dict):
            for key in keys:
                helper = helpers.get(key)
                if isinstance(helper, str) and helper:
                    return run_helper(helper, key)
        auths = self._config.get("auths")
        entry = None
        if isinstance(auths, dict):
            entry = next((auths[k] for k in keys if isinstance(auths.get(k), dict)), None)
        store = self._config.get("credsStore")
        if isinstance(store, str) and store:
            # The default store holds what `docker login` saved; auths then only lists hosts.
            found = run_helper(store, keys[0])
            if found is not None:
                return found
        return _from_auth_entry(entry, host) if entry is not None else None


def _from_auth_entry(entry: Mapping[str, Any], host: str) -> Credentials | None:
    token = entry.get("identitytoken")
    encoded = entry.get("auth")
    username, password = entry.get("username"), entry.get("password")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialError(
                f"the docker config entry for {host} has an 'auth' value that is not base64"
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise CredentialError(
                f"the docker config entry for {host} has an 'auth' value without 'user:password'"
            )
    if isinstance(token, str) and token:
        return Credentials(str(username or "<token>"), token, identity_token=True)
    if isinstance(username, str) and isinstance(password, str) and username:
        return Credentials(username, password)
    return None


def run_helper(helper: str, server: str) -> Credentials | None:
    """Ask ``docker-credential-<helper>`` for ``server``'s credentials.

    ``None`` when the helper knows no credentials for it (or is not installed: the Docker CLI
    then falls back to anonymous access as well).
    """
    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        raise CredentialError(
            f"credential helper docker-credential-{helper} did not answer for {server}"
        ) from None
    if done.returncode != 0:
        # Helpers answer "credentials not found in native keychain" on stdout with exit 1.
        return None
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CredentialError(
            f"credential helper docker-credential-{helper} gave an answer that is not JSON"
        ) from None
    username, secret = answer.get("Username"), answer.get("Secret")
    if not isinstance(username, str) or not isinstance(secret, str) or not secret:
        return None
    return Credentials(username, secret, identity_token=username == "<token>")
