"""The retention reader, its positioned JSON/HCL trees, and GitLab's expire_in durations."""

from __future__ import annotations

import pytest

from backout.config import Config
from backout.rules.artifacts.BK302_registry_lifecycle_expires_rollback_target import (
    ReleaseImage,
    gar_package,
    gar_shortfall,
)
from backout.sources.base import SourceFile, Unreadable
from backout.sources.gitlab_duration import DurationError, parse_expire_in
from backout.sources.policytext import PolicyTextError, field_of, parse_hcl, parse_json
from backout.sources.retention import (
    EcrLifecyclePolicy,
    GarCleanupPolicy,
    HarborRetentionPolicy,
    RetentionReader,
    gar_duration,
)

DAY = 86400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("42", 42),
        ("42 seconds", 42),
        ("3 mins 4 sec", 184),
        ("2 hrs 20 min", 2 * 3600 + 20 * 60),
        ("2h20min", 2 * 3600 + 20 * 60),
        ("6 mos 1 day", 6 * 30 * DAY + DAY),
        ("47 yrs 6 mos and 4d", 47 * 31557600 + 6 * 30 * DAY + 4 * DAY),
        ("3 weeks and 2 days", 23 * DAY),
        ("1 week", 7 * DAY),
        ("30 days", 30 * DAY),
        ("7d", 7 * DAY),
        ("1 Day", DAY),
        ("day", DAY),
        ("1:30", 90),
        ("2:00:00", 7200),
        ("1.5 days", 36 * 3600),
        ("three weeks and two days", 23 * DAY),
        ("twenty one days", 21 * DAY),
        ("2 weeks, 3 days", 17 * DAY),
        ("1 week plus 1 day", 8 * DAY),
    ],
)
def test_expire_in_reads_every_gitlab_syntax(text: str, seconds: int) -> None:
    assert parse_expire_in(text) == seconds


@pytest.mark.parametrize("text", ["never", "Never", "NEVER"])
def test_never_means_kept_forever(text: str) -> None:
    assert parse_expire_in(text) is None


@pytest.mark.parametrize("text", ["0", "", "soon", "7 dayz", "1 fortnight"])
def test_values_gitlab_rejects_raise(text: str) -> None:
    with pytest.raises(DurationError):
        parse_expire_in(text)


def test_json_positions_point_at_values() -> None:
    text = '{\n  "rules": [\n    {"selection": {"countNumber":\t14}}\n  ]\n}\n'
    root = parse_json(text)
    count = field_of(root.fields["rules"].items[0], "selection", "countNumber")
    assert count is not None
    assert (count.value, count.line, count.column) == (14, 3, 35)
    assert text.splitlines()[2][count.column - 1 :].startswith("14")


def test_invalid_json_says_where() -> None:
    with pytest.raises(PolicyTextError) as raised:
        parse_json('{"rules": [\n  {"rulePriority": 1,}\n]}')
    assert (raised.value.line, raised.value.column) == (2, 22)


def test_hcl_reads_literals_and_marks_computed_values() -> None:
    blocks = parse_hcl(
        'resource "x" "y" {\n'
        '  a = jsonencode({ n = 3, s = "v", l = [1, 2], e = var.keep })\n'
        '  b = "${var.name}-x"\n'
        "  c = var.on ? 1 : 0\n"
        "}\n"
    )
    (block,) = blocks
    assert block.labels == ["x", "y"]
    call = block.attributes["a"]
    assert call.kind == "call" and call.name == "jsonencode"
    obj = call.items[0]
    assert obj.fields["n"].value == 3 and obj.fields["n"].column == 24
    assert obj.fields["s"].value == "v"
    assert [i.value for i in obj.fields["l"].items] == [1, 2]
    assert obj.fields["e"].kind == "expr"
    assert block.attributes["b"].kind == "expr"
    assert block.attributes["c"].kind == "expr"
    assert block.attributes["c"].value == "var.on ? 1 : 0"


