"""BK302 registry-lifecycle-expires-rollback-target."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from backout.config import Config, format_duration
from backout.imageref import parse_reference
from backout.models import Family, Finding, Location, Severity
from backout.rules.base import CheckContext, Rule
from backout.sources.images import ImageUse
from backout.sources.retention import (
    EcrLifecyclePolicy,
    EcrRule,
    GarCleanupPolicy,
    GarCleanupRule,
    HarborRetentionPolicy,
    HarborRetentionRule,
)

_DAY = 86400
# An image whose tag we do not know: release tags are unknown when no manifest names one.
UNKNOWN_TAG = None


@dataclass(frozen=True)
class Shortfall:
    """What a policy leaves of a rollback target: ``kept`` newest images, ``kept_for`` seconds.

    ``location`` is the value to change; ``what`` names the images in the policy's words.
    """

    location: Location
    what: str
    kept: int
    kept_for: int
    verb: str = "expires"
    age: str = "older than"

    def too_short(self, config: Config) -> bool:
        """True when neither the count nor the age it keeps covers the rollback."""
        return self.kept < config.keep_releases and self.kept_for < config.rollback_window

    def describe(self, config: Config) -> str:
        """``keeps only the 3 most recent images tagged v*, fewer than keep-releases (5)``."""
        window = format_duration(config.rollback_window)
        parts: list[str] = []
        if self.kept:
            parts.append(
                f"keeps only the {self.kept} most recent {self.what}, fewer than "
                f"keep-releases ({config.keep_releases})"
            )
        if self.kept_for:
            days = format_duration(self.kept_for)
            parts.append(
                f"{self.verb} {self.what} {self.age} {days}, inside the {window} rollback window"
            )
        if not parts:
            parts.append(f"{self.verb} {self.what} on its next run (nothing keeps them)")
        return " and ".join(parts)


@dataclass(frozen=True)
class ReleaseImage:
    """An image the release's manifests deploy: registry host, repository path
    (``acme/apps/shop``) and tag, each ``None`` when unknown."""

    registry: str | None
    repository: str | None
    tag: str | None


# An image of which nothing is known: release tags are unknown when no manifest names one.
UNKNOWN_IMAGE = ReleaseImage(None, None, UNKNOWN_TAG)


def release_images(uses: Sequence[ImageUse]) -> list[ReleaseImage]:
    """The images the release's manifests name by tag (not ``latest``), or one unknown image."""
    images: list[ReleaseImage] = []
    for use in uses:
        if use.source == "dockerfile":
            continue
        reference = parse_reference(use.reference)
        if reference is None or reference.tag in (None, "latest"):
            continue
        image = ReleaseImage(reference.registry, reference.repository, reference.tag)
        if image not in images:
            images.append(image)
    return images or [UNKNOWN_IMAGE]


def pinned_images(uses: Sequence[ImageUse]) -> list[tuple[str, ReleaseImage]]:
    """The references the release's manifests pin by digest (base images excluded), each with
    the image it names."""
    pinned: list[tuple[str, ReleaseImage]] = []
    for use in uses:
        reference = parse_reference(use.reference)
        if use.source != "dockerfile" and reference is not None and reference.is_pinned:
            image = ReleaseImage(reference.registry, reference.repository, reference.tag)
            pinned.append((use.reference, image))
    return pinned


