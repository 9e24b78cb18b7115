"""BK305 unpinned-build-input."""

from __future__ import annotations

from collections.abc import Iterator

from backout.imageref import parse_reference
from backout.models import Family, Finding, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.images import ImageUse


class UnpinnedBuildInput(Rule):
    """A Dockerfile builds from an image that no digest pins, so the old release cannot be rebuilt.

    ## What it does
    Flags each `FROM` (and `COPY --from=<image>`) in a Dockerfile whose image has no valid
    `@sha256:` digest. Not flagged: `FROM scratch`, earlier build stages (`FROM build`),
    stage numbers (`COPY --from=0`). A base written with an `ARG` (`FROM ${BASE}`) is judged
    by the `ARG`'s default, expanded with the `ARG`s above it as BuildKit does
    (`ARG REGISTRY=docker.io` then `ARG BASE=${REGISTRY}/library/python:3.12-slim@sha256:…`
    is pinned); one whose `ARG` has no default, or whose default uses such an `ARG`, comes
    from `--build-arg` and is reported as unknowable.

    ## Why is this bad?
    When the old release's image is gone (expired by a retention rule, or never kept), the
    way back is to rebuild it from its commit. `python:3.12-slim` names a different image
    every week, so the rebuild is not the image that was tested and ran: new OS packages, new
    Python patch release, sometimes a new failure. The rollback target cannot be recreated.

    ## Example
    ```dockerfile
    ARG PYTHON_IMAGE=python:3.12-slim
    FROM ${PYTHON_IMAGE} AS build
    ```

    ## Use instead
    ```dockerfile
    ARG PYTHON_IMAGE=python:3.12-slim@sha256:2c8f4d9e0a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d
    FROM ${PYTHON_IMAGE} AS build
    ```
    Tools such as Renovate keep pinned digests up to date while keeping the tag readable.

    ## References
    - hadolint DL3006/DL3007; Docker: [Pin base image versions](https://docs.docker.com/build/building/best-practices/#pin-base-image-versions)
    """  # noqa: E501 - the example holds a full 64-digit digest

    code = "BK305"
    name = "unpinned-build-input"
    severity = Severity.WARNING
    family = Family.ARTIFACTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per Dockerfile base image without a digest."""
        for use in context.head.of(ImageUse):
            if use.source != "dockerfile":
                continue
            if use.unresolved:
                yield self.finding(
                    use.location,
                    f"{use.context}: the base image `{use.text_in_file}` comes from "
                    f"{use.unresolved} with no default, so rebuilding the old release "
                    "depends on a --build-arg nobody recorded",
                    "give the ARG a default pinned by digest (`ARG BASE=image:tag@sha256:…`)",
                )
                continue
            if not use.reference.strip():
                yield self.finding(
                    use.location,
                    f"{use.context}: the base image `{use.text_in_file}` ({use.note or 'empty'}) "
                    "is empty unless a --build-arg sets it, so rebuilding the old release "
                    "depends on a value nobody recorded",
                    "give the ARG a default pinned by digest (`ARG BASE=image:tag@sha256:…`)",
                )
                continue
            ref = parse_reference(use.reference)
            if ref is not None and ref.is_pinned:
                continue
            shown = f"`{use.reference}`"
            derived = f" ({use.note})" if use.note else ""
            if ref is None:
                why = "it is not a valid image reference, so nothing says which image it is"
            elif ref.has_malformed_digest:
                why = f"its digest `{ref.digest}` is malformed and pins nothing"
            elif ref.is_untagged:
                why = "with no tag it means `latest`, which moves with every upstream build"
            else:
                why = "its tag moves as the image is rebuilt upstream"
            pinned = ref.pinned("sha256:…") if ref is not None else f"{use.reference}@sha256:…"
            where = " in the ARG default that sets it" if use.written else ""
            fix = f"pin it by digest{where}: `{pinned}`"
            yield self.finding(
                use.location,
                f"{use.context}: {shown}{derived} has no digest: {why}, so rebuilding the "
                "old release yields a different image than the one that ran",
                fix,
            )