def test_unterminated_heredoc_is_an_error() -> None:
    with pytest.raises(PolicyTextError):
        parse_hcl('resource "a" "b" {\n  policy = <<EOF\n{}\n}\n')


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * DAY), ("2592000s", 30 * DAY), ("1d12h", 36 * 3600), ("86400", DAY)],
)
def test_gar_durations(text: str, seconds: int) -> None:
    assert gar_duration(text) == seconds


def test_gar_duration_rejects_other_text() -> None:
    assert gar_duration("P30D") is None
    assert gar_duration("") is None


def _read(path: str, text: str) -> list[object]:
    return list(RetentionReader().read(SourceFile(path, text.encode())))


def test_reader_recognises_each_format_by_content() -> None:
    ecr = _read("a.json", '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any"}}]}')
    gar = _read("b.json", '[{"name": "d", "action": {"type": "Delete"}, "condition": {}}]')
    harbor = _read(
        "c.json", '{"rules": [{"template": "always", "params": {}, "tag_selectors": []}]}'
    )
    assert [type(f) for f in ecr] == [EcrLifecyclePolicy]
    assert [type(f) for f in gar] == [GarCleanupPolicy]
    assert [type(f) for f in harbor] == [HarborRetentionPolicy]


def test_gar_rest_form_and_bad_duration() -> None:
    facts = _read(
        "p.json",
        '{"cleanupPolicies": {"old": {"id": "old", "action": "DELETE",'
        ' "condition": {"tagState": "TAGGED", "olderThan": "a month"}}}}',
    )
    # A Delete whose olderThan cannot be read is not judged as "delete everything".
    (unreadable,) = facts
    assert isinstance(unreadable, Unreadable) and "a month" in unreadable.reason
    (policy,) = _read(
        "p.json",
        '{"cleanupPolicies": {"old": {"id": "old", "action": "DELETE",'
        ' "condition": {"tagState": "TAGGED", "olderThan": "30d"}}}}',
    )
    assert isinstance(policy, GarCleanupPolicy)
    (rule,) = policy.rules
    assert (rule.name, rule.action, rule.tag_state) == ("old", "delete", "tagged")
    assert rule.older_than == 30 * 86400


def test_harbor_rule_without_a_number_is_unreadable_not_retain_nothing() -> None:
    for params in ('{"latestPushedK": "x"}', "{}"):
        (fact,) = _read(
            "harbor.json",
            '{"algorithm": "or", "rules": [{"template": "latestPushedK", "params": '
            + params
            + ', "tag_selectors": [{"kind": "doublestar", "decoration": "matches",'
            ' "pattern": "**"}]}]}',
        )
        assert isinstance(fact, Unreadable) and "latestPushedK" in fact.reason


def test_other_json_is_ignored_and_broken_policies_are_unreadable() -> None:
    assert _read("package.json", '{"name": "x", "version": "1.0.0"}') == []
    (fact,) = _read("ecr.json", '{"rules": [{"rulePriority": 1,}]}')
    assert isinstance(fact, Unreadable)
    assert (fact.location.line, fact.location.column) == (1, 31)


def test_interpolated_heredoc_is_reported_not_guessed() -> None:
    (fact,) = _read(
        "ecr.tf",
        'resource "aws_ecr_lifecycle_policy" "a" {\n'
        "  policy = <<EOF\n"
        '{"rules": [{"rulePriority": 1, "selection": {"countNumber": ${var.n}}}]}\n'
        "EOF\n"
        "}\n",
    )
    assert isinstance(fact, Unreadable)
    assert fact.location.line == 2


def test_terraform_without_lifecycle_policies_is_not_parsed() -> None:
    assert _read("main.tf", 'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n') == []


