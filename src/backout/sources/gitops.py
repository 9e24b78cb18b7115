"""Helm charts that a GitOps controller installs by version: Flux ``HelmRelease`` and Argo CD
``Application``/``ApplicationSet``.

Both take the chart version as a semver constraint (Masterminds/semver): ``6.5.4`` or
``=6.5.4`` names one release, while ``6.5`` (a partial version), ``6.x``, ``*``, ``>=6.0.0``,
``~6.5``, ``^6`` or ``6.0 - 7.0`` name the newest chart that matches, re-resolved at each
reconcile; Flux installs the newest chart when ``version`` is left out. A chart that comes
from a git repository or a bucket (Flux ``sourceRef.kind: GitRepository``/``Bucket``, an
Argo CD source with ``path:`` rather than ``chart:``) is versioned by its commit, not here;
Flux ``chartRef`` names a ``HelmChart``/``OCIRepository`` object that holds the version: a
:class:`FluxChartRef` of the release and a :class:`FluxChartSource` of each such object whose
version floats (an ``OCIRepository``'s ``ref``: ``digest``, else ``semver``, else ``tag``,
``latest`` when none is set; a ``HelmChart``'s ``version``, ``*`` when left out), joined by
rule BK104 (the source may sit in another file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from backout.models import Location
from backout.sources.base import Fact, FactSet
from backout.sources.yamlfile import Node, elements, get, get_path, location, text_of

# One release: major.minor.patch, an optional `v` and `=`, pre-release and build metadata.
_EXACT = re.compile(
    r"=?\s*v?(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)


# A Masterminds/semver constraint: comparisons (`>=1.2`, `~1.2`, `^1`, `1.x`, `*`) joined by
# commas or spaces (and), `||` (or), or a hyphen range (`1.0 - 2.0`). Anything else (`HEAD`,
# `main`) is refused by both controllers ("invalid revision"), so it floats to nothing.
_VERSION = r"v?(?:\d+|[xX*])(?:\.(?:\d+|[xX*])){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
_COMPARISON = rf"(?:(?:!=|>=|=>|<=|=<|~>|[=><~^])\s*)?{_VERSION}"
_TERM = rf"(?:{_VERSION}\s+-\s+{_VERSION}|{_COMPARISON})"
_AND = rf"{_TERM}(?:\s*,\s*{_TERM}|\s+{_TERM})*"
_CONSTRAINT = re.compile(rf"\s*{_AND}(?:\s*\|\|\s*{_AND})*\s*")


@dataclass(frozen=True)
class ChartVersionRange(Fact):
    """A chart a GitOps controller installs by a version constraint that names no single
    release, located at the constraint (or at the chart's name when ``version`` is absent).

    ``resource`` is ``HelmRelease/<name>`` or ``Application/<name>``; ``controller`` is
    ``flux`` or ``argocd``; ``version`` is ``None`` when Flux's ``version`` is left out.
    """

    resource: str
    controller: str
    chart: str
    version: str | None


@dataclass(frozen=True)
class FluxChartRef(Fact):
    """A Flux HelmRelease whose chart is the artifact of a source object (``spec.chartRef``),
    located at ``chartRef``. ``namespace`` is the object's (``chartRef.namespace``, else the
    release's own), ``None`` when neither is written."""

    resource: str
    kind: str
    name: str
    namespace: str | None


@dataclass(frozen=True)
class FluxChartSource(Fact):
    """A Flux ``OCIRepository`` or ``HelmChart`` whose chart version floats, located at the
    value that lets it float (at ``spec.url``/``spec.chart`` when nothing is set).

    ``field`` names that value (``ref.semver``, ``ref.tag``, ``version``); ``version`` is
    ``None`` when nothing is set (``latest``, ``*``)."""

    kind: str
    name: str
    namespace: str | None
    chart: str
    field: str
    version: str | None


def names(reference: FluxChartRef, source: FluxChartSource) -> bool:
    """Whether a ``chartRef`` names the source object: its kind and name, and its namespace
    unless one of them is not written."""
    return (reference.kind, reference.name) == (source.kind, source.name) and (
        reference.namespace is None or source.namespace in (None, reference.namespace)
    )


def sources_of_new_references(head: FactSet, base: FactSet) -> dict[str, list[tuple[int, int]]]:
    """The lines (first and last, by path) of the floating source objects that a ``chartRef``
    new since ``base`` names: the change that points a HelmRelease at a floating source
    makes its chart float, though the source's own file did not change (``--base``)."""
    before = {(r.resource, r.kind, r.name, r.namespace) for r in base.of(FluxChartRef)}
    new = [
        r for r in head.of(FluxChartRef) if (r.resource, r.kind, r.name, r.namespace) not in before
    ]
    spans: dict[str, list[tuple[int, int]]] = {}
    for source in head.of(FluxChartSource) if new else ():
        if any(names(r, source) for r in new):
            line = source.location.line
            spans.setdefault(source.location.path, []).append((line, line))
    return spans


def is_exact(version: str) -> bool:
    """True for a constraint that matches one chart release (``1.2.3``, ``=v1.2.3-rc.1``)."""
    return _EXACT.fullmatch(version.strip()) is not None


def is_constraint(version: str) -> bool:
    """True for a Masterminds/semver constraint (``6.x``, ``>=6.0.0 <7``, ``^6 || ^7``);
    false for what no controller resolves (``HEAD``, a branch name)."""
    return _CONSTRAINT.fullmatch(version) is not None


def chart_versions(path: str, doc: Node, api_version: str, kind: str) -> Iterator[Fact]:
    """The floating chart versions of a Flux HelmRelease or an Argo CD Application or
    ApplicationSet document; nothing for any other kind."""
    name = text_of(get(get(doc, "metadata"), "name")) or "?"
    if kind == "HelmRelease" and api_version.startswith("helm.toolkit.fluxcd.io/"):
        yield from _flux(path, doc, f"HelmRelease/{name}")
    elif kind in ("OCIRepository", "HelmChart") and api_version.startswith(
        "source.toolkit.fluxcd.io/"
    ):
        yield from _flux_source(path, doc, kind, name)
    elif api_version.startswith("argoproj.io/") and kind in ("Application", "ApplicationSet"):
        spec = get(doc, "spec")
        if kind == "ApplicationSet":
            spec = get_path(spec, "template", "spec")
        sources = [get(spec, "source"), *elements(get(spec, "sources"))]
        for source in sources:
            yield from _argocd(path, source, f"{kind}/{name}")


def _flux(path: str, doc: Node, resource: str) -> Iterator[Fact]:
    reference = get_path(doc, "spec", "chartRef")
    target = text_of(get(reference, "name"))
    if reference is not None and target:
        namespace = text_of(get(reference, "namespace")) or text_of(
            get_path(doc, "metadata", "namespace")
        )
        kind = text_of(get(reference, "kind")) or ""
        at = location(path, get(reference, "name") or reference)
        yield FluxChartRef(at, resource, kind, target, namespace or None)
        return
    spec = get_path(doc, "spec", "chart", "spec")
    chart_node = get(spec, "chart")
    chart = text_of(chart_node)
    source_kind = text_of(get(get(spec, "sourceRef"), "kind")) or "HelmRepository"
    if source_kind in ("GitRepository", "Bucket"):
        return  # the chart's version is the source's revision; `version` is ignored
    version_node = get(spec, "version")
    version = text_of(version_node)
    if version_node is not None and version and not _floats(version):
        return
    if chart_node is None or not chart:
        # No chart: a kustomize overlay's patch of the release (fluxcd's
        # flux2-kustomize-helm-example `apps/staging/podinfo-values.yaml`), whose version is
        # the one the overlay deploys; one that sets no version keeps the base's.
        if version_node is not None and version:
            yield ChartVersionRange(location(path, version_node), resource, "flux", "", version)
        return
    where: Location = location(
        path, version_node if version_node is not None and version else chart_node
    )
    yield ChartVersionRange(where, resource, "flux", chart, version or None)


def _flux_source(path: str, doc: Node, kind: str, name: str) -> Iterator[Fact]:
    """An ``OCIRepository`` or ``HelmChart`` whose chart version floats (see the module
    docstring); nothing for one pinned to a digest or a single release."""
    spec = get(doc, "spec")
    namespace = text_of(get_path(doc, "metadata", "namespace")) or None
    if kind == "OCIRepository":
        ref = get(spec, "ref")
        anchor = get(spec, "url")
        chart = text_of(anchor) or name
        if text_of(get(ref, "digest")):
            return
        for field in ("semver", "tag"):
            node = get(ref, field)
            value = text_of(node)
            if node is None or not value:
                continue
            # A tag moves unless it is a release's (`6.5.4`) or pinned with its digest
            # (`6.6.2@sha256:…`); a semver ref floats when it is a range.
            if field == "semver" and not _floats(value):
                return
            if field == "tag" and (is_exact(value) or _substituted(value) or "@" in value):
                return
            yield FluxChartSource(
                location(path, node), kind, name, namespace, chart, f"ref.{field}", value
            )
            return
        where = ref if ref is not None else anchor
    else:
        anchor = get(spec, "chart")
        chart = text_of(anchor) or name
        if text_of(get(get(spec, "sourceRef"), "kind")) in ("GitRepository", "Bucket"):
            return  # versioned by the source's revision; `version` is ignored
        node = get(spec, "version")
        value = text_of(node)
        if node is not None and value:
            if not _floats(value):
                return
            yield FluxChartSource(
                location(path, node), kind, name, namespace, chart, "version", value
            )
            return
        where = anchor
    if where is not None:
        field = "ref.tag" if kind == "OCIRepository" else "version"
        yield FluxChartSource(location(path, where), kind, name, namespace, chart, field, None)


def _argocd(path: str, source: Node | None, resource: str) -> Iterator[Fact]:
    chart = text_of(get(source, "chart"))
    revision_node = get(source, "targetRevision")
    revision = text_of(revision_node)
    if not chart or revision_node is None or not revision or not _floats(revision):
        return
    yield ChartVersionRange(location(path, revision_node), resource, "argocd", chart, revision)


def _floats(version: str) -> bool:
    """Whether a written version names the newest of several chart releases: a constraint
    that is no single release, and not a parameter filled in elsewhere."""
    return not is_exact(version) and is_constraint(version) and not _substituted(version)


def _substituted(version: str) -> bool:
    """Whether the version is a parameter filled in before the controller reads it, so
    decided elsewhere: an ApplicationSet generator's ``{{values.chartVersion}}``, a Flux
    post-build variable ``${podinfo_version}`` (a Kustomization's ``postBuild.substitute``
    or ``substituteFrom``)."""
    return "{{" in version or "${" in version
