"""``backout pin``: resolve mutable image references to digests and write them into the files.

Every image a release deploys or builds from (the references BK101 and BK305 judge: Kubernetes
pod templates, compose services, Kustomize ``images:``, Helm values, Dockerfile ``FROM``) that
is not pinned is resolved against its registry, and the digest is written where the reader
said it goes (:class:`~backout.sources.images.PinEdit`): after the tag (``repo:tag@sha256:…``,
the tag kept for readers), inside a compose ``${TAG:-1.4}`` default, into the ``ARG`` default a
``FROM $BASE`` reads, as a ``digest:`` key next to a Kustomize ``newTag``, or into a Helm
chart's ``image.digest`` or ``image.tag``, as its templates allow. Everything else (comments,
quoting, layout) stays byte for byte. A pinned reference is checked too: a digest the registry
no longer has is a rollback that cannot happen (kbld passes such digests through unverified).
Multi-arch images keep their index digest.

Files are written atomically (a temp file in the same directory, then ``os.replace``) and only
when their bytes are still those that were read. The lock (``backout.lock``) records each
resolution, newest first, trimmed to ``keep-releases`` entries per repository.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from backout.config import Config
from backout.engine import load_workspace
from backout.imageref import ImageReference, parse_reference
from backout.models import Location
from backout.registry.client import RegistryClient
from backout.sources.helm import HelmImage, judged_image_uses, misrendered_tag
from backout.sources.images import ImageUse
from backout.sources.kustomize import refused_tag
from backout.sources.lockfile import LockEntry, LockError, dump_lock, parse_lock


class PinError(Exception):
    """Pinning cannot go on (a file changed under us, a broken lock); safe to show."""


@dataclass(frozen=True)
class Resolution:
    """An unpinned reference and the digest its tag resolves to today."""

    use: ImageUse
    image: ImageReference
    digest: str
    media_type: str
    in_place: bool = False
    """True when the reader said where the digest goes and the file still holds what it read
    there, so that ``--write`` may write it."""

    @property
    def pinned_reference(self) -> str:
        """The reference as it will be written: tag kept, digest added."""
        return self.image.pinned(self.digest)


@dataclass(frozen=True)
class PinProblem:
    """A reference that cannot be pinned, or a pin that no longer holds."""

    location: Location
    reference: str
    reason: str


@dataclass
class PinPlan:
    """What ``pin`` found: resolutions to write, references already pinned, and problems."""

    root: Path
    resolutions: list[Resolution] = field(default_factory=list)
    pinned: list[ImageUse] = field(default_factory=list)
    problems: list[PinProblem] = field(default_factory=list)
    # sha256 of each file's bytes as read while planning: a file that differs at write time
    # was changed by someone else and is left alone.
    read_hashes: dict[str, bytes] = field(default_factory=dict)
    # What the CLI puts before a path it prints (``deploy/`` for ``backout pin deploy`` run
    # from the repository root), as ``backout check`` does.
    shown_prefix: str = ""

    def shown(self, where: Location | str) -> str:
        """``where`` (a location or a path relative to ``root``) as the CLI prints it."""
        return f"{self.shown_prefix}/{where}" if self.shown_prefix else str(where)

    @property
    def clean(self) -> bool:
        """True when every reference is pinned to a digest that exists."""
        return not self.resolutions and not self.problems


def plan(target: Path, config: Config, client: RegistryClient) -> PinPlan:
    """Resolve every deployed image reference under ``target``; verify existing pins."""
    workspace = load_workspace(target, config)
    result = PinPlan(root=workspace.root)
    seen: dict[tuple[str, str, str], tuple[str, str] | None] = {}
    texts: dict[str, str | None] = {}
    uses = judged_image_uses(workspace.head.facts)
    for use in sorted(uses, key=lambda u: u.location):
        misread = misrendered_tag(use) or refused_tag(use)
        if misread is not None:
            # Pinning the tag as written would change which image runs (Helm), or pin a file
            # kustomize refuses to read (its fix, quoting, is the user's to make).
            why, fix = misread
            result.problems.append(
                PinProblem(use.location, use.text_in_file, f"not pinned: {why}; {fix}")
            )
            continue
        reference = use.reference
        if isinstance(use, HelmImage) and use.built_at is not None:
            # ``reference`` names no image that runs: asking the registry about it is wrong
            image = _built_image(use, result)
            if image is None:
                continue
            reference = use.built_as
        else:
            image = parse_reference(reference)
        if use.unresolved or image is None:
            why = (
                f"decided by {use.unresolved}, which has no default in the repository; "
                "pin it by hand (give it a default pinned by digest)"
                if use.unresolved
                else "not a valid reference"
            )
            result.problems.append(
                PinProblem(use.location, use.text_in_file, f"cannot be resolved: {why}")
            )
            continue
        ask = image.digest if image.is_pinned else image.effective_tag
        key = (image.domain, image.normalized_repository, str(ask))
        if key not in seen:
            info = client.head_manifest(*key)
            seen[key] = (info.digest, info.media_type) if info is not None else None
        answer = seen[key]
        shown = f"{image.domain}/{image.normalized_repository}"
        if image.is_pinned:
            if answer is None:
                result.problems.append(
                    PinProblem(
                        use.location,
                        reference,
                        f"the pinned digest no longer exists in {shown}: "
                        "a rollback to this release would fail to pull",
                    )
                )
            else:
                result.pinned.append(use)
            continue
        if answer is None:
            result.problems.append(
                PinProblem(
                    use.location, use.reference, f"tag {image.effective_tag} not found in {shown}"
                )
            )
            continue
        in_place = use.rewritable and _edit_holds(texts, workspace.root, use)
        resolution = Resolution(use, image, answer[0], answer[1], in_place)
        if not in_place:
            how = use.pin_blocked or (
                "the file no longer holds what was read there"
                if use.rewritable
                else f"pin does not know where the digest goes in this {use.source} file"
            )
            result.problems.append(
                PinProblem(
                    use.location,
                    use.text_in_file,
                    f"resolves to {resolution.digest} but {how}; pin it by hand",
                )
            )
        result.resolutions.append(resolution)
    for path in sorted({r.use.location.path for r in result.resolutions if r.in_place}):
        data = (result.root / path).read_bytes()
        # The spans were recorded from the text the reader saw; they must still fit it.
        _rewrite(
            path,
            data,
            [r for r in result.resolutions if r.in_place and r.use.location.path == path],
        )
        result.read_hashes[path] = hashlib.sha256(data).digest()
    return result


def _built_image(use: HelmImage, result: PinPlan) -> ImageReference | None:
    """The image to check for a values image its template builds from more than the values:
    the image as built, when the tag pins it and the values tell all of it.

    ``None`` when no registry is asked: a digest in the tag pins every image the template
    builds, but which repository holds it cannot be told (``<.Values.cart.name>``), so it
    counts as pinned unchecked; an unpinned one is a problem (its tag may feed several images).
    """
    built = parse_reference(use.built_as)
    if built is not None and built.is_pinned:
        return built
    own = parse_reference(use.reference)
    if own is not None and own.is_pinned:
        result.pinned.append(use)
    else:
        result.problems.append(
            PinProblem(use.location, use.built_as, f"not pinned: {use.pin_blocked}")
        )
    return None


def _edit_holds(texts: dict[str, str | None], root: Path, use: ImageUse) -> bool:
    """True when the file still holds, where ``use``'s edit goes, the text the reader saw.

    ``texts`` caches each file's text (``None``: unreadable) for the other references in it.
    """
    path = use.location.path
    if path not in texts:
        try:
            texts[path] = _decode(path, (root / path).read_bytes())[1]
        except (OSError, PinError):
            texts[path] = None
    text, edit = texts[path], use.pin_edit
    return text is not None and edit is not None and text[edit.start : edit.end] == edit.old


def write_pins(pin_plan: PinPlan) -> list[str]:
    """Rewrite each file's references in place; return the paths written.

    A file whose bytes differ from what was read when planning is not touched.
    """
    by_path: dict[str, list[Resolution]] = {}
    for resolution in pin_plan.resolutions:
        if resolution.in_place:
            by_path.setdefault(resolution.use.location.path, []).append(resolution)
    written = []
    # A symbolic link and its target (or two links) are one file: rewrite it once.
    done: set[str] = set()
    for path, resolutions in sorted(by_path.items()):
        file = pin_plan.root / path
        real = os.path.realpath(file)
        if real in done:
            continue
        done.add(real)
        data = file.read_bytes()
        expected = pin_plan.read_hashes.get(path)
        if expected is None or hashlib.sha256(data).digest() != expected:
            raise PinError(f"{pin_plan.shown(path)} changed since it was read; not overwritten")
        new_data = _rewrite(pin_plan.shown(path), data, resolutions)
        if new_data != data:
            atomic_write(file, new_data, expected=expected)
            written.append(path)
    return written


def _decode(path: str, data: bytes) -> tuple[bytes, str]:
    """The UTF-8 byte order mark of ``data`` (or nothing) and its text, as the readers saw it."""
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    try:
        return bom, data[len(bom) :].decode("utf-8")
    except UnicodeDecodeError:
        raise PinError(f"{path} changed since it was read (no longer UTF-8)") from None


def _rewrite(path: str, data: bytes, resolutions: Iterable[Resolution]) -> bytes:
    bom, text = _decode(path, data)
    # One edit may serve several references (two ``FROM $BASE`` share ``ARG BASE``).
    edits: dict[tuple[int, int], tuple[Resolution, str]] = {}
    for resolution in resolutions:
        edit = resolution.use.pin_edit
        assert edit is not None
        edits.setdefault((edit.start, edit.end), (resolution, resolution.digest))
    # From the end, so that earlier offsets stay valid.
    for _, (resolution, digest) in sorted(edits.items(), key=lambda item: item[0], reverse=True):
        edit = resolution.use.pin_edit
        assert edit is not None
        patched = edit.apply(text, digest)
        if patched is None:
            where = dataclasses.replace(resolution.use.location, path=path)
            raise PinError(
                f"{where}: expected {edit.old!r} there; the file changed since it was read"
            )
        text = patched
    return bom + text.encode("utf-8")


def atomic_write(file: Path, data: bytes, expected: bytes | None = None) -> None:
    """Replace ``file`` with ``data`` via a temp file and rename, keeping its mode.

    With ``expected`` (the sha256 of the bytes read), a file changed since is left alone and
    :class:`PinError` is raised. A symbolic link is written through: its target is replaced
    and the link stays a link.
    """
    file = Path(os.path.realpath(file))
    if expected is not None:
        try:
            current = file.read_bytes()
        except FileNotFoundError:
            raise PinError(f"{file} was removed since it was read; not written") from None
        if hashlib.sha256(current).digest() != expected:
            raise PinError(f"{file} changed since it was read; not overwritten")
    mode = file.stat().st_mode & 0o7777 if file.exists() else 0o644
    handle, temp_name = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, file)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def read_lock(lock: Path) -> tuple[list[LockEntry], bytes | None]:
    """The entries of ``lock`` (none when it does not exist) and the bytes they came from."""
    try:
        data = lock.read_bytes()
    except FileNotFoundError:
        return [], None
    try:
        return parse_lock(data.decode("utf-8")), data
    except (LockError, UnicodeDecodeError) as exc:
        raise PinError(f"{lock}: {exc}; fix or delete it") from None


def update_lock(
    lock: Path,
    pin_plan: PinPlan,
    keep_releases: int,
    written: bool,
    now: dt.datetime | None = None,
) -> list[LockEntry]:
    """Record this run's resolutions (and existing pins) in ``lock``; return its entries.

    A resolution already recorded (same reference and digest) moves to the top with its
    original time; each repository keeps its ``keep_releases`` newest entries (at least 2:
    the release and its rollback target).
    """
    entries, original = read_lock(lock)
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh: list[LockEntry] = []
    for resolution in pin_plan.resolutions:
        image = resolution.image
        fresh.append(
            LockEntry(
                reference=image.raw.split("@", 1)[0],
                digest=resolution.digest,
                registry=image.domain,
                repository=image.normalized_repository,
                media_type=resolution.media_type,
                resolved_at=stamp,
                written=written and resolution.in_place,
            )
        )
    for use in pin_plan.pinned:
        pinned = parse_reference(use.reference)
        if pinned is not None and pinned.digest is not None:
            fresh.append(
                LockEntry(
                    reference=pinned.raw.split("@", 1)[0],
                    digest=pinned.digest,
                    registry=pinned.domain,
                    repository=pinned.normalized_repository,
                    media_type="",
                    resolved_at=stamp,
                    written=True,
                )
            )
    merged: list[LockEntry] = []
    for entry in fresh + entries:
        same = next(
            (
                i
                for i, kept in enumerate(merged)
                if (kept.reference, kept.digest) == (entry.reference, entry.digest)
            ),
            None,
        )
        if same is None:
            merged.append(entry)
        else:
            # Keep the first time this digest was seen, and the best-known media type.
            kept = merged[same]
            merged[same] = LockEntry(
                kept.reference,
                kept.digest,
                kept.registry,
                kept.repository,
                kept.media_type or entry.media_type,
                min(kept.resolved_at, entry.resolved_at),
                kept.written or entry.written,
            )
    limit = max(2, keep_releases)
    per_repository: dict[tuple[str, str], int] = {}
    trimmed = []
    for entry in merged:
        key = (entry.registry, entry.repository)
        per_repository[key] = per_repository.get(key, 0) + 1
        if per_repository[key] <= limit:
            trimmed.append(entry)
    text = dump_lock(trimmed).encode("utf-8")
    if text != original:
        if original is None:
            lock.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(lock, text)
        else:
            atomic_write(lock, text, expected=hashlib.sha256(original).digest())
    return trimmed