def test_terraform_marks_policies_of_immutable_repositories() -> None:
    text = """\
resource "aws_ecr_repository" "fixed" {
  name                 = "fixed"
  image_tag_mutability = "IMMUTABLE"
}
resource "aws_ecr_repository" "moving" {
  name = "moving"
}
resource "aws_ecr_lifecycle_policy" "by_reference" {
  repository = aws_ecr_repository.fixed.name
  policy     = jsonencode({ rules = [{ rulePriority = 1, selection = { tagStatus = "any" } }] })
}
resource "aws_ecr_lifecycle_policy" "by_name" {
  repository = "moving"
  policy     = jsonencode({ rules = [{ rulePriority = 1, selection = { tagStatus = "any" } }] })
}
resource "aws_ecr_lifecycle_policy" "document" {
  repository = aws_ecr_repository.fixed.name
  policy     = data.aws_ecr_lifecycle_policy_document.doc.json
}
data "aws_ecr_lifecycle_policy_document" "doc" {
  rule {
    priority = 1
    selection {
      tag_status = "any"
    }
  }
}
module "registry" {
  source                      = "terraform-aws-modules/ecr/aws"
  repository_lifecycle_policy = jsonencode({ rules = [{ selection = { tagStatus = "any" } }] })
}
module "no_policy" {
  source                      = "terraform-aws-modules/ecr/aws"
  create_lifecycle_policy     = false
  repository_lifecycle_policy = jsonencode({ rules = [{ selection = { tagStatus = "any" } }] })
}
"""
    policies = [f for f in _read("main.tf", text) if isinstance(f, EcrLifecyclePolicy)]
    assert [(p.origin, p.immutable_tags) for p in policies] == [
        ('Terraform aws_ecr_lifecycle_policy "by_reference"', True),
        ('Terraform aws_ecr_lifecycle_policy "by_name"', False),
        ('Terraform aws_ecr_lifecycle_policy_document "doc"', True),
        ('Terraform module "registry" repository_lifecycle_policy', True),
    ]


def test_gar_and_harbor_rules_keep_their_scope() -> None:
    gar = _read(
        "gar.json",
        '[{"name": "k", "action": {"type": "Keep"},'
        ' "mostRecentVersions": {"packageNamePrefixes": ["web"], "keepCount": 5}},'
        ' {"name": "d", "action": {"type": "Delete"},'
        ' "condition": {"packageNamePrefixes": ["ci-"], "olderThan": "1d"}}]',
    )
    (policy,) = gar
    assert isinstance(policy, GarCleanupPolicy)
    assert [r.package_prefixes for r in policy.rules] == [("web",), ("ci-",)]
    harbor = _read(
        "harbor.json",
        '{"rules": [{"template": "latestPushedK", "params": {"latestPushedK": 1},'
        ' "scope_selectors": {"repository": [{"decoration": "repoExcludes",'
        ' "pattern": "sandbox-*"}]}, "tag_selectors": []}]}',
    )
    (retention,) = harbor
    assert isinstance(retention, HarborRetentionPolicy)
    assert retention.rules[0].repository_selectors == (("repoExcludes", "sandbox-*"),)


@pytest.mark.parametrize(
    ("condition", "what"),
    [
        ('{"olderThan": "1d"}', "versions (tagged or untagged) older than"),
        ('{"tagState": "tagged", "olderThan": "1d"}', "tagged versions older than"),
        ('{"tagState": "any", "tagPrefixes": ["v"], "olderThan": "1d"}', "versions tagged v*"),
        (
            '{"packageNamePrefixes": ["sh"], "olderThan": "1d"}',
            "versions (tagged or untagged) of packages sh*",
        ),
    ],
)
def test_gar_messages_name_the_versions_as_tag_state_defines_them(
    condition: str, what: str
) -> None:
    (policy,) = _read(
        "p.json", f'[{{"name": "d", "action": {{"type": "Delete"}}, "condition": {condition}}}]'
    )
    assert isinstance(policy, GarCleanupPolicy)
    image = ReleaseImage("us-docker.pkg.dev", "acme/apps/shop", "v1.2.3")
    shortfall = gar_shortfall(policy, image, untagged=False)
    assert shortfall is not None
    assert what in shortfall.describe(Config())


