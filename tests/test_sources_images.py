"""The image readers: exact spans for ``backout pin``, interpolation, Workload fields."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from backout.config import Config, load_config
from backout.engine import check
from backout.models import Severity
from backout.rules.artifacts.BK305_unpinned_build_input import UnpinnedBuildInput
from backout.rules.base import CheckContext
from backout.rules.images.BK101_mutable_image_reference import MutableImageReference
from backout.sources.base import Fact, FactSet, Reader, SourceFile, Unreadable
from backout.sources.compose import ComposeReader
from backout.sources.dockerfile import DockerfileReader
from backout.sources.images import ImageUse, interpolate
from backout.sources.kustomize import KustomizeImage, KustomizeInclude, KustomizeReader, refused_tag
from backout.sources.manifests import ManifestReader, Workload

DIGEST = "sha256:" + "ab" * 32


def _read(reader: Reader, path: str, text: str) -> list[Fact]:
    return list(reader.read(SourceFile(path, text.encode())))


def _images(facts: list[Fact]) -> list[ImageUse]:
    return [f for f in facts if isinstance(f, ImageUse)]


MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: café
  namespace: shop
spec:
  revisionHistoryLimit: 3
  selector: {matchLabels: {app: api}}
  template:
    spec:
      containers:
        - name: a
          image: "shop:1.4"   # quoted
        - name: b
          image: 'ghcr.io/acme/b:latest'
        - name: c
          image: registry:5000/c
"""


def test_manifest_spans_replace_exactly_the_value() -> None:
    images = _images(_read(ManifestReader(), "k8s/api.yaml", MANIFEST))
    assert [i.reference for i in images] == [
        "shop:1.4",
        "ghcr.io/acme/b:latest",
        "registry:5000/c",
    ]
    assert [i.quote for i in images] == ['"', "'", ""]
    for image in images:
        written = MANIFEST[image.value_start : image.value_end]
        assert written.strip(image.quote) == image.reference
        line = MANIFEST.splitlines()[image.location.line - 1]
        assert line[image.location.column - 1 :].startswith(written)
        assert image.rewritable
    last = images[2]
    rewritten = MANIFEST[: last.value_start] + "registry:5000/c@" + DIGEST
    rewritten += MANIFEST[last.value_end :]
    assert rewritten.splitlines()[16] == f"          image: registry:5000/c@{DIGEST}"
    assert images[0].context == "Deployment/café container a"


def test_manifest_workload_records_history_and_immutable_fields() -> None:
    facts = _read(ManifestReader(), "k8s/api.yaml", MANIFEST)
    (workload,) = [f for f in facts if isinstance(f, Workload)]
    assert workload.identity == ("Deployment", "shop", "café")
    assert workload.revision_history_limit == 3
    assert workload.revision_history_limit_location is not None
    assert workload.revision_history_limit_location.line == 7
    selector = workload.field("spec.selector")
    assert selector is not None and selector.value == '{"matchLabels":{"app":"api"}}'


@pytest.mark.parametrize(
    ("metadata", "recreated"),
    [
        ("name: m\n  annotations: {helm.sh/hook: pre-upgrade}", "Helm"),
        (
            "name: m\n  annotations: {helm.sh/hook: pre-upgrade, "
            "helm.sh/hook-delete-policy: 'hook-succeeded,before-hook-creation'}",
            "Helm",
        ),
        ("name: m\n  annotations: {argocd.argoproj.io/hook: PreSync}", "Argo CD"),
        (
            "name: m\n  annotations: {argocd.argoproj.io/hook: PreSync, "
            "argocd.argoproj.io/hook-delete-policy: BeforeHookCreation}",
            "Argo CD",
        ),
        # Deleted only after a successful run: a failed one is still there at the next release.
        (
            "name: m\n  annotations: {helm.sh/hook: pre-upgrade, "
            "helm.sh/hook-delete-policy: hook-succeeded}",
            "",
        ),
        ("name: m\n  annotations: {helm.sh/resource-policy: keep}", ""),
        ("name: m", ""),
    ],
)
def test_manifest_workload_knows_hooks_recreated_by_each_release(
    metadata: str, recreated: str
) -> None:
    text = f"apiVersion: batch/v1\nkind: Job\nmetadata:\n  {metadata}\nspec: {{}}\n"
    (workload,) = [
        f for f in _read(ManifestReader(), "k8s/job.yaml", text) if isinstance(f, Workload)
    ]
    assert (recreated in workload.recreated) if recreated else workload.recreated == ""


