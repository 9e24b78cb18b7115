"""``check --online``: ask the registry what `rollout undo` would restore, as facts for rules.

For each image the release deploys, the *rollback target* is the reference the previous
release had in the same place: from the ``--base`` release (same file, same container), or,
without ``--base``, from ``backout.lock``'s history (the newest recorded digest of the same
repository that differs from this release's). An image the ``--base`` release deploys and this
release no longer does (a container or workload removed) is a target too: rolling back brings it
back, so it must still exist. Each target is resolved today and recorded as a
:class:`RollbackTarget` fact on the head release; rules BK303 (target gone) and BK304 (target
now resolves to this release's image) judge them. Offline, no such fact exists.

The images are those BK101, ``plan`` and ``pin`` judge (:func:`judged_image_uses`): Helm
values only where a template runs them, with the tag the templates fall back to. An image that
no reference in the repository names — one a Helm template builds from more than its values
mapping, one a variable without a default decides, or a manifest's placeholder a deploy step
fills in (``${IMAGE}``, ``api:<TAG>``) — is not asked about:
:func:`not_checked` says which, and the CLI prints them after the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from backout.config import Config
from backout.engine import (
    CheckResult,
    Workspace,
    enabled_rules,
    finish,
    load_workspace,
    run_rules,
)
from backout.imageref import ImageReference, parse_reference
from backout.models import Location
from backout.registry.client import RegistryClient
from backout.registry.facts import RollbackTarget
from backout.sources.base import FactSet
from backout.sources.helm import HelmImage, judged_image_uses
from backout.sources.images import ImageUse
from backout.sources.lockfile import LockedImage, LockEntry

# The images `rollout undo` (or a GitOps revert) puts back; Dockerfile FROM is a build input.
DEPLOYED_SOURCES = ("kubernetes", "compose", "kustomize", "helm", "ecs")


@dataclass(frozen=True)
class NotChecked:
    """An image of the release that the online checks did not ask a registry about: at
    ``location``, for ``reason``, which starts with ``built_at`` when that is set."""

    location: Location
    reason: str
    built_at: Location | None = None

    def shown(self, prefix: str = "") -> str:
        """``path:line:col: why``, each path with ``prefix`` (the report's, see ``from_cwd``)."""

        def where(location: Location) -> str:
            return f"{prefix}/{location}" if prefix else str(location)

        built = f"{where(self.built_at)} " if self.built_at is not None else ""
        return f"{where(self.location)}: {built}{self.reason}"


def _not_checked(use: ImageUse) -> NotChecked | None:
    """Why no reference in the repository names the image ``use`` deploys; ``None``: one does."""
    if isinstance(use, HelmImage) and use.built_at is not None:
        # ``reference`` joins the mapping's fields: an image that no container runs
        return NotChecked(
            use.location,
            f"builds the image from more than `{use.values_path}` ({use.built_as}), so no "
            "reference in the repository names it",
            use.built_at,
        )
    if use.unresolved:
        image = (
            "the image is set entirely by"
            if use.text_in_file == use.unresolved
            else f"the image `{use.text_in_file}` depends on"
        )
        return NotChecked(
            use.location, f"{image} {use.unresolved}, which has no value in the repository"
        )
    if parse_reference(use.reference) is None:
        # A manifest's ``${IMAGE}`` or ``<TAG>`` that a deploy step (envsubst, sed) fills in.
        return NotChecked(
            use.location,
            f"`{use.reference}` is filled in at deploy (no valid image reference as written)",
        )
    return None


def _deployed_uses(facts: FactSet) -> list[ImageUse]:
    """The images the release deploys, as BK101, plan and pin judge them."""
    return [use for use in judged_image_uses(facts) if use.source in DEPLOYED_SOURCES]


def _deployed(facts: FactSet) -> list[ImageUse]:
    return [use for use in _deployed_uses(facts) if _not_checked(use) is None]


def not_checked(facts: FactSet) -> list[NotChecked]:
    """The deployed images whose rollback target the online checks cannot ask about."""
    found = [gap for use in _deployed_uses(facts) if (gap := _not_checked(use)) is not None]
    return sorted(found, key=lambda gap: gap.location)


def _history(facts: FactSet | None) -> list[LockEntry]:
    if facts is None:
        return []
    locked = sorted(facts.of(LockedImage), key=lambda f: (f.location.path, f.order))
    return [fact.entry for fact in locked]


def _lock_origin(facts: FactSet) -> str:
    paths = sorted({fact.location.path for fact in facts.of(LockedImage)})
    return paths[0] if paths else "backout.lock"


class _Resolver:
    """Asks the registry once per (registry, repository, tag-or-digest)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self.answers: dict[tuple[str, str, str], str | None] = {}

    def digest(self, image: ImageReference) -> str | None:
        ask = image.digest if image.is_pinned and image.digest else image.effective_tag
        key = (image.domain, image.normalized_repository, ask)
        if key not in self.answers:
            info = self.client.head_manifest(*key)
            self.answers[key] = info.digest if info is not None else None
        return self.answers[key]


def _same_slot(use: ImageUse, image: ImageReference, base_uses: list[ImageUse]) -> ImageUse | None:
    """The base release's image in the same place: same file and context, else same repo."""
    in_file = [b for b in base_uses if b.location.path == use.location.path]
    for base_use in in_file:
        if base_use.context == use.context:
            return base_use
    for base_use in in_file:
        base_image = parse_reference(base_use.reference)
        if base_image is not None and (
            base_image.domain,
            base_image.normalized_repository,
        ) == (image.domain, image.normalized_repository):
            return base_use
    return None


def _recorded(reference: str, history: list[LockEntry], release_digest: str | None) -> str | None:
    """The newest digest the lock recorded for ``reference`` that is not the release's."""
    for entry in history:
        if entry.reference == reference and entry.digest != release_digest:
            return entry.digest
    return None


def observe(workspace: Workspace, client: RegistryClient) -> Iterator[RollbackTarget]:
    """The rollback target of every deployed image of the head release, resolved today."""
    resolver = _Resolver(client)
    base_facts = workspace.base.facts if workspace.base is not None else None
    head_history = _history(workspace.head.facts)
    history = _history(base_facts) + head_history
    base_uses = _deployed(base_facts) if base_facts is not None else []
    matched: set[ImageUse] = set()
    for use in sorted(_deployed(workspace.head.facts), key=lambda u: u.location):
        image = parse_reference(use.reference)
        if image is None or image.has_malformed_digest:
            continue
        release_digest = resolver.digest(image)
        target: ImageReference | None = None
        recorded: str | None = None
        if base_facts is not None:
            base_use = _same_slot(use, image, base_uses)
            if base_use is not None:
                matched.add(base_use)
            target = parse_reference(base_use.reference) if base_use is not None else None
            if target is None or target.has_malformed_digest:
                continue
            recorded = (
                target.digest
                if target.is_pinned
                else _recorded(target.raw, history, release_digest)
            )
            origin = f"--base {workspace.base_label}"
        else:
            entry = next(
                (
                    e
                    for e in head_history
                    if (e.registry, e.repository) == (image.domain, image.normalized_repository)
                    and e.digest != release_digest
                ),
                None,
            )
            if entry is None:
                continue
            written = f"{entry.reference}@{entry.digest}" if entry.written else entry.reference
            target = parse_reference(written)
            if target is None:
                continue
            recorded = entry.digest
            origin = _lock_origin(workspace.head.facts)
        yield RollbackTarget(
            use.location,
            release_reference=use.reference,
            release_digest=release_digest,
            target_reference=target.raw,
            target_digest=resolver.digest(target),
            recorded_digest=recorded,
            origin=origin,
            target_pinned=target.is_pinned,
        )
    for base_use in sorted(set(base_uses) - matched, key=lambda u: u.location):
        yield from _removed(base_use, resolver, history, f"--base {workspace.base_label}")


def _removed(
    base_use: ImageUse, resolver: _Resolver, history: list[LockEntry], origin: str
) -> Iterator[RollbackTarget]:
    """The target of an image the release removes: rolling back deploys it again.

    There is no release value to point at, so the fact is located where the previous
    release names the image (``origin`` says which release that is).
    """
    target = parse_reference(base_use.reference)
    if target is None or target.has_malformed_digest:
        return
    yield RollbackTarget(
        base_use.location,
        release_reference="",
        release_digest=None,
        target_reference=target.raw,
        target_digest=resolver.digest(target),
        recorded_digest=target.digest if target.is_pinned else _recorded(target.raw, history, None),
        origin=origin,
        target_pinned=target.is_pinned,
        removed_context=base_use.context,
    )


def check_online(
    target: Path, config: Config, base: str | None, client: RegistryClient
) -> tuple[CheckResult, list[NotChecked]]:
    """``backout check --online``: the static rules plus the registry's answers, and the
    release's images that were not asked about."""
    workspace = load_workspace(target, config, base)
    workspace.head.facts.extend(observe(workspace, client))
    rules = enabled_rules(config)
    gaps = not_checked(workspace.head.facts)
    return finish(workspace, run_rules(workspace, rules), rules), gaps
