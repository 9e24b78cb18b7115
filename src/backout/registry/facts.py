"""The fact the online checks record: a rollback target and the registry's answer about it.

Kept apart from :mod:`backout.registry.online` (which drives the engine) so that rules can
import it without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from backout.sources.base import Fact


@dataclass(frozen=True)
class RollbackTarget(Fact):
    """What rolling this image back would restore, and what the registry says about it today.

    ``location`` is the release's image value. ``release_digest`` is what the release's
    reference resolves to now (its own digest when pinned). ``target_reference`` is the
    reference the rollback restores, as it would be written; ``target_digest`` what it
    resolves to today (``None``: the registry answers manifest unknown). ``recorded_digest`` is
    what the previous release ran by the record (its pin, or the lock), when known.
    ``origin`` says where the target came from: ``--base <label>`` or the lock's path.

    ``removed_context`` is set (``Deployment/shop container worker``) when this release no
    longer deploys the image at all: ``location`` is then where the previous release names it,
    and ``release_reference`` is empty.
    """

    release_reference: str
    release_digest: str | None
    target_reference: str
    target_digest: str | None
    recorded_digest: str | None
    origin: str
    target_pinned: bool
    removed_context: str = ""
