"""The fact every image-naming reader shares: :class:`ImageUse`, one image a release runs or builds.

Kubernetes manifests, docker-compose files, Kustomize ``images:``, Helm values and Dockerfile
``FROM`` lines all end up here, so that BK101/BK305 judge them alike and ``backout pin`` can
rewrite any of them from the recorded span.
"""

from __future__ import annotations

from dataclasses import dataclass

from backout.models import Location
from backout.sources.base import Fact
from backout.sources.yamlfile import ScalarNode

SOURCES = ("kubernetes", "compose", "kustomize", "helm", "dockerfile")
"""The values of :attr:`ImageUse.source`."""


@dataclass(frozen=True)
class ImageUse(Fact):
    """One image reference a release pulls (or, for ``source="dockerfile"``, builds from).

    ``location`` points at the value itself (1-based line and column of its first character,
    the opening quote for a quoted scalar), not at the resource that holds it.

    ``reference`` is the reference to judge. It is the text as written, except where the file
    interpolates: a compose ``${TAG:-latest}`` or a Dockerfile ``$BASE`` is replaced by its
    default, ``written`` then keeps the text exactly as it is in the file and ``note`` says how
    the reference was derived ("default of ${TAG:-latest}"). ``unresolved`` names a variable
    with no default that decides the image (``${IMAGE}``): the image cannot be known from the
    repository, and ``reference`` is then the written text.

    ``value_start``/``value_end`` are character offsets into the decoded file text
    (:meth:`SourceFile.text`) spanning the whole scalar, quotes included, and ``quote`` is its
    quote character (``'``, ``"``, or ``""`` for a plain scalar). ``backout pin`` replaces that
    span byte-exactly. For Kustomize the span is the ``newTag`` (or ``name``) value: pinning
    there means adding a ``digest:`` key. Both are ``-1`` when there is no single span.
    """

    reference: str
    source: str
    context: str
    note: str = ""
    written: str = ""
    unresolved: str = ""
    value_start: int = -1
    value_end: int = -1
    quote: str = ""

    @property
    def text_in_file(self) -> str:
        """The value exactly as it is written in the file."""
        return self.written or self.reference

    @property
    def rewritable(self) -> bool:
        """True when the span holds exactly :attr:`reference`, so pinning may replace it."""
        return (
            self.value_start >= 0
            and not self.written
            and not self.unresolved
            and self.source != "kustomize"
        )


def scalar_span(path: str, node: ScalarNode) -> tuple[Location, int, int, str]:
    """Location, character span and quote character of a YAML scalar, for an :class:`ImageUse`."""
    start, end = node.start_mark, node.end_mark
    end_line = end.line + 1
    location = Location(
        path,
        start.line + 1,
        start.column + 1,
        end_line if end_line != start.line + 1 else 0,
        end.column + 1,
    )
    style = node.style or ""
    quote = style if style in ("'", '"') else ""
    return location, start.index, end.index, quote