@pytest.mark.parametrize(
    ("registry", "repository", "package"),
    [
        ("us-docker.pkg.dev", "acme/apps/shop", "shop"),
        ("europe-west1-docker.pkg.dev", "acme/apps/team/shop", "team/shop"),
        ("gcr.io", "acme/shop", "shop"),
        ("registry.example.com", "team/shop", "shop"),
    ],
)
def test_gar_package_of_an_image(registry: str, repository: str, package: str) -> None:
    assert gar_package(ReleaseImage(registry, repository, "1")) == package


@pytest.mark.parametrize(("run_it", "deploys"), [("", False), ("bash deploy.sh\n", True)])
def test_a_deploy_command_written_to_a_file_deploys_only_when_run(
    run_it: str, deploys: bool
) -> None:
    """A job that writes `kubectl apply` into a file deploys nothing until it runs the file."""
    from backout.rules.artifacts.BK301_ci_artifact_retention_shorter_than_window import (
        deploy_jobs,
    )
    from backout.sources.base import FactSet
    from backout.sources.ci import CiReader

    script = "cat <<'EOF' > deploy.sh\nkubectl apply -f k8s/\nEOF\n" + run_it
    body = "".join(f"          {line}\n" for line in script.splitlines())
    workflow = (
        "on: push\njobs:\n  package:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - run: |\n{body}"
    )
    facts = FactSet()
    facts.extend(CiReader().read(SourceFile(".github/workflows/ci.yml", workflow.encode())))
    assert (deploy_jobs(facts) == {(".github/workflows/ci.yml", "package")}) is deploys


def test_terraform_harbor_rules_are_what_the_provider_sends() -> None:
    """goharbor/harbor's ``client.GetRententionBody``: the first parameter set above 0 is the
    template (``n_days_since_last_pull`` before ``most_recently_pushed``), ``tag_excluding``
    and ``repo_excluding`` are selectors, ``untagged_artifacts`` is true unless set false."""
    (policy,) = _read(
        "harbor.tf",
        'resource "harbor_retention_policy" "p" {\n'
        "  scope = harbor_project.p.id\n"
        "  rule {\n"
        "    n_days_since_last_pull = 0\n"
        "    most_recently_pushed   = 4\n"
        '    repo_excluding         = "tools/**"\n'
        '    tag_excluding          = "dev-*"\n'
        "  }\n"
        "  rule {\n"
        "    n_days_since_last_push = 14\n"
        '    repo_matching          = "**"\n'
        '    tag_matching           = "v*"\n'
        "    untagged_artifacts     = false\n"
        "    disabled               = true\n"
        "  }\n"
        "}\n",
    )
    assert isinstance(policy, HarborRetentionPolicy)
    first, second = policy.rules
    assert (first.template, first.count, first.days) == ("latestPushedK", 4, None)
    assert first.tag_selectors == (("excludes", "dev-*"),)
    assert first.repository_selectors == (("repoExcludes", "tools/**"),)
    # ``untagged_artifacts`` (true) beside ``tag_excluding`` excludes untagged artifacts too:
    # Harbor's doublestar selector returns ``!untagged`` for them under ``excludes``.
    assert not first.untagged and not first.disabled
    assert (first.value_location.line, first.value_location.column) == (5, 30)
    assert (second.template, second.days, second.untagged, second.disabled) == (
        "nDaysSinceLastPush",
        14,
        False,
        True,
    )