def _wildcard(pattern: str, tag: str) -> bool:
    """ECR ``tagPatternList``: ``*`` is any run of characters, everything else literal."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), tag) is not None


def _ecr_selects(rule: EcrRule, tag: str | None, untagged: bool) -> bool:
    if rule.tag_status == "any":
        return True
    if untagged:
        return rule.tag_status == "untagged"
    if rule.tag_status != "tagged":
        return False
    if tag is None:
        return "*" in rule.tag_patterns or "" in rule.tag_prefixes
    return any(tag.startswith(p) for p in rule.tag_prefixes) or any(
        _wildcard(p, tag) for p in rule.tag_patterns
    )


def _ecr_what(rule: EcrRule, untagged: bool) -> str:
    if untagged:
        return "untagged images"
    if rule.tag_status == "any":
        return "images"
    filters = [f"{p}*" for p in rule.tag_prefixes] + list(rule.tag_patterns)
    return "images tagged " + " or ".join(filters) if filters else "tagged images"


def ecr_shortfall(rule: EcrRule, untagged: bool) -> Shortfall | None:
    """What one ECR rule keeps of the images it governs; ``None`` when it is computed."""
    if rule.count_number is None:
        return None
    what = _ecr_what(rule, untagged)
    verb = "expires" if rule.action == "expire" else "moves to archive storage (not pullable)"
    if rule.count_type == "imageCountMoreThan":
        return Shortfall(rule.count_location, what, rule.count_number, 0, verb)
    age = "not pulled for" if rule.count_type == "sinceImagePulled" else "older than"
    return Shortfall(rule.count_location, what, 0, rule.count_number * _DAY, verb, age)


def ecr_governing(policy: EcrLifecyclePolicy, tag: str | None, untagged: bool) -> EcrRule | None:
    """The rule that decides an image's fate: the first by ``rulePriority`` that selects it
    (an image a rule selects is never expired by a rule of lower priority)."""
    ordered = sorted(policy.rules, key=lambda r: (r.priority is None, r.priority or 0))
    return next((r for r in ordered if _ecr_selects(r, tag, untagged)), None)


def gar_package(image: ReleaseImage) -> str | None:
    """The Artifact Registry package an image is: the path after project and repository in
    ``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE``, after the project on ``gcr.io``."""
    if image.repository is None:
        return None
    parts = image.repository.split("/")
    host = (image.registry or "").lower()
    if host.endswith(".pkg.dev"):
        return "/".join(parts[2:]) or None
    if host == "gcr.io" or host.endswith(".gcr.io"):
        return "/".join(parts[1:]) or None
    return parts[-1]


def gar_holds(policy: GarCleanupPolicy, image: ReleaseImage) -> bool:
    """Whether the image may be in the policy's repository: any image when the repository or
    the image's registry is unknown; else one of ``LOCATION-docker.pkg.dev/PROJECT/REPO/…``
    of that location and repository, or of a ``gcr.io`` repository of that name."""
    if policy.repository is None or image.registry is None or image.repository is None:
        return True
    location, repository_id = policy.repository
    host = image.registry.lower()
    if host.endswith("-docker.pkg.dev"):
        parts = image.repository.split("/")
        return (
            host == f"{location.lower()}-docker.pkg.dev"
            and len(parts) > 1
            and parts[1] == repository_id
        )
    if host == "gcr.io" or host.endswith(".gcr.io"):
        return repository_id == host
    return False  # another registry's image


def _gar_applies(rule: GarCleanupRule, package: str | None) -> bool:
    """``packageNamePrefixes`` limits a policy to those packages (an unknown one may be any)."""
    if not rule.package_prefixes or package is None:
        return True
    return any(package.startswith(prefix) for prefix in rule.package_prefixes)


def _gar_selects(rule: GarCleanupRule, tag: str | None, untagged: bool) -> bool:
    if untagged:
        return rule.tag_state in ("untagged", "any") and not rule.tag_prefixes
    if rule.tag_state not in ("tagged", "any"):
        return False
    if not rule.tag_prefixes:
        return True
    return tag is not None and any(tag.startswith(p) for p in rule.tag_prefixes)


def _gar_what(rule: GarCleanupRule, untagged: bool) -> str:
    """The versions a Delete policy selects, in the docs' terms of ``tagState``."""
    if untagged:
        what = "untagged versions"
    elif rule.tag_prefixes:
        what = "versions tagged " + " or ".join(f"{p}*" for p in rule.tag_prefixes)
    elif rule.tag_state == "tagged":
        what = "tagged versions"
    else:
        what = "versions (tagged or untagged)"
    if rule.package_prefixes:
        what += " of packages " + " or ".join(f"{p}*" for p in rule.package_prefixes)
    return what


def gar_shortfall(
    policy: GarCleanupPolicy, image: ReleaseImage, untagged: bool
) -> Shortfall | None:
    """What Artifact Registry keeps of an image: Delete policies select it, Keep policies
    (by condition, or ``mostRecentVersions``) protect it, and Keep beats Delete. A policy
    with ``packageNamePrefixes`` governs only those packages."""
    if not gar_holds(policy, image):
        return None
    package = gar_package(image)
    tag = None if untagged else image.tag
    applying = [r for r in policy.rules if _gar_applies(r, package)]
    deleting = [r for r in applying if r.action == "delete" and _gar_selects(r, tag, untagged)]
    if not deleting:
        return None
    kept_for = min(r.older_than or 0 for r in deleting)
    kept = 0
    for keep in (r for r in applying if r.action == "keep"):
        if keep.keep_count is not None:
            kept = max(kept, keep.keep_count)
        elif _gar_selects(keep, tag, untagged):
            if keep.newer_than is None and keep.older_than is None:
                return None
            kept_for = max(kept_for, keep.newer_than or 0)
    decisive = min(deleting, key=lambda r: r.older_than or 0)
    return Shortfall(
        decisive.value_location, _gar_what(decisive, untagged), kept, kept_for, "deletes"
    )


