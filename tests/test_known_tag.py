"""BK101 judges the tag of an image whose repository a variable without default sets.

``image: ${REGISTRY:-ghcr.io}/${IMAGE_PREFIX}/api:${IMAGE_TAG:-latest}`` runs ``latest``
unless ``IMAGE_TAG`` is set, whatever ``IMAGE_PREFIX`` holds: an error, not a "cannot be
known" warning. The same in manifests a deploy step fills in (envsubst, Flux's
``${VAR:=default}``), Kustomize ``images:`` and Helm values.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backout.sources.images import known_tag
from tests.conftest import run_backout

CASE = Path(__file__).parent / "fixtures/rules/BK101/fail/variable_repository_known_tag"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("written", "compose", "tag", "digest", "unset"),
    [
        ("${REGISTRY:-ghcr.io}/${P}/api:${TAG:-latest}", True, "latest", None, ("${P}",)),
        ("${R:-ghcr.io}/${P:?set P}/web", True, None, None, ("${P:?set P}",)),
        ("$R/acme/job:1.4", True, "1.4", None, ("$R",)),
        (f"${{R}}/api@{DIGEST}", True, None, DIGEST, ("${R}",)),
        (f"${{R}}/api:${{T:-2@{DIGEST}}}", True, "2", DIGEST, ("${R}",)),
        ("${R}/acme/api:${T:=latest}", False, "latest", None, ("${R}",)),
        ("${R}/acme/api:${T=1.0}", False, "1.0", None, ("${R}",)),
    ],
)
def test_the_tag_is_known_when_the_variables_set_only_the_repository(
    written: str, compose: bool, tag: str | None, digest: str | None, unset: tuple[str, ...]
) -> None:
    known = known_tag(written, compose=compose)
    assert known is not None
    assert (known.reference.tag, known.reference.digest, known.unset) == (tag, digest, unset)


@pytest.mark.parametrize(
    "written",
    [
        "${IMAGE}",  # may hold a tag
        "${R}/${NAME}",  # the last name component may hold one
        "app${SUFFIX}",
        "ghcr.io/acme/api:${TAG}",  # the tag itself
        "${R}/api:${T:-}",  # an empty tag is no reference
        "${R:+mirror}/api",  # set or not, two texts
        "${P}/api:${P}",  # the variable reaches the tag too
        "ghcr.io/api@${DIGEST}",  # the digest
        "shop:latest",  # no variable: the ordinary judgement
    ],
)
def test_the_tag_is_unknown_when_a_variable_may_set_it(written: str) -> None:
    assert known_tag(written) is None


def test_bk101_judges_the_known_tag_whatever_the_repository_is() -> None:
    done = run_backout("check", ".", "--select", "BK101", "--format", "concise", cwd=CASE)
    found = {line.split(": BK101 ")[0]: line for line in done.stdout.splitlines()}
    # latest or no tag: an error, as for a reference written out
    for where in (
        "compose.yaml:4:12",
        "compose.yaml:6:12",
        "k8s/deployment.yaml:15:18",
        "k8s/deployment.yaml:17:18",
        "kustomize/kustomization.yaml:5:13",
    ):
        assert f"{where}: BK101 [error]" in found[where], found[where]
        assert "has no default but sets only the repository, not the tag" in found[where]
    assert "is re-pointed by every push of `latest`" in found["compose.yaml:4:12"]
    assert "(judged by the default of ${IMAGE_TAG:=latest}" in found["k8s/deployment.yaml:15:18"]
    # another tag: a warning that names it
    assert "[warning]" in found["compose.yaml:8:12"]
    assert "names the tag `1.4`" in found["compose.yaml:8:12"]
    # the variable may carry the tag: still "cannot be known" (compose), a placeholder (k8s)
    assert "cannot be known from the repository" in found["compose.yaml:11:12"]
    assert "cannot be known from the repository" in found["compose.yaml:13:12"]
    assert "is a placeholder that a deploy step fills in" in found["k8s/deployment.yaml:19:18"]
    assert "is not a valid image reference" not in done.stdout