@pytest.mark.parametrize(
    "body",
    [
        # A dry run only logs what it would delete.
        '  cleanup_policy_dry_run = true\n  cleanup_policies {\n    id = "d"\n'
        '    action = "DELETE"\n    condition { older_than = "1d" }\n  }\n',
        # A duration from a variable, policies from a dynamic block: known when planned.
        '  cleanup_policies {\n    id = "d"\n    action = "DELETE"\n'
        "    condition { older_than = var.age }\n  }\n",
        '  dynamic "cleanup_policies" {\n    for_each = var.policies\n'
        "    content {\n      id = cleanup_policies.key\n    }\n  }\n",
    ],
)
def test_terraform_gar_policies_that_are_not_judged(body: str) -> None:
    text = f'resource "google_artifact_registry_repository" "r" {{\n{body}}}\n'
    assert _read("registry.tf", text) == []


def test_terraform_gar_cleanup_policies_read_as_the_policy_file() -> None:
    (policy,) = _read(
        "registry.tf",
        'resource "google_artifact_registry_repository" "r" {\n'
        "  cleanup_policy_dry_run = false\n"
        "  cleanup_policies {\n"
        '    id     = "keep-releases"\n'
        '    action = "KEEP"\n'
        "    condition {\n"
        '      tag_state             = "TAGGED"\n'
        '      package_name_prefixes = ["api"]\n'
        '      newer_than            = "30d"\n'
        "    }\n"
        "  }\n"
        "}\n",
    )
    assert isinstance(policy, GarCleanupPolicy)
    (rule,) = policy.rules
    assert (rule.name, rule.action, rule.tag_state) == ("keep-releases", "keep", "tagged")
    assert (rule.newer_than, rule.package_prefixes) == (30 * DAY, ("api",))


@pytest.mark.parametrize(
    ("tags", "untagged"),
    [
        ('tag_matching = "**"', True),
        ('tag_matching = "**"\n    untagged_artifacts = false', False),
        ('tag_excluding = "dev-*"', False),
        ('tag_excluding = "dev-*"\n    untagged_artifacts = false', True),
    ],
)
def test_terraform_harbor_untagged_artifacts_as_harbor_selects_them(
    tags: str, untagged: bool
) -> None:
    """The provider sends ``untagged_artifacts`` as the tag selector's extras; Harbor's
    doublestar selector (``tagSelectExclude``) takes an untagged artifact under ``excludes``
    only when that is false: "excluding dev-*, with untagged" excludes the untagged too."""
    (policy,) = _read(
        "harbor.tf",
        'resource "harbor_retention_policy" "p" {\n'
        '  scope = "/projects/1"\n'
        "  rule {\n"
        "    most_recently_pushed = 10\n"
        '    repo_matching = "**"\n'
        f"    {tags}\n"
        "  }\n"
        "}\n",
    )
    assert isinstance(policy, HarborRetentionPolicy)
    (rule,) = policy.rules
    assert rule.untagged is untagged


def test_terraform_gar_policy_governs_its_own_docker_repository() -> None:
    """A ``google_artifact_registry_repository`` names its repository (``location``,
    ``repository_id``) and ``format``: its cleanup policies delete versions of that
    repository only, and a Maven or npm repository's delete no image."""
    from backout.rules.artifacts.BK302_registry_lifecycle_expires_rollback_target import (
        ReleaseImage,
        gar_shortfall,
    )

    def policy(extra: str) -> GarCleanupPolicy:
        (found,) = _read(
            "registry.tf",
            'resource "google_artifact_registry_repository" "cache" {\n'
            '  location      = "europe-west1"\n'
            '  repository_id = "ci-cache"\n'
            f"{extra}"
            "  cleanup_policies {\n"
            '    id     = "delete-old"\n'
            '    action = "DELETE"\n'
            '    condition { older_than = "86400s" }\n'
            "  }\n"
            "}\n",
        )
        assert isinstance(found, GarCleanupPolicy)
        return found

    cache = policy('  format        = "DOCKER"\n')
    release = ReleaseImage("europe-west1-docker.pkg.dev", "acme/releases/api", "v1.2.0")
    cached = ReleaseImage("europe-west1-docker.pkg.dev", "acme/ci-cache/api", "v1.2.0")
    elsewhere = ReleaseImage("ghcr.io", "acme/api", "v1.2.0")
    unknown = ReleaseImage(None, None, "v1.2.0")
    assert gar_shortfall(cache, release, False) is None
    assert gar_shortfall(cache, elsewhere, False) is None
    assert gar_shortfall(cache, cached, False) is not None
    assert gar_shortfall(cache, unknown, False) is not None
    # A repository of Maven artifacts (or npm, Python…) holds no image.
    assert _read("registry.tf", "") == []
    maven = (
        'resource "google_artifact_registry_repository" "libs" {\n'
        '  format = "MAVEN"\n'
        "  cleanup_policies {\n"
        '    id     = "delete-old"\n'
        '    action = "DELETE"\n'
        '    condition { older_than = "86400s" }\n'
        "  }\n"
        "}\n"
    )
    assert _read("registry.tf", maven) == []