def _doublestar(pattern: str, tag: str) -> bool:
    """Harbor tag patterns: doublestar globs with ``{a,b}`` alternatives."""
    braces = re.search(r"\{([^{}]*)\}", pattern)
    if braces is not None:
        head, tail = pattern[: braces.start()], pattern[braces.end() :]
        return any(_doublestar(head + option + tail, tag) for option in braces[1].split(","))
    return fnmatch.fnmatchcase(tag, pattern.replace("**", "*"))


def _harbor_scopes(rule: HarborRetentionRule, repository: str | None) -> bool:
    """Whether the rule's ``scope_selectors`` take in the repository (``project/name``; the
    pattern is tried on the name and on the whole path). An unknown repository may be any."""
    if repository is None:
        return True
    candidates = {repository, repository.split("/", 1)[-1]}
    for decoration, pattern in rule.repository_selectors:
        matched = any(_doublestar(pattern, candidate) for candidate in candidates)
        if matched != (decoration != "repoExcludes"):
            return False
    return True


def _harbor_selects(rule: HarborRetentionRule, tag: str | None, untagged: bool) -> bool:
    if rule.disabled:
        return False
    if untagged:
        return rule.untagged
    for decoration, pattern in rule.tag_selectors:
        if tag is None:
            if decoration == "matches" and pattern not in ("**", "*"):
                return False
            continue
        matched = _doublestar(pattern, tag)
        if matched != (decoration == "matches"):
            return False
    return True


def harbor_shortfall(
    policy: HarborRetentionPolicy, image: ReleaseImage, untagged: bool
) -> Shortfall | None:
    """What Harbor keeps of an artifact: the union of what its enabled rules retain, among
    the rules whose repository scope takes in the image ("No action is taken on the
    nonspecified repositories")."""
    known = policy.project is not None and image.repository is not None
    if known and (image.repository or "").split("/")[0] != policy.project:
        return None  # another project's image: the policy governs its own project only
    enabled = [r for r in policy.rules if not r.disabled]
    scoped = [r for r in enabled if _harbor_scopes(r, image.repository)]
    if not scoped:
        return None  # a policy without rules for this repository deletes nothing of it
    tag = None if untagged else image.tag
    retaining = [r for r in scoped if _harbor_selects(r, tag, untagged)]
    if any(r.template == "always" for r in retaining):
        return None
    kept = max((r.count or 0 for r in retaining), default=0)
    kept_for = max((r.days or 0 for r in retaining), default=0) * _DAY
    what = "untagged artifacts" if untagged else "tagged artifacts"
    best = max(retaining, key=lambda r: (r.count or 0, r.days or 0), default=None)
    location = best.value_location if best is not None else policy.location
    return Shortfall(location, what, kept, kept_for, "deletes")