def test_manifest_workload_records_generate_name() -> None:
    text = "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: seed-}\nspec: {}\n"
    (workload,) = [
        f for f in _read(ManifestReader(), "k8s/job.yaml", text) if isinstance(f, Workload)
    ]
    assert (workload.name, workload.generate_name) == ("", "seed-")


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("k8s/api.yaml", True),
        ("k8s/api.yml", True),
        ("charts/shop/templates/deployment.yaml", True),  # its content decides
        ("docker-compose.override.yml", False),
        ("compose.yaml", False),
        ("overlays/prod/kustomization.yaml", False),
        ("k8s/api.json", False),
    ],
)
def test_manifest_reader_file_selection(path: str, wanted: bool) -> None:
    assert ManifestReader().wants(path) is wanted


PLAIN_IN_TEMPLATES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:latest
---
apiVersion: v1
kind: Pod
metadata:
  name: api-test
  annotations:
    helm.sh/hook: test
spec:
  containers:
    - {name: wget, image: busybox}
"""


def test_a_file_under_templates_is_a_manifest_unless_it_holds_template_actions() -> None:
    facts = _read(ManifestReader(), "k8s/templates/deployment.yaml", PLAIN_IN_TEMPLATES)
    # applied as written (no chart renders it); a `helm test` pod is never deployed
    assert [(i.reference, str(i.location)) for i in _images(facts)] == [
        ("ghcr.io/acme/api:latest", "k8s/templates/deployment.yaml:10:18")
    ]
    assert [f.name for f in facts if isinstance(f, Workload)] == ["api"]
    templated = PLAIN_IN_TEMPLATES.replace("name: api\n", "name: {{ .Release.Name }}\n", 1)
    assert _read(ManifestReader(), "chart/templates/deployment.yaml", templated) == []


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("docker-compose.yml", True),
        ("deploy/compose.prod.yaml", True),
        ("docker-compose.YML", True),
        ("Compose.Yaml", True),
        ("compose.yaml.bak", False),
        ("compose.json", False),
    ],
)
def test_compose_reader_file_selection_ignores_case(path: str, wanted: bool) -> None:
    assert ComposeReader().wants(path) is wanted


def test_broken_yaml_is_unreadable_only_when_it_looks_like_a_manifest() -> None:
    broken = "apiVersion: v1\nkind: Pod\nmetadata:\n  a: b\n   c: d\n"
    (fact,) = _read(ManifestReader(), "pod.yaml", broken)
    assert isinstance(fact, Unreadable) and fact.location.line == 5
    assert _read(ManifestReader(), "ansible.yaml", "- a: b\n  c: [\n") == []
    assert _read(ManifestReader(), "tpl.yaml", "kind: Pod\n{{ if x }}\n  a: [\n") == []


def test_facts_are_picklable_for_the_process_pool() -> None:
    facts = _read(ManifestReader(), "k8s/api.yaml", MANIFEST)
    assert pickle.loads(pickle.dumps(facts)) == facts


@pytest.mark.parametrize(
    ("text", "value", "defaults", "unresolved"),
    [
        ("shop:${TAG:-latest}", "shop:latest", ("${TAG:-latest}",), ()),
        ("shop:${TAG-1.0}", "shop:1.0", ("${TAG-1.0}",), ()),
        ("${IMAGE}", "", (), ("${IMAGE}",)),
        ("$IMAGE", "", (), ("$IMAGE",)),
        ("${IMAGE:?set IMAGE}", "", (), ("${IMAGE:?set IMAGE}",)),
        ("${A:-${B:-x:1}}", "x:1", ("${A:-${B:-x:1}}", "${B:-x:1}"), ()),
        ("price$$:1", "price$:1", (), ()),
        ("shop:1", "shop:1", (), ()),
    ],
)
def test_compose_interpolation(
    text: str, value: str, defaults: tuple[str, ...], unresolved: tuple[str, ...]
) -> None:
    result = interpolate(text)
    assert (result.value, result.defaults_used, result.unresolved) == (value, defaults, unresolved)


def test_compose_required_variable_is_named_in_bk101() -> None:
    # ``${TAG:?err}`` has no default: compose stops without TAG. The finding names the
    # variable and says it is set at deploy time, not the whole expression as a name.
    assert interpolate("a:${A:?need A}-${B}-${C?}").required == ("A", "C")
    assert interpolate("a:${A:-1}").required == ()
    text = (
        "services:\n"
        "  app:\n"
        '    image: "ghcr.io/shop/app:${TAG:?TAG must be set}"\n'
        "  both:\n"
        "    image: ${REGISTRY}/shop:${TAG:?TAG must be set}\n"
    )
    facts = FactSet(_read(ComposeReader(), "compose.yaml", text))
    app, both = _images(list(facts))
    assert (app.required, both.required) == (("TAG",), ("TAG",))
    findings = list(MutableImageReference().check(CheckContext(head=facts, config=Config())))
    messages = [f.message for f in sorted(findings, key=lambda f: f.location.line)]
    assert messages[0].startswith(
        "compose service app: the image `ghcr.io/shop/app:${TAG:?TAG must be set}` depends "
        "on `TAG`, which must be set at deploy time (compose refuses to start without it) "
        "and has no default, so which image runs"
    )
    assert messages[1].startswith(
        "compose service both: the image `${REGISTRY}/shop:${TAG:?TAG must be set}` depends "
        "on ${REGISTRY} with no default, and on `TAG`, which must be set at deploy time"
    )


def test_known_variables_win_over_defaults() -> None:
    known: dict[str, str | None] = {"V": "3.12", "EMPTY": ""}
    assert interpolate("py:${V:-3.11}", known).value == "py:3.12"
    assert interpolate("py:${EMPTY:-3.11}", known).value == "py:3.11"
    assert interpolate("py:${EMPTY-3.11}", known).value == "py:"
    assert interpolate("py:${V:+x}", known).value == "py:x"


def test_compose_fact_keeps_what_was_written() -> None:
    text = "services:\n  api:\n    image: shop:${TAG:-latest}\n  raw:\n    image: ${IMAGE}\n"
    api, raw = _images(_read(ComposeReader(), "docker-compose.yml", text))
    assert (api.reference, api.written, api.note) == (
        "shop:latest",
        "shop:${TAG:-latest}",
        "default of ${TAG:-latest}",
    )
    # pin writes the digest into the default: a TAG set by the environment still wins.
    assert api.pin_edit is not None
    assert api.pin_edit.apply(text, DIGEST) == text.replace("latest}", f"latest@{DIGEST}}}")
    assert raw.unresolved == "${IMAGE}" and raw.reference == "${IMAGE}"
    assert not raw.rewritable


def test_kustomize_points_at_new_tag_and_composes_the_reference() -> None:
    text = "images:\n  - name: shop\n    newName: reg.io/shop\n    newTag: 2.4\n"
    (image,) = _images(_read(KustomizeReader(), "kustomization.yaml", text))
    assert image.reference == "reg.io/shop:2.4"
    assert (image.location.line, image.location.column) == (4, 13)
    assert image.pin_edit is not None  # a digest key next to newTag, as kustomize edit does
    assert image.pin_edit.apply(text, DIGEST) == text + f"    digest: {DIGEST}\n"


def test_kustomize_records_what_it_includes_resolved_against_its_directory() -> None:
    text = (
        "resources:\n  - deployment.yaml\n  - ./worker\n"
        "  - https://github.com/acme/app//deploy?ref=v1\n"
        "bases: [../../base]\n"
        "components:\n  - ../../../../outside\n"
    )
    facts = _read(KustomizeReader(), "overlays/prod/kustomization.yaml", text)
    includes = [f for f in facts if isinstance(f, KustomizeInclude)]
    assert [(f.field, f.entry, f.target) for f in includes] == [
        ("resources", "deployment.yaml", "overlays/prod/deployment.yaml"),
        ("resources", "./worker", "overlays/prod/worker"),
        ("resources", "https://github.com/acme/app//deploy?ref=v1", ""),
        ("bases", "../../base", "base"),
        ("components", "../../../../outside", ""),
    ]
    assert [(f.location.line, f.location.column) for f in includes] == [
        (2, 5),
        (3, 5),
        (4, 5),
        (5, 9),
        (7, 5),
    ]


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("1.10", "number"),
        ("553640e6", "number"),
        ("0x1F", "number"),
        ("1_000", "number"),
        ("yes", "boolean"),
        ("Off", "boolean"),
        ('"1.10"', ""),
        ("'yes'", ""),
        ("!!str 1.10", ""),
        ("v1.10", ""),
        ("1.10.3", ""),
        ("553640ef", ""),
    ],
)
def test_kustomize_new_tag_kustomize_refuses(written: str, kind: str) -> None:
    text = f"images:\n  - name: shop\n    newTag: {written}\n"
    (image,) = _images(_read(KustomizeReader(), "kustomization.yaml", text))
    assert isinstance(image, KustomizeImage)
    assert image.tag_kind == kind
    refused = refused_tag(image)
    if not kind:
        assert refused is None
        return
    assert refused is not None
    go_kind = "bool" if kind == "boolean" else "number"
    assert f"cannot unmarshal {go_kind} into Go struct field Image.images.newTag" in refused[0]
    assert refused[1] == f'quote it: `newTag: "{written}"`'


DOCKERFILE = """\
# escape=`
ARG BASE=python:3.12
FROM ${BASE} AS build
RUN cat <<END > /x
FROM evil:latest
END
FROM `
  golang:1.22 as tools
COPY --from=build /a /a
COPY --from=Tools /b /b
FROM scratch
"""


def test_dockerfile_follows_args_heredocs_continuations_and_stages() -> None:
    images = _images(_read(DockerfileReader(), "Dockerfile", DOCKERFILE))
    assert [(i.reference, i.written, i.location.line, i.location.column) for i in images] == [
        ("python:3.12", "${BASE}", 3, 6),
        ("golang:1.22", "", 8, 3),
    ]
    assert images[0].note == "ARG BASE=python:3.12"
    second = images[1]
    assert DOCKERFILE[second.value_start : second.value_end] == "golang:1.22"


@pytest.mark.parametrize(
    ("text", "reference", "unresolved"),
    [
        (
            "ARG REGISTRY=docker.io\nARG BASE=${REGISTRY}/library/python:3.12-slim\nFROM ${BASE}\n",
            "docker.io/library/python:3.12-slim",
            "",
        ),
        (
            "ARG R=ghcr.io\nARG N=${R}/acme\nARG BASE=${N}/api:${V:-1.0}\nFROM ${BASE}\n",
            "ghcr.io/acme/api:1.0",
            "",
        ),
        ("ARG REGISTRY\nARG BASE=${REGISTRY}/python:3.12\nFROM ${BASE}\n", "${BASE}", "${BASE}"),
    ],
)
def test_dockerfile_meta_arg_defaults_expand_earlier_args(
    text: str, reference: str, unresolved: str
) -> None:
    (image,) = _images(_read(DockerfileReader(), "Dockerfile", text))
    assert (image.reference, image.unresolved) == (reference, unresolved)


def test_chained_arg_default_without_digest_is_a_moving_tag() -> None:
    text = "ARG REGISTRY=docker.io\nARG BASE=${REGISTRY}/library/python:3.12-slim\nFROM ${BASE}\n"
    facts = FactSet(_read(DockerfileReader(), "Dockerfile", text))
    (finding,) = UnpinnedBuildInput().check(CheckContext(head=facts, config=Config()))
    assert "its tag moves" in finding.message
    assert "not a valid image reference" not in finding.message


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("Dockerfile", True),
        ("svc/api.Dockerfile", True),
        ("Dockerfile.prod", True),
        ("Containerfile", True),
        ("Dockerfile.dockerignore", False),
        ("dockerfile.md", False),
    ],
)
def test_dockerfile_file_selection(path: str, wanted: bool) -> None:
    assert DockerfileReader().wants(path) is wanted


@pytest.mark.parametrize(
    ("reference", "severity"),
    [
        ("shop:latest", Severity.ERROR),
        ("registry:5000/shop", Severity.ERROR),
        ("shop@sha256:abc", Severity.ERROR),
        ("shop:1.4", Severity.WARNING),
        ("shop:1.4@sha256:abc", Severity.WARNING),
        ("Not A Reference", Severity.WARNING),
        (f"shop:latest@{DIGEST}", None),
    ],
)
def test_bk101_severity(reference: str, severity: Severity | None) -> None:
    text = MANIFEST.replace('"shop:1.4"', f'"{reference}"')
    facts = FactSet(_read(ManifestReader(), "k8s/api.yaml", text))
    findings = list(MutableImageReference().check(CheckContext(head=facts, config=Config())))
    on_line = [f.severity for f in findings if f.location.line == 13]
    assert on_line == ([severity] if severity else [])


def test_merge_keys_are_followed_with_yaml_precedence() -> None:
    text = """\
x-app: &app
  image: shop:latest
x-other: &other
  image: other:1
  command: other
services:
  web:
    <<: *app
  worker:
    <<: [*app, *other]
  pinned:
    <<: *app
    image: shop:1.4
"""
    images = _images(_read(ComposeReader(), "docker-compose.yml", text))
    # web and worker share the anchored image (the first merged mapping wins): one fact where
    # it is written, so `backout pin` rewrites that span once; pinned's own key wins.
    assert [(u.reference, u.context, u.location.line) for u in images] == [
        ("shop:latest", "compose services web, worker", 2),
        ("shop:1.4", "compose service pinned", 13),
    ]


def test_merged_containers_report_their_shared_image_once() -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  template:
    spec:
      containers:
        - &api {name: api, image: "shop:2"}
        - <<: *api
          name: api-canary
"""
    images = _images(_read(ManifestReader(), "k8s/shop.yaml", text))
    assert [(u.reference, u.location.line, u.location.column) for u in images] == [
        ("shop:2", 8, 35)
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
                for i in range(7)
            )
            + "apiVersion: v1\nkind: Pod\nspec: *h\n",
            "YAML aliases expand to more than 1,000,000 nodes",
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nspec:\n  selector: &s [*s, *s]\n",
            "YAML anchor is aliased inside itself",
        ),
    ],
    ids=["alias-bomb", "recursive-anchor"],
)
def test_alias_bombs_are_unreadable_not_a_hang(text: str, problem: str) -> None:
    facts = _read(ManifestReader(), "k8s/bomb.yaml", text)
    assert [type(f) for f in facts] == [Unreadable]
    assert isinstance(facts[0], Unreadable) and problem in facts[0].reason


def test_anchors_within_the_limit_are_read() -> None:
    text = MANIFEST.replace(
        "selector: {matchLabels: {app: api}}", "selector: &s {matchLabels: {app: api}}"
    )
    text += "---\napiVersion: v1\nkind: List\nitems: []\n"
    facts = _read(ManifestReader(), "k8s/app.yaml", text)
    assert not any(isinstance(f, Unreadable) for f in facts)
    assert len(_images(facts)) == 3


def test_bk105_shows_where_a_long_field_changed(tmp_path: Path) -> None:
    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: migrate}}\nspec:\n  template:\n"
        "    spec:\n      restartPolicy: Never\n      containers:\n"
        '        - {{name: m, image: "shop:1@sha256:{digest}", '
        'command: ["migrate", "up", "--to", "42", "--database", "{database}"]}}\n'
    )
    digest = "a" * 64
    for release, database in (("base", "postgres://db/shop"), ("head", "postgres://db/shop2")):
        (tmp_path / release).mkdir()
        (tmp_path / release / "job.yaml").write_text(job.format(digest=digest, database=database))
    config = load_config(tmp_path / "head").with_overrides(select=("BK105",))
    (finding,) = check(tmp_path / "head", config, str(tmp_path / "base")).findings
    # Both sides show the part that differs, not the 60 characters they share.
    assert '//db/shop"]' in finding.message and '//db/shop2"]' in finding.message


def test_a_deploy_time_placeholder_is_named_as_one() -> None:
    """``image: <IMAGE>`` that a pipeline seds in is not an image the runtime refuses: it is
    filled in before it is applied, and the repository cannot say what it becomes."""
    case = Path(__file__).parent / "fixtures/rules/BK101/fail/deploy_time_placeholder"
    result = check(case, load_config(case).with_overrides(select=("BK101",)))
    messages = [f.message for f in result.findings]
    assert len(messages) == 2 and all(f.severity is Severity.WARNING for f in result.findings)
    assert "`<IMAGE>` is a placeholder that a deploy step fills in" in messages[0]
    assert "`<SIDECAR_TAG>`" in messages[1]
    assert not any("refuse to pull" in m for m in messages)


@pytest.mark.parametrize(
    ("version", "exact"),
    [
        ("6.5.4", True),
        ("v6.5.4", True),
        ("=6.5.4", True),
        ("= v6.5.4", True),
        ("1.0.0-rc.1", True),
        ("1.0.0+build.7", True),
        # Masterminds semver: a partial version is a tilde range, the rest are ranges
        ("6.5", False),
        ("6", False),
        ("6.5.x", False),
        ("6.5.*", False),
        ("*", False),
        (">=6.0.0", False),
        ("~6.5.4", False),
        ("^6.5.4", False),
        ("6.0.0 - 7.0.0", False),
        ("6.5.4 || 6.5.5", False),
        ("HEAD", False),
        ("06.5.4", False),
    ],
)
def test_gitops_chart_version_exact_or_range(version: str, exact: bool) -> None:
    from backout.sources.gitops import is_exact

    assert is_exact(version) is exact


@pytest.mark.parametrize(
    "text",
    [
        # JSON with comments (a cspell/VS Code/devcontainer file) that lists the word
        '{\n  // words the spell checker accepts\n  "words": ["containerDefinitions", "ecs"]\n}\n',
        '{"docs": "see \\"containerDefinitions\\" in the AWS guide", broken',
    ],
)
def test_a_broken_json_file_that_only_mentions_container_definitions_is_not_unreadable(
    text: str,
) -> None:
    from backout.sources.base import SourceFile, Unreadable
    from backout.sources.ecs import EcsTaskDefinitionReader

    facts = list(EcsTaskDefinitionReader().read(SourceFile("cspell.json", text.encode())))
    assert not any(isinstance(fact, Unreadable) for fact in facts)


def test_a_broken_task_definition_is_unreadable() -> None:
    from backout.sources.base import SourceFile, Unreadable
    from backout.sources.ecs import EcsTaskDefinitionReader

    text = '{"family": "x", "containerDefinitions" : [{"image": "nginx", "cpu": ${CPU}}]}'
    facts = list(EcsTaskDefinitionReader().read(SourceFile("td.json", text.encode())))
    assert [type(fact) for fact in facts] == [Unreadable]


def test_a_task_definition_image_that_is_no_string_is_no_image() -> None:
    """``"image": 42`` (or ``true``) names no image: the other containers are still read."""
    from backout.sources.base import SourceFile
    from backout.sources.ecs import EcsTaskDefinitionReader
    from backout.sources.images import ImageUse

    containers = '[{"name": "a", "image": 42}, {"name": "b", "image": true}, {"name": "c", '
    text = containers + '"image": "42"}]'
    data = ('{"family": "x", "containerDefinitions": ' + text + "}").encode()
    facts = EcsTaskDefinitionReader().read(SourceFile("td.json", data))
    assert [f.reference for f in facts if isinstance(f, ImageUse)] == ["42"]
