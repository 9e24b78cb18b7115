"""BK303 rollback-target-missing (online)."""

from __future__ import annotations

from collections.abc import Iterator

from backout.models import Family, Finding, Severity
from backout.registry.facts import RollbackTarget
from backout.rules.base import CheckContext, Rule


class RollbackTargetMissing(Rule):
    """The image a rollback would restore is gone from the registry.

    ## What it does
    With `backout check --online`, asks the registry for the previous release's image — the
    reference the same container had in the `--base` release, or the previous digest
    `backout.lock` recorded for the repository — and reports it when the registry answers
    `MANIFEST_UNKNOWN`. An image the `--base` release deploys and this release removes (a
    container or a workload dropped) is checked too: rolling back deploys it again. Its finding
    points at the previous release's file, where that image is named. An image that no
    reference in the repository names (a Helm template that builds it from more than its
    values mapping, a `${IMAGE}` without default) is not asked about: a warning after the
    report names it.

    ## Why is this bad?
    `kubectl rollout undo` (or a GitOps revert) puts the old reference back, and the new pods
    then sit in `ImagePullBackOff`: the rollback fails at the moment it is needed. Registries
    lose old images to lifecycle rules (ECR expiring untagged images: a pinned image becomes
    untagged as soon as its tag moves), retention jobs and manual clean-ups.

    ## Example
    ```yaml
    # previous release (--base), deployed two weeks ago
    containers:
    - name: shop
      image: ghcr.io/acme/shop:2.3@sha256:9f2c…   # deleted by the registry's lifecycle rule
    ```

    ## Use instead
    ```yaml
    # keep the previous releases' images: an immutable, never-expiring tag per release
    containers:
    - name: shop
      image: ghcr.io/acme/shop:2.3@sha256:9f2c…   # re-pushed; release-* tags exempt from expiry
    ```
    Re-push the previous image (or restore it from a backup) before deploying, and exempt
    release images from lifecycle and retention rules (see BK302).

    ## References
    - [OCI distribution spec: pulling manifests](https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests)
    """

    code = "BK303"
    name = "rollback-target-missing"
    severity = Severity.ERROR
    family = Family.ARTIFACTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per rollback target the registry no longer has."""
        for target in context.head.of(RollbackTarget):
            if target.target_digest is not None:
                continue
            recorded = f" (it ran {target.recorded_digest})" if target.recorded_digest else ""
            if target.removed_context:
                yield self.finding(
                    target.location,
                    f"this release removes {target.removed_context}; rolling back deploys it "
                    f"again with {target.target_reference} from {target.origin} (this location "
                    f"is in that release){recorded}, but the registry answers manifest unknown: "
                    "its pods cannot pull their image",
                    f"re-push {target.target_reference} before deploying, or roll back without "
                    f"{target.removed_context} (delete it from the rollback), and exempt "
                    "release images from lifecycle/retention rules",
                )
                continue
            yield self.finding(
                target.location,
                f"rolling back would restore {target.target_reference} from {target.origin}"
                f"{recorded}, but the registry answers manifest unknown: the rolled-back pods "
                "cannot pull their image",
                f"re-push {target.target_reference} before deploying, and exempt release "
                "images from lifecycle/retention rules",
            )