class RegistryLifecycleExpiresRollbackTarget(Rule):
    """A registry retention rule deletes the image a rollback would return to.

    ## What it does
    Reads AWS ECR lifecycle policies, GCP Artifact Registry cleanup policies and Harbor
    retention policies (JSON files; ECR policies in Terraform — `aws_ecr_lifecycle_policy`,
    `aws_ecr_lifecycle_policy_document`, the terraform-aws-modules/ecr module's
    `repository_lifecycle_policy` — and in CloudFormation `AWS::ECR::Repository`
    `LifecyclePolicyText`, YAML or JSON; Artifact Registry `cleanup_policies` of a Terraform
    `google_artifact_registry_repository`, judged for the images of its own `location` and
    `repository_id` and not for a `format` other than `DOCKER`; Terraform
    `harbor_retention_policy` rules, for the images of the `harbor_project` its `scope`
    names when that project's `name` is written) and
    reports a rule that keeps fewer images than `keep-releases`, deletes images younger than
    `rollback-window`, or deletes untagged images while the manifests pin images by digest.
    ECR rules are read in `rulePriority` order (an image belongs to the first rule that
    selects it); a repository with immutable tags never
    leaves a pinned digest untagged, so its untagged rules are not judged for that. In
    Artifact Registry a Keep policy beats Delete, and a policy with `packageNamePrefixes`
    (in its condition or `mostRecentVersions`) governs only those packages; `tagState` is
    `tagged`, `untagged` or `any` (both, the default). Harbor deletes whatever no rule
    retains, among the repositories its rules' `scope_selectors` name; it takes no action on
    the others.

    ## Why is this bad?
    A rollback pulls the previous release's image. When a lifecycle rule has deleted it, the
    pods of the "rolled back" Deployment sit in `ImagePullBackOff` and the broken release
    keeps serving. Pinning by digest makes this likelier, not rarer: when the tag moves to
    the next build the previous digest is left untagged, and an "expire untagged images
    after 7 days" rule deletes the very image the rollback needs.

    ## Example
    ```json
    {"rules": [{
      "rulePriority": 1,
      "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                    "countUnit": "days", "countNumber": 7},
      "action": {"type": "expire"}
    }]}
    ```

    ## Use instead
    ```json
    {"rules": [{
      "rulePriority": 1,
      "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                    "countUnit": "days", "countNumber": 45},
      "action": {"type": "expire"}
    }]}
    ```
    Keep images at least as long as the rollback window and at least `keep-releases` of
    them, or give every release an immutable tag (`release-42`) that no rule expires.

    ## References
    - [ECR lifecycle policy parameters](https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html)
    - [Artifact Registry cleanup policies](https://cloud.google.com/artifact-registry/docs/repositories/cleanup-policy)
    - [Harbor tag retention rules](https://goharbor.io/docs/main/working-with-projects/working-with-images/create-tag-retention-rules/)
    """

    code = "BK302"
    name = "registry-lifecycle-expires-rollback-target"
    severity = Severity.ERROR
    family = Family.ARTIFACTS

    def check(self, context: CheckContext) -> Iterator[Finding]:
        """One finding per policy rule that would delete a rollback target."""
        uses = context.head.of(ImageUse)
        images = release_images(uses)
        pinned = pinned_images(uses)
        config = context.config
        for ecr in context.head.of(EcrLifecyclePolicy):
            untagged_rule = ecr_governing(ecr, None, True)
            # With immutable tags a tag never moves, so a pinned digest never becomes untagged.
            orphaned = untagged_rule is not None and not ecr.immutable_tags
            yield from self._judge(
                config,
                ecr.origin,
                [
                    ecr_shortfall(r, False)
                    for image in images
                    if (r := ecr_governing(ecr, image.tag, False))
                ],
                [(ref, ecr_shortfall(untagged_rule, True)) for ref, _ in pinned]
                if orphaned and untagged_rule is not None
                else [],
            )
        for gar in context.head.of(GarCleanupPolicy):
            yield from self._judge(
                config,
                gar.origin,
                [gar_shortfall(gar, image, False) for image in images],
                [(ref, gar_shortfall(gar, image, True)) for ref, image in pinned],
            )
        for harbor in context.head.of(HarborRetentionPolicy):
            yield from self._judge(
                config,
                harbor.origin,
                [harbor_shortfall(harbor, image, False) for image in images],
                [(ref, harbor_shortfall(harbor, image, True)) for ref, image in pinned],
            )

    def _judge(
        self,
        config: Config,
        origin: str,
        tagged: list[Shortfall | None],
        untagged: list[tuple[str, Shortfall | None]],
    ) -> Iterator[Finding]:
        reported: set[Location] = set()
        for shortfall in tagged:
            if shortfall is None or not shortfall.too_short(config):
                continue
            if shortfall.location in reported:
                continue
            reported.add(shortfall.location)
            yield self.finding(
                shortfall.location,
                f"this {origin} rule {shortfall.describe(config)}: the image of an earlier "
                "release is deleted, and rolling back to it fails to pull (manifest unknown)",
                _fix(shortfall, config),
            )
        for reference, orphan in untagged:
            if orphan is None or not orphan.too_short(config) or orphan.location in reported:
                continue
            reported.add(orphan.location)
            yield self.finding(
                orphan.location,
                f"this {origin} rule {orphan.describe(config)}; the manifests pin images by "
                f"digest ({reference}), so when the tag moves to the next build the previous "
                "digest is left untagged, then deleted, and rolling back to it fails to pull",
                _fix(orphan, config),
            )


def _fix(shortfall: Shortfall, config: Config) -> str:
    window = format_duration(config.rollback_window)
    if shortfall.kept and not shortfall.kept_for:
        return (
            f"keep at least {config.keep_releases} images (keep-releases), or protect "
            "release tags with a rule of their own"
        )
    return (
        f"keep these images for at least {window} (rollback-window), or protect release "
        "images with a rule that keeps them"
    )
