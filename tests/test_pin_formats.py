"""``backout pin --write`` beyond plain manifests: Dockerfiles, Kustomize, compose defaults, Helm.

Each test pushes real images to the docker-registry fixture, runs the installed command, and
compares the files byte for byte with what they must become: only the digest is added.
"""

# ruff: noqa: E501  (the chart template keeps its real, long image line)
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_backout
from tests.registry_fixture import Registry, start_registry
from tests.test_sources_helm import INGRESS_HELPERS

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


def pin(root: Path, registry: Registry, *flags: str) -> tuple[int, str, str]:
    done = run_backout("pin", str(root), "--insecure-registry", registry.host, *flags)
    return done.returncode, done.stdout, done.stderr


def write(root: Path, name: str, text: str, host: str) -> Path:
    """Write ``text`` with ``HOST`` replaced by the registry (no str.format: `${}` abounds)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("HOST", host).encode())
    return path


def write_chart(root: Path, host: str, template: str, values: str, chart: str = "") -> Path:
    """A chart at ``root/chart`` with one template, ``deployment.yaml``; its values file."""
    write(root, "chart/Chart.yaml", chart or CHART, host)
    write(root, "chart/templates/deployment.yaml", template, host)
    return write(root, "chart/values.yaml", values, host)


DOCKERFILE = """\
# syntax=docker/dockerfile:1
# the runtime image, overridable with --build-arg BASE=...
ARG BASE="HOST/df/base:1.0"
ARG TAG=3
FROM --platform=$BUILDPLATFORM HOST/df/build:2.0 AS build   # compile here
RUN make
FROM ${BASE} AS runtime
COPY --from=build /a /a
COPY --from=HOST/df/build:2.0 /b /b
FROM $BASE
FROM HOST/df/tool:${TAG} AS tool
FROM scratch
"""


def test_dockerfile_from_arg_default_and_copy_from(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    base, _ = pusher.multi_arch("df/base", "1.0", "1.0")
    build = pusher.image("df/build", "2.0", "2.0")
    pusher.image("df/tool", "3", "3")
    host = registry.host
    dockerfile = write(tmp_path, "Dockerfile", DOCKERFILE, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err  # the ARG-built tag is left to the user
    expected = (
        DOCKERFILE.replace("HOST", host)
        .replace(f'"{host}/df/base:1.0"', f'"{host}/df/base:1.0@{base.digest}"')
        .replace(f"{host}/df/build:2.0", f"{host}/df/build:2.0@{build.digest}")
    )
    assert dockerfile.read_text() == expected
    # Stage names, scratch, --platform and AS are untouched; the tool tag comes from ARG TAG.
    assert "Dockerfile:11:6: " in out and "the tag comes from ARG TAG" in out
    assert "pin it by hand" in out
    code, out, _ = pin(tmp_path, registry, "--check")
    assert code == 1 and out.count("\n") == 1, out


KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  # the storefront
  - name: shop
    newName: HOST/k/shop
    newTag: "1.0"   # bumped by CI
  - {name: worker, newName: HOST/k/worker, newTag: '2.0'}
  - name: api
    newName: HOST/k/api
    newTag: v3
    digest: sha256:abc   # malformed
"""


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_kustomize_gets_a_digest_key_next_to_new_tag(
    registry: Registry, tmp_path: Path, ending: str
) -> None:
    pusher = registry.pusher()
    shop = pusher.image("k/shop", "1.0", "1.0")
    worker = pusher.image("k/worker", "2.0", "2.0")
    api = pusher.image("k/api", "v3", "3")
    host = registry.host
    path = write(tmp_path, "kustomization.yaml", KUSTOMIZATION, host)
    # CRLF and classic Mac OS CR line endings must survive, the new line ending as the others
    path.write_bytes(path.read_bytes().replace(b"\n", ending.encode()))

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 0, out + err
    expected = (
        KUSTOMIZATION.replace("HOST", host)
        .replace(
            '    newTag: "1.0"   # bumped by CI\n',
            f'    newTag: "1.0"   # bumped by CI\n    digest: {shop.digest}\n',
        )
        .replace("newTag: '2.0'}", f"newTag: '2.0', digest: {worker.digest}}}")
        .replace("digest: sha256:abc", f"digest: {api.digest}")
    )
    assert path.read_bytes() == expected.replace("\n", ending).encode()
    assert pin(tmp_path, registry, "--check")[0] == 0