def test_terraform_harbor_policy_governs_its_own_project() -> None:
    """A ``harbor_retention_policy`` is a project's (``scope = harbor_project.ci.id``): with
    that project's ``name`` written, it deletes nothing of another project's images."""
    from backout.rules.artifacts.BK302_registry_lifecycle_expires_rollback_target import (
        ReleaseImage,
        harbor_shortfall,
    )

    found = _read(
        "harbor.tf",
        'resource "harbor_project" "ci" {\n  name = "ci-cache"\n}\n'
        'resource "harbor_retention_policy" "ci" {\n'
        "  scope = harbor_project.ci.id\n"
        "  rule {\n"
        "    most_recently_pushed = 1\n"
        '    repo_matching        = "**"\n'
        '    tag_matching         = "**"\n'
        "  }\n"
        "}\n",
    )
    (policy,) = [f for f in found if isinstance(f, HarborRetentionPolicy)]
    release = ReleaseImage("harbor.example.com", "shop/api", "v1.2.0")
    cached = ReleaseImage("harbor.example.com", "ci-cache/api", "v1.2.0")
    unknown = ReleaseImage(None, None, "v1.2.0")
    assert harbor_shortfall(policy, release, False) is None
    assert harbor_shortfall(policy, cached, False) is not None
    assert harbor_shortfall(policy, unknown, False) is not None


@pytest.mark.parametrize(
    ("selector", "untagged"),
    [
        # doublestar.New: untagged defaults to true under `matches`, false under `excludes`;
        # tagSelectExclude takes an untagged artifact when the flag is false.
        ('"decoration": "matches", "pattern": "**"', True),
        ('"decoration": "matches", "pattern": "**", "extras": "{\\"untagged\\":false}"', False),
        ('"decoration": "matches", "pattern": "**", "extras": "{}"', False),
        ('"decoration": "excludes", "pattern": "dev-*"', True),
        ('"decoration": "excludes", "pattern": "dev-*", "extras": "{\\"untagged\\":true}"', False),
        # Extras Go cannot unmarshal into the struct leave the default.
        ('"decoration": "matches", "pattern": "**", "extras": "not json"', True),
        ('"decoration": "matches", "pattern": "**", "extras": "{\\"untagged\\":\\"no\\"}"', True),
    ],
)
def test_harbor_json_selectors_take_untagged_artifacts_as_harbor_does(
    selector: str, untagged: bool
) -> None:
    text = (
        '{"algorithm": "or", "rules": [{"action": "retain", "template": "latestPushedK",'
        ' "params": {"latestPushedK": 10}, "tag_selectors": [{"kind": "doublestar", '
        + selector
        + "}]}]}"
    )
    (policy,) = _read("retention.json", text)
    assert isinstance(policy, HarborRetentionPolicy)
    assert policy.rules[0].untagged is untagged
