"""The Helm reader: masking keeps positions, templates never become unreadable, values images."""

# ruff: noqa: E501  (the template and values texts keep their real, long lines)
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backout.models import Location
from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.helm import (
    HelmChart,
    HelmCrd,
    HelmHook,
    HelmImage,
    HelmNamedTemplate,
    HelmReader,
    HelmResourcePolicy,
    HelmTemplateImage,
    HelmTemplateWorkload,
    HelmValues,
    judged_image_uses,
    mask_template,
    misrendered_tag,
    readable_name,
    rendered_field,
    unused_helm_images,
)
from backout.sources.images import ImageUse
from backout.sources.paths import chart_of_template
from tests.conftest import run_backout

TEMPLATE = """\
{{- if .Values.migrations.enabled }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "shop.fullname" . }}-migrate
  labels:
    {{- include "shop.labels" . | nindent 4 }}
  annotations:
    "helm.sh/hook": pre-upgrade,post-upgrade
    helm.sh/resource-policy: keep
spec:
  template:
    spec:
      containers:
        - name: migrate
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          command: ["shop-api", "migrate"]
          args: [up]
{{- end }}
"""


def read(path: str, text: str) -> list[Fact]:
    return list(HelmReader().read(SourceFile(path, text.encode())))


def at(fact: Fact) -> str:
    return f"{fact.location.line}:{fact.location.column}"


def test_wants() -> None:
    reader = HelmReader()
    for path in (
        "Chart.yaml",
        "charts/shop/Chart.yaml",
        "charts/shop/templates/job.yaml",
        "charts/shop/templates/_helpers.tpl",
        "charts/shop/crds/crd.yaml",
        "charts/shop/values.yaml",
        "charts/shop/values-prod.yaml",
        "deploy/values.staging.yaml",
    ):
        assert reader.wants(path), path
    for path in ("k8s/deploy.yaml", "charts/shop/README.md", "templates/notes.txt", "values.txt"):
        assert not reader.wants(path), path
    assert chart_of_template("charts/shop/charts/db/templates/x.yaml") == (
        "charts/shop/charts/db",
        "templates",
    )
    assert chart_of_template("templates/x.yaml") == ("", "templates")


@pytest.mark.parametrize(
    ("path", "located"),
    [
        # A subchart named crds (kube-prometheus-stack): its Chart.yaml and values are chart
        # files, its own crds/ folder holds the CRDs.
        ("charts/stack/charts/crds/Chart.yaml", None),
        ("charts/stack/charts/crds/values.yaml", None),
        ("charts/stack/charts/crds/crds/crd-widgets.yaml", ("charts/stack/charts/crds", "crds")),
        ("charts/stack/charts/crds/templates/job.yaml", ("charts/stack/charts/crds", "templates")),
        ("charts/crds/Chart.yaml", None),
        ("charts/templates/Chart.yaml", None),
        ("charts/shop/crds/crd.yaml", ("charts/shop", "crds")),
        ("crds/crd.yaml", ("", "crds")),
    ],
)
def test_chart_of_template_tells_a_chart_named_crds_from_a_crd_folder(
    path: str, located: tuple[str, str] | None
) -> None:
    assert chart_of_template(path) == located
    if path.endswith(("/Chart.yaml", "/values.yaml")):
        assert HelmReader().wants(path)


def test_mask_keeps_length_and_lines() -> None:
    masked = mask_template(TEMPLATE)
    assert len(masked) == len(TEMPLATE)
    assert masked.count("\n") == TEMPLATE.count("\n")
    lines = masked.splitlines()
    assert lines[0].strip() == ""  # an action alone on its line is blanked
    assert lines[4] == "  name: " + "x" * len('{{ include "shop.fullname" . }}') + "-migrate"


def test_template_facts_with_positions() -> None:
    facts = read("charts/shop/templates/job.yaml", TEMPLATE)
    assert not [f for f in facts if isinstance(f, Unreadable)]
    (hook,) = [f for f in facts if isinstance(f, HelmHook)]
    assert (hook.chart, hook.kind, hook.hooks, at(hook)) == (
        "charts/shop",
        "Job",
        ("pre-upgrade", "post-upgrade"),
        "9:21",
    )
    assert hook.name == '{{ include "shop.fullname" . }}-migrate'
    assert hook.runs_containers and hook.command == "shop-api migrate up"
    (policy,) = [f for f in facts if isinstance(f, HelmResourcePolicy)]
    assert (policy.policy, at(policy)) == ("keep", "10:30")
    (image,) = [f for f in facts if isinstance(f, HelmTemplateImage)]
    assert image.values_paths == ("image.repository", "image.tag")
    assert image.app_version_default and at(image) == "16:18"


def test_template_that_stays_invalid_is_line_scanned_not_unreadable() -> None:
    broken = "kind: Job\nmetadata:\n  name: x\n  annotations:\n    helm.sh/hook: pre-upgrade\n  [\n"
    facts = read("c/templates/job.yaml", broken)
    assert [type(f) for f in facts] == [HelmHook]
    assert at(facts[0]) == "5:19"
    crd = read("c/templates/crd.yaml", "kind: CustomResourceDefinition\n  bad: [\n")
    assert [(type(f), at(f)) for f in crd] == [(HelmCrd, "1:7")]


KEPT_CRD = """\
{{- if .Values.crds.enabled }}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: "challenges.acme.cert-manager.io"
  {{- if .Values.crds.keep }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
{{- end }}
---
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations:
    {{- if .Values.delete }}
    helm.sh/resource-policy: delete
    {{- else }}
    helm.sh/resource-policy: keep
    {{- end }}
---
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
  annotations:
    helm.sh/resource-policy: keep
"""


@pytest.mark.parametrize("broken", ["", "  bad: [\n"])
def test_crd_keep_policy_and_the_condition_it_sits_in(broken: str) -> None:
    facts = read("c/templates/crds.yaml", KEPT_CRD + broken)
    crds = [(f.name.strip('"'), f.kept, f.kept_only_if) for f in facts if isinstance(f, HelmCrd)]
    assert crds == [
        ("challenges.acme.cert-manager.io", True, ".Values.crds.keep"),
        ("widgets.example.com", True, "not (.Values.delete)"),
        ("gadgets.example.com", True, ""),
    ]
    policies = [(p.policy, p.only_if) for p in facts if isinstance(p, HelmResourcePolicy)]
    assert policies == [
        ("keep", ".Values.crds.keep"),
        ("delete", ".Values.delete"),
        ("keep", "not (.Values.delete)"),
        ("keep", ""),
    ]