# kustomize's newTag is a string field, read through sigs.k8s.io/yaml and JSON: an unquoted
# number is refused (kubernetes-sigs/kustomize#572 `newTag: 3.6`, #4081 `newTag: 553640e6`).
KUSTOMIZATION_NUMERIC_TAG = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: app
    newName: HOST/k/app
    newTag: 1.10
  - name: web
    newName: HOST/k/web
    newTag: "1.10"
"""


def test_kustomize_unquoted_numeric_tag_is_not_pinned(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    pusher.image("k/app", "1.10", "1.10")
    web = pusher.image("k/web", "1.10", "1.10")
    host = registry.host
    path = write(tmp_path, "kustomization.yaml", KUSTOMIZATION_NUMERIC_TAG, host)

    code, out, err = pin(tmp_path, registry, "--write")
    # The quoted entry is pinned; the unquoted one, which kustomize refuses, is left to the
    # user with the fix, and every other byte stays.
    assert code == 1, out + err
    expected = KUSTOMIZATION_NUMERIC_TAG.replace("HOST", host).replace(
        '    newTag: "1.10"\n', f'    newTag: "1.10"\n    digest: {web.digest}\n'
    )
    assert path.read_text() == expected
    (problem,) = [line for line in out.splitlines() if "not pinned" in line]
    assert problem.startswith(f"kustomization.yaml:8:13: {host}/k/app:1.10: not pinned: ")
    assert "refuses the whole kustomization" in problem
    assert 'quote it: `newTag: "1.10"`' in problem


COMPOSE = """\
services:
  web:
    image: "${WEB_IMAGE:-HOST/c/web:1.0}"   # prod sets WEB_IMAGE
  api:
    image: HOST/c/api:${API_TAG:-2.0}
  job:
    image: ${JOB_IMAGE}
"""


def test_compose_defaults_are_pinned_inside_the_interpolation(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    web = pusher.image("c/web", "1.0", "1.0")
    api = pusher.image("c/api", "2.0", "2.0")
    host = registry.host
    path = write(tmp_path, "docker-compose.yml", COMPOSE, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err
    expected = (
        COMPOSE.replace("HOST", host)
        .replace("c/web:1.0}", f"c/web:1.0@{web.digest}}}")
        .replace("${API_TAG:-2.0}", f"${{API_TAG:-2.0@{api.digest}}}")
    )
    assert path.read_text() == expected
    (problem,) = out.splitlines()[2:]
    assert problem.startswith("docker-compose.yml:7:12: ${JOB_IMAGE}: cannot be resolved")
    assert "${JOB_IMAGE}, which has no default" in problem and "by hand" in problem


CHART = "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: '1.0'\n"

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    version: {{ .Values.labelled.image.tag | quote }}
spec:
  template:
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
        - name: proxy
          image: "{{ .Values.proxy.image.repository }}@{{ .Values.proxy.image.digest }}"
        - name: worker
          image: "{{ .Values.worker.image.repository }}@{{ .Values.worker.image.digest }}"
        - name: cache
          image: {{ .Values.cacheImage | quote }}
        - name: labelled
          image: "{{ .Values.labelled.image.repository }}:{{ .Values.labelled.image.tag }}"
        {{- if .Values.featureImage }}
        - name: feature
        {{- end }}
"""

VALUES = """\
image:
  repository: HOST/h/api
  tag: "1.0"   # the app version
proxy:
  image:
    repository: HOST/h/proxy
    tag: "2.0"
    digest: ""
worker:
  image: {repository: HOST/h/worker, tag: '3.0'}
cacheImage: HOST/h/cache:4.0
labelled:
  image:
    repository: HOST/h/labelled
    tag: "5.0"
# a switch: if pin asked a registry for `enabled`, it would ask Docker Hub and fail
featureImage: enabled
"""


