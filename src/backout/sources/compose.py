"""docker-compose files: the ``image:`` of every service, with compose interpolation applied.

Which files: ``docker-compose*.yml``/``.yaml`` and ``compose*.yml``/``.yaml`` (the names
``docker compose`` looks for, plus their override and per-environment variants).

``image: shop:${TAG:-latest}`` is judged as ``shop:latest``, the image that runs whenever
``TAG`` is unset, and the fact's ``note`` says so. ``image: ${IMAGE}`` (no default) cannot be
known from the repository: the fact carries ``unresolved`` instead. A ``.env`` beside the
compose file (not one that ``.gitignore`` leaves out: that is no part of the release) sets the
variables the shell leaves unset: :func:`backout.sources.compose_env.link_compose_env`
applies it once every file is read, since a reader sees one file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.images import (
    BLOCK_SCALAR,
    ImageUse,
    PinEdit,
    digest_offset,
    interpolate,
    scalar_span,
    scalar_suffix_edit,
    suffix_edit,
    value_start,
)
from backout.sources.paths import is_compose_file
from backout.sources.yamlfile import get, items, text_of, yaml_documents

if TYPE_CHECKING:
    from backout.sources.yamlfile import ScalarNode


class ComposeReader:
    """Reads docker-compose files into :class:`ImageUse` facts (``source="compose"``)."""

    name: ClassVar[str] = "compose"

    def wants(self, path: str) -> bool:
        """``docker-compose*.y*ml`` and ``compose*.y*ml`` files."""
        return is_compose_file(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """One fact per service ``image:``; Unreadable when the file is not YAML."""
        documents = yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            return [documents]
        # Services that share an image through a merge key (``<<: *app``) share its node:
        # one fact for the place it is written, naming every service that runs it.
        services_of: dict[int, tuple[ScalarNode, list[str]]] = {}
        for doc in documents:
            for service, definition in items(get(doc, "services")):
                image = get(definition, "image")
                if isinstance(image, yamlfile.ScalarNode) and text_of(image):
                    services_of.setdefault(image.start_mark.index, (image, []))[1].append(service)
        facts: list[Fact] = []
        text = file.text() or ""
        for image, services in services_of.values():
            written = text_of(image)
            assert written is not None
            loc, start, end, quote = scalar_span(file.path, text, image)
            substituted = interpolate(written)
            note = ", ".join(f"default of {used}" for used in substituted.defaults_used)
            unresolved = ", ".join(substituted.unresolved)
            edit, blocked = _pin_edit(text, image)
            facts.append(
                ImageUse(
                    loc,
                    reference=substituted.value if not unresolved else written,
                    source="compose",
                    context=f"compose service{'s' if len(services) > 1 else ''} "
                    + ", ".join(services),
                    note=note,
                    written=written if substituted.changed else "",
                    unresolved=unresolved,
                    required=substituted.required,
                    unresolved_rest=", ".join(
                        u
                        for u in substituted.unresolved
                        if u not in substituted.required_expressions
                    ),
                    value_start=start,
                    value_end=end,
                    quote=quote,
                    pin_edit=None if unresolved else edit,
                    pin_blocked=blocked,
                )
            )
        return facts


def _pin_edit(text: str, image: ScalarNode) -> tuple[PinEdit | None, str]:
    """Where ``pin`` writes the digest: at the end, or inside a final ``${VAR:-default}``."""
    if scalar_suffix_edit(text, image) is None:
        return None, BLOCK_SCALAR
    offset, why = digest_offset(str(image.value))
    if offset is None:
        return None, why
    start, end = value_start(text, image), image.end_mark.index
    quote = len(image.style or "")
    return suffix_edit(text, start, end, start + quote + offset), ""