def test_crds_folder_and_chart() -> None:
    (crd,) = read(
        "c/crds/w.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    )
    assert isinstance(crd, HelmCrd) and not crd.in_templates and at(crd) == "2:7"
    (chart,) = read("c/Chart.yaml", "apiVersion: v2\nname: shop\nappVersion: '2.4'\n")
    assert isinstance(chart, HelmChart)
    assert (chart.chart, chart.name, chart.app_version) == ("c", "shop", "2.4")


VALUES = """\
image:
  repository: ghcr.io/acme/shop
  tag: 1.10
api:
  image:
    registry: registry.example.com
    repository: shop/api
    tag: ""
worker:
  image: "ghcr.io/acme/worker:latest"
sidecarImage: ghcr.io/acme/proxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
pullPolicy: Always
replicaImage: true
"""


def test_values_image_conventions() -> None:
    images = [f for f in read("c/values.yaml", VALUES) if isinstance(f, HelmImage)]
    summary = [(i.values_path, i.reference, i.unresolved != "", at(i)) for i in images]
    # `replicaImage: true` parses as a (bare) reference; only a template can say it is one.
    assert summary.pop() == ("replicaImage", "true", False, "13:15")
    assert images.pop().bare and not any(i.bare for i in images)
    assert summary == [
        ("image", "ghcr.io/acme/shop:1.10", False, "3:8"),
        ("api.image", "registry.example.com/shop/api", True, "7:17"),
        ("worker.image", "ghcr.io/acme/worker:latest", False, "10:10"),
        (
            "sidecarImage",
            "ghcr.io/acme/proxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            False,
            "11:15",
        ),
    ]
    assert all(i.source == "helm" and i.chart == "c" for i in images)
    assert "AppVersion" in images[1].note


def test_unused_helm_images_follows_template_references() -> None:
    facts = FactSet(read("c/values.yaml", VALUES))
    # templates not read: every value that looks like a reference counts, bare names do not
    assert {i.values_path for i in unused_helm_images(facts)} == {"replicaImage"}
    facts.extend(read("c/templates/deploy.yaml", "    image: {{ .Values.api.image.repository }}\n"))
    unused = {i.values_path for i in unused_helm_images(facts)}
    assert unused == {"image", "worker.image", "sidecarImage", "replicaImage"}


def test_bare_names_count_only_where_a_template_prints_them_as_the_image() -> None:
    values = "image: nginx\nsidecar: {image: busybox}\ntoggles:\n  image: enabled\n"
    facts = FactSet(read("c/values.yaml", values))
    assert judged_image_uses(facts) == []  # templates out of sight: a name is not an image
    template = (
        "      - image: {{ .Values.image }}\n"
        "        {{- if .Values.toggles.image }}\n"
        '      - image: "{{ .Values.sidecar.image | default "busybox" }}"\n'
        "        env: [{value: {{ .Values.sidecar.image }}}]\n"
    )
    facts.extend(read("c/templates/d.yaml", template))
    judged = {u.values_path: u for u in judged_image_uses(facts) if isinstance(u, HelmImage)}
    assert sorted(judged) == ["image", "sidecar.image"]
    edit = judged["image"].pin_edit
    assert edit is not None and edit.apply(values, "sha256:x").startswith("image: nginx@sha256:x\n")
    # printed in an env value too: pinned by hand, and pin says why
    assert judged["sidecar.image"].pin_edit is None
    assert "only as a whole image" in judged["sidecar.image"].pin_blocked


@pytest.mark.parametrize(
    ("template_end", "reference"),
    [
        ('@sha256:{{ .Values.op.image.sha }}"', "quay.io/op@sha256:" + "d7" * 32),
        ('"', "quay.io/op:0.70"),  # no template reads the sha: the appVersion tag runs
    ],
)
def test_a_sha_key_pins_where_a_template_appends_it(template_end: str, reference: str) -> None:
    values = f'op:\n  image:\n    registry: quay.io\n    repository: op\n    tag: ""\n    sha: "{"d7" * 32}"\n'
    template = '  image: "{{ .Values.op.image.registry }}/{{ .Values.op.image.repository }}:{{ .Values.op.image.tag | default .Chart.AppVersion }}'
    facts = FactSet(
        read("c/values.yaml", values)
        + read("c/templates/d.yaml", template + template_end + "\n")
        + read("c/Chart.yaml", "name: op\nappVersion: '0.70'\n")
    )
    (use,) = judged_image_uses(facts)
    assert (use.reference, use.unresolved) == (reference, "")


def test_an_override_file_that_sets_the_tag_is_judged_at_its_tag() -> None:
    values = 'image:\n  repository: ghcr.io/acme/shop\n  tag: "2.4"\n  digest: ""\n'
    prod = "image:\n  tag: latest   # production\n"
    template = '  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}@{{ .Values.image.digest }}"\n'
    facts = FactSet(
        read("c/values.yaml", values)
        + read("c/values-prod.yaml", prod)
        + read("c/templates/d.yaml", template)
    )
    prod_use = next(u for u in judged_image_uses(facts) if u.location.path == "c/values-prod.yaml")
    assert isinstance(prod_use, HelmImage)
    assert (prod_use.reference, at(prod_use)) == ("ghcr.io/acme/shop:latest", "2:8")
    assert prod_use.context == "values `image` (values-prod.yaml over values.yaml)"
    edit = prod_use.pin_edit  # the template reads the digest: it goes beside the tag
    assert edit is not None
    assert (
        edit.apply(prod, "sha256:x") == "image:\n  tag: latest   # production\n  digest: sha256:x\n"
    )
    # a digest set in values.yaml is kept by Helm's merge: the override is still pinned
    pinned = values.replace('digest: ""', "digest: sha256:" + "ab" * 32)
    facts = FactSet(
        read("c/values.yaml", pinned)
        + read("c/values-prod.yaml", prod)
        + read("c/templates/d.yaml", template)
    )
    (_, prod_use) = judged_image_uses(facts)
    assert prod_use.reference == "ghcr.io/acme/shop:latest@sha256:" + "ab" * 32


LITERAL_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
spec:
  template:
    spec:
      initContainers:
        - name: wait-for-db
          image: busybox:latest   # written as it is: Helm renders it unchanged
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        - name: log-shipper
          image: 'fluent/fluent-bit'
---
apiVersion: v1
kind: Pod
metadata:
  name: "{{ include "web.fullname" . }}-test"
  annotations:
    "helm.sh/hook": test
spec:
  containers:
    - {name: wget, image: busybox}
"""


def test_images_written_literally_in_a_template_are_judged_where_they_are() -> None:
    facts = FactSet(read("c/templates/deployment.yaml", LITERAL_TEMPLATE))
    literal = [u for u in judged_image_uses(facts) if not isinstance(u, HelmImage)]
    # the `helm test` pod is run by `helm test`, never deployed
    assert [(u.reference, at(u), u.source, u.context) for u in literal] == [
        ("busybox:latest", "10:18", "helm", "chart template Deployment initContainer wait-for-db"),
        ("fluent/fluent-bit", "15:18", "helm", "chart template Deployment container log-shipper"),
    ]
    edit = literal[1].pin_edit
    assert edit is not None
    assert "image: 'fluent/fluent-bit@sha256:x'\n" in edit.apply(LITERAL_TEMPLATE, "sha256:x")
    # a template that stays invalid YAML once masked: every literal image line, by hand
    broken = "spec:\n  containers:\n    - image: busybox:1.36\n{{ .Values.x }}: [\n"
    (scanned,) = [f for f in read("c/templates/x.yaml", broken) if type(f) is ImageUse]
    assert (scanned.reference, at(scanned), scanned.pin_edit) == ("busybox:1.36", "3:14", None)
    # without an action the file is a plain manifest: the manifest reader's, not read twice
    plain = LITERAL_TEMPLATE.split("---")[0].replace('{{ include "web.fullname" . }}', "web")
    plain = plain.replace("{{ .Chart.Name }}", "web").replace(
        '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"', "nginx:1.25"
    )
    assert [f for f in read("c/templates/plain.yaml", plain) if isinstance(f, ImageUse)] == []


INGRESS_VALUES = """\
controller:
  image:
    chroot: false
    registry: registry.k8s.io
    image: ingress-nginx/controller
    tag: "v1.9.4"
    digest: ""
    pullPolicy: IfNotPresent
defaultBackend:
  image:
    registry: registry.k8s.io
    image: defaultbackend-amd64
    tag: "1.5"
webhook:
  image: {repository: "", registry: registry.k8s.io, image: ingress-nginx/certgen, tag: v1}
"""

INGRESS_HELPERS = """\
{{- define "ingress-nginx.image" -}}
{{- if .chroot -}}{{- printf "%s-chroot" .image -}}{{- else -}}{{- printf "%s" .image -}}{{- end }}
{{- end -}}
{{- define "ingress-nginx.imageDigest" -}}
{{- if .chroot -}}{{- if .digestChroot -}}{{- printf "@%s" .digestChroot -}}{{- end }}
{{- else -}}{{ if .digest -}}{{- printf "@%s" .digest -}}{{- end -}}{{- end -}}
{{- end -}}
"""

INGRESS_TEMPLATE = """\
spec:
  template:
    spec:
      containers:
        - name: controller
          {{- with .Values.controller.image }}
          image: "{{- if .repository -}}{{ .repository }}{{ else }}{{ .registry }}/{{ include "ingress-nginx.image" . }}{{- end -}}:{{ .tag }}{{ include "ingress-nginx.imageDigest" . }}"
          {{- end }}
          imagePullPolicy: {{ .Values.controller.image.pullPolicy }}
        - name: backend
          {{- with .Values.defaultBackend.image }}
          image: "{{- if .repository -}}{{ .repository }}{{ else }}{{ .registry }}/{{ .image }}{{- end -}}:{{ .tag }}{{- if .digest -}} @{{ .digest }} {{- end -}}"
          {{- end }}
        - name: webhook
          {{- with .Values.webhook.image }}
          image: "{{ .registry }}/{{ .image }}:{{ .tag }}"
          {{- end }}
"""


def test_registry_image_tag_digest_mappings_are_one_image() -> None:
    values_facts = read("c/values.yaml", INGRESS_VALUES)
    images = {i.values_path: i for i in values_facts if isinstance(i, HelmImage)}
    # `image:` inside the mapping is its repository, not an untagged image of its own
    assert {path: (i.reference, at(i)) for path, i in images.items()} == {
        "controller.image": ("registry.k8s.io/ingress-nginx/controller:v1.9.4", "6:10"),
        "defaultBackend.image": ("registry.k8s.io/defaultbackend-amd64:1.5", "13:10"),
        "webhook.image": ("registry.k8s.io/ingress-nginx/certgen:v1", "15:89"),
    }
    facts = FactSet(values_facts)
    facts.extend(read("c/templates/_helpers.tpl", INGRESS_HELPERS))
    facts.extend(read("c/templates/deployment.yaml", INGRESS_TEMPLATE))
    lines = {line.values_paths[0].rsplit(".", 1)[0]: line for line in facts.of(HelmTemplateImage)}
    # inside `with .Values.defaultBackend.image`, `.tag` is defaultBackend.image.tag
    assert lines["defaultBackend.image"].values_paths == (
        "defaultBackend.image.repository",
        "defaultBackend.image.registry",
        "defaultBackend.image.image",
        "defaultBackend.image.tag",
        "defaultBackend.image.digest",
    )
    assert lines["controller.image"].includes == (
        ("ingress-nginx.image", "controller.image"),
        ("ingress-nginx.imageDigest", "controller.image"),
    )
    judged = {u.values_path: u for u in judged_image_uses(facts) if isinstance(u, HelmImage)}
    assert sorted(judged) == ["controller.image", "defaultBackend.image", "webhook.image"]

    def pinned(path: str) -> str:
        edit = judged[path].pin_edit
        assert edit is not None, judged[path].pin_blocked
        return edit.apply(INGRESS_VALUES, "sha256:x")

    # the controller's digest is read by a helper it passes the mapping to
    assert '    digest: "sha256:x"\n' in pinned("controller.image")
    assert '    tag: "1.5"\n    digest: sha256:x\n' in pinned("defaultBackend.image")
    # the tag ends the image: it carries the digest
    assert "tag: v1@sha256:x}" in pinned("webhook.image")


OTHER_KEYS_VALUES = """\
worker:
  repository: ghcr.io/acme/shop/worker
  tag: "2.4"   # bumped by CI
sidecars:
  proxy: ghcr.io/acme/proxy:1.30
cron: {repository: ghcr.io/acme/cron, tag: latest}
audit:
  repository: ghcr.io/acme/audit
  tag: "3.1"
  digest: ""
backup:
  repository: s3://acme-backups/shop
  tag: nightly
exporter:
  repository: ghcr.io/acme/exporter
  tag: "0.9"
tools: {repository: ghcr.io/acme/tools, tag: "1.4"}
"""

OTHER_KEYS_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      initContainers:
        - name: cron
          image: {{ printf "%s:%s" .Values.cron.repository .Values.cron.tag }}
      containers:
        - name: worker
          image: "{{ .Values.worker.repository }}:{{ .Values.worker.tag }}"
          env:
            - {name: BUCKET, value: "{{ .Values.backup.repository }}:{{ .Values.backup.tag }}"}
        - name: proxy
          image: {{ .Values.sidecars.proxy | quote }}
        - name: tools
          image: {{ printf "%s:%s-alpine" .Values.tools.repository .Values.tools.tag }}
      ephemeralContainers:
        - name: audit
          image: "{{ .Values.audit.repository }}@{{ .Values.audit.digest }}"
---
apiVersion: monitoring.example.com/v1
kind: Exporter
metadata:
  name: shop
spec:
  image: "{{ .Values.exporter.repository }}:{{ .Values.exporter.tag }}"
"""


def test_images_under_other_keys_count_where_a_container_runs_them() -> None:
    values_facts = read("c/values.yaml", OTHER_KEYS_VALUES)
    # Not image uses by themselves: rules that read raw image facts never see the bucket.
    assert [f for f in values_facts if isinstance(f, ImageUse)] == []
    facts = FactSet(values_facts)
    assert judged_image_uses(facts) == []  # templates out of sight: nothing says image
    facts.extend(read("c/templates/deployment.yaml", OTHER_KEYS_TEMPLATE))
    judged = {u.values_path: u for u in judged_image_uses(facts) if isinstance(u, HelmImage)}
    # backup is only printed in an env value; exporter is a custom resource's field
    assert sorted(judged) == ["audit", "cron", "sidecars.proxy", "tools", "worker"]
    assert {path: (u.reference, at(u)) for path, u in judged.items()} == {
        "audit": ("ghcr.io/acme/audit:3.1", "9:8"),
        "cron": ("ghcr.io/acme/cron:latest", "6:44"),
        "sidecars.proxy": ("ghcr.io/acme/proxy:1.30", "5:10"),
        "tools": ("ghcr.io/acme/tools:1.4", "17:46"),
        "worker": ("ghcr.io/acme/shop/worker:2.4", "3:8"),
    }
    assert judged["worker"].context == "values `worker`"

    def pinned(path: str) -> str:
        edit = judged[path].pin_edit
        assert edit is not None, judged[path].pin_blocked
        return edit.apply(OTHER_KEYS_VALUES, "sha256:x")

    assert '  tag: "2.4@sha256:x"   # bumped by CI\n' in pinned("worker")
    assert "  proxy: ghcr.io/acme/proxy:1.30@sha256:x\n" in pinned("sidecars.proxy")
    # printf "%s:%s" ends the image with the tag, as `:{{ .Values.cron.tag }}` does
    assert "cron: {repository: ghcr.io/acme/cron, tag: latest@sha256:x}\n" in pinned("cron")
    assert '  digest: "sha256:x"\n' in pinned("audit")
    # the tag does not end the image (`1.4-alpine`): a digest after it would break it
    assert judged["tools"].pin_edit is None and "neither read" in judged["tools"].pin_blocked


def test_a_mapping_under_another_key_is_one_image_even_when_its_repository_is_printed_whole() -> (
    None
):
    values = "worker:\n  repository: ghcr.io/acme/worker\n  tag: '2.4'\n  port: 8080\n"
    facts = FactSet(read("c/values.yaml", values))
    template = "containers:\n  - image: {{ .Values.worker.repository }}\n"
    facts.extend(read("c/templates/d.yaml", template))
    (use,) = judged_image_uses(facts)
    assert isinstance(use, HelmImage) and use.values_path == "worker"


@pytest.mark.parametrize(
    ("action", "pinned"),
    [
        ('{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}', True),
        (
            '"{{- printf "%s/%s:%v" .Values.image.registry .Values.image.repository .Values.image.tag -}}"',
            True,
        ),
        ('{{ printf "%s:%s-alpine" .Values.image.repository .Values.image.tag }}', False),
        ('{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | lower) }}', False),
    ],
)
def test_a_printf_image_pins_the_tag_that_ends_it(action: str, pinned: bool) -> None:
    values = "image:\n  registry: ghcr.io\n  repository: acme/web\n  tag: '1.4'\n"
    facts = FactSet(read("c/values.yaml", values))
    facts.extend(read("c/templates/d.yaml", f"containers:\n  - image: {action}\n"))
    (use,) = judged_image_uses(facts)
    if not pinned:  # the tag is not the end of the reference: a digest after it breaks it
        assert use.pin_edit is None and "neither read" in use.pin_blocked
        return
    assert use.pin_edit is not None
    assert use.pin_edit.apply(values, "sha256:x").endswith("  tag: '1.4@sha256:x'\n")


@pytest.mark.parametrize(
    ("written", "rendered"),
    [
        ("1.0", "1"),
        ("1.10", "1.1"),
        ("2.0", "2"),
        ("1e3", "1000"),
        ("010", "8"),  # YAML 1.1 octal
        ("1_000", "1000"),
        ("20240501", "2.0240501e+07"),  # float64 through JSON, printed with Go's %v
        ("yes", "true"),
        ("2", None),  # an integer below 1e6 renders as written
        ("2.4", None),
        ('"1.0"', None),  # quoted: a string
        ("!!str 1.0", None),
        ("&tag 1.0", "1"),
        ("1.0.3", None),
    ],
)
def test_unquoted_tags_are_judged_as_helm_renders_them(written: str, rendered: str | None) -> None:
    values = f"image:\n  repository: ghcr.io/acme/web\n  tag: {written}\n"
    template = '  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
    facts = FactSet(read("c/values.yaml", values) + read("c/templates/d.yaml", template))
    (use,) = judged_image_uses(facts)
    misread = misrendered_tag(use)
    if rendered is None:
        as_written = written.split()[-1].strip('"')
        assert misread is None and use.reference == f"ghcr.io/acme/web:{as_written}"
        assert use.pin_edit is not None  # `!!str 1.0` too: the digest goes after the value
        return
    assert use.reference == f"ghcr.io/acme/web:{rendered}"  # what Helm deploys
    assert use.pin_edit is None and misread is not None
    why, fix = misread
    assert f"renders it `{rendered}`" in why and fix.startswith("quote it: `tag: ")


def test_a_misrendered_tag_matters_only_where_a_template_prints_it() -> None:
    values = 'image:\n  repository: ghcr.io/acme/web\n  tag: 1.0\n  digest: ""\n'
    template = '  image: "{{ .Values.image.repository }}@{{ .Values.image.digest }}"\n'
    facts = FactSet(read("c/values.yaml", values) + read("c/templates/d.yaml", template))
    (use,) = judged_image_uses(facts)
    # Pinning resolves `1.0` and writes the digest: the tag itself is never rendered.
    assert misrendered_tag(use) is None and use.reference == "ghcr.io/acme/web:1.0"
    assert use.pin_edit is not None


@pytest.mark.parametrize(
    ("tag_line", "pinned"),
    [
        ('  tag: ""\n', '  tag: "2.4@sha256:x"\n'),
        ("  tag:\n", "  tag: 2.4@sha256:x\n"),
        ("", "  tag: 2.4@sha256:x\n"),  # no tag key: added after the repository
    ],
)
def test_an_empty_tag_is_the_chart_app_version(tag_line: str, pinned: str) -> None:
    values = f"image:\n  repository: ghcr.io/acme/api\n{tag_line}"
    template = '  image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"\n'
    facts = FactSet(read("c/values.yaml", values) + read("c/templates/d.yaml", template))
    (unknown,) = judged_image_uses(facts)
    assert unknown.unresolved  # no Chart.yaml: the version is not in the repository
    facts.extend(read("c/Chart.yaml", 'name: api\nversion: 0.1.0\nappVersion: "2.4"\n'))
    (use,) = judged_image_uses(facts)
    assert use.reference == "ghcr.io/acme/api:2.4" and not use.unresolved
    assert "appVersion of c/Chart.yaml" in use.note
    assert use.pin_edit is not None
    assert (
        use.pin_edit.apply(values, "sha256:x")
        == "image:\n  repository: ghcr.io/acme/api\n" + pinned
    )


def test_an_empty_tag_without_an_app_version_default_stays_unresolved() -> None:
    values = 'image:\n  repository: ghcr.io/acme/api\n  tag: ""\n'
    template = '  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n'
    chart = 'name: api\nversion: 0.1.0\nappVersion: "2.4"\n'
    facts = FactSet(
        read("c/values.yaml", values)
        + read("c/templates/d.yaml", template)
        + read("c/Chart.yaml", chart)
    )
    (use,) = judged_image_uses(facts)
    assert use.unresolved and use.reference == "ghcr.io/acme/api"


@pytest.mark.parametrize(
    "action",
    [
        "{{ .Values.image.tag | default .Values.defaultTag }}",
        "{{ default .Values.defaultTag .Values.image.tag }}",
    ],
)
def test_an_empty_tag_is_the_values_fallback_the_templates_name(action: str) -> None:
    values = 'defaultTag: "1.7"\nimage:\n  repository: ghcr.io/acme/api\n  tag: ""\n'
    template = f'  image: "{{{{ .Values.image.repository }}}}:{action}"\n'
    facts = FactSet(
        read("c/values.yaml", values)
        + read("c/templates/d.yaml", template)
        + read("c/Chart.yaml", 'name: api\nversion: 0.1.0\nappVersion: "2.4"\n')
    )
    (use,) = judged_image_uses(facts)
    assert use.reference == "ghcr.io/acme/api:1.7" and not use.unresolved
    assert "`defaultTag: 1.7` (c/values.yaml:1:13)" in use.note and "AppVersion" not in use.note
    assert use.pin_edit is not None
    assert use.pin_edit.apply(values, "sha256:x").endswith('  tag: "1.7@sha256:x"\n')


def test_an_empty_tag_whose_fallback_is_unset_names_that_fallback() -> None:
    values = 'image:\n  repository: ghcr.io/acme/api\n  tag: ""\n'
    template = (
        '  image: "{{ .Values.image.repository }}:'
        '{{ .Values.image.tag | default .Values.global.tag }}"\n'
    )
    facts = FactSet(read("c/values.yaml", values) + read("c/templates/d.yaml", template))
    (use,) = judged_image_uses(facts)
    assert use.unresolved == "`.Values.global.tag` (the tag is empty)"
    assert "AppVersion" not in use.note


HELPERS = """\
{{/* the release's name, then the chart's */}}
{{- define "shop.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end }}
{{- define "shop.name" -}}
{{- if .Values.nameOverride }}{{ .Values.nameOverride }}{{ else }}shop{{ end }}
{{- end }}
{{- define "shop.short" -}}
{{ printf "%s-%s" .Release.Name "api" | trunc 63 | trimSuffix "-" }}
{{- end }}
"""


def test_templated_names_read_as_a_person_reads_them() -> None:
    helpers = read("charts/shop/templates/_helpers.tpl", HELPERS)
    assert [(f.name, at(f)) for f in helpers if isinstance(f, HelmNamedTemplate)] == [
        ("shop.fullname", "2:1"),
        ("shop.name", "3:1"),
        ("shop.short", "6:1"),
    ]
    facts = FactSet([*helpers, *read("charts/shop/Chart.yaml", "name: shop\nversion: 1.0.0\n")])

    def name(written: str, release: str = "") -> str:
        return readable_name(written, "charts/shop", facts, release)

    assert name('{{ include "shop.fullname" . }}-migrate') == "<release>-shop-migrate"
    assert name('"{{ include "shop.fullname" . }}-migrate"', "prod") == "prod-shop-migrate"
    assert name('{{ template "shop.short" . }}-job') == "<release>-api-job"
    # A helper with conditions is named, not guessed; so is one the chart does not define.
    assert name('{{ include "shop.name" . }}-x') == "<shop.name>-x"
    assert name('{{ include "other.fullname" . }}') == "<other.fullname>"
    assert name("{{ .Values.jobName | default .Release.Name }}") == "<.Values.jobName>"
    assert name("{{- $n := .Release.Name }}{{ $n }}-{{ .Release.Namespace }}") == (
        "<…>-<namespace>"
    )
    assert name("shop-migrate") == "shop-migrate"
    assert readable_name('{{ include "shop.fullname" . }}', "elsewhere", facts) == (
        "<shop.fullname>"
    )


def test_bad_values_file_is_unreadable() -> None:
    (fact,) = read("c/values.yaml", "image:\n  tag: [1\n")
    assert isinstance(fact, Unreadable)


def test_facts_pickle() -> None:
    facts = read("charts/shop/templates/job.yaml", TEMPLATE) + read("c/values.yaml", VALUES)
    facts += read("charts/shop/templates/_helpers.tpl", HELPERS)
    assert pickle.loads(pickle.dumps(facts)) == facts


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "kind: Job",
                "metadata:",
                "  annotations:",
                '    "helm.sh/hook": pre-upgrade',
                "{{- if .Values.x }}",
                "{{- end }}",
                "  name: {{ .Release.Name }}",
                "    {{- toYaml .Values.labels | nindent 4 }}",
                "image: {{ .Values.image.repository }}:{{ .Values.image.tag }}",
                "---",
                "  - [",
                "{{ include",
                "}}",
                "\t",
            ]
        ),
        max_size=15,
    ),
    st.text(max_size=40),
)
def test_random_templates_never_unreadable(lines: list[str], noise: str) -> None:
    text = "\n".join([*lines, noise])
    for fact in read("c/templates/t.yaml", text):
        assert not isinstance(fact, Unreadable)


