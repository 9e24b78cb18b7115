"""Registry retention policies: AWS ECR lifecycle, GCP Artifact Registry cleanup, Harbor retention.

Each policy becomes one fact holding its rules as written, with the position of the value that
decides what is deleted (``countNumber``, ``olderThan``, ``keepCount``, a Harbor rule's
parameter). What the rules mean for a rollback is for rule BK302 to decide.

Where they are found:

- JSON files whose content has the shape of a policy (the file name does not matter): an ECR
  policy ``{"rules": [{"rulePriority", "selection", "action"}]}``, a GAR cleanup policy file as
  ``gcloud artifacts repositories set-cleanup-policies --policy`` takes it (a list of
  ``{"name", "action", "condition" | "mostRecentVersions"}``, or the REST form under
  ``cleanupPolicies``), a Harbor retention policy ``{"rules": [{"template", "params",
  "tag_selectors"}]}``.
- Terraform: ``resource "aws_ecr_lifecycle_policy"`` whose ``policy`` is ``jsonencode({...})``
  or a JSON heredoc, ``data "aws_ecr_lifecycle_policy_document"`` blocks, and the
  terraform-aws-modules/ecr module's ``repository_lifecycle_policy``. A ``policy`` that names
  a file or another resource is read where that lives (the JSON file itself). The policy of
  an ``aws_ecr_repository`` with ``image_tag_mutability = "IMMUTABLE"`` (by reference or by
  name; the module's default) is marked as such.
  Artifact Registry: ``resource "google_artifact_registry_repository"``'s
  ``cleanup_policies`` blocks (``condition``, ``most_recent_versions``), read as the policy
  file is, for the images of its ``location`` and ``repository_id`` when written; not when
  ``cleanup_policy_dry_run = true`` (deletions only logged) or ``format`` is not ``DOCKER``.
  Harbor:
  ``resource "harbor_retention_policy"``'s ``rule`` blocks (goharbor/harbor provider), each
  the rule the provider sends (``client.GetRententionBody``: the first of
  ``n_days_since_last_pull``, ``n_days_since_last_push``, ``most_recently_pulled``,
  ``most_recently_pushed`` set above 0, else ``always_retain``; ``untagged_artifacts``
  true by default, and beside ``tag_excluding`` it excludes untagged artifacts, as
  Harbor's selector reads the extras it is sent as). A resource whose policy is computed
  (a variable, a ``dynamic`` block) is not judged. A ``scope`` of
  ``harbor_project.NAME.id`` ties the policy to that project's ``name`` when written.
- CloudFormation templates (YAML or JSON): ``AWS::ECR::Repository`` resources'
  ``LifecyclePolicy.LifecyclePolicyText``, with ``ImageTagMutability``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.paths import is_retention_file
from backout.sources.policytext import (
    Block,
    Node,
    PolicyTextError,
    field_of,
    heredoc_json,
    int_value,
    parse_json,
    strings,
    terraform_blocks,
    text_value,
)

# Words one of the three policy formats must contain; other JSON files are not parsed at all.
_POLICY_WORDS = (
    "rulePriority",
    "tag_selectors",
    "mostRecentVersions",
    "olderThan",
    "tagState",
    "cleanupPolicies",
    '"Delete"',
    '"DELETE"',
)
_GAR_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_GAR_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
HARBOR_COUNT_TEMPLATES = ("latestPushedK", "latestPulledN", "latestActiveK")
HARBOR_DAY_TEMPLATES = ("nDaysSinceLastPush", "nDaysSinceLastPull", "lastXDays")


@dataclass(frozen=True)
class EcrRule:
    """One ECR lifecycle rule. ``count_number`` is ``None`` when Terraform computes it.

    ``tag_status`` is ``tagged``, ``untagged`` or ``any``; ``count_type`` is
    ``imageCountMoreThan``, ``sinceImagePushed``, ``sinceImagePulled`` or
    ``sinceImageTransitioned``; ``action`` is ``expire`` or ``transition`` (to archive storage).
    ``count_location`` points at the ``countNumber`` value.
    """

    priority: int | None
    tag_status: str
    tag_prefixes: tuple[str, ...]
    tag_patterns: tuple[str, ...]
    count_type: str
    count_number: int | None
    action: str
    location: Location
    count_location: Location
    description: str = ""


@dataclass(frozen=True)
class EcrLifecyclePolicy(Fact):
    """An ECR lifecycle policy; ``origin`` says where it was written, in the user's words.

    ``immutable_tags`` is true when the policy's repository is known to have immutable tags
    (Terraform ``image_tag_mutability = "IMMUTABLE"``, the terraform-aws-modules/ecr
    default, CloudFormation ``ImageTagMutability: IMMUTABLE``): a tag never moves there.
    """

    rules: tuple[EcrRule, ...]
    origin: str
    immutable_tags: bool = False


@dataclass(frozen=True)
class GarCleanupRule:
    """One Artifact Registry cleanup policy. ``action`` is ``keep`` or ``delete``;
    ``tag_state`` is ``tagged``, ``untagged`` or ``any`` (``any`` when unset); durations are
    seconds. ``package_prefixes`` (``packageNamePrefixes`` of the condition or of
    ``mostRecentVersions``) limits the policy to those packages; empty means all.
    ``value_location`` points at ``olderThan``/``keepCount`` (whichever decides), else at the
    action."""

    name: str
    action: str
    tag_state: str
    tag_prefixes: tuple[str, ...]
    older_than: int | None
    newer_than: int | None
    keep_count: int | None
    location: Location
    value_location: Location
    package_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GarCleanupPolicy(Fact):
    """The cleanup policies of an Artifact Registry repository (Keep beats Delete)."""

    rules: tuple[GarCleanupRule, ...]
    origin: str
    repository: tuple[str, str] | None = None
    """The repository the policies belong to, ``(location, repository_id)``, when known (a
    Terraform resource names it; a policy file does not): they delete nothing elsewhere."""


@dataclass(frozen=True)
class HarborRetentionRule:
    """One Harbor retention rule: artifacts it selects and its template says to *retain*.

    ``count`` holds ``latestPushedK``/``latestPulledN``/``latestActiveK``, ``days`` holds
    ``nDaysSinceLastPush``/``nDaysSinceLastPull``/``lastXDays``; ``always`` retains all.
    ``tag_selectors`` are ``(decoration, pattern)`` pairs (``matches``/``excludes``, doublestar
    patterns); ``untagged`` is true when the rule also selects untagged artifacts.
    ``repository_selectors`` are the ``scope_selectors.repository`` pairs
    (``repoMatches``/``repoExcludes``, doublestar patterns): the rule governs only those
    repositories, and Harbor takes no action on a repository no rule names.
    """

    template: str
    count: int | None
    days: int | None
    tag_selectors: tuple[tuple[str, str], ...]
    untagged: bool
    disabled: bool
    location: Location
    value_location: Location
    repository_selectors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HarborRetentionPolicy(Fact):
    """A Harbor tag retention policy: artifacts no rule retains are deleted."""

    rules: tuple[HarborRetentionRule, ...]
    origin: str
    project: str | None = None
    """The project the policy belongs to, when known (a Terraform ``scope`` naming a
    ``harbor_project`` whose ``name`` is written): it deletes nothing of another project."""


def _at(path: str, node: Node) -> Location:
    return Location(path, node.line, node.column)


def _ecr_policy(path: str, root: Node, origin: str) -> EcrLifecyclePolicy | None:
    rules_node = field_of(root, "rules")
    if rules_node is None or rules_node.kind != "array":
        return None
    rules: list[EcrRule] = []
    for item in rules_node.items:
        selection = field_of(item, "selection")
        if item.kind != "object" or selection is None:
            continue
        count = field_of(selection, "countNumber")
        rules.append(
            EcrRule(
                priority=int_value(field_of(item, "rulePriority")),
                tag_status=(text_value(field_of(selection, "tagStatus")) or "any").lower(),
                tag_prefixes=strings(field_of(selection, "tagPrefixList")),
                tag_patterns=strings(field_of(selection, "tagPatternList")),
                count_type=text_value(field_of(selection, "countType")) or "",
                count_number=int_value(count),
                action=(text_value(field_of(item, "action", "type")) or "expire").lower(),
                location=_at(path, item),
                count_location=_at(path, count if count is not None else selection),
                description=text_value(field_of(item, "description")) or "",
            )
        )
    return EcrLifecyclePolicy(_at(path, rules_node), tuple(rules), origin)


def _ecr_document(path: str, block: Block) -> EcrLifecyclePolicy:
    """``data "aws_ecr_lifecycle_policy_document"``: ``rule { selection { ... } action {} }``."""
    rules: list[EcrRule] = []
    for rule in block.blocks:
        if rule.type != "rule":
            continue
        selection = next((b for b in rule.blocks if b.type == "selection"), None)
        action = next((b for b in rule.blocks if b.type == "action"), None)
        where = Location(path, rule.line, rule.column)
        values = selection.attributes if selection is not None else {}
        count = values.get("count_number")
        rules.append(
            EcrRule(
                priority=int_value(rule.attributes.get("priority")),
                tag_status=(text_value(values.get("tag_status")) or "any").lower(),
                tag_prefixes=strings(values.get("tag_prefix_list")),
                tag_patterns=strings(values.get("tag_pattern_list")),
                count_type=text_value(values.get("count_type")) or "",
                count_number=int_value(count),
                action=(text_value(action.attributes.get("type")) if action is not None else None)
                or "expire",
                location=where,
                count_location=_at(path, count) if count is not None else where,
                description=text_value(rule.attributes.get("description")) or "",
            )
        )
    origin = f'Terraform aws_ecr_lifecycle_policy_document "{"".join(block.labels[1:2])}"'
    return EcrLifecyclePolicy(Location(path, block.line, block.column), tuple(rules), origin)


def gar_duration(text: str) -> int | None:
    """Seconds in an Artifact Registry duration (``30d``, ``2592000s``, ``1d12h``)."""
    compact = text.strip().lower()
    parts = _GAR_DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        return None
    total = sum(float(number) * _GAR_UNITS[unit] for number, unit in parts)
    # A number too long for a float is infinite: out of range, not a duration.
    return int(total) if math.isfinite(total) else None


def _gar_policy(
    path: str, root: Node, origin: str, repository: tuple[str, str] | None = None
) -> Iterator[Fact]:
    items: list[Node]
    if root.kind == "array":
        items = root.items
    else:
        container = field_of(root, "cleanupPolicies") or field_of(root, "cleanup_policies")
        if container is None:
            return
        items = container.items if container.kind == "array" else list(container.fields.values())
    rules: list[GarCleanupRule] = []
    # A rule whose duration cannot be read is not judged as if it had none: a Delete without
    # its olderThan would look like "delete everything", and a Keep left out would too.
    unreadable = False
    for item in items:
        action_node = field_of(item, "action")
        action = text_value(field_of(action_node, "type")) or text_value(action_node)
        if item.kind != "object" or action is None:
            continue
        condition = field_of(item, "condition")
        most_recent = field_of(item, "mostRecentVersions")
        durations: dict[str, int | None] = {}
        for key in ("olderThan", "newerThan"):
            value_node = field_of(condition, key)
            raw = text_value(value_node)
            if value_node is None:
                durations[key] = None
                continue
            durations[key] = gar_duration(raw) if raw is not None else None
            if durations[key] is None:
                unreadable = True
                yield Unreadable(
                    _at(path, value_node),
                    "retention",
                    f"{key} {raw or value_node.value!r} is not a duration like '30d' or '86400s'",
                )
        keep_node = field_of(most_recent, "keepCount")
        decisive = field_of(condition, "olderThan") or keep_node or action_node or item
        prefixes = strings(field_of(condition, "tagPrefixes"))
        packages = strings(field_of(condition, "packageNamePrefixes")) or strings(
            field_of(most_recent, "packageNamePrefixes")
        )
        rules.append(
            GarCleanupRule(
                name=text_value(field_of(item, "name")) or text_value(field_of(item, "id")) or "",
                action=action.lower(),
                tag_state=(text_value(field_of(condition, "tagState")) or "any").lower(),
                tag_prefixes=prefixes,
                older_than=durations["olderThan"],
                newer_than=durations["newerThan"],
                keep_count=int_value(keep_node),
                location=_at(path, item),
                value_location=_at(path, decisive),
                package_prefixes=packages,
            )
        )
    if rules and not unreadable:
        yield GarCleanupPolicy(_at(path, root), tuple(rules), origin, repository)


def _harbor_selects_untagged(decoration: str, extras: str) -> bool:
    """Whether a Harbor doublestar tag selector takes untagged artifacts in: its ``untagged``
    flag (``{"untagged":true}`` in ``extras``, a JSON string; true by default under
    ``matches``, false under ``excludes``, as ``doublestar.New`` sets it) under ``matches``,
    its negation under ``excludes`` (``tagSelectMatch``/``tagSelectExclude``)."""
    flag = decoration != "excludes"
    if extras:
        try:
            parsed = json.loads(extras)
        except ValueError:
            parsed = flag  # Go's json.Unmarshal failed: the default stays
        if parsed is None:
            flag = False  # `null` unmarshals into the zero value
        elif isinstance(parsed, dict):
            value = parsed.get("untagged", False)
            flag = value if isinstance(value, bool) else flag
    return flag if decoration != "excludes" else not flag


def _harbor_policy(path: str, root: Node, origin: str) -> HarborRetentionPolicy | Unreadable | None:
    """The policy, or why it cannot be judged: a retain rule whose count or days is not a
    number would otherwise look like a rule that retains nothing."""
    rules_node = field_of(root, "rules")
    if rules_node is None or rules_node.kind != "array":
        return None
    rules: list[HarborRetentionRule] = []
    for item in rules_node.items:
        template = text_value(field_of(item, "template"))
        if item.kind != "object" or template is None:
            continue
        params = field_of(item, "params")
        value_node = field_of(params, template)
        selectors: list[tuple[str, str]] = []
        selects_untagged: list[bool] = []
        selectors_node = field_of(item, "tag_selectors")
        for selector in selectors_node.items if selectors_node is not None else []:
            decoration = text_value(field_of(selector, "decoration")) or "matches"
            selectors.append((decoration, text_value(field_of(selector, "pattern")) or "**"))
            extras = text_value(field_of(selector, "extras")) or ""
            selects_untagged.append(_harbor_selects_untagged(decoration, extras))
        # The selectors filter one after the other: an untagged artifact stays if each takes it.
        untagged = bool(selects_untagged) and all(selects_untagged)
        scope_node = field_of(item, "scope_selectors", "repository")
        repositories = tuple(
            (
                text_value(field_of(selector, "decoration")) or "repoMatches",
                text_value(field_of(selector, "pattern")) or "**",
            )
            for selector in (scope_node.items if scope_node is not None else [])
        )
        number = int_value(value_node)
        if number is None and template in HARBOR_COUNT_TEMPLATES + HARBOR_DAY_TEMPLATES:
            what = (
                f"its parameter {value_node.value!r} is not a number"
                if value_node is not None
                else f"params has no {template}"
            )
            return Unreadable(
                _at(path, value_node or item), "retention", f"Harbor rule {template}: {what}"
            )
        disabled_node = field_of(item, "disabled")
        rules.append(
            HarborRetentionRule(
                template=template,
                count=number if template in HARBOR_COUNT_TEMPLATES else None,
                days=number if template in HARBOR_DAY_TEMPLATES else None,
                tag_selectors=tuple(selectors),
                untagged=untagged,
                disabled=disabled_node is not None and disabled_node.value is True,
                location=_at(path, item),
                value_location=_at(path, value_node or field_of(item, "template") or item),
                repository_selectors=repositories,
            )
        )
    return HarborRetentionPolicy(_at(path, rules_node), tuple(rules), origin)


def policies_in_json(path: str, root: Node, origin: str) -> Iterator[Fact]:
    """Whichever retention policy ``root`` holds, recognised by its shape."""
    rules = field_of(root, "rules")
    if rules is not None and rules.kind == "array":
        first = rules.items[0] if rules.items else None
        if field_of(first, "template") is not None or field_of(root, "algorithm") is not None:
            harbor = _harbor_policy(path, root, origin or "Harbor retention policy")
            if harbor is not None:
                yield harbor
        elif field_of(first, "selection") is not None:
            ecr = _ecr_policy(path, root, origin or "ECR lifecycle policy")
            if ecr is not None:
                yield ecr
        return
    yield from _gar_policy(path, root, origin or "Artifact Registry cleanup policy")


_CFN_REPOSITORY = "AWS::ECR::Repository"
# Resources of a Terraform file that hold a policy (the ECR module is matched apart).
_TERRAFORM_WORDS = ("aws_ecr_lifecycle_policy", "cleanup_policies", "harbor_retention_policy")
_ECR_MODULE = re.compile(r"terraform-aws-modules/ecr/aws|terraform-aws-ecr")
_REPOSITORY_REFERENCE = re.compile(r"^aws_ecr_repository\.([\w-]+)\.")
_DOCUMENT_REFERENCE = re.compile(r"^data\.aws_ecr_lifecycle_policy_document\.([\w-]+)\.")
_HARBOR_PROJECT_REFERENCE = re.compile(r"^harbor_project\.([\w-]+)\.(?:id|project_id)$")


class RetentionReader:
    """Reads retention policies from JSON files, Terraform and CloudFormation templates."""

    name: ClassVar[str] = "retention"

    def wants(self, path: str) -> bool:
        """JSON files (recognised by content), Terraform files and YAML templates."""
        return is_retention_file(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """The policies in ``file``, or an :class:`Unreadable` fact saying why not."""
        text = file.text()
        if text is None:
            return
        if file.path.endswith(".tf"):
            if any(word in text for word in _TERRAFORM_WORDS) or _ECR_MODULE.search(text):
                yield from _terraform(file, text)
            return
        if not file.path.endswith(".json"):
            if _CFN_REPOSITORY in text:
                yield from _cloudformation_yaml(file)
            return
        if not any(word in text for word in _POLICY_WORDS):
            return
        try:
            root = parse_json(text)
        except PolicyTextError as exc:
            location = Location(file.path, exc.line, exc.column)
            yield Unreadable(location, "retention policy", str(exc))
            return
        if _CFN_REPOSITORY in text and field_of(root, "Resources") is not None:
            yield from _cloudformation_json(file.path, root)
            return
        yield from policies_in_json(file.path, root, "")


def _immutable(policies: Iterator[Fact], immutable: bool) -> Iterator[Fact]:
    """The facts, ECR policies marked as governing a repository with immutable tags."""
    for fact in policies:
        if immutable and isinstance(fact, EcrLifecyclePolicy):
            fact = replace(fact, immutable_tags=True)
        yield fact


def _policy_value(path: str, text: str, policy: Node, origin: str) -> Iterator[Fact]:
    """An ECR policy written as ``jsonencode({...})`` or as a JSON heredoc."""
    if policy.kind == "call" and policy.name == "jsonencode" and policy.items:
        yield from policies_in_json(path, policy.items[0], origin)
    elif policy.kind == "heredoc":
        if "${" in policy.value:
            yield Unreadable(
                _at(path, policy),
                "retention policy",
                "the policy heredoc interpolates Terraform values (${...}); "
                "write them as literals or use jsonencode() so they can be checked",
            )
            return
        try:
            root = heredoc_json(policy, text)
        except PolicyTextError as exc:
            yield Unreadable(Location(path, exc.line, exc.column), "retention policy", str(exc))
            return
        yield from policies_in_json(path, root, origin)


def _terraform(file: SourceFile, text: str) -> Iterator[Fact]:
    path = file.path
    blocks = terraform_blocks(file, text)
    if not isinstance(blocks, list):
        if blocks is not None:
            yield blocks
        return
    # aws_ecr_repository "label" -> (its name, whether its tags are immutable)
    repositories = {
        block.labels[1]: (
            text_value(block.attributes.get("name")),
            text_value(block.attributes.get("image_tag_mutability")) == "IMMUTABLE",
        )
        for block in blocks
        if block.type == "resource" and block.labels[:1] == ["aws_ecr_repository"]
        if len(block.labels) > 1
    }

    # harbor_project "label" -> its name, for the scope of a harbor_retention_policy
    harbor_projects = {
        block.labels[1]: text_value(block.attributes.get("name"))
        for block in blocks
        if block.type == "resource" and block.labels[:1] == ["harbor_project"]
        if len(block.labels) > 1
    }

    def immutable(repository: Node | None) -> bool:
        if repository is None:
            return False
        if repository.kind == "string":
            return any(name == repository.value and fixed for name, fixed in repositories.values())
        match = _REPOSITORY_REFERENCE.match(str(repository.value))
        return match is not None and repositories.get(match[1], (None, False))[1]

    documents_immutable: set[str] = set()
    for block in blocks:
        if block.type == "resource" and block.labels[:1] == ["aws_ecr_lifecycle_policy"]:
            policy = block.attributes.get("policy")
            match = _DOCUMENT_REFERENCE.match(str(policy.value)) if policy is not None else None
            if match is not None and immutable(block.attributes.get("repository")):
                documents_immutable.add(match[1])
    for block in blocks:
        kind = block.labels[0] if block.labels else ""
        name = block.labels[1] if len(block.labels) > 1 else ""
        if block.type == "data" and kind == "aws_ecr_lifecycle_policy_document":
            yield from _immutable(iter([_ecr_document(path, block)]), name in documents_immutable)
        elif block.type == "resource" and kind == "aws_ecr_lifecycle_policy":
            policy = block.attributes.get("policy")
            if policy is not None:
                origin = f'Terraform aws_ecr_lifecycle_policy "{name}"'
                facts = _policy_value(path, text, policy, origin)
                yield from _immutable(facts, immutable(block.attributes.get("repository")))
        elif block.type == "resource" and kind == "google_artifact_registry_repository":
            yield from _gar_repository(path, block)
        elif block.type == "resource" and kind == "harbor_retention_policy":
            scope = block.attributes.get("scope")
            project = _HARBOR_PROJECT_REFERENCE.match(str(scope.value)) if scope else None
            yield from _harbor_resource(
                path, block, harbor_projects.get(project[1]) if project else None
            )
        elif block.type == "module" and _ECR_MODULE.search(
            text_value(block.attributes.get("source")) or ""
        ):
            yield from _ecr_module(path, text, block)


def _computed(block: Block) -> bool:
    """Whether a value of ``block`` or of its nested blocks is computed (a variable, a
    reference, a function call), or a ``dynamic`` block makes some: Terraform knows them
    when it plans, backout does not."""
    return any(node.kind in ("expr", "call") for node in block.attributes.values()) or any(
        nested.type == "dynamic" or _computed(nested) for nested in block.blocks
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _as_node(block: Block) -> Node:
    """A block as the JSON object of its REST form: ``older_than`` is ``olderThan``, a nested
    block is an object under its camelCase type."""
    fields = {_camel(name): node for name, node in block.attributes.items()}
    for nested in block.blocks:
        fields[_camel(nested.type)] = _as_node(nested)
    return Node("object", None, block.line, block.column, fields=fields)


def _gar_repository(path: str, block: Block) -> Iterator[Fact]:
    """``google_artifact_registry_repository``: its ``cleanup_policies`` blocks, as the
    policy file of ``gcloud artifacts repositories set-cleanup-policies`` reads."""
    policies = [b for b in block.blocks if b.type == "cleanup_policies"]
    dynamic = any(
        b.type == "dynamic" and b.labels[:1] == ["cleanup_policies"] for b in block.blocks
    )
    dry_run = block.attributes.get("cleanup_policy_dry_run")
    if not policies or dynamic or any(_computed(b) for b in policies):
        return
    kind = text_value(block.attributes.get("format"))
    if kind is not None and kind.upper() != "DOCKER":
        return  # a Maven, npm, Python… repository holds no image
    if dry_run is not None and (dry_run.kind != "bool" or dry_run.value is not False):
        return  # a dry run (or one decided by a variable) only logs what it would delete
    root = Node(
        "array", None, policies[0].line, policies[0].column, items=[_as_node(b) for b in policies]
    )
    name = block.labels[1] if len(block.labels) > 1 else ""
    where = text_value(block.attributes.get("location"))
    repository_id = text_value(block.attributes.get("repository_id"))
    origin = f'Terraform google_artifact_registry_repository "{name}"'
    known = (where, repository_id) if where and repository_id else None
    yield from _gar_policy(path, root, origin, known)


# A Terraform ``rule``'s parameter → Harbor's template, in the order the provider tries them.
_HARBOR_TERRAFORM_TEMPLATES = (
    ("n_days_since_last_pull", "nDaysSinceLastPull"),
    ("n_days_since_last_push", "nDaysSinceLastPush"),
    ("most_recently_pulled", "latestPulledN"),
    ("most_recently_pushed", "latestPushedK"),
)


def _harbor_resource(path: str, block: Block, project: str | None) -> Iterator[Fact]:
    """``harbor_retention_policy``: each ``rule`` block as the provider sends it; ``project``
    is the name of the project its ``scope`` names, when known."""
    rules_blocks = [b for b in block.blocks if b.type == "rule"]
    dynamic = any(b.type == "dynamic" and b.labels[:1] == ["rule"] for b in block.blocks)
    if not rules_blocks or dynamic or any(_computed(b) for b in rules_blocks):
        return
    rules: list[HarborRetentionRule] = []
    for rule in rules_blocks:
        values = rule.attributes
        where = Location(path, rule.line, rule.column)
        template, number, decisive = "", None, None
        for name, candidate in _HARBOR_TERRAFORM_TEMPLATES:
            value = int_value(values.get(name))
            if value is not None and value > 0:
                template, number, decisive = candidate, value, values[name]
                break
        else:
            always = values.get("always_retain")
            if always is not None and always.value is True:
                template, decisive = "always", always
        if not template:
            continue  # the provider refuses a rule without a parameter
        tags: list[tuple[str, str]] = []
        for name, decoration in (("tag_matching", "matches"), ("tag_excluding", "excludes")):
            pattern = text_value(values.get(name))
            if pattern:
                tags[:] = [(decoration, pattern)]  # as the provider: excluding wins
        # ``untagged_artifacts`` goes in the tag selector's extras; Harbor's doublestar
        # selector takes an untagged artifact under ``excludes`` when it is false
        # (``tagSelectExclude`` returns ``!untagged``), under ``matches`` when it is true.
        flag = values.get("untagged_artifacts")
        with_untagged = flag is None or flag.value is not False
        excluding = bool(tags) and tags[0][0] == "excludes"
        repositories: list[tuple[str, str]] = []
        for name, decoration in (
            ("repo_matching", "repoMatches"),
            ("repo_excluding", "repoExcludes"),
        ):
            pattern = text_value(values.get(name))
            if pattern:
                repositories[:] = [(decoration, pattern)]
        disabled = values.get("disabled")
        rules.append(
            HarborRetentionRule(
                template=template,
                count=number if template in HARBOR_COUNT_TEMPLATES else None,
                days=number if template in HARBOR_DAY_TEMPLATES else None,
                tag_selectors=tuple(tags),
                untagged=with_untagged != excluding,
                disabled=disabled is not None and disabled.value is True,
                location=where,
                value_location=_at(path, decisive) if decisive is not None else where,
                repository_selectors=tuple(repositories),
            )
        )
    name = block.labels[1] if len(block.labels) > 1 else ""
    origin = f'Terraform harbor_retention_policy "{name}"'
    where = Location(path, block.line, block.column)
    yield HarborRetentionPolicy(where, tuple(rules), origin, project)


def _ecr_module(path: str, text: str, block: Block) -> Iterator[Fact]:
    """The terraform-aws-modules/ecr module: ``repository_lifecycle_policy`` (created unless
    ``create_lifecycle_policy = false``); its tags are immutable unless
    ``repository_image_tag_mutability`` says otherwise (the module's default is IMMUTABLE)."""
    policy = block.attributes.get("repository_lifecycle_policy")
    create = block.attributes.get("create_lifecycle_policy")
    if policy is None or (create is not None and create.value is False):
        return
    mutability = block.attributes.get("repository_image_tag_mutability")
    immutable = mutability is None or text_value(mutability) == "IMMUTABLE"
    origin = f'Terraform module "{"".join(block.labels[:1])}" repository_lifecycle_policy'
    yield from _immutable(_policy_value(path, text, policy, origin), immutable)


def _relocate(node: Node, lines: int, columns: int, at: tuple[int, int] | None = None) -> None:
    """Give every position in ``node`` (parsed from text embedded in a file) the file's:
    shifted by ``lines`` and ``columns``, or all at ``at`` when the text's own positions do
    not map onto the file (an escaped JSON string)."""
    node.line, node.column = at or (node.line + lines, node.column + columns)
    if node.key_line:
        node.key_line, node.key_column = at or (node.key_line + lines, node.key_column + columns)
    for child in [*node.items, *node.fields.values()]:
        _relocate(child, lines, columns, at)


def _cloudformation_json(path: str, root: Node) -> Iterator[Fact]:
    """``AWS::ECR::Repository`` resources of a JSON template; the policy text is a JSON string
    inside JSON, so its rules are located at that string."""
    resources = field_of(root, "Resources")
    for logical_id, resource in resources.fields.items() if resources is not None else []:
        if text_value(field_of(resource, "Type")) != _CFN_REPOSITORY:
            continue
        policy = field_of(resource, "Properties", "LifecyclePolicy", "LifecyclePolicyText")
        policy_text = text_value(policy)
        if policy is None or policy_text is None:
            continue
        origin = f'CloudFormation AWS::ECR::Repository "{logical_id}"'
        try:
            inner = parse_json(policy_text)
        except PolicyTextError as exc:
            yield Unreadable(_at(path, policy), "retention policy", str(exc))
            continue
        _relocate(inner, 0, 0, (policy.line, policy.column + 1))
        mutability = text_value(field_of(resource, "Properties", "ImageTagMutability"))
        yield from _immutable(policies_in_json(path, inner, origin), mutability == "IMMUTABLE")


def _cloudformation_yaml(file: SourceFile) -> Iterator[Fact]:
    """``AWS::ECR::Repository`` resources of a YAML template. A literal block (``|``) keeps
    the policy's lines, so its rules are located where they are written; a policy in any other
    style is located at its first character. A broken YAML file is the manifest reader's to
    report."""
    documents = yamlfile.yaml_documents(file, "retention")
    if isinstance(documents, Unreadable):
        return
    for document in documents:
        for logical_id, _, resource in yamlfile.entries(yamlfile.get(document, "Resources")):
            if yamlfile.text_of(yamlfile.get(resource, "Type")) != _CFN_REPOSITORY:
                continue
            properties = yamlfile.get(resource, "Properties")
            policy = yamlfile.get_path(properties, "LifecyclePolicy", "LifecyclePolicyText")
            policy_text = yamlfile.text_of(policy)
            if policy is None or policy_text is None:
                continue
            origin = f'CloudFormation AWS::ECR::Repository "{logical_id}"'
            start = yamlfile.location(file.path, policy)
            if getattr(policy, "tag", "") == "!Sub" and "${" in policy_text:
                continue  # its numbers are template parameters, known only when deployed
            try:
                inner = parse_json(policy_text)
            except PolicyTextError as exc:
                yield Unreadable(start, "retention policy", str(exc))
                continue
            style = getattr(policy, "style", None)
            lines = file.lines()
            first = policy.start_mark.line + 1  # 0-based index of the block's first line
            if style == "|" and first < len(lines):
                indent = len(lines[first]) - len(lines[first].lstrip(" "))
                _relocate(inner, first, indent)
            else:
                _relocate(inner, 0, 0, (start.line, start.column))
            mutability = yamlfile.text_of(yamlfile.get(properties, "ImageTagMutability"))
            facts = policies_in_json(file.path, inner, origin)
            yield from _immutable(facts, mutability == "IMMUTABLE")
