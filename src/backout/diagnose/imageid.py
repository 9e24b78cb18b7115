"""What a pod really runs: ``status.containerStatuses[].imageID`` in its several forms.

The runtime decides the form (FIELD-NOTES §5.1): ``docker-pullable://repo@sha256:…`` (dockershim
and cri-dockerd), ``repo@sha256:…`` (containerd, CRI-O), ``docker://sha256:…`` or a bare
``sha256:…`` — a *config* ID, the hash of the image configuration, which is not a manifest
digest and can never be fetched from a registry. Two images are the same only when both sides
are the same kind of ID. A registry digest may also be an image index's digest on one runtime
and the platform manifest's on another (§5.2), so a mismatch against a pinned index digest is
"cannot tell offline", not "different image".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from backout.imageref import is_pinning_digest, parse_reference

_SCHEMES = ("docker-pullable://", "docker://", "containerd://", "cri-o://")


class IdKind(enum.Enum):
    """What kind of identifier an ``imageID`` turned out to be."""

    REGISTRY_DIGEST = "registry-digest"
    CONFIG_ID = "config-id"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RunningImage:
    """A normalised ``imageID``: the repository (canonical) and the digest, and their kind."""

    raw: str
    kind: IdKind
    digest: str = ""
    repository: str = ""

    def same_image(self, other: RunningImage) -> bool | None:
        """True/False when the two IDs can be compared; ``None`` when they cannot."""
        if self.kind is IdKind.UNKNOWN or other.kind is IdKind.UNKNOWN or self.kind != other.kind:
            return None
        return self.digest == other.digest

    @property
    def short(self) -> str:
        """The digest shortened for tables (``sha256:0123456789ab``)."""
        return short_digest(self.digest) if self.digest else self.raw


def short_digest(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits, as ``docker images`` shows IDs."""
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest


def canonical_repository(name: str) -> str:
    """``registry/repository`` as a registry knows it (``nginx`` → ``docker.io/library/nginx``)."""
    reference = parse_reference(name)
    if reference is None:
        return name
    return f"{reference.domain}/{reference.normalized_repository}"


def parse_image_id(image_id: str) -> RunningImage:
    """Normalise one ``imageID`` (any of the forms in the module docs)."""
    text = image_id.strip()
    for scheme in _SCHEMES:
        if text.startswith(scheme):
            text = text[len(scheme) :]
            break
    if is_pinning_digest(text):
        return RunningImage(image_id, IdKind.CONFIG_ID, text)
    name, at, digest = text.rpartition("@")
    if at and is_pinning_digest(digest) and name:
        return RunningImage(image_id, IdKind.REGISTRY_DIGEST, digest, canonical_repository(name))
    return RunningImage(image_id, IdKind.UNKNOWN)


def template_digest(image: str) -> RunningImage | None:
    """The registry digest an image reference pins, or ``None`` when it names a tag only."""
    reference = parse_reference(image)
    if reference is None or not reference.is_pinned or reference.digest is None:
        return None
    return RunningImage(
        image,
        IdKind.REGISTRY_DIGEST,
        reference.digest,
        f"{reference.domain}/{reference.normalized_repository}",
    )


def is_mutable(image: str) -> bool:
    """True when the reference names a tag (or nothing) instead of a digest."""
    reference = parse_reference(image)
    return reference is None or not reference.is_pinned


def repository_of(image: str) -> str:
    """The reference as written without tag and digest (``registry.example.com/shop/api``)."""
    reference = parse_reference(image)
    return reference.familiar_name if reference is not None else image.split("@")[0]