SELECTOR_HELPERS = """\
{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"""

TEMPLATE_WORKLOADS = """\
{{- if .Values.web.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    matchLabels:
      {{- include "shop.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels: {app: web}
{{- end }}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels:
      app: db
{{- if .Values.tier }}
      tier: {{ .Values.tier }}
{{- end }}
  podManagementPolicy: Parallel
"""


def test_template_workload_fields_render_helpers_and_skip_values() -> None:
    facts = FactSet(
        [
            *read("c/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\n"),
            *read("c/templates/_helpers.tpl", SELECTOR_HELPERS),
            *read("c/templates/workloads.yaml", TEMPLATE_WORKLOADS),
        ]
    )
    web, db = facts.of(HelmTemplateWorkload)
    assert (web.kind, web.name, db.name) == ("Deployment", "{{ .Release.Name }}-web", "db")
    rendered = {path: rendered_field(written, "c", facts) for path, written, _ in web.fields}
    assert rendered == {
        "spec.selector": '{"matchLabels":{"app.kubernetes.io/instance":"<release>",'
        '"app.kubernetes.io/name":"shop"}}'
    }
    rendered = {path: rendered_field(written, "c", facts) for path, written, _ in db.fields}
    # The selector's conditional label belongs to it: what it renders depends on a value.
    assert rendered == {
        "spec.selector": None,
        "spec.serviceName": '"db"',
        "spec.podManagementPolicy": '"Parallel"',
    }


