"""Flux source objects that hold a chart's version (``OCIRepository``, ``HelmChart``): which
ones float, read from the manifests as Flux's source-controller reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from backout.config import Config
from backout.engine import check
from backout.sources.base import SourceFile
from backout.sources.gitops import ChartVersionRange, FluxChartRef, FluxChartSource
from backout.sources.manifests import ManifestReader

OCI = (
    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\n"
    "metadata:\n  name: app\nspec:\n  url: oci://r.example.com/charts/app\n"
)
HELM_CHART = (
    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\n"
    "metadata:\n  name: app\nspec:\n  chart: app\n"
)


def floating(text: str) -> list[tuple[str, str | None, int]]:
    facts = ManifestReader().read(SourceFile("sources.yaml", text.encode()))
    return [(f.field, f.version, f.location.line) for f in facts if isinstance(f, FluxChartSource)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OCI, [("ref.tag", None, 6)]),  # no ref: Flux pulls `latest`
        (OCI + "  ref:\n    tag: latest\n", [("ref.tag", "latest", 8)]),
        (OCI + "  ref:\n    tag: 6.5.4\n", []),
        # A digest wins over a range; semver over tag; a tag pinned with its digest is one.
        (OCI + "  ref:\n    semver: '>=6'\n    digest: sha256:" + "a" * 64 + "\n", []),
        (OCI + "  ref:\n    tag: 6.5.4\n    semver: 6.x\n", [("ref.semver", "6.x", 9)]),
        (OCI + "  ref:\n    tag: 6.6.2@sha256:" + "b" * 64 + "\n", []),
        (OCI + "  ref:\n    semver: ${chart_version}\n", []),  # post-build substitution
        (HELM_CHART, [("version", None, 6)]),
        (HELM_CHART + "  version: '~19.6'\n", [("version", "~19.6", 7)]),
        (HELM_CHART + "  version: 19.6.2\n", []),
        (HELM_CHART + "  sourceRef:\n    kind: GitRepository\n    name: charts\n", []),
    ],
)
def test_which_flux_sources_float(text: str, expected: list[tuple[str, str | None, int]]) -> None:
    assert floating(text) == expected


def test_a_chart_ref_takes_the_releases_namespace_unless_it_names_one() -> None:
    text = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
        "metadata:\n  name: a\n  namespace: apps\nspec:\n  chartRef:\n"
        "    kind: OCIRepository\n    name: app\n---\n"
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
        "metadata:\n  name: b\nspec:\n  chartRef:\n"
        "    kind: HelmChart\n    name: app\n    namespace: flux-system\n"
    )
    facts = ManifestReader().read(SourceFile("releases.yaml", text.encode()))
    references = [f for f in facts if isinstance(f, FluxChartRef)]
    assert [(r.resource, r.kind, r.name, r.namespace, r.location.line) for r in references] == [
        ("HelmRelease/a", "OCIRepository", "app", "apps", 9),
        ("HelmRelease/b", "HelmChart", "app", "flux-system", 18),
    ]


@pytest.mark.parametrize(
    ("revision", "floats"),
    [
        ("6.x", True),
        (">=6.0.0 <7.0.0", True),
        (">=6.0.0, <7", True),
        ("^6 || ^7", True),
        ("6.0 - 7.0", True),
        ("*", True),
        ("6.5.4", False),
        # Not a constraint: Argo CD's repo-server refuses it ("invalid revision 'HEAD'",
        # newHelmClientResolveRevision), so no newer chart is ever installed by it.
        ("HEAD", False),
        ("main", False),
    ],
)
def test_an_argocd_helm_source_floats_only_on_a_range(revision: str, floats: bool) -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n"
        "spec:\n  source:\n    repoURL: https://charts.example.com\n    chart: shop\n"
        f"    targetRevision: '{revision}'\n"
    )
    facts = ManifestReader().read(SourceFile("app.yaml", text.encode()))
    assert any(isinstance(f, ChartVersionRange) for f in facts) is floats


@pytest.mark.parametrize(
    ("chart_spec", "expected"),
    [
        ("      version: '>=1.0.0-alpha'\n", [(None, ">=1.0.0-alpha", 8)]),
        ("      version: 6.9.1\n", []),
        # A patch that leaves the version alone keeps the base's.
        ("      reconcileStrategy: Revision\n", []),
        ("      version: 6.x\n      sourceRef:\n        kind: GitRepository\n", []),
    ],
)
def test_a_kustomize_patch_of_a_helm_release_is_judged_by_the_version_it_sets(
    chart_spec: str, expected: list[tuple[str | None, str, int]]
) -> None:
    # The patch an overlay applies to a base's HelmRelease names no chart, only the version
    # that overlay deploys (fluxcd/flux2-kustomize-helm-example apps/staging).
    text = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n"
        "spec:\n  chart:\n    spec:\n" + chart_spec
    )
    facts = ManifestReader().read(SourceFile("patch.yaml", text.encode()))
    ranges = [f for f in facts if isinstance(f, ChartVersionRange)]
    assert [(f.chart or None, f.version, f.location.line) for f in ranges] == expected


def test_with_base_a_release_that_now_takes_a_floating_source_reports_the_source(
    tmp_path: Path,
) -> None:
    """``--base`` reports what changed: a HelmRelease switched to a ``chartRef`` naming an
    OCIRepository that floats, in a file the change left alone, is reported at the source,
    and the source file's other findings are not."""
    source = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\n"
        "metadata:\n  name: other\nspec:\n  chart: other\n---\n"
        + OCI.replace("name: app", "name: app\n  namespace: apps")
        + "  ref:\n    semver: '>=6.0.0'\n"
    )
    pinned = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
        "metadata:\n  name: app\n  namespace: apps\nspec:\n  chart:\n    spec:\n"
        "      chart: app\n      version: 6.5.4\n"
        "      sourceRef: {kind: HelmRepository, name: charts}\n"
    )
    referring = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
        "metadata:\n  name: app\n  namespace: apps\n"
        "spec:\n  chartRef:\n    kind: OCIRepository\n    name: app\n"
    )
    for root, release in ((tmp_path / "base", pinned), (tmp_path / "head", referring)):
        (root / "k8s").mkdir(parents=True)
        (root / "k8s" / "sources.yaml").write_text(source)
        (root / "k8s" / "release.yaml").write_text(release)
    config = Config(root=tmp_path / "head").with_overrides(select=("BK104",))
    findings = check(tmp_path / "head", config, base=str(tmp_path / "base")).findings
    assert [(f.location.path, f.location.line) for f in findings] == [("k8s/sources.yaml", 16)]
