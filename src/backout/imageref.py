"""Container image references, parsed exactly as the distribution reference grammar does.

The grammar (distribution/reference ``regexp.go``, opencontainers distribution-spec)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component [ "/" path-component ]*
    domain     := host [ ":" port ]
    tag        := [\\w][\\w.-]{0,127}
    digest     := algorithm ":" hex

The first path component is a registry domain only when it contains a ``.`` or a ``:``, is
``localhost``, or has upper-case letters (``splitDockerDomain``). So ``registry:5000/app`` is the
repository ``app`` on ``registry:5000`` *without a tag* — several linters read ``5000/app`` as a
tag and miss it. A reference is pinned only by a well-formed digest: ``sha256`` with exactly 64
lower-case hex digits (or ``sha512`` with 128); ``app@sha256:abc`` names a digest that cannot
exist, and is therefore not pinned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DOCKER_HUB = "docker.io"
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
# Spellings of Docker Hub that the Docker CLI normalises to docker.io.
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])"
_DOMAIN = re.compile(rf"{_HOST}(?::[0-9]+)?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST_GRAMMAR = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
)
# What a registry will actually serve: the registered algorithms with their exact lengths.
_PINNING_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")
_MAX_NAME_LENGTH = 255
_WHITESPACE = re.compile(r"\s")


@dataclass(frozen=True)
class ImageReference:
    """One parsed image reference; ``raw`` is the text exactly as the user wrote it.

    ``registry`` is the domain as written (``None`` when the reference names none), ``tag`` and
    ``digest`` are ``None`` when absent. ``digest`` holds whatever followed ``@`` when that
    looks like a digest at all; :attr:`is_pinned` says whether it really pins the image.
    """

    raw: str
    registry: str | None
    repository: str
    tag: str | None
    digest: str | None

    @property
    def is_pinned(self) -> bool:
        """True when a well-formed ``sha256``/``sha512`` digest fixes the image's bytes."""
        return self.digest is not None and _PINNING_DIGEST.fullmatch(self.digest) is not None

    @property
    def has_malformed_digest(self) -> bool:
        """True when an ``@digest`` is present but could never match a real manifest."""
        return self.digest is not None and not self.is_pinned

    @property
    def is_untagged(self) -> bool:
        """True when no tag was written, so the runtime pulls ``latest``."""
        return self.tag is None

    @property
    def is_latest(self) -> bool:
        """True for the tag ``latest`` written out."""
        return self.tag == "latest"

    @property
    def effective_tag(self) -> str:
        """The tag the runtime resolves: the written one, or ``latest`` when none is written."""
        return self.tag if self.tag is not None else "latest"

    @property
    def domain(self) -> str:
        """The registry's canonical name: ``docker.io`` when none is written."""
        if self.registry is None or self.registry.lower() in _HUB_ALIASES:
            return DOCKER_HUB
        return self.registry

    @property
    def registry_host(self) -> str:
        """The host (and port) to send distribution API requests to."""
        domain = self.domain
        return DOCKER_HUB_REGISTRY if domain == DOCKER_HUB else domain

    @property
    def normalized_repository(self) -> str:
        """The repository as the registry knows it: ``library/`` prefixed for Docker Hub."""
        if self.domain == DOCKER_HUB and "/" not in self.repository:
            return "library/" + self.repository
        return self.repository

    @property
    def familiar_name(self) -> str:
        """Registry and repository as written, without tag or digest (``ghcr.io/acme/shop``)."""
        if self.registry is None:
            return self.repository
        return f"{self.registry}/{self.repository}"

    def pinned(self, digest: str) -> str:
        """The reference as written, its tag kept, pinned to ``digest`` (``repo:tag@sha256:…``).

        Any digest already written (well-formed or not) is replaced.
        """
        written = self.raw.split("@", 1)[0]
        return f"{written}@{digest}"


def same_name_and_tag(first: str, second: str) -> bool:
    """Whether two references name the same registry, repository and tag, digests left out:
    ``api:2.4`` and ``api:2.4@sha256:…`` (as ``backout pin`` writes it) do. Text that does not
    parse is compared as it is."""
    parsed = parse_reference(first), parse_reference(second)
    if parsed[0] is None or parsed[1] is None:
        return first == second
    return (parsed[0].registry, parsed[0].repository, parsed[0].effective_tag) == (
        parsed[1].registry,
        parsed[1].repository,
        parsed[1].effective_tag,
    )


def is_pinning_digest(text: str) -> bool:
    """True when ``text`` is a digest a registry can serve (``sha256:`` + 64 hex, or sha512)."""
    return _PINNING_DIGEST.fullmatch(text) is not None


def _split_domain(name: str) -> tuple[str | None, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return first, rest
    return None, name


# A release names the same few images thousands of times; parsing is pure, so cache it.
@lru_cache(maxsize=65536)
def parse_reference(text: str) -> ImageReference | None:
    """Parse ``text`` as an image reference; ``None`` when the grammar rejects it.

    A digest part that follows ``@`` but is not a valid digest (``@sha256:abc``) is kept in
    :attr:`ImageReference.digest` so that callers can say it is malformed; the reference is
    then not pinned.
    """
    if not text or len(text) > 4096 or _WHITESPACE.search(text):
        return None
    name_and_tag, at, digest_text = text.partition("@")
    digest: str | None = None
    if at:
        if not digest_text or "@" in digest_text:
            return None
        # A digest that does not even have the shape ``algorithm:hex`` is still a digest the
        # user meant to write; keep it (so the message can say it is malformed) when it at
        # least has an algorithm and a value.
        if _DIGEST_GRAMMAR.fullmatch(digest_text) is None and ":" not in digest_text:
            return None
        digest = digest_text
    name, tag = name_and_tag, None
    # The tag is after the last ':' only when that ':' is after the last '/': in
    # ``registry:5000/app`` the ':' belongs to the domain.
    colon = name_and_tag.rfind(":")
    if colon > name_and_tag.rfind("/"):
        name, tag = name_and_tag[:colon], name_and_tag[colon + 1 :]
        if _TAG.fullmatch(tag) is None:
            return None
    if not name or len(name) > _MAX_NAME_LENGTH:
        return None
    registry, repository = _split_domain(name)
    if registry is not None and _DOMAIN.fullmatch(registry) is None:
        return None
    components = repository.split("/")
    if not all(_PATH_COMPONENT.fullmatch(component) for component in components):
        return None
    return ImageReference(
        raw=text, registry=registry, repository=repository, tag=tag, digest=digest
    )