@pytest.mark.parametrize(
    ("command", "reverses"),
    [
        ("alembic downgrade -1", True),
        ("shop-api migrate down", True),
        ("sh -c alembic downgrade base", True),
        ("bundle exec rake db:rollback", True),
        ("npx sequelize-cli db:migrate:undo", True),
        ("php artisan migrate:rollback --force", True),
        ("flyway undo", True),
        ("liquibase rollbackCount 1", True),
        ("python manage.py migrate shop 0004", True),
        ("alembic upgrade head", False),
        ("migrate -path /migrations -database $DB up", False),
        ("python manage.py migrate", False),
        ("python manage.py migrate --noinput", False),
        ("flyway migrate", False),
        ("liquibase update", False),
        ("dbmate up", False),
        ("curl -fsSL https://example.com/download", False),
        ("", False),
    ],
)
def test_hook_runs_a_reversal_only_for_a_down_migration(command: str, reverses: bool) -> None:
    hook = HelmHook(Location("t.yaml", 1, 1), "", "Job", "m", ("pre-rollback",), True, command)
    assert hook.runs_a_reversal is reverses


def test_an_alias_bomb_in_a_template_is_unreadable_not_endless(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    lines = ['a: &a ["lol"' + ',"lol"' * 8 + "]"]
    for previous, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines += ["kind: Deployment", "spec: {template: {spec: {containers: [{image: *j}]}}}"]
    (chart / "templates" / "bomb.yaml").write_text("\n".join(lines) + "\n# {{ .Values.x }}\n")
    (chart / "templates" / "loop.yaml").write_text(
        "a: &a {b: *a, containers: [*a]}\nkind: Pod\n# {{ .Values.x }}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "backout", "check", str(tmp_path), "--output-format", "concise"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "chart/templates/bomb.yaml:1: BK901" in done.stdout, done.stdout + done.stderr
    assert "chart/templates/loop.yaml:1: BK901" in done.stdout


# GoogleCloudPlatform/microservices-demo helm-chart: one `images` mapping, one tag, and each
# service's template puts its own name between the repository and the tag.
_SHARED_IMAGES_VALUES = (
    "images:\n  repository: us-central1-docker.pkg.dev/google-samples/microservices-demo\n"
    '  tag: ""\ncartService:\n  name: cartservice\n'
)
_SHARED_IMAGES_LINE = (
    "image: {{ .Values.images.repository }}/{{ .Values.cartService.name }}"
    ":{{ .Values.images.tag | default .Chart.AppVersion }}\n"
)


@pytest.mark.parametrize(
    ("line", "built_as"),
    [
        (
            _SHARED_IMAGES_LINE,
            "us-central1-docker.pkg.dev/google-samples/microservices-demo"
            "/<.Values.cartService.name>:v0.10.1",
        ),
        (_SHARED_IMAGES_LINE.replace("}}/{{ .Values.cartService.name }}", "}}/btq-cart"), None),
        ('image: "{{ .Values.images.repository }}:{{ .Values.images.tag }}"\n', ""),
        (  # a registry override and a sha appended: still the mapping's own image
            'image: "{{ .Values.global.imageRegistry | default .Values.images.registry }}/'
            '{{ .Values.images.repository }}:{{ .Values.images.tag }}@sha256:{{ .Values.images.sha }}"\n',
            "",
        ),
    ],
)
def test_an_image_built_from_more_than_its_values_is_named_as_built_and_not_pinned(
    line: str, built_as: str | None
) -> None:
    pod = "kind: Pod\nspec:\n  containers:\n    - name: server\n"
    facts = FactSet(
        read("c/values.yaml", _SHARED_IMAGES_VALUES)
        + read("c/templates/cart.yaml", pod + "      " + line)
        + read("c/Chart.yaml", "name: onlineboutique\nappVersion: v0.10.1\n")
    )
    (use,) = judged_image_uses(facts)
    assert isinstance(use, HelmImage)
    if built_as is None:  # literal text between repository and tag
        assert use.built_as.endswith("/btq-cart:v0.10.1")
    else:
        assert use.built_as == built_as
    if use.built_as:
        assert use.pin_edit is None
        assert use.built_at is not None and use.built_at.line == 5
        assert "builds the image from more than `images`" in use.pin_blocked
    else:
        assert use.built_at is None


def test_bk101_names_the_image_a_template_builds_and_where() -> None:
    case = (
        Path(__file__).parent
        / "fixtures/rules/BK101/fail/helm_image_built_from_more_than_its_values"
    )
    done = run_backout("check", str(case), "--select", "BK101", "--output-format", "json")
    (finding,) = json.loads(done.stdout)["findings"]
    assert (
        "chart/templates/cartservice.yaml:16:16 builds the image from more than"
        in (finding["message"])
    )
    assert (
        "`us-central1-docker.pkg.dev/google-samples/microservices-demo/"
        "<.Values.cartService.name>:v0.4.2` names the tag `v0.4.2`"
    ) in finding["message"]
    assert "backout pin --write" not in finding["fix"]


_DIGEST = "sha256:" + "0123456789" * 6 + "0123"
_IMAGE_VALUES = 'image:\n  repository: acme/app\n  tag: "2.4"\n'


def _judged_one(values: str, *lines: str) -> HelmImage:
    """The one values image of a chart whose containers have the image ``lines``; a line
    that reads ``.tag`` is inside ``{{ with .Values.image }}``."""
    pod = "kind: Pod\nspec:\n  containers:\n"
    containers = "".join(
        f"    - name: c{n}\n"
        + ("      {{- with .Values.image }}\n" if "{{ .tag }}" in line else "")
        + f"      image: {line}\n"
        + ("      {{- end }}\n" if "{{ .tag }}" in line else "")
        for n, line in enumerate(lines)
    )
    facts = FactSet(
        read("c/values.yaml", values)
        + read("c/templates/app.yaml", pod + containers)
        + read("c/Chart.yaml", "name: app\nappVersion: 1.2.3\n")
    )
    (use,) = judged_image_uses(facts)
    assert isinstance(use, HelmImage)
    return use


@pytest.mark.parametrize(
    ("values", "line", "reference"),
    [
        (  # a literal registry before the mapping, a digest in its tag: pinned as built
            _IMAGE_VALUES.replace('"2.4"', f'"2.4@{_DIGEST}"'),
            '"ghcr.io/{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            f"ghcr.io/acme/app:2.4@{_DIGEST}",
        ),
        (  # a registry value before it (a top-level `imageRegistry`)
            _IMAGE_VALUES + "imageRegistry: ghcr.io\n",
            '"{{ .Values.imageRegistry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "ghcr.io/acme/app:2.4",
        ),
        (  # a global override that no values file sets: its fallback is printed
            _IMAGE_VALUES + "imageRegistry: ghcr.io\n",
            '"{{ .Values.global.imageRegistry | default .Values.imageRegistry }}/'
            '{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "ghcr.io/acme/app:2.4",
        ),
        (  # bitnami's registry override, set: it wins over the mapping's own registry
            "global:\n  imageRegistry: mirror.example\n"
            + _IMAGE_VALUES.replace("acme/app", "bitnami/nginx\n  registry: docker.io"),
            '"{{ .Values.global.imageRegistry | default .Values.image.registry }}/'
            '{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "mirror.example/bitnami/nginx:2.4",
        ),
        (  # the same unset: the mapping's own registry, as written
            _IMAGE_VALUES.replace("acme/app", "bitnami/nginx\n  registry: docker.io"),
            '"{{ .Values.global.imageRegistry | default .Values.image.registry }}/'
            '{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "docker.io/bitnami/nginx:2.4",
        ),
        (  # inside `with`, the registry read from the top
            _IMAGE_VALUES + "imageRegistry: ghcr.io\n",
            '"{{ $.Values.imageRegistry }}/{{ .repository }}:{{ .tag }}"',
            "ghcr.io/acme/app:2.4",
        ),
        (  # a values fallback of the tag is no more than the mapping
            _IMAGE_VALUES + 'defaultTag: "2.3"\n',
            '"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Values.defaultTag }}"',
            "acme/app:2.4",
        ),
        (  # nor in the function form
            _IMAGE_VALUES + 'defaultTag: "2.3"\n',
            '"{{ .Values.image.repository }}:{{ default .Values.defaultTag .Values.image.tag }}"',
            "acme/app:2.4",
        ),
        (  # `{{ if }}` a registry is set, it goes before the mapping: rendered as Helm does
            "global:\n  registry: gcr.io/acme\n" + _IMAGE_VALUES,
            '"{{ if .Values.global.registry }}{{ .Values.global.registry }}/{{ end }}'
            '{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "gcr.io/acme/acme/app:2.4",
        ),
        (  # the same with the registry empty: the `{{ if }}` prints nothing
            'global:\n  registry: ""\n' + _IMAGE_VALUES,
            '"{{ if .Values.global.registry }}{{ .Values.global.registry }}/{{ end }}'
            '{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "acme/app:2.4",
        ),
        (  # an `{{ else }}` branch taken when it is empty
            'registry: ""\n' + _IMAGE_VALUES,
            '"{{- if .Values.registry -}}{{ .Values.registry }}{{- else -}}docker.io{{- end -}}'
            '/{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            "docker.io/acme/app:2.4",
        ),
    ],
    ids=[
        "literal-registry-digest-in-tag",
        "registry-value",
        "unset-global-falls-back-to-registry-value",
        "global-set",
        "global-unset",
        "within-with",
        "values-fallback-tag",
        "values-fallback-tag-function-form",
        "if-registry-set",
        "if-registry-empty",
        "if-else-registry",
    ],
)
def test_an_image_built_from_a_registry_and_the_mapping_is_that_image(
    values: str, line: str, reference: str
) -> None:
    use = _judged_one(values, line)
    assert use.reference == reference
    assert use.built_at is None and use.built_as == ""
    # pinned through the tag, which ends the one image it builds
    assert use.pin_edit is not None and use.pin_edit is use.tag_edit


@pytest.mark.parametrize(
    ("values", "lines", "built_as"),
    [
        (  # a registry value the values files do not set
            _IMAGE_VALUES,
            [
                '"{{ .Values.imageRegistry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"'
            ],
            "<.Values.imageRegistry>/acme/app:2.4",
        ),
        (  # microservices-demo with a digest in the shared tag: kept as written
            _SHARED_IMAGES_VALUES.replace('""', f'"v0.10.1@{_DIGEST}"'),
            [_SHARED_IMAGES_LINE.removeprefix("image: ").strip()],
            "us-central1-docker.pkg.dev/google-samples/microservices-demo"
            f"/<.Values.cartService.name>:v0.10.1@{_DIGEST}",
        ),
        (  # two lines build two images from one tag: a digest in it pins one of them
            _IMAGE_VALUES,
            [
                '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
                '"ghcr.io/{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
            ],
            "ghcr.io/acme/app:2.4",
        ),
    ],
    ids=["registry-value-unset", "shared-tag-with-digest", "two-images-one-tag"],
)
def test_an_image_built_from_more_keeps_what_the_values_say(
    values: str, lines: list[str], built_as: str
) -> None:
    use = _judged_one(values, *lines)
    assert use.built_as == built_as
    assert use.built_at is not None and use.pin_edit is None
    assert "builds the image from more than" in use.pin_blocked


def test_bk101_names_a_registry_and_mapping_as_the_template_builds_them() -> None:
    case = Path(__file__).parent / "fixtures/rules/BK101/fail/helm_image_behind_a_registry_value"
    done = run_backout("check", str(case), "--select", "BK101", "--output-format", "json")
    (finding,) = json.loads(done.stdout)["findings"]
    assert (
        "`registry.example.com/acme/shop:2.4` names the tag `2.4`, which can be pushed again"
        in finding["message"]
    )
    assert "the image as chart/templates/deployment.yaml:16:18 builds it" in finding["message"]
    assert "`registry.example.com/acme/shop:2.4@sha256:…` (`backout pin --write`" in finding["fix"]


_ISTIOD_LINES = (
    '{{- if contains "/" .Values.pilot.image }}\n'
    '      image: "{{ .Values.pilot.image }}"\n'
    "{{- else }}\n"
    '      image: "{{ .Values.pilot.hub | default .Values.global.hub }}/'
    '{{ .Values.pilot.image | default "pilot" }}:{{ .Values.pilot.tag | default .Values.global.tag }}"\n'
    "{{- end }}\n"
)


def _rendered_images(values: str, lines: str) -> list[tuple[str, str]]:
    """``(where, reference)`` of each image judged for a chart whose one container has the
    template ``lines`` (its ``image:`` lines indented by six)."""
    pod = "kind: Pod\nspec:\n  containers:\n    - name: app\n"
    facts = FactSet(
        read("c/values.yaml", values)
        + read("c/templates/app.yaml", pod + lines)
        + read("c/Chart.yaml", "name: app\nappVersion: 1.2.3\n")
    )
    return [(str(use.location), use.reference) for use in judged_image_uses(facts)]


@pytest.mark.parametrize(
    ("values", "lines", "judged"),
    [
        (  # istio's layout: the `else` line renders, its tag from `global.tag`
            'pilot:\n  hub: ""\n  tag: ""\n  image: pilot\n'
            "global:\n  hub: gcr.io/istio-testing\n  tag: latest\n",
            _ISTIOD_LINES,
            [("c/values.yaml:7:8", "gcr.io/istio-testing/pilot:latest")],
        ),
        (  # current istio: the defaults under `_internal_defaults_do_not_set`, which its
            # `zzz_profile.yaml` merges into `.Values` before any template reads them
            "_internal_defaults_do_not_set:\n"
            '  pilot:\n    hub: ""\n    tag: ""\n    image: pilot\n'
            "  global:\n    hub: gcr.io/istio-testing\n    tag: latest\n",
            _ISTIOD_LINES,
            [("c/values.yaml:8:10", "gcr.io/istio-testing/pilot:latest")],
        ),
        (  # a value set outside the defaults wins over them, as the merge decides
            "_internal_defaults_do_not_set:\n"
            '  pilot:\n    hub: ""\n    tag: ""\n    image: pilot\n'
            "  global:\n    hub: gcr.io/istio-testing\n    tag: latest\n"
            "global:\n  tag: 1.24.0\n",
            _ISTIOD_LINES,
            [("c/values.yaml:10:8", "gcr.io/istio-testing/pilot:1.24.0")],
        ),
        (  # an empty tag beside the defaults empties theirs (mergo's WithOverride sets a
            # map's key to an empty value too), so the line falls back to `global.tag`
            "_internal_defaults_do_not_set:\n"
            '  pilot:\n    hub: ""\n    tag: 1.22.0\n    image: pilot\n'
            "  global:\n    hub: gcr.io/istio-testing\n    tag: latest\n"
            'pilot:\n  tag: ""\n',
            _ISTIOD_LINES,
            [("c/values.yaml:8:10", "gcr.io/istio-testing/pilot:latest")],
        ),
        (  # the component's own tag wins over the global one
            'pilot:\n  hub: ""\n  tag: "1.20.0"\n  image: pilot\n'
            "global:\n  hub: gcr.io/istio-testing\n  tag: latest\n",
            _ISTIOD_LINES,
            [("c/values.yaml:3:8", "gcr.io/istio-testing/pilot:1.20.0")],
        ),
        (  # a full reference in `pilot.image`: the first line prints it whole
            "pilot:\n  image: docker.io/istio/pilot:1.20.0\n"
            "global:\n  hub: gcr.io/istio-testing\n  tag: latest\n",
            _ISTIOD_LINES,
            [("c/values.yaml:2:10", "docker.io/istio/pilot:1.20.0")],
        ),
        (  # `false`, `0` and an empty mapping are false; a missing value is unset
            "hub: docker.io/acme\ntag: latest\nbeta: false\nreplicas: 0\nextra: {}\n",
            "{{- if or .Values.beta .Values.replicas .Values.extra .Values.missing }}\n"
            '      image: "{{ .Values.hub }}/beta:{{ .Values.tag }}"\n'
            '{{- else if eq .Values.tag "latest" }}\n'
            '      image: "{{ .Values.hub }}/app{{ .Values.missing }}:{{ .Values.tag }}"\n'
            "{{- end }}\n",
            [("c/values.yaml:2:6", "docker.io/acme/app:latest")],
        ),
        (  # a condition the values cannot tell: not judged, as before
            "hub: docker.io/acme\ntag: latest\n",
            '{{- if .Capabilities.APIVersions.Has "v1" }}\n'
            '      image: "{{ .Values.hub }}/app:{{ .Values.tag }}"\n'
            "{{- end }}\n",
            [],
        ),
        (  # nor a value the chart's values do not set, nor a helper
            "hub: docker.io/acme\n",
            '      image: "{{ .Values.hub }}/app:{{ include "app.tag" . }}"\n',
            [],
        ),
    ],
    ids=[
        "istiod",
        "istiod-internal-defaults",
        "istiod-defaults-overridden",
        "istiod-defaults-emptied",
        "component-tag",
        "whole-reference",
        "false-values",
        "untold",
        "helper",
    ],
)
def test_an_image_line_is_rendered_with_the_chart_default_values(
    values: str, lines: str, judged: list[tuple[str, str]]
) -> None:
    assert _rendered_images(values, lines) == judged


def test_bk101_names_the_value_that_tags_an_image_rendered_from_values() -> None:
    case = Path(__file__).parent / "fixtures/rules/BK101/fail/helm_image_rendered_from_chart_values"
    done = run_backout("check", str(case), "--select", "BK101", "--output-format", "json")
    (istiod,) = [
        f for f in json.loads(done.stdout)["findings"] if f["path"].endswith("istiod/values.yaml")
    ]
    assert "`gcr.io/istio-testing/pilot:latest` is re-pointed by every push" in istiod["message"]
    assert "the tag from `global.tag: latest` (istiod/values.yaml:13:8)" in istiod["message"]
    assert "istiod/templates/deployment.yaml:14:18" in istiod["fix"]


def test_bk101_and_pin_name_the_fallback_of_an_empty_tag(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text('name: app\nversion: 0.1.0\nappVersion: "9.9"\n')
    (chart / "values.yaml").write_text('image:\n  repository: acme/app\n  tag: ""\n')
    (chart / "templates" / "d.yaml").write_text(
        "kind: Pod\nspec:\n  containers:\n    - name: app\n"
        '      image: "{{ .Values.image.repository }}:'
        '{{ .Values.image.tag | default .Values.global.tag }}"\n'
    )
    done = run_backout("check", str(tmp_path), "--select", "BK101", "--output-format", "json")
    (finding,) = json.loads(done.stdout)["findings"]
    assert "the templates fall back to `.Values.global.tag`, a tag" in finding["message"]
    assert "AppVersion" not in finding["message"]
    pinned = run_backout("pin", str(tmp_path))
    assert "decided by `.Values.global.tag` (the tag is empty)" in pinned.stdout


def _hooks(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(line:column, resource name, events)`` of each hook read from one template."""
    return [
        (at(fact), fact.name, fact.hooks)
        for fact in read("c/templates/jobs.yaml", text)
        if isinstance(fact, HelmHook)
    ]


_JOB = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n{annotations}spec:\n"
_USES_HOOK = "  annotations: {{- toYaml $hook | nindent 4 }}\n"


@pytest.mark.parametrize("broken", ["", "  extra: [unclosed\n"])
@pytest.mark.parametrize(
    ("text", "hooks"),
    [
        (  # built at the top of the file, before the resource's first line
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [("6:27", "migrate", ("pre-upgrade",))],
        ),
        (  # built before the first `---`
            '{{- $hook := dict "helm.sh/hook" "pre-install,pre-upgrade" }}\n---\n'
            + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [("7:27", "migrate", ("pre-install", "pre-upgrade"))],
        ),
        (  # set inside `{{ if }}` on a dict declared above it: the dict is the file's
            "{{- $hook := dict }}\n{{- if .Values.hooks }}\n"
            '{{- $_ := set $hook "helm.sh/hook" "pre-upgrade" }}\n'
            "{{- end }}\n" + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [("9:27", "migrate", ("pre-upgrade",))],
        ),
        (  # assigned (`=`, not `:=`) inside `{{ if }}`: the variable declared above
            "{{- $hook := dict }}\n{{- if .Values.hooks }}\n"
            '{{- $hook = dict "helm.sh/hook" "pre-upgrade" }}\n'
            "{{- end }}\n" + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [("9:27", "migrate", ("pre-upgrade",))],
        ),
        (  # set on a dict declared above, used by a later document only
            "{{- $hook := dict }}\n"
            '{{- $_ := set $hook "helm.sh/hook" "post-upgrade" }}\n'
            + _JOB.format(name="config", annotations="")
            + "---\n"
            + _JOB.format(name="seed", annotations=_USES_HOOK),
            [("13:27", "seed", ("post-upgrade",))],
        ),
        (  # built in an earlier document, used by a later one through another variable
            _JOB.format(
                name="first",
                annotations='  {{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n',
            )
            + "---\n"
            + "{{- $merged := merge (dict) $hook }}\n"
            + _JOB.format(
                name="second", annotations="  annotations: {{- toYaml $merged | nindent 4 }}\n"
            ),
            [("5:37", "first", ("pre-upgrade",)), ("13:27", "second", ("pre-upgrade",))],
        ),
        (  # declared inside `{{ with }}`: its scope ends at the block's `end`, where the
            # `$hook` declared before it is seen again
            "{{- $hook := dict }}\n{{- with .Values.hooks }}\n"
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            "{{- end }}\n" + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [],
        ),
        (  # declared inside `{{ if }}`, Go templates' scope too
            "{{- $hook := dict }}\n{{- if .Values.hooks }}\n"
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            "{{- end }}\n" + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [],
        ),
        (  # declared in a define: that template's own variable
            '{{- $hook := dict }}\n{{- define "c.hook" }}\n'
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            "{{- end }}\n" + _JOB.format(name="migrate", annotations=_USES_HOOK),
            [],
        ),
        (  # `with $hook` makes the dot the dict its body prints
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            + _JOB.format(
                name="migrate",
                annotations="  {{- with $hook }}\n  annotations: {{- toYaml . | nindent 4 }}\n"
                "  {{- end }}\n",
            ),
            [("6:12", "migrate", ("pre-upgrade",))],
        ),
        (  # a resource that does not use the variable is no hook
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            + _JOB.format(name="config", annotations="  labels: {app: x}\n"),
            [],
        ),
        (  # `$hooks` is another variable than `$hook`
            '{{- $hook := dict "helm.sh/hook" "pre-upgrade" }}\n'
            + _JOB.format(name="config", annotations="  labels: {{ toYaml $hooks }}\n"),
            [],
        ),
    ],
)
def test_a_hook_built_in_a_file_scoped_variable_marks_the_resources_that_use_it(
    text: str, hooks: list[tuple[str, str, tuple[str, ...]]], broken: str
) -> None:
    assert _hooks(text + broken) == hooks


_DIGEST = "@sha256:" + "0" * 64


def _values_read(text: str) -> tuple[list[str], dict[str, str | None]]:
    """The image references a values file yields, and each value as a template prints it
    (a path written twice: the later entry, as :class:`HelmValues` says)."""
    facts = read("c/values.yaml", text)
    images = [f.reference for f in facts if isinstance(f, HelmImage)]
    (values,) = [f for f in facts if isinstance(f, HelmValues)]
    return images, {path: printed for path, printed, _, _ in values.values}


@pytest.mark.parametrize(
    ("text", "images", "printed"),
    [
        (  # a parent chart's values for its istiod subchart, whose zzz_profile merges them
            "istiod:\n  _internal_defaults_do_not_set:\n    image: busybox:latest\n"
            "    hub: docker.io/istio\n"
            f"  image: busybox:1.36{_DIGEST}\n",
            [f"busybox:1.36{_DIGEST}"],
            {
                "istiod": None,
                "istiod.image": f"busybox:1.36{_DIGEST}",
                "istiod.hub": "docker.io/istio",
            },
        ),
        (  # a subchart's subchart: the defaults merge where they stand
            "mesh:\n  istiod:\n    _internal_defaults_do_not_set:\n"
            "      pilot:\n        image: gcr.io/istio/pilot:latest\n        replicas: 1\n"
            f"    pilot:\n      image: gcr.io/istio/pilot:1.24.0{_DIGEST}\n",
            [f"gcr.io/istio/pilot:1.24.0{_DIGEST}"],
            {
                "mesh": None,
                "mesh.istiod": None,
                "mesh.istiod.pilot": None,
                "mesh.istiod.pilot.image": f"gcr.io/istio/pilot:1.24.0{_DIGEST}",
                "mesh.istiod.pilot.replicas": "1",
            },
        ),
        (  # mustMergeOverwrite (mergo's WithOverride) overwrites a map's key with an empty
            # value too: sprig's own example turns `key: true` into `key: false`
            "_internal_defaults_do_not_set:\n  tag: 1.22.0\n  hub: docker.io/istio\n  debug: true\n"
            '  replicas: 2\ntag: ""\nhub:\ndebug: false\nreplicas: 0\n',
            [],
            {"tag": "", "hub": "", "debug": "false", "replicas": "0"},
        ),
        (  # but a mapping does not replace a value the defaults set (mergo skips a map
            # beside a non-empty value), while it replaces an empty one
            "_internal_defaults_do_not_set:\n  image: busybox:latest\n  proxy: ''\n"
            f"image:\n  repository: busybox\n  tag: 1.36{_DIGEST}\n"
            "proxy:\n  image: envoyproxy/envoy:v1.30.1\n",
            ["busybox:latest", "envoyproxy/envoy:v1.30.1"],
            {"image": "busybox:latest", "proxy": None, "proxy.image": "envoyproxy/envoy:v1.30.1"},
        ),
    ],
)
def test_internal_defaults_merge_as_mustmergeoverwrite_merges_them(
    text: str, images: list[str], printed: dict[str, str | None]
) -> None:
    found_images, found_printed = _values_read(text)
    assert found_images == images
    assert found_printed == printed
