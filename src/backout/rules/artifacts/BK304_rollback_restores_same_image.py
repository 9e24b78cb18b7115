"""BK304 rollback-restores-same-image (online)."""

from __future__ import annotations

from collections.abc import Iterator

from backout.imageref import same_name_and_tag
from backout.models import Family, Finding, Severity
from backout.registry.facts import RollbackTarget
from backout.rules.base import CheckContext, Rule


class RollbackRestoresSameImage(Rule):
    """Rolling back would restore a reference that now resolves to this release's image.

    ## What it does
    With `backout check --online`, resolves the reference a rollback restores (the previous
    release's, from `--base` or `backout.lock`) and this release's reference, and reports when
    both give the same digest although the release meant to run a different image: the
    previous reference is a different tag that has since been moved to the new image, or the
    lock records that the previous release ran another digest under the same tag.

    ## Why is this bad?
    `kubectl rollout undo` restores the old pod template, which names a tag. If the pipeline
    re-pointed that tag (`stable`, `prod`, `latest`) at the broken build, the "rolled back"
    pods run the broken image again; the pods' `imageID` does not change and the incident goes
    on while everyone believes the rollback happened.

    ## Example
    ```yaml
    # previous release: image: ghcr.io/acme/shop:stable   (stable now points at 2.4)
    # this release:
    containers:
    - name: shop
      image: ghcr.io/acme/shop:2.4
    ```

    ## Use instead
    ```yaml
    # pin both releases by digest (`backout pin --write`), so undo restores the old bytes
    containers:
    - name: shop
      image: ghcr.io/acme/shop:2.4@sha256:4b1d…
    ```

    ## References
    - [Kubernetes: rolling back a Deployment](https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-back-a-deployment)
    """

    code = "BK304"
    name = "rollback-restores-same-image"
    severity = Severity.ERROR
    family = Family.ARTIFACTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per image whose rollback would bring back the same digest."""
        for target in context.head.of(RollbackTarget):
            if target.target_pinned or target.release_digest is None:
                continue
            if target.target_digest != target.release_digest:
                continue
            moved = not same_name_and_tag(target.target_reference, target.release_reference)
            recorded_other = (
                target.recorded_digest is not None
                and target.recorded_digest != target.release_digest
            )
            if not (moved or recorded_other):
                continue
            ran = f"; the previous release ran {target.recorded_digest}" if recorded_other else ""
            yield self.finding(
                target.location,
                f"rolling back would restore {target.target_reference} (from {target.origin}), "
                f"which now resolves to {target.release_digest}, this release's own image{ran}: "
                "the rollback would change nothing",
                "pin images by digest (`backout pin --write`) so that undo restores the previous "
                "release's bytes, and stop moving the tag the previous release used",
            )