def test_helm_values_follow_what_the_templates_do(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    api = pusher.image("h/api", "1.0", "1.0")
    proxy = pusher.image("h/proxy", "2.0", "2.0")
    worker = pusher.image("h/worker", "3.0", "3.0")
    cache = pusher.image("h/cache", "4.0", "4.0")
    pusher.image("h/labelled", "5.0", "5.0")
    host = registry.host
    values = write_chart(tmp_path, host, TEMPLATE, VALUES)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err
    expected = (
        VALUES.replace("HOST", host)
        # repository:tag with the tag last: the tag carries the digest
        .replace('tag: "1.0"', f'tag: "1.0@{api.digest}"')
        # templates that read image.digest get the digest there, set or added
        .replace('digest: ""', f'digest: "{proxy.digest}"')
        .replace("tag: '3.0'}", f"tag: '3.0', digest: {worker.digest}}}")
        # one string printed whole as the image
        .replace("h/cache:4.0", f"h/cache:4.0@{cache.digest}")
    )
    assert values.read_text() == expected
    # The labelled tag is printed in a label too, which cannot hold `@`: left to the user.
    (problem,) = out.splitlines()[4:]
    assert problem.startswith("chart/values.yaml:15:10: ")
    assert "pin it by hand" in problem and "label" in problem
    assert "enabled" not in out + err
    code, out, _ = pin(tmp_path, registry, "--check")
    assert code == 1 and "4 already pinned, 0 would pin, 1 problem(s)" in _


NUMERIC_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        - name: worker
          image: "{{ .Values.worker.image.repository }}:{{ .Values.worker.image.tag }}"
"""

NUMERIC_VALUES = """\
image: {repository: HOST/n/web, tag: 1.0}
worker:
  image:
    repository: HOST/n/worker
    tag: 2   # an integer renders as written
"""


def test_helm_unquoted_tag_rendered_otherwise_is_not_pinned(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    pusher.image("n/web", "1.0", "1.0")
    worker = pusher.image("n/worker", "2", "2")
    host = registry.host
    values = write_chart(tmp_path, host, NUMERIC_TEMPLATE, NUMERIC_VALUES)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err
    # Helm deploys web:1; writing `tag: 1.0@sha256:…` would have switched it to web:1.0.
    expected = NUMERIC_VALUES.replace("HOST", host).replace("tag: 2 ", f"tag: 2@{worker.digest} ")
    assert values.read_text() == expected
    (problem,) = [line for line in out.splitlines() if "not pinned" in line]
    column = expected.index("1.0}") + 1
    assert problem.startswith(f"chart/values.yaml:1:{column}: {host}/n/web:1.0: not pinned: ")
    assert "renders it `1`" in problem and f"`{host}/n/web:1`" in problem
    assert 'quote it: `tag: "1.0"`' in problem


SCAFFOLD_CHART = 'apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: "2.4"\n'

SCAFFOLD_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
        - name: proxy
          image: "{{ .Values.proxy.image.repository }}:{{ .Values.proxy.image.tag | default .Chart.AppVersion }}{{ with .Values.proxy.image.digest }}@{{ . }}{{ end }}"
"""

SCAFFOLD_VALUES = """\
image:
  repository: HOST/s/api
  # Overrides the image tag whose default is the chart appVersion.
  tag: ""
proxy:
  image:
    repository: HOST/s/proxy
    tag: ""
"""


def test_helm_create_scaffold_pins_the_app_version(registry: Registry, tmp_path: Path) -> None:
    pusher = registry.pusher()
    api = pusher.image("s/api", "2.4", "2.4")
    proxy = pusher.image("s/proxy", "2.4", "2.4")
    host = registry.host
    values = write_chart(tmp_path, host, SCAFFOLD_TEMPLATE, SCAFFOLD_VALUES, SCAFFOLD_CHART)

    code, out, err = pin(tmp_path, registry)
    assert code == 0, out + err
    assert f"would pin {host}/s/api:2.4 -> {host}/s/api:2.4@{api.digest}" in out

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 0, out + err
    # `.Values.image.tag` wins over the appVersion default: it carries the version and digest.
    # A template that reads the digest gets it there, and the tag stays empty.
    expected = (
        SCAFFOLD_VALUES.replace("HOST", host)
        .replace('tag: ""\nproxy', f'tag: "2.4@{api.digest}"\nproxy')
        .replace("s/proxy\n", f"s/proxy\n    digest: {proxy.digest}\n")
    )
    assert values.read_text() == expected
    code, out, err = pin(tmp_path, registry, "--check")
    assert code == 0, out + err


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
            - name: BACKUP
              value: "{{ .Values.backup.repository }}"
        - name: proxy
          image: {{ .Values.sidecars.proxy | quote }}
        - name: audit
          image: "{{ .Values.audit.repository }}@{{ .Values.audit.digest }}"
"""

OTHER_KEYS_VALUES = """\
worker:
  repository: HOST/o/worker
  tag: "2.4"   # bumped by CI
sidecars:
  proxy: HOST/o/proxy:1.30
cron: {repository: HOST/o/cron, tag: '5.0'}
audit:
  repository: HOST/o/audit
  tag: "3.1"
# a bucket, not an image: never sent to a registry
backup:
  repository: s3://acme-backups/shop
  tag: nightly
"""


def test_helm_images_under_other_keys_are_pinned_as_the_templates_use_them(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    worker = pusher.image("o/worker", "2.4", "2.4")
    proxy = pusher.image("o/proxy", "1.30", "1.30")
    cron = pusher.image("o/cron", "5.0", "5.0")
    audit = pusher.image("o/audit", "3.1", "3.1")
    host = registry.host
    values = write_chart(tmp_path, host, OTHER_KEYS_TEMPLATE, OTHER_KEYS_VALUES)
    values.write_bytes(values.read_bytes().replace(b"\n", b"\r\n"))  # CRLF must survive

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 0, out + err
    expected = (
        OTHER_KEYS_VALUES.replace("HOST", host)
        .replace('tag: "2.4"', f'tag: "2.4@{worker.digest}"')
        .replace("o/proxy:1.30", f"o/proxy:1.30@{proxy.digest}")
        .replace("tag: '5.0'}", f"tag: '5.0@{cron.digest}'}}")
        # the template reads audit.digest: the key is added after the tag
        .replace('tag: "3.1"\n', f'tag: "3.1"\n  digest: {audit.digest}\n')
    )
    assert values.read_bytes() == expected.replace("\n", "\r\n").encode()
    assert "s3:" not in out + err
    code, out, err = pin(tmp_path, registry, "--check")
    assert code == 0, out + err
    assert "4 already pinned" in err


INGRESS_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ingress
spec:
  template:
    spec:
      containers:
        - name: controller
          {{- with .Values.controller.image }}
          image: "{{- if .repository -}}{{ .repository }}{{ else }}{{ .registry }}/{{ include "ingress-nginx.image" . }}{{- end -}}:{{ .tag }}{{ include "ingress-nginx.imageDigest" . }}"
          {{- end }}
        - name: backend
          {{- with .Values.defaultBackend.image }}
          image: "{{- if .repository -}}{{ .repository }}{{ else }}{{ .registry }}/{{ .image }}{{- end -}}:{{ .tag }}{{- if .digest -}} @{{ .digest }} {{- end -}}"
          {{- end }}
"""

INGRESS_VALUES = """\
controller:
  image:
    chroot: false
    registry: HOST
    image: i/controller
    tag: "v1.9.4"
    digest: ""
    pullPolicy: IfNotPresent
defaultBackend:
  image:
    registry: HOST
    image: i/defaultbackend
    tag: "1.5"
    pullPolicy: IfNotPresent
"""


def test_helm_registry_image_tag_digest_mappings_get_their_digest(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    controller = pusher.image("i/controller", "v1.9.4", "v1.9.4")
    backend = pusher.image("i/defaultbackend", "1.5", "1.5")
    host = registry.host
    write(tmp_path, "chart/templates/_helpers.tpl", INGRESS_HELPERS, host)
    values = write_chart(tmp_path, host, INGRESS_TEMPLATE, INGRESS_VALUES)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 0, out + err
    # ingress-nginx's templates append `@{{ .digest }}` (the controller's through a helper):
    # the digest goes there, and `image:` is the repository, never sent as an image of its own
    expected = (
        INGRESS_VALUES.replace("HOST", host)
        .replace('digest: ""', f'digest: "{controller.digest}"')
        .replace('tag: "1.5"\n', f'tag: "1.5"\n    digest: {backend.digest}\n')
    )
    assert values.read_text() == expected
    code, out, err = pin(tmp_path, registry, "--check")
    assert code == 0, out + err
    assert "2 already pinned" in err


REGISTRY_PREFIX_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.imageRegistry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        - name: worker
          image: "{{ .Values.worker.image.repository }}:{{ .Values.worker.image.tag | default .Values.defaultTag }}"
        - name: pinned
          image: "HOST/{{ .Values.pinned.image.repository }}:{{ .Values.pinned.image.tag }}"
"""

REGISTRY_PREFIX_VALUES = """\
imageRegistry: HOST
image:
  repository: r/app
  tag: "2.4"
worker:
  image:
    repository: HOST/r/worker
    tag: "1.0"
pinned:
  image:
    repository: r/pinned
    tag: "3.0@DIGEST"
defaultTag: "1.0"
"""


def test_helm_images_built_behind_a_registry_are_pinned_as_built(
    registry: Registry, tmp_path: Path
) -> None:
    pusher = registry.pusher()
    app = pusher.image("r/app", "2.4", "2.4")
    worker = pusher.image("r/worker", "1.0", "1.0")
    pinned = pusher.image("r/pinned", "3.0", "3.0")
    host = registry.host
    values = write_chart(
        tmp_path,
        host,
        REGISTRY_PREFIX_TEMPLATE,
        REGISTRY_PREFIX_VALUES.replace("DIGEST", pinned.digest),
    )

    code, out, err = pin(tmp_path, registry)
    assert code == 0, out + err
    # the image is the one the template builds: the registry value, then the repository
    assert f"would pin {host}/r/app:2.4 -> {host}/r/app:2.4@{app.digest}" in out
    # `default .Values.defaultTag` is the tag's fallback, not more than the mapping
    assert f"would pin {host}/r/worker:1.0 -> {host}/r/worker:1.0@{worker.digest}" in out

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 0, out + err
    expected = (
        REGISTRY_PREFIX_VALUES.replace("DIGEST", pinned.digest)
        .replace("HOST", host)
        .replace('tag: "2.4"', f'tag: "2.4@{app.digest}"')
        .replace('tag: "1.0"', f'tag: "1.0@{worker.digest}"')
    )
    assert values.read_text() == expected
    # the digest written in a tag the template prints after a literal registry is checked there
    code, out, err = pin(tmp_path, registry, "--check")
    assert code == 0, out + err
    assert "3 already pinned, 0 would pin, 0 problem(s)" in err
    pusher.delete("r/pinned", pinned.digest)
    code, out, err = pin(tmp_path, registry, "--check")
    assert code == 1, out + err
    assert f"{host}/r/pinned:3.0@{pinned.digest}: the pinned digest no longer exists" in out


ECS_TASK_DEFINITION = """\
{
\t"family": "shop-api",
\t"containerDefinitions": [
\t\t{"name": "api", "image": "HOST/ecs/api:1.0", "essential": true},
\t\t{"name": "escaped", "image": "HOST\\/ecs\\/api:1.0"}
\t]
}
"""


def test_ecs_task_definition_images_are_pinned_in_the_json(
    registry: Registry, tmp_path: Path
) -> None:
    """The digest goes inside the JSON string, tabs and all else kept; an image written with
    JSON escapes (``\\/``) is resolved but not rewritten."""
    api = registry.pusher().image("ecs/api", "1.0", "1.0")
    host = registry.host
    path = write(tmp_path, ".aws/task-definition.json", ECS_TASK_DEFINITION, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err
    expected = ECS_TASK_DEFINITION.replace("HOST", host).replace(
        'ecs/api:1.0", "essential"', f'ecs/api:1.0@{api.digest}", "essential"'
    )
    assert path.read_text() == expected
    (problem,) = (line for line in out.splitlines() if "written with" in line)
    assert problem.startswith(".aws/task-definition.json:5:32: ") and "resolves to" in problem
    assert "JSON escapes" in problem


ECS_CLOUDFORMATION_YAML = """\
# the shop's service
Parameters:
  ImageUri:
    Type: String
    Default: HOST/cfn/api:1.0
Resources:
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      ContainerDefinitions:
        - Name: api   # the API
          Image: HOST/cfn/api:1.0
        - Name: quoted
          Image: 'HOST/cfn/api:1.0'
        - Name: param
          Image: !Ref ImageUri
        - Name: sub
          Image: !Sub "${Repo.RepositoryUri}:latest"
"""


def test_ecs_cloudformation_yaml_literal_images_are_pinned_in_place(
    registry: Registry, tmp_path: Path
) -> None:
    """Literal images get the digest, comments and quotes kept; a parameter's Default and a
    !Sub are left as they are (resolved, or named as unresolvable)."""
    api = registry.pusher().image("cfn/api", "1.0", "1.0")
    host = registry.host
    path = write(tmp_path, "infra/service.yaml", ECS_CLOUDFORMATION_YAML, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err
    expected = (
        ECS_CLOUDFORMATION_YAML.replace("HOST", host)
        .replace(f"Image: {host}/cfn/api:1.0", f"Image: {host}/cfn/api:1.0@{api.digest}")
        .replace(f"'{host}/cfn/api:1.0'", f"'{host}/cfn/api:1.0@{api.digest}'")
    )
    assert path.read_text() == expected
    assert f"Default: {host}/cfn/api:1.0\n" in expected
    problems = {line.partition(": ")[0]: line for line in out.splitlines() if ": " in line}
    assert "resolves to" in problems["infra/service.yaml:16:23"]
    assert "the template computes it" in problems["infra/service.yaml:16:23"]
    assert "${Repo.RepositoryUri}" in problems["infra/service.yaml:18:23"]


ECS_CLOUDFORMATION_JSON = """\
{
  "Parameters": {"ImageUri": {"Type": "String", "Default": "HOST/cfn/api:1.0"}},
  "Resources": {
    "Task": {
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {
        "ContainerDefinitions": [
          {"Name": "api", "Image": "HOST/cfn/api:1.0", "Essential": true},
          {"Name": "param", "Image": {"Ref": "ImageUri"}}
        ]
      }
    }
  }
}
"""


def test_ecs_cloudformation_json_literal_images_are_pinned_in_place(
    registry: Registry, tmp_path: Path
) -> None:
    api = registry.pusher().image("cfn/api", "1.0", "1.0")
    host = registry.host
    path = write(tmp_path, "stack.template.json", ECS_CLOUDFORMATION_JSON, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err  # the parameter's default is resolved, not written
    expected = ECS_CLOUDFORMATION_JSON.replace("HOST", host).replace(
        f'"{host}/cfn/api:1.0", "Essential"', f'"{host}/cfn/api:1.0@{api.digest}", "Essential"'
    )
    assert path.read_text() == expected
    (problem,) = (line for line in out.splitlines() if "resolves to" in line)
    assert problem.startswith("stack.template.json:9:38: ")


ECS_TERRAFORM = """\
resource "aws_ecs_task_definition" "app" {
  family = "app"
  container_definitions = jsonencode([
    {
      name  = "api"
      image = "HOST/tf/api:1.0" # the API
    },
    { name = "repo", image = "${aws_ecr_repository.app.repository_url}:1.0" },
  ])
}

resource "aws_ecs_task_definition" "worker" {
  family                = "worker"
  container_definitions = <<EOF
[
  {"name": "worker", "image": "HOST/tf/api:1.0"}
]
EOF
}
"""


def test_ecs_terraform_literal_images_are_pinned_in_place(
    registry: Registry, tmp_path: Path
) -> None:
    """``jsonencode`` and heredoc literals get the digest; an interpolated image is not
    touched."""
    api = registry.pusher().image("tf/api", "1.0", "1.0")
    host = registry.host
    path = write(tmp_path, "terraform/ecs.tf", ECS_TERRAFORM, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err  # the interpolated repository cannot be resolved
    expected = ECS_TERRAFORM.replace("HOST", host).replace(
        f'"{host}/tf/api:1.0"', f'"{host}/tf/api:1.0@{api.digest}"'
    )
    assert expected.count(api.digest) == 2
    assert path.read_text() == expected
    (problem,) = (line for line in out.splitlines() if "aws_ecr_repository" in line)
    assert problem.startswith("terraform/ecs.tf:8:30: ")


ECS_TERRAFORM_CONTAINERS = """\
[
\t{"name": "api", "image": "HOST/tf/api:1.0", "essential": true},
\t{"name": "repo", "image": "${repository}:1.0"}
]
"""


def test_ecs_terraform_container_files_are_pinned_in_place(
    registry: Registry, tmp_path: Path
) -> None:
    """The file a ``container_definitions = templatefile(…)`` reads gets the digest in its
    literal image; the one its template fills in is left as it is."""
    api = registry.pusher().image("tf/api", "1.0", "1.0")
    host = registry.host
    tf = 'resource "aws_ecs_task_definition" "app" {\n  family = "app"\n'
    tf += '  container_definitions = templatefile("${path.module}/containers.json", {})\n}\n'
    write(tmp_path, "deploy/ecs.tf", tf, host)
    path = write(tmp_path, "deploy/containers.json", ECS_TERRAFORM_CONTAINERS, host)

    code, out, err = pin(tmp_path, registry, "--write")
    assert code == 1, err  # the repository the template fills in cannot be resolved
    expected = ECS_TERRAFORM_CONTAINERS.replace("HOST", host).replace(
        "tf/api:1.0", f"tf/api:1.0@{api.digest}"
    )
    assert path.read_text() == expected
    assert (tmp_path / "deploy/ecs.tf").read_text() == tf
    (problem,) = (line for line in out.splitlines() if "${repository}" in line)
    assert problem.startswith("deploy/containers.json:3:28: ")
