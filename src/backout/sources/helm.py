"""Helm charts: ``Chart.yaml``, ``crds/``, templates (read tolerantly) and image values.

Templates are Go templates, not YAML. They are read by masking every template action
(``{{ … }}``) with a same-length placeholder, so that positions survive, blanking lines that
held nothing but actions (``{{- if … }}``, ``{{ include … | nindent 4 }}``), and parsing the
result. When that still fails, a line scan finds ``kind:``, ``helm.sh/hook`` and
``helm.sh/resource-policy``. A template is never reported as unreadable: it is only
half-known until rendered, and that is not the user's mistake.

Each file is read on its own, so facts name their chart directory (``chart``); rules join
them on it. :class:`HelmChart` marks a directory as a chart. Values files yield
:class:`HelmImage` facts (an :class:`~backout.sources.images.ImageUse`, so BK101 judges
them) for the image conventions charts use, and :class:`HelmValuesImageCandidate` facts for
``{repository, tag}`` mappings and strings under other keys; templates yield
:class:`HelmTemplateImage` facts naming the ``.Values`` paths their ``image:`` lines use, so
that :func:`judged_image_uses` can tell which values the templates use as an image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from backout.imageref import parse_reference
from backout.lines import line_starts, position, split_lines
from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.goyaml import BOOLEAN, go_yaml_kind, go_yaml_reading
from backout.sources.images import (
    BLOCK_SCALAR,
    ImageUse,
    PinEdit,
    is_helm_test,
    key_edit,
    scalar_span,
    scalar_suffix_edit,
    scalar_value_edit,
)
from backout.sources.manifests import (
    CONTAINER_LISTS,
    RECORDED_FIELDS,
    canonical_json,
    recreated_by,
)
from backout.sources.paths import chart_of_template, is_helm_file

if TYPE_CHECKING:
    from backout.sources.yamlfile import MappingNode, Node, ScalarNode


@dataclass(frozen=True)
class HelmChart(Fact):
    """A ``Chart.yaml``: the directory ``chart`` is a Helm chart (``""`` for the root)."""

    chart: str
    name: str
    app_version: str | None


@dataclass(frozen=True)
class HelmCrd(Fact):
    """A CustomResourceDefinition a chart ships, located at its ``kind:`` value.

    ``in_templates`` is False for files under ``crds/`` (installed once, never upgraded,
    rolled back or deleted by Helm) and True for a CRD rendered from ``templates/`` (which
    ``helm rollback`` can delete, with every custom resource of that kind). ``kept`` is True
    when a template CRD carries ``helm.sh/resource-policy: keep`` (Helm then never deletes
    it); ``kept_only_if`` is the ``{{ if }}`` condition the annotation sits in, beyond the
    CRD's own (``.Values.crds.keep``), ``""`` when it is always there.
    """

    chart: str
    name: str
    in_templates: bool
    kept: bool = False
    kept_only_if: str = ""


@dataclass(frozen=True)
class HelmHook(Fact):
    """A template resource annotated ``helm.sh/hook``, located at the annotation's value.

    ``hooks`` are the events (``pre-upgrade``, ``post-install``…); ``kind`` and ``name`` as
    written (a templated name keeps its ``{{ }}``); ``runs_containers`` is True for kinds
    that run code (Job, Pod, CronJob…); ``command`` is the first container's command and
    args joined, as written, for messages.
    """

    chart: str
    kind: str
    name: str
    hooks: tuple[str, ...]
    runs_containers: bool
    command: str = ""

    @property
    def runs_a_reversal(self) -> bool:
        """True when the command undoes a migration: a word down, downgrade, rollback, undo,
        revert or goto (``alembic downgrade -1``, ``migrate down``, ``rake db:rollback``,
        ``sequelize db:migrate:undo``, ``flyway undo``, ``liquibase rollbackCount``), or
        ``manage.py migrate <app> <target>``. A forward migration (``alembic upgrade
        head``, ``flyway migrate``, ``manage.py migrate``) or an unknown command does not."""
        words = {word.lower() for word in _COMMAND_WORD.findall(self.command)}
        if words & _REVERSAL_WORDS:
            return True
        tokens = self.command.split()
        for i, token in enumerate(tokens[1:], start=1):
            if token == "migrate" and tokens[i - 1].endswith(("manage.py", "django-admin")):
                targets = [t for t in tokens[i + 1 :] if not t.startswith("-")]
                return len(targets) >= 2
        return False

    @property
    def makes_webhook_certificate(self) -> bool:
        """True for kube-webhook-certgen's ``create``/``patch`` (ingress-nginx's and
        kube-prometheus-stack's admission jobs): it creates the webhook's TLS secret when it
        is missing and writes its CA into the webhook configurations, under names every
        release shares, so the previous release runs on what it leaves as on what it found.

        Every flag must be one of certgen's, and the flags it requires given: a job of
        another tool that takes ``patch --secret-name=db`` and more may change state that a
        rollback does not undo."""
        words = self.command.split()
        if not words or words[0] not in _CERTGEN_FLAGS:
            return False
        required, known = _CERTGEN_FLAGS[words[0]]
        flags = {word.partition("=")[0] for word in words[1:] if word.startswith("--")}
        return required <= flags <= known


# kube-webhook-certgen's subcommands (kubernetes/ingress-nginx
# images/kube-webhook-certgen/rootfs/cmd): the flags each requires, and every flag it takes.
_CERTGEN_ANY = frozenset(
    {"--namespace", "--secret-name", "--log-level", "--log-format", "--kubeconfig"}
)
_CERTGEN_FLAGS = {
    "create": (
        frozenset({"--host", "--namespace", "--secret-name"}),
        _CERTGEN_ANY | {"--host", "--cert-name", "--key-name", "--ca-name"},
    ),
    "patch": (
        frozenset({"--webhook-name", "--namespace", "--secret-name"}),
        _CERTGEN_ANY
        | {
            "--webhook-name",
            "--patch-mutating",
            "--patch-validating",
            "--patch-failure-policy",
            "--apiservice-name",
        },
    ),
}


# Words of a command, camelCase split (``rollbackCount``), ``:``/``-``/``/`` separated.
_COMMAND_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_REVERSAL_WORDS = frozenset({"down", "downgrade", "rollback", "undo", "revert", "goto"})


@dataclass(frozen=True)
class HelmResourcePolicy(Fact):
    """``helm.sh/resource-policy`` on a template resource, located at its value (``keep``).

    ``only_if`` is the ``{{ if }}`` condition the annotation sits in beyond the resource's
    own (``.Values.crds.keep``), conditions joined by ``and``; ``""`` when the annotation is
    there whenever the resource is.
    """

    chart: str
    kind: str
    name: str
    policy: str
    only_if: str = ""

    @property
    def keeps(self) -> bool:
        """True for ``keep``: Helm skips deleting the resource (``ResourcePolicyIsKeep``)."""
        return self.policy.strip() == "keep"


@dataclass(frozen=True)
class HelmTemplateWorkload(Fact):
    """A workload a chart's template renders, with the fields BK105 compares between releases.

    Located at ``metadata.name``'s value (or ``kind:``). ``name`` and ``namespace`` are as
    written (``{{ .Release.Name }}-web``); ``fields`` holds, for each field of
    :data:`~backout.sources.manifests.RECORDED_FIELDS` the template writes, its dotted path,
    the lines of its block as written (actions kept, for :func:`rendered_field`) and its
    location. ``recreated`` and ``generate_name`` as on
    :class:`~backout.sources.manifests.Workload`.
    """

    chart: str
    kind: str
    name: str
    namespace: str
    fields: tuple[tuple[str, str, Location], ...]
    recreated: str = ""
    generate_name: str = ""


@dataclass(frozen=True)
class HelmNamedTemplate(Fact):
    """A ``{{ define "name" }}…{{ end }}`` of a chart's templates, located at the ``define``.

    ``body`` is the text between the two actions, with its own actions as written, so that
    :func:`readable_name` can show what ``{{ include "shop.fullname" . }}`` names.
    """

    chart: str
    name: str
    body: str


@dataclass(frozen=True)
class HelmTemplateImage(Fact):
    """An ``image:`` line of a template, located at its value.

    ``values_paths`` are the ``.Values`` paths it reads (``image.repository``,
    ``image.tag``); ``app_version_default`` is True when it falls back to
    ``.Chart.AppVersion`` (``| default .Chart.AppVersion``). ``whole_paths`` names the path
    when one action is the whole image (``image: {{ .Values.image }}``); ``tag_paths`` the
    paths read by a final action right after a ``:`` (``…repository }}:{{ .Values.image.tag
    }}``, or the last argument of a final ``printf "%s:%s"``), whose value is therefore the
    end of the reference. ``in_container`` is False for an ``image:`` that is not a field of
    a container, init container or ephemeral container (a custom resource's ``spec.image``);
    True also when the template cannot be parsed to tell.

    Inside ``{{ with .Values.controller.image }}`` the line's ``.tag`` is read as
    ``controller.image.tag``, and ``includes`` names the helpers it passes that value to
    (``{{ include "ingress-nginx.imageDigest" . }}``: ``("ingress-nginx.imageDigest",
    "controller.image")``), whose own ``.digest`` is then read the same way.
    """

    chart: str
    values_paths: tuple[str, ...]
    app_version_default: bool
    whole_paths: tuple[str, ...] = ()
    tag_paths: tuple[str, ...] = ()
    in_container: bool = True
    includes: tuple[tuple[str, str], ...] = ()
    written: str = ""
    """The value as written, without its quotes: ``{{ .Values.image.repository }}:{{ … }}``."""
    dot: str = ""
    """The values path the dot holds on the line (``controller.image`` inside ``{{ with
    .Values.controller.image }}``), or ``""``."""
    guards: tuple[str, ...] | None = ()
    """The conditions of the ``{{ if }}`` blocks the line sits in, each one that must be true
    for it to render (``not (contains "/" .Values.pilot.image)`` in an ``{{ else }}``);
    ``None`` inside a ``with``, ``range`` or ``define``, whose rendering is not told."""


@dataclass(frozen=True)
class HelmTemplateOutput(Fact):
    """The ``.Values`` paths a template file prints outside its ``image:`` lines.

    A label ``version: {{ .Values.image.tag }}`` would break if pin wrote a digest into the
    tag (label values cannot hold ``@``): such values are pinned by hand. Conditions
    (``{{ if .Values.image.digest }}``) are not printing and are not listed.
    """

    chart: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class HelmImage(ImageUse):
    """An image in a chart's values file; ``values_path`` is where (``api.image``).

    Located at the tag value, or at the repository when there is no tag, or at the string
    for ``image: "repo:tag"``. An empty or missing tag is recorded as ``unresolved``: the
    templates decide (usually ``.Chart.AppVersion``).

    ``bare`` marks a string value with neither ``/`` nor ``:`` (``image: nginx``, but also
    ``image: enabled``): it is an image only if a template uses it as one. ``tag_edit``
    appends the digest to the tag (``tag: 1.4@sha256:…``; an empty or missing tag is set,
    with the chart's ``appVersion`` before the digest), ``digest_edit`` sets or adds the
    ``digest:`` key; which one pins the image depends on the chart's templates, so the reader
    records both and :func:`judged_image_uses` picks one as ``pin_edit``.
    """

    chart: str = ""
    values_path: str = ""
    bare: bool = False
    tag_edit: PinEdit | None = None
    digest_edit: PinEdit | None = None
    tag_written: str = ""
    tag_rendered: str = ""
    """For an unquoted tag Helm prints otherwise (``tag: 1.0`` renders ``1``): the tag as
    written and as rendered; both empty when they are the same."""
    separate_digest: str = ""
    """The digest a ``digest:`` key sets (a tag override keeps it), not one in the tag."""
    sha: str = ""
    """kube-prometheus-stack's ``sha: <64 hex>``, in ``reference`` as ``@sha256:<sha>``: it
    pins only where a template reads ``<values_path>.sha`` (``…@sha256:{{ .sha }}``)."""
    fields: tuple[tuple[str, str], ...] = ()
    """A mapping's image fields as written (``("repository", "shop")``, ``("tag", "2.4")``)."""
    built_as: str = ""
    """Set by :func:`judged_image_uses` when a template builds the image from more than this
    mapping (``{{ .Values.images.repository }}/{{ .Values.cart.name }}:{{ .Values.images.tag
    }}``): that image line, rendered with what the values say (``reg/<.Values.cart.name>:2.4``).
    ``reference`` then names no image that runs, and the tag may feed several images; a digest
    written in the tag is kept in both. A template that only puts a registry before the
    mapping (``ghcr.io/{{ .Values.image.repository }}:…``) builds one image: that is
    ``reference``, and ``built_as`` stays empty."""
    built_at: Location | None = None
    """Where the template line of ``built_as`` is."""
    tag_fallback: str = ""
    """What the templates print for an empty tag, as written, when it is no
    ``.Chart.AppVersion`` and the values do not tell it (``.Values.global.tag``)."""
    rendered_at: Location | None = None
    """For an image no values image holds, that a container's ``image:`` line renders from
    the chart's ``values.yaml`` (istio's ``{{ .Values.pilot.hub | default .Values.global.hub
    }}/pilot:{{ … | default .Values.global.tag }}``): that line. The image is located at the
    value that sets its tag (``values_path``), which may tag other images too."""


@dataclass(frozen=True)
class HelmValuesImageCandidate(Fact):
    """A value under a key other than ``image`` that would be an image if a container ran it.

    ``worker: {repository: …, tag: …}`` or ``sidecars: {proxy: "envoy:1.30"}``: whether it is
    an image is for the templates to say, so it is no :class:`ImageUse` (BK103, BK302 and
    the online checks read those as they are, and ``backup: {repository: s3://…}`` is not
    one). :func:`judged_image_uses` turns ``image`` into an image use where a container's
    ``image:`` line reads it. Located as ``image`` is.
    """

    image: HelmImage


@dataclass(frozen=True)
class HelmValuesTagOverride(Fact):
    """``image: {tag: latest}`` with no repository: an override file (``values-prod.yaml``)
    that changes the tag of the image its chart's ``values.yaml`` sets.

    ``image.reference`` is ``:<tag>``; :func:`judged_image_uses` joins it to the image of the
    same path in ``values.yaml`` beside it (Helm merges the two), and judges it at this tag.
    """

    image: HelmImage


@dataclass(frozen=True)
class HelmValuesRegistry(Fact):
    """A string of a values file under a key that names a registry (``imageRegistry:
    ghcr.io``, ``global.imageRegistry``, ``registry``), outside an image mapping.

    A template may put it before an image's repository (``{{ .Values.imageRegistry }}/{{
    .Values.image.repository }}:{{ .Values.image.tag }}``): :func:`judged_image_uses` renders
    the image with it. Located at the value.
    """

    chart: str
    values_path: str
    value: str


@dataclass(frozen=True)
class HelmValues(Fact):
    """Every value of a values file, by path (``global.tag``), located at the file's start.

    Each entry is ``(path, printed, true, location)``: what a template prints for it as Helm
    renders it (``None`` for a mapping or a list), whether ``{{ if }}`` and ``default`` take
    it as true (Go templates: a non-empty string, a non-zero number, ``true``, a non-empty
    mapping or list), and where the value is, once :data:`MERGED_DEFAULTS` are merged.
    Lists are not entered.
    """

    chart: str
    values: tuple[tuple[str, str | None, bool, Location], ...]


MERGED_DEFAULTS = "_internal_defaults_do_not_set"
"""A values key whose mapping holds a chart's defaults, which a template merges into
``.Values`` (istio's charts, by ``templates/zzz_profile.yaml``: ``set $ "Values"
(mustMergeOverwrite $defaults $.Values)``): the values under it are read as the values
beside it, merged as that call merges them (:func:`_merged_values`). It counts wherever it
stands: under a subchart's key (``istiod:`` in a parent chart's values) it is the subchart's,
which merges it in turn."""


def _with_defaults_merged(text: str, node: Node, depth: int = 0) -> Node:
    """The values as the templates see them once every :data:`MERGED_DEFAULTS` mapping is
    merged under the values beside it; nodes kept, so each value is where its file has it."""
    if depth > 30 or not isinstance(node, yamlfile.MappingNode) or MERGED_DEFAULTS not in text:
        return node
    defaults: Node | None = None
    beside: list[tuple[Node, Node]] = []
    for name, key, value in yamlfile.entries(node):
        if name == MERGED_DEFAULTS:
            defaults = value
        else:
            beside.append((key, _with_defaults_merged(text, value, depth + 1)))
    values = yamlfile.MappingNode(node.tag, beside, node.start_mark, node.end_mark)
    if isinstance(defaults, yamlfile.MappingNode):
        return _merged_values(text, _with_defaults_merged(text, defaults, depth + 1), values)
    return values


def _merged_values(text: str, weak: Node, strong: Node, depth: int = 0) -> Node:
    """``strong`` merged over ``weak`` as sprig's ``mustMergeOverwrite`` does (mergo's
    ``Merge`` with ``WithOverride``, for ``map[string]interface{}``): mappings key by key;
    a mapping beside a value that is not empty (Go's zero: ``""``, ``0``, ``false``, null,
    ``[]``) leaves that value; anything else replaces, an empty value too (mergo checks
    emptiness on the destination only for a map's keys: sprig's documented example turns
    ``key: true`` into ``key: false``)."""
    if depth > 30:
        return strong
    if not isinstance(strong, yamlfile.MappingNode):
        return strong
    if not isinstance(weak, yamlfile.MappingNode):
        return strong if _empty(text, weak) else weak
    beside = {name: (key, value) for name, key, value in yamlfile.entries(strong)}
    merged: list[tuple[Node, Node]] = []
    for name, key, value in yamlfile.entries(weak):
        if name in beside:
            key, over = beside.pop(name)
            value = _merged_values(text, value, over, depth + 1)
        merged.append((key, value))
    merged.extend(beside.values())
    return yamlfile.MappingNode(strong.tag, merged, strong.start_mark, strong.end_mark)


def _empty(text: str, node: Node) -> bool:
    """Whether a value is Go's zero of its kind, as mergo's ``isEmptyValue`` tells it."""
    if isinstance(node, yamlfile.ScalarNode):
        return not _printed(text, node)[1]
    return not node.value


def _printed(text: str, value: ScalarNode) -> tuple[str, bool]:
    """How a template prints a scalar value, and whether Go templates take it as true."""
    if value.style is None and yamlfile.scalar(value) is None:  # null, ~ or nothing
        return "", False
    kind, printed = go_yaml_reading(text, value)
    return printed, printed == "true" if kind == BOOLEAN else printed not in ("", "0")


def _values_entries(
    path: str, text: str, node: Node, prefix: str, depth: int
) -> Iterator[tuple[str, str | None, bool, Location]]:
    if depth > 30:
        return
    for key, value in yamlfile.items(node):
        values_path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, yamlfile.ScalarNode):
            location = scalar_span(path, text, value)[0]
            printed, true = _printed(text, value)
            yield values_path, printed, true, location
        elif isinstance(value, (yamlfile.MappingNode, yamlfile.SequenceNode)):
            yield values_path, None, bool(value.value), yamlfile.location(path, value)
            if isinstance(value, yamlfile.MappingNode):
                yield from _values_entries(path, text, value, values_path, depth + 1)


def _is_registry_key(key: str) -> bool:
    return key == "registry" or key.endswith(("Registry", "_registry"))


_WORKLOAD_KINDS = frozenset(
    {"Job", "Pod", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
)


def _directory(path: str) -> str:
    return path.rpartition("/")[0]


# ---------------------------------------------------------------------------------------------
# Templates


_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def mask_template(text: str) -> str:
    """The template with every ``{{ … }}`` replaced by ``x`` of the same length.

    Line endings inside an action are kept, so line numbers and columns do not move. Lines that
    held only actions and spaces become blank, because an action alone on a line is control
    flow or an ``include``, not a YAML value.
    """
    chars = list(text)
    masked = [False] * len(text)
    for match in _ACTION.finditer(text):
        for i in range(match.start(), match.end()):
            if chars[i] not in "\r\n":
                chars[i] = "x"
                masked[i] = True
    out: list[str] = []
    start = 0
    for line in split_lines("".join(chars), keepends=True):
        body = line.rstrip("\r\n")
        content = [i for i in range(start, start + len(body)) if not text[i].isspace()]
        if content and all(masked[i] for i in content):
            out.append(" " * len(body) + line[len(body) :])
        else:
            out.append(line)
        start += len(line)
    return "".join(out)


def _raw(text: str, node: Node | None) -> str:
    """The source text of a scalar node, taken from the unmasked template."""
    if not isinstance(node, yamlfile.ScalarNode):
        return ""
    raw = text[node.start_mark.index : node.end_mark.index].strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    return raw


def _value_location(path: str, node: Node) -> Location:
    location = yamlfile.location(path, node)
    if isinstance(node, yamlfile.ScalarNode) and node.style in ("'", '"'):
        return Location(path, location.line, location.column + 1)
    return location


def _first_command(text: str, spec: Node | None) -> str:
    for pod_spec in (
        yamlfile.get_path(spec, "template", "spec"),
        yamlfile.get_path(spec, "jobTemplate", "spec", "template", "spec"),
        spec,
    ):
        containers = yamlfile.elements(yamlfile.get(pod_spec, "containers"))
        if containers:
            parts: list[str] = []
            for key in ("command", "args"):
                value = yamlfile.get(containers[0], key)
                items = (
                    yamlfile.elements(value)
                    if isinstance(value, yamlfile.SequenceNode)
                    else [value]
                )
                parts.extend(
                    _raw(text, item) for item in items if isinstance(item, yamlfile.ScalarNode)
                )
            return " ".join(p for p in parts if p)
    return ""


def _structured_template(
    file: SourceFile, text: str, chart: str, folder: str, documents: list[Node]
) -> Iterator[Fact]:
    variable_hooks = _variable_hooks(file.path, text) if folder == "templates" else []
    for document in documents:
        kind_node = yamlfile.get(document, "kind")
        kind = _raw(text, kind_node)
        metadata = yamlfile.get(document, "metadata")
        name = _raw(text, yamlfile.get(metadata, "name"))
        resource_start = (kind_node or document).start_mark.index
        policies: list[HelmResourcePolicy] = []
        found: list[tuple[Location, tuple[str, ...]]] = []
        annotations = yamlfile.get(metadata, "annotations")
        for key, value in yamlfile.items(annotations) if folder == "templates" else ():
            if key == "helm.sh/hook":
                events = _events(_raw(text, value))
                found.append((_value_location(file.path, value), events))
            elif key == "helm.sh/resource-policy":
                policies.append(
                    HelmResourcePolicy(
                        _value_location(file.path, value),
                        chart,
                        kind,
                        name,
                        _raw(text, value),
                        _added_condition(text, resource_start, value.start_mark.index),
                    )
                )
        if folder == "templates" and not found:
            found.extend(
                _hooks_in_actions(
                    file.path,
                    text,
                    document.start_mark.index,
                    document.end_mark.index,
                    variable_hooks,
                )
            )
        command = _first_command(text, yamlfile.get(document, "spec")) if found else ""
        hooks = [
            HelmHook(location, chart, kind, name, events, kind in _WORKLOAD_KINDS, command)
            for location, events in found
        ]
        if kind == "CustomResourceDefinition" and kind_node is not None:
            yield _crd(yamlfile.location(file.path, kind_node), chart, name, folder, policies)
        if folder != "templates":
            continue
        if kind in RECORDED_FIELDS:
            yield _template_workload(file.path, text, chart, kind, document)
        yield from hooks
        yield from policies


# A hook annotation built in a template action rather than written as YAML: a ``dict`` or
# ``set`` argument pair, merged into the annotations by a helper (bitnami's charts:
# ``$defaultAnnotations := dict "helm.sh/hook" "pre-upgrade" …``; ``set $hooks "helm.sh/hook"
# "pre-upgrade"``). A quoted key followed by a quoted value is no YAML, only template text.
_ACTION_HOOK = re.compile(r"\"helm\.sh/hook\"\s+\"(?P<events>[^\"]*)\"")


def _hooks_in_actions(
    path: str,
    text: str,
    start: int,
    end: int,
    variable_hooks: list[tuple[int, Location, tuple[str, ...]]],
) -> list[tuple[Location, tuple[str, ...]]]:
    """The hook events template actions give the resource between ``start`` and ``end``:
    those set by its own actions, located at their quoted value (not those of a ``define``,
    which renders only where it is included); else those of the variables it prints
    (:func:`_variable_hooks`), located where it prints them."""
    found: list[tuple[Location, tuple[str, ...]]] = []
    for action in _ACTION.finditer(text, start, end):
        if '"helm.sh/hook"' not in action.group() or _in_define(text, action.start()):
            continue
        for match in _ACTION_HOOK.finditer(action.group()):
            line, column = position(text, action.start() + match.start("events"))
            found.append((Location(path, line, column), _events(match.group("events"))))
    if found:
        return found
    return [(where, events) for offset, where, events in variable_hooks if start <= offset < end]


def _events(written: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in written.split(",") if h.strip())


# ``$name``; a declaration ``$name :=`` or assignment ``$name =`` opening an action; the
# variables a ``range``/``with``/``if`` declares for its block; the target of ``set``/``unset``.
_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)(?!\w)")
_DECLARATION = re.compile(r"\{\{-?\s*\$([A-Za-z_]\w*)\s*(:?=)(?!=)")
_BLOCK_VARIABLES = re.compile(
    r"\{\{-?\s*(?:range|with|if)\s+\$([A-Za-z_]\w*)(?:\s*,\s*\$([A-Za-z_]\w*))?\s*:?=(?!=)"
)
_SET_TARGET = re.compile(r"\b(?:set|unset)\s+\$([A-Za-z_]\w*)(?!\w)")

_Hooks = tuple[tuple[str, ...], ...]


def _variable_hooks(path: str, text: str) -> list[tuple[int, Location, tuple[str, ...]]]:
    """Where a template prints a variable that holds hook annotations, and their events.

    Go templates' variables are the file's from their declaration on, except one declared
    inside ``if``/``with``/``range``, which ends at the block's ``end``, and the variables of
    a ``define``, another template. So a dict built at the top of the file (``$hook := dict
    "helm.sh/hook" "pre-upgrade"``, or ``set $hook "helm.sh/hook" …`` on one declared there),
    or in an earlier document, annotates each later resource that prints it (``toYaml
    $hook``, or ``with $hook``, whose body prints the dot), directly or through a variable
    made from it (``$merged := merge … $hook``).
    """
    if '"helm.sh/hook"' not in text:
        return []
    # innermost last: each open block's variables (with the hooks they hold), and whether it is a
    # ``define``/``block`` body, whose actions are another template's
    frames: list[tuple[dict[str, _Hooks], bool]] = [({}, False)]
    uses: list[tuple[int, Location, tuple[str, ...]]] = []

    def frame_of(name: str) -> dict[str, _Hooks] | None:
        return next((names for names, _ in reversed(frames) if name in names), None)

    def held(name: str) -> _Hooks:
        names = frame_of(name)
        return names[name] if names is not None else ()

    for action in _ACTION.finditer(text):
        written = action.group()
        word = _first_word(written)
        if word == "end":
            if len(frames) > 1:
                frames.pop()
            continue
        if word in _BLOCK_WORDS:
            block = _BLOCK_VARIABLES.match(written)
            declared_names = [name for name in block.groups() if name] if block else []
            # ``with $hook`` makes the dot the hook dict, which its body prints
            printed: _Hooks = ()
            if word == "with" and not frames[-1][1]:
                for match in _VARIABLE.finditer(written):
                    hooks = () if match.group(1) in declared_names else held(match.group(1))
                    printed += hooks
                    line, column = position(text, action.start() + match.start())
                    uses.extend((action.start(), Location(path, line, column), e) for e in hooks)
            frames.append(({}, word in ("define", "block") or frames[-1][1]))
            for name in declared_names:
                frames[-1][0][name] = printed
            continue
        if frames[-1][1] or "$" not in written:
            continue
        pairs = tuple(_events(m.group("events")) for m in _ACTION_HOOK.finditer(written))
        targets = {m.group(1) for m in _SET_TARGET.finditer(written)}
        declared = _DECLARATION.match(written)
        read = [
            m
            for m in _VARIABLE.finditer(written)
            if m.group(1) not in targets and not (declared and m.start() == declared.start(1) - 1)
        ]
        for target in targets:
            names = frame_of(target)
            if names is not None and pairs:
                names[target] = names[target] + pairs
        if declared is not None:
            name, operator = declared.groups()
            hooks = pairs + tuple(h for m in read for h in held(m.group(1)))
            names = frames[-1][0] if operator == ":=" else frame_of(name)
            if names is not None:
                names[name] = tuple(dict.fromkeys(hooks))
            continue
        for match in read:
            for events in held(match.group(1)):
                line, column = position(text, action.start() + match.start())
                uses.append((action.start(), Location(path, line, column), events))
    return uses


def _in_define(text: str, offset: int) -> bool:
    """Whether ``offset`` of a template is inside a ``{{ define }}`` block."""
    open_blocks: list[str] = []
    for action in _ACTION.finditer(text, 0, offset):
        word = _first_word(action.group())
        if word in _BLOCK_WORDS:
            open_blocks.append(word)
        elif word == "end" and open_blocks:
            open_blocks.pop()
    return "define" in open_blocks


def _crd(
    location: Location, chart: str, name: str, folder: str, policies: list[HelmResourcePolicy]
) -> HelmCrd:
    """The CRD fact, kept when one of its resource policies is ``keep``."""
    keep = next((p for p in policies if p.keeps), None)
    return HelmCrd(
        location,
        chart,
        name,
        folder == "templates",
        keep is not None,
        keep.only_if if keep is not None else "",
    )


def _conditions_at(text: str, offset: int) -> list[tuple[int, str]]:
    """The ``{{ if }}``/``{{ with }}``/``{{ range }}`` blocks open at ``offset`` of a template,
    outermost first: (where the block starts, its condition as written).

    An ``{{ else }}`` turns its block's condition into ``not (…)``; ``define`` and ``block``
    open a block without a condition (``""``).
    """
    open_blocks: list[tuple[int, str]] = []
    for action in _ACTION.finditer(text):
        if action.start() >= offset:
            break
        words = action.group()[2:-2].strip("-").strip()
        head, _, rest = words.partition(" ")
        rest = rest.strip()
        if head in ("if", "with", "range"):
            open_blocks.append((action.start(), rest))
        elif head in ("define", "block"):
            open_blocks.append((action.start(), ""))
        elif head == "end" and open_blocks:
            open_blocks.pop()
        elif head == "else" and open_blocks:
            start, condition = open_blocks[-1]
            negated = f"not ({condition})" if condition else ""
            branch = rest.removeprefix("if").removeprefix("with").strip()
            joined = " and ".join(c for c in (negated, branch) if c)
            open_blocks[-1] = (start, joined)
    return open_blocks


def _guards_at(text: str, offset: int) -> tuple[str, ...] | None:
    """The conditions that must hold for ``offset`` of a template to render: those of the
    ``{{ if }}`` blocks open there, an ``{{ else }}`` negating the ones before it; ``None``
    inside a ``with``, ``range``, ``define`` or ``block``."""
    open_blocks: list[list[str] | None] = []
    for action in _ACTION.finditer(text):
        if action.start() >= offset:
            break
        words = action.group()[2:-2].strip("-").strip()
        head, _, rest = words.partition(" ")
        if head == "if":
            open_blocks.append([rest.strip()])
        elif head in _BLOCK_WORDS:
            open_blocks.append(None)
        elif head == "end" and open_blocks:
            open_blocks.pop()
        elif head == "else" and open_blocks and open_blocks[-1] is not None:
            conditions = open_blocks[-1]
            conditions[-1] = f"not ({conditions[-1]})"
            branch, _, condition = rest.strip().partition(" ")
            if branch == "if":
                conditions.append(condition.strip())
            elif rest.strip():
                open_blocks[-1] = None  # ``else with …``
    if any(block is None for block in open_blocks):
        return None
    return tuple(c for block in open_blocks if block is not None for c in block)


def _added_condition(text: str, resource: int, offset: int) -> str:
    """The conditions that hold at ``offset`` beyond those of the resource starting at
    ``resource``, joined by ``and``: what an annotation of the resource depends on."""
    resource_blocks = set(_conditions_at(text, resource))
    added = [c for start, c in _conditions_at(text, offset) if (start, c) not in resource_blocks]
    return " and ".join(c for c in added if c)


def _template_workload(
    path: str, text: str, chart: str, kind: str, document: Node
) -> HelmTemplateWorkload:
    metadata = yamlfile.get(document, "metadata")
    name_node = yamlfile.get(metadata, "name")
    lines = split_lines(text)
    fields: list[tuple[str, str, Location]] = []
    for keys in RECORDED_FIELDS[kind]:
        key = yamlfile.key_node(yamlfile.get_path(document, *keys[:-1]), keys[-1])
        if key is not None:
            block = _block(lines, key.start_mark.line, key.start_mark.column)
            value = yamlfile.get_path(document, *keys)
            where = yamlfile.location(path, value if value is not None else key)
            fields.append((".".join(keys), block, where))
    return HelmTemplateWorkload(
        _value_location(path, name_node)
        if name_node is not None
        else yamlfile.location(path, document),
        chart,
        kind,
        _raw(text, name_node),
        _raw(text, yamlfile.get(metadata, "namespace")),
        tuple(fields),
        recreated_by(metadata),
        _raw(text, yamlfile.get(metadata, "generateName")),
    )


def _block(lines: list[str], first: int, column: int) -> str:
    """The lines of the mapping entry whose key starts at ``first``/``column``: up to the next
    line indented no deeper than the key (comments and blank lines do not end it)."""
    last = end = first + 1
    while end < len(lines):
        content = lines[end].strip()
        indent = len(lines[end]) - len(lines[end].lstrip())
        if content.startswith("{{") and content.endswith("}}"):
            # An action alone on its line (``{{- include … | nindent 6 }}``, ``{{- if … }}``)
            # belongs to the block when indented into it or followed by more of it.
            last = end + 1 if indent > column else last
        elif content and not content.startswith("#"):
            if indent <= column:
                break
            last = end + 1
        end += 1
    return "\n".join(lines[first:last])


_KIND_LINE = re.compile(r"^kind:\s*[\"']?(\w+)")
_NAME_LINE = re.compile(r"^  name:\s*(.+?)\s*$")
_ANNOTATION_LINE = re.compile(
    r"^\s+[\"']?(helm\.sh/hook|helm\.sh/resource-policy)[\"']?\s*:\s*[\"']?([^\"'#]*?)[\"']?\s*(#.*)?$"
)


def _scanned_template(file: SourceFile, chart: str, folder: str) -> Iterator[Fact]:
    """Line scan for templates that stay invalid YAML after masking."""
    text = file.text() or ""
    kind = name = ""
    resource_start = 0
    crd: Location | None = None
    pending: list[tuple[str, str, Location, int]] = []
    variable_hooks = _variable_hooks(file.path, text) if folder == "templates" else []
    masked = split_lines(mask_template(text))
    document_start: int | None = None  # where the document's YAML starts, as compose tells

    def flush(end: int) -> Iterator[Fact]:
        policies: list[HelmResourcePolicy] = []
        if document_start is not None and folder == "templates":
            for location, events in _hooks_in_actions(
                file.path, text, document_start, end, variable_hooks
            ):
                pending.append(("helm.sh/hook", ",".join(events), location, 0))
        for key, value, location, offset in pending:
            if key == "helm.sh/hook":
                hooks = _events(value)
                yield HelmHook(location, chart, kind, name, hooks, kind in _WORKLOAD_KINDS)
            else:
                only_if = _added_condition(text, resource_start, offset)
                policies.append(HelmResourcePolicy(location, chart, kind, name, value, only_if))
        if crd is not None:
            yield _crd(crd, chart, name, folder, policies)
        yield from policies
        pending.clear()

    starts = line_starts(text)
    for number, line in enumerate(file.lines(), start=1):
        line_start = starts[min(number, len(starts)) - 1]
        if line.startswith("---"):
            yield from flush(line_start)
            kind = name = ""
            crd = None
            document_start = None
            continue
        content = masked[number - 1].strip() if number <= len(masked) else ""
        if document_start is None and content and not content.startswith("#"):
            document_start = line_start
        kind_match = _KIND_LINE.match(line)
        if kind_match:
            kind = kind_match.group(1)
            resource_start = line_start
            if kind == "CustomResourceDefinition":
                crd = Location(file.path, number, line.index(kind) + 1)
            continue
        name_match = _NAME_LINE.match(line)
        if name_match and not name:
            name = name_match.group(1)
        annotation = _ANNOTATION_LINE.match(line)
        if annotation and folder == "templates":
            column = annotation.start(2) + 1
            pending.append(
                (
                    annotation.group(1),
                    annotation.group(2),
                    Location(file.path, number, column),
                    line_start + annotation.start(2),
                )
            )
    yield from flush(len(text))


_IMAGE_LINE = re.compile(r"^\s*(?:-\s+)?image:\s*(\S.*?)\s*$")
_VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][\w-]*)+)")


_CONTROL = frozenset({"if", "else", "with", "range", "end", "define", "block", "/*"})


# A field of the dot (``.tag``), not of a variable, a call's result or a longer path.
_DOT_FIELD = re.compile(r"(?<![\w$)\].])\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
# What the dot holds at a template's top: ``.Values``, ``.Release``… are not values fields.
_BUILTIN_OBJECTS = frozenset(
    {"Values", "Release", "Chart", "Capabilities", "Template", "Files", "Subcharts"}
)


def _paths(action: str, dot: str = "") -> tuple[str, ...]:
    """The ``.Values`` paths ``action`` reads; with ``dot`` a values path (inside ``{{ with
    .Values.x }}``), its fields too (``.tag`` is ``x.tag``)."""
    found = [p.lstrip(".") for p in _VALUES_PATH.findall(action)]
    if dot:
        found += [
            f"{dot}.{field}"
            for field in _DOT_FIELD.findall(action)
            if field.split(".", 1)[0] not in _BUILTIN_OBJECTS
        ]
    return tuple(dict.fromkeys(found))


def _value_paths(action: str, dot: str = "") -> tuple[str, ...]:
    """The paths ``action`` prints: those of :func:`_paths` but a ``default`` fallback's
    (``.Values.defaultTag`` of ``{{ .Values.image.tag | default .Values.defaultTag }}`` or of
    ``{{ default .Values.defaultTag .Values.image.tag }}``), printed only when the value is
    empty."""
    kept: list[str] = []
    for index, step in enumerate(action.strip("{}-").split("|")):
        words = _TOKEN.findall(step)
        if words[:1] == ["default"]:
            words = words[2:] if index == 0 else []
        kept.extend(words)
    return _paths(" ".join(kept), dot)


_WITH_VALUES = re.compile(r"\{\{-?\s*with\s+\$?\.Values((?:\.[A-Za-z_][\w-]*)+)\s*-?\}\}")
_INCLUDE_DOT = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"\s+\.(?=[\s)|]|-?\}\})")


def _dot_at_lines(text: str) -> list[str]:
    """For each line (0-based), the values path the dot holds where it starts, or ``""``.

    Only ``{{ with .Values.x }}`` sets it; ``range`` and ``define`` make it unknown, ``else``
    of a ``with`` and ``end`` restore the one outside.
    """
    outside: list[str] = []
    dot = ""
    changes: list[tuple[int, str]] = []
    for action in _ACTION.finditer(text):
        word = _first_word(action.group())
        if word in _BLOCK_WORDS:
            outside.append(dot)
            with_values = _WITH_VALUES.fullmatch(action.group())
            if word == "with":
                dot = with_values.group(1).lstrip(".") if with_values else ""
            elif word in ("range", "define"):
                dot = ""
        elif word == "else":
            dot = outside[-1] if outside else ""
        elif word == "end":
            dot = outside.pop() if outside else ""
        changes.append((action.end(), dot))
    dots: list[str] = []
    position, index, dot = 0, 0, ""
    for line in split_lines(text, keepends=True):  # as SourceFile.lines splits them
        while index < len(changes) and changes[index][0] <= position:
            dot = changes[index][1]
            index += 1
        dots.append(dot)
        position += len(line)
    return dots


_PRINTF_ACTION = re.compile(
    r'\{\{-?\s*printf\s+"([^"\\]*)"((?:\s+\$?\.Values(?:\.[A-Za-z_][\w-]*)+)+)\s*-?\}\}'
)


def _printf_tag(action: str, dot: str = "") -> tuple[str, ...]:
    """The path a ``printf "%s:%s" .Values.a .Values.b`` prints last, right after a ``:``.

    Only for a format whose verbs match its arguments one to one and end it: then that value
    is the end of the reference, as in ``…:{{ .Values.b }}``.
    """
    match = _PRINTF_ACTION.fullmatch(action)
    if match is None:
        return ()
    layout, arguments = match.group(1), match.group(2).split()
    verbs = list(_FORMAT_VERB.finditer(layout))
    if len(verbs) != len(arguments) or not verbs or verbs[-1].end() != len(layout):
        return ()
    if layout[verbs[-1].start() - 1 : verbs[-1].start()] != ":":
        return ()
    return _paths(arguments[-1], dot)


def _image_line(
    file: SourceFile,
    chart: str,
    number: int,
    line: str,
    in_container: bool = True,
    dot: str = "",
) -> HelmTemplateImage | None:
    match = _IMAGE_LINE.match(line)
    if match is None or "{{" not in match.group(1):
        return None
    value = match.group(1)
    inner = value
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        inner = inner[1:-1]
    actions = list(_ACTION.finditer(inner))
    whole: tuple[str, ...] = ()
    if len(actions) == 1 and actions[0].group() == inner.strip():
        paths = _paths(actions[0].group(), dot)
        # ``printf "%s:%s" .Values.a .Values.b`` reads two values into one image.
        if len(paths) == 1 and "print" not in actions[0].group():
            whole = paths
    tags = tuple(
        path
        for action in actions
        if action.start() > 0
        and inner[action.start() - 1] == ":"
        and action.end() == len(inner.rstrip())
        for path in _value_paths(action.group(), dot)[:1]
    )
    if actions and actions[-1].end() == len(inner.rstrip()):
        tags += _printf_tag(actions[-1].group(), dot)
    includes = tuple((name, dot) for name in _INCLUDE_DOT.findall(value)) if dot else ()
    return HelmTemplateImage(
        Location(file.path, number, match.start(1) + 1),
        chart,
        _paths(value, dot),
        ".Chart.AppVersion" in value,
        whole,
        tags,
        in_container,
        includes,
        inner,
        dot,
    )


_CONTAINER_LIST_KEYS = frozenset(key for key, _ in CONTAINER_LISTS)


def _container_image_lines(documents: list[Node], *, tests: bool = False) -> set[int]:
    """The 1-based lines of the ``image:`` keys of containers, wherever a document holds them;
    with ``tests``, only those of ``helm.sh/hook: test`` resources."""
    lines: set[int] = set()
    for document in documents:
        if tests and not is_helm_test(yamlfile.get(document, "metadata")):
            continue
        for _, container in _containers(document):
            if not isinstance(container, yamlfile.MappingNode):
                continue
            # every one: `{{ if }}` and `{{ else }}` branches each write an `image:` key
            lines.update(
                key.start_mark.line + 1
                for key, _ in container.value
                if isinstance(key, yamlfile.ScalarNode) and key.value == "image"
            )
    return lines


def _template_images(
    file: SourceFile, chart: str, container_lines: set[int] | None, test_lines: set[int]
) -> Iterator[Fact]:
    """The ``image:`` lines of a template and what it prints elsewhere.

    ``container_lines`` are the lines of containers' ``image:`` keys, ``None`` when the
    template could not be parsed to tell (every ``image:`` line then counts as a container's).
    ``test_lines`` are those of ``helm test`` resources, which no release deploys: the values
    they read are not images a rollback restores (grafana's ``testFramework.image``).
    """
    printed: dict[str, None] = {}
    text = file.text() or ""
    dots = _dot_at_lines(text)
    starts = line_starts(text)
    for number, line in enumerate(file.lines(), start=1):
        if number in test_lines:
            continue
        in_container = container_lines is None or number in container_lines
        dot = dots[number - 1] if number <= len(dots) else ""
        image = _image_line(file, chart, number, line, in_container, dot)
        if image is not None:
            yield replace(image, guards=_guards_at(text, starts[min(number, len(starts)) - 1]))
            continue
        for action in _ACTION.finditer(line):
            words = action.group()[2:-2].strip("- \t").split(None, 1)
            if words and words[0] not in _CONTROL:
                printed.update(dict.fromkeys(_paths(action.group(), dot)))
    if printed:
        yield HelmTemplateOutput(Location(file.path, 1, 0), chart, tuple(printed))


def _first_word(action: str) -> str:
    words = action[2:-2].strip("- \t\n").split(None, 1)
    return words[0] if words else ""


_BLOCK_WORDS = frozenset({"if", "range", "with", "define", "block"})
_DEFINE = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")


def _named_templates(file: SourceFile, chart: str, text: str) -> Iterator[Fact]:
    """Each ``define`` of a template file, its body up to the matching ``end``."""
    actions = list(_ACTION.finditer(text))
    for index, opening in enumerate(actions):
        define = _DEFINE.match(opening.group())
        if define is None:
            continue
        depth = 1
        for closing in actions[index + 1 :]:
            word = _first_word(closing.group())
            depth += 1 if word in _BLOCK_WORDS else -1 if word == "end" else 0
            if depth == 0:
                line, column = position(text, opening.start())
                body = text[opening.end() : closing.start()]
                yield HelmNamedTemplate(
                    Location(file.path, line, column), chart, define.group(1), body.strip()
                )
                break


_HELM_TEST_HOOK = re.compile(r"helm\.sh/hook[\"']?\s*:\s*[\"']?test")


def _literal_images(file: SourceFile, text: str, documents: list[Node] | None) -> Iterator[Fact]:
    """The images a template writes as they are (``image: busybox:latest``), at their place.

    Helm renders them unchanged, so they are judged like a manifest's (``source="helm"``, no
    values path). Resources of ``helm test`` are left out. A template that does not parse once
    masked is scanned by line: every literal ``image:`` line counts, and pin leaves it alone.
    """
    if documents is None:
        if _HELM_TEST_HOOK.search(text):
            return
        for number, line in enumerate(file.lines(), start=1):
            match = _IMAGE_LINE.match(line)
            value = match.group(1).split(" #", 1)[0].strip() if match else ""
            reference = value.strip("\"'")
            if match is None or "{{" in value or not reference or reference.startswith(("|", ">")):
                continue
            yield ImageUse(
                Location(file.path, number, match.start(1) + 1),
                reference=reference,
                source="helm",
                context="chart template",
                pin_blocked="the template does not parse as YAML, even with its actions masked",
            )
        return
    for document in documents:
        if is_helm_test(yamlfile.get(document, "metadata")):
            continue
        kind = _raw(text, yamlfile.get(document, "kind")) or "?"
        for label, container in _containers(document):
            image = yamlfile.get(container, "image")
            if not isinstance(image, yamlfile.ScalarNode) or not image.value:
                continue
            written = text[image.start_mark.index : image.end_mark.index]
            if "{{" in written or "}}" in written:
                continue
            name = _raw(text, yamlfile.get(container, "name"))
            location, start, end, quote = scalar_span(file.path, text, image)
            edit = scalar_suffix_edit(text, image)
            yield ImageUse(
                location,
                reference=str(image.value),
                source="helm",
                context=f"chart template {kind} {label} {name if '{{' not in name else '?'}",
                value_start=start,
                value_end=end,
                quote=quote,
                pin_edit=edit,
                pin_blocked="" if edit else BLOCK_SCALAR,
            )


def _containers(document: Node) -> Iterator[tuple[str, Node]]:
    """``(container, init container…, node)`` for every container list a document holds."""
    pending: list[tuple[Node, int]] = [(document, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > 60:
            continue
        if isinstance(node, yamlfile.SequenceNode):
            pending.extend((item, depth + 1) for item in node.value)
            continue
        for key, value in yamlfile.items(node):
            if key in _CONTAINER_LIST_KEYS:
                yield from ((key[:-1], c) for c in yamlfile.elements(value))
            pending.append((value, depth + 1))


def _read_template(file: SourceFile, chart: str, folder: str) -> Iterator[Fact]:
    text = file.text()
    if text is None:
        return
    documents: list[Node] | None = None
    if file.path.endswith((".yaml", ".yml")):  # _helpers.tpl and friends hold no resources
        import yaml  # on first use, as in yamlfile: a run without Helm charts never needs it

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            documents = [
                d for d in yaml.compose_all(mask_template(text), Loader=loader) if d is not None
            ]
        except (yaml.YAMLError, RecursionError):
            documents = None
        # The walks below follow aliases as a tree would: an alias bomb, or an anchor
        # aliased inside itself, would never end (the manifest readers guard the same way).
        problem = yamlfile.alias_problem(documents) if documents and "&" in text else None
        if problem is not None:
            yield Unreadable(Location(file.path, 1, 0), "Helm", problem)
            return
    if folder == "templates":
        lines = tests = None
        if documents is not None:
            lines = _container_image_lines(documents)
            tests = _container_image_lines(documents, tests=True)
        elif _HELM_TEST_HOOK.search(text):
            tests = {number for number, _ in enumerate(file.lines(), start=1)}
        yield from _template_images(file, chart, lines, tests or set())
        yield from _named_templates(file, chart, text)
        if "{{" in text and file.path.endswith((".yaml", ".yml")):  # else a manifest's
            yield from _literal_images(file, text, documents)
    if not file.path.endswith((".yaml", ".yml")):
        return
    if documents is None:
        yield from _scanned_template(file, chart, folder)
        return
    yield from _structured_template(file, text, chart, folder, documents)


# ---------------------------------------------------------------------------------------------
# Values


def _is_image_key(key: str) -> bool:
    return key == "image" or key.endswith("Image") or key.endswith("_image")


def _image_uses(
    path: str, text: str, chart: str, node: Node, prefix: str, depth: int
) -> Iterator[Fact]:
    """The images of a values tree: :class:`HelmImage` under image keys, candidates elsewhere."""
    if depth > 30:
        return
    if isinstance(node, yamlfile.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _image_uses(path, text, chart, item, f"{prefix}[{index}]", depth + 1)
        return
    # the fields of a ``{repository, tag}`` mapping are read as part of it, not on their own
    fields = _IMAGE_FIELDS if yamlfile.get(node, "repository") is not None else frozenset()
    for key, value in yamlfile.items(node):
        values_path = f"{prefix}.{key}" if prefix else key
        if _is_registry_key(key) and isinstance(value, yamlfile.ScalarNode):
            registry = yamlfile.scalar(value)
            if isinstance(registry, str):
                yield HelmValuesRegistry(
                    yamlfile.location(path, value), chart, values_path, registry
                )
        image_key = _is_image_key(key)
        image: HelmImage | None = None
        if isinstance(value, yamlfile.MappingNode) and (
            image_key or yamlfile.get(value, "repository") is not None
        ):
            image = _image_from_mapping(path, text, chart, value, values_path)
        elif isinstance(value, yamlfile.ScalarNode) and (
            image_key or (key not in fields and isinstance(yamlfile.scalar(value), str))  # not 8080
        ):
            image = _image_from_string(path, text, chart, value, values_path)
        if image_key and image is not None:
            yield image
            continue
        if image is not None:
            yield HelmValuesImageCandidate(image.location, image)
        elif image_key and isinstance(value, yamlfile.MappingNode):
            override = _tag_override(path, text, chart, value, values_path)
            if override is not None:
                yield override
                continue
        yield from _image_uses(path, text, chart, value, values_path, depth + 1)


def _image_from_string(
    path: str, text: str, chart: str, value: ScalarNode, values_path: str
) -> HelmImage | None:
    """``image: "repo:tag"``, one string; ``None`` for a value no reference could be."""
    reference = yamlfile.text_of(value)
    if not reference or parse_reference(reference) is None:
        return None
    location, start, end, quote = scalar_span(path, text, value)
    edit = scalar_suffix_edit(text, value)
    return HelmImage(
        location,
        reference,
        "helm",
        f"values `{values_path}`",
        value_start=start,
        value_end=end,
        quote=quote,
        pin_edit=edit,
        pin_blocked="" if edit else BLOCK_SCALAR,
        chart=chart,
        values_path=values_path,
        bare="/" not in reference and ":" not in reference,
    )


def _image_from_mapping(
    path: str, text: str, chart: str, image: MappingNode, values_path: str
) -> HelmImage | None:
    """``{registry?, repository, tag?, digest?}`` — the convention of ``helm create``.

    The repository may also be written ``image:`` (ingress-nginx: ``{registry, image, tag,
    digest}``, its templates print ``{{ .registry }}/{{ .image }}``) or ``name:``; an empty
    ``repository: ""`` gives way to them, as ingress-nginx's ``if .repository`` does.
    """
    repository_node = _repository_node(image)
    repository = yamlfile.text_of(repository_node)
    if not repository or repository_node is None:
        return None
    registry = yamlfile.text_of(yamlfile.get(image, "registry"))
    tag_node = yamlfile.get(image, "tag")
    tag = yamlfile.text_of(tag_node)
    digest_node = yamlfile.get(image, "digest")
    digest = yamlfile.text_of(digest_node)
    sha = yamlfile.text_of(yamlfile.get(image, "sha")) or ""
    if digest or not _HEX_DIGEST.fullmatch(sha):
        sha = ""
    digest = digest or (f"sha256:{sha}" if sha else "")
    name = f"{registry.rstrip('/')}/{repository}" if registry else repository
    reference = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    anchor = tag_node if tag else repository_node
    assert isinstance(anchor, yamlfile.ScalarNode)
    rendered = helm_rendered(text, tag_node) if tag else ""
    location, _, _, _ = scalar_span(path, text, anchor)
    unresolved = note = ""
    if not tag and not digest:
        unresolved = _EMPTY_TAG
        note = "chart default tag is empty: the templates usually fall back to .Chart.AppVersion"
    digest_edit: PinEdit | None
    if isinstance(digest_node, yamlfile.ScalarNode):
        digest_edit = scalar_value_edit(text, digest_node)
    elif digest_node is None and yamlfile.key_node(image, "digest") is None:
        digest_edit = key_edit(text, image, anchor, "digest")
    else:
        digest_edit = None
    return HelmImage(
        location,
        reference,
        "helm",
        f"values `{values_path}`",
        note=note,
        written=reference if (registry or digest or not tag) else "",
        unresolved=unresolved,
        chart=chart,
        values_path=values_path,
        tag_edit=_tag_edit(text, image, tag_node, anchor, bool(tag)),
        digest_edit=digest_edit,
        tag_written=tag if tag and rendered != tag else "",
        tag_rendered=rendered if tag and rendered != tag else "",
        sha=sha,
        separate_digest="" if sha else digest,
        fields=tuple(
            (key, value)
            for key in ("registry", "repository", "image", "name", "tag")
            if (value := yamlfile.text_of(yamlfile.get(image, key))) is not None
        ),
    )


_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def _tag_override(
    path: str, text: str, chart: str, image: MappingNode, values_path: str
) -> HelmValuesTagOverride | None:
    """``image: {tag: latest}``: a values file that sets the tag of an image set elsewhere."""
    tag_node = yamlfile.get(image, "tag")
    tag = yamlfile.text_of(tag_node)
    if not tag or not isinstance(tag_node, yamlfile.ScalarNode):
        return None
    location, _, _, _ = scalar_span(path, text, tag_node)
    rendered = helm_rendered(text, tag_node)
    digest_node = yamlfile.get(image, "digest")
    return HelmValuesTagOverride(
        location,
        HelmImage(
            location,
            f":{tag}",
            "helm",
            f"values `{values_path}`",
            chart=chart,
            values_path=values_path,
            tag_edit=scalar_suffix_edit(text, tag_node),
            digest_edit=(
                scalar_value_edit(text, digest_node)
                if isinstance(digest_node, yamlfile.ScalarNode)
                else key_edit(text, image, tag_node, "digest")
            ),
            tag_written=tag if rendered != tag else "",
            tag_rendered=rendered if rendered != tag else "",
        ),
    )


_EMPTY_TAG = "`.Chart.AppVersion` (the tag is empty)"


def _repository_node(image: MappingNode) -> ScalarNode | None:
    """The first of ``repository``, ``image``, ``name`` that holds a string."""
    for key in _REPOSITORY_KEYS:
        node = yamlfile.get(image, key)
        text = yamlfile.scalar(node) if isinstance(node, yamlfile.ScalarNode) else None
        if isinstance(node, yamlfile.ScalarNode) and isinstance(text, str) and text:
            return node
    return None


_REPOSITORY_KEYS = ("repository", "image", "name")


def _tag_edit(
    text: str, image: MappingNode, tag_node: Node | None, anchor: Node, tag: bool
) -> PinEdit | None:
    """``@<digest>`` after a tag; for an empty or missing one, the value set to the digest.

    An empty tag is decided by the templates (``| default .Chart.AppVersion``):
    :func:`judged_image_uses` writes the version they fall back to before the digest.
    """
    if tag:
        return (
            scalar_suffix_edit(text, tag_node)
            if isinstance(tag_node, yamlfile.ScalarNode)
            else None
        )
    if isinstance(tag_node, yamlfile.ScalarNode):
        return scalar_value_edit(text, tag_node)
    if tag_node is None and yamlfile.key_node(image, "tag") is None:
        return key_edit(text, image, anchor, "tag")
    return None


def helm_rendered(text: str, node: Node | None) -> str:
    """What a Helm template prints for a values scalar; its text when that is the same.

    Helm's values go through sigs.k8s.io/yaml, then JSON, so every number becomes a float64,
    which a template prints with Go's ``%v``: ``1.0`` prints ``1``, ``1.10`` ``1.1``,
    ``20190806`` ``2.0190806e+07`` (helm/helm#1707, #9162, #11800).
    """
    return go_yaml_reading(text, node)[1]


def misrendered_tag(use: ImageUse) -> tuple[str, str] | None:
    """Why Helm deploys another tag than the one written, and the fix; ``None`` when it does not.

    Only for a values image, judged by :func:`judged_image_uses`, whose templates print an
    unquoted tag that Helm renders otherwise (``tag: 1.0`` renders ``1``) and that no digest
    pins.
    """
    if not isinstance(use, HelmImage) or not use.tag_rendered:
        return None
    kind = go_yaml_kind(use.tag_written)
    why = (
        f"Helm reads the unquoted `tag: {use.tag_written}` as a {kind} and renders it "
        f"`{use.tag_rendered}`, so the image deployed is `{use.reference}`, not "
        f"`{use.written}`"
    )
    if parse_reference(use.reference) is None:
        why += " (not even a valid reference: the pods fail with InvalidImageName)"
    return why, f'quote it: `tag: "{use.tag_written}"`'


_IMAGE_FIELDS = frozenset({"registry", "repository", "name", "tag", "digest"})


@dataclass
class _ChartTemplates:
    """What a chart's templates do with its values, gathered from the template facts."""

    image_paths: set[str] = field(default_factory=set)
    whole_paths: set[str] = field(default_factory=set)
    tag_paths: set[str] = field(default_factory=set)
    # paths an image line reads as something else than the whole image or the final tag
    other_image_paths: set[str] = field(default_factory=set)
    # paths an image line reads with ``| default .Chart.AppVersion``
    app_version_paths: set[str] = field(default_factory=set)
    printed: set[str] = field(default_factory=set)
    # what containers' image: lines read (not a custom resource's `image:` field)
    container_paths: set[str] = field(default_factory=set)
    container_whole_paths: set[str] = field(default_factory=set)
    # mapping path → the image lines that end with its tag
    tag_lines: dict[str, list[HelmTemplateImage]] = field(default_factory=dict)
    # values file → the registry values it sets (global.imageRegistry → ghcr.io)
    registries: dict[str, dict[str, str]] = field(default_factory=dict)

    def runs(self, candidate: HelmImage) -> bool:
        """True when a container's ``image:`` line reads ``candidate`` as an image.

        One string must be the whole image; a mapping must be read through its image fields
        (``<path>.repository``, ``.tag``…), not as a whole or through another key.
        """
        path = candidate.values_path
        if candidate.value_start >= 0:
            return path in self.container_whole_paths
        return any(
            p.startswith(path + ".") and p[len(path) + 1 :] in _IMAGE_FIELDS
            for p in self.container_paths
        )

    def printed_elsewhere(self, path: str) -> bool:
        """True when a template prints ``path`` (or a mapping holding it) outside ``image:``."""
        return any(path == p or path.startswith(p + ".") for p in self.printed)


def _chart_defaults(facts: FactSet) -> dict[str, HelmValues]:
    """Each chart's default values: its ``values.yaml``."""
    return {
        values.chart: values
        for values in facts.of(HelmValues)
        if values.location.path.removeprefix(values.chart).lstrip("/") == "values.yaml"
    }


def _renders(line: HelmTemplateImage, defaults: HelmValues | None) -> bool | None:
    """Whether ``line`` renders with the chart's default values: its ``{{ if }}``
    conditions all true; ``None`` when that cannot be told."""
    if not line.guards:
        return True if line.guards is not None else None
    if defaults is None:
        return None
    scope = _defaults_scope(_Scope("", "", {}), defaults)
    truths = [_truth(guard, scope) for guard in line.guards]
    if False in truths:
        return False
    return None if None in truths else True


def _chart_templates(facts: FactSet) -> dict[str, _ChartTemplates]:
    charts: dict[str, _ChartTemplates] = {}
    helpers = {(t.chart, t.name): t.body for t in facts.of(HelmNamedTemplate)}
    defaults = _chart_defaults(facts)
    for line in facts.of(HelmTemplateImage):
        chart = charts.setdefault(line.chart, _ChartTemplates())
        if line.includes:
            line = replace(line, values_paths=line.values_paths + _helper_paths(line, helpers))
        chart.image_paths.update(line.values_paths)
        if line.whole_paths and _renders(line, defaults.get(line.chart)) is False:
            # istio's `{{ if contains "/" .Values.pilot.image }}` line, with `image: pilot`:
            # the value is not printed as the whole image, so `pilot` is no image that runs
            line = replace(line, whole_paths=())
        chart.whole_paths.update(line.whole_paths)
        chart.tag_paths.update(line.tag_paths)
        if line.app_version_default:
            chart.app_version_paths.update(line.values_paths)
        chart.other_image_paths.update(
            p for p in line.values_paths if p not in line.whole_paths + line.tag_paths
        )
        if line.in_container:
            chart.container_paths.update(line.values_paths)
            chart.container_whole_paths.update(line.whole_paths)
        for tag in line.tag_paths:
            mapping = tag.rpartition(".")[0]
            if mapping:
                chart.tag_lines.setdefault(mapping, []).append(line)
    for output in facts.of(HelmTemplateOutput):
        charts.setdefault(output.chart, _ChartTemplates()).printed.update(output.paths)
    for registry in facts.of(HelmValuesRegistry):
        if registry.chart in charts:  # a chart whose templates are in sight
            values = charts[registry.chart].registries.setdefault(registry.location.path, {})
            values[registry.values_path] = registry.value
    return charts


# What may stand between a mapping's fields in an image line: separators, quotes, ``sha256``.
_IMAGE_SEPARATORS = re.compile(r"[\s/:@\"']*(?:sha256:)?[\s/:@\"']*")
_OWN, _PREFIXED, _MORE = "own", "prefixed", "more"


def _builds(line: HelmTemplateImage, mapping: str, known: dict[str, str]) -> str:
    """How ``line``, which ends with ``mapping``'s tag, builds its image from the mapping.

    ``own``: from its fields alone, with separators between them. ``prefixed``: the same
    after a prefix, literal text or other values (a registry: ``ghcr.io/``, ``{{
    .Values.imageRegistry }}/``), one image that :func:`_built_from_more` renders. ``more``:
    with another value or literal text between the fields (microservices-demo's ``{{
    .Values.images.repository }}/{{ .Values.cartService.name }}:{{ .Values.images.tag }}``).

    A value read only as a ``default`` fallback (``| default .Values.defaultTag``) is not
    printed while the mapping's is set. A ``global.`` value is the parent chart's override
    (``global.imageRegistry``): it counts where ``known`` (the values files) sets it, and
    then its fallback is not printed. A ``$registry`` variable or helper call is its own
    business. None of them makes the image more than the mapping's.
    """

    def own(path: str) -> bool:
        return path == mapping or path.startswith(mapping + ".")

    def other(path: str) -> bool:
        return not own(path) and not path.startswith("global.")

    actions = [(a.start(), a.group()) for a in _ACTION.finditer(line.written)]
    first = next(start for start, a in actions if any(own(p) for p in _value_paths(a, line.dot)))
    after = [action for start, action in actions if start >= first]
    if any(other(p) for action in after for p in _value_paths(action, line.dot)):
        return _MORE
    if _IMAGE_SEPARATORS.fullmatch(_ACTION.sub("", line.written[first:])) is None:
        return _MORE
    if _IMAGE_SEPARATORS.fullmatch(_ACTION.sub("", line.written[:first])) is None:
        return _PREFIXED
    for action in (action for start, action in actions if start < first):
        printed = _value_paths(action, line.dot)
        if any(other(p) or known.get(p) for p in printed):
            return _PREFIXED  # another value, or a global one the values set
        if any(other(p) for p in set(_paths(action, line.dot)) - set(printed)):
            return _PREFIXED  # the fallback of an unset global: ``| default .Values.registry``
    return _OWN


def _helper_paths(line: HelmTemplateImage, helpers: dict[tuple[str, str], str]) -> tuple[str, ...]:
    """The values a line's helpers read from the dot it passes them (``.digest`` of
    ``include "ingress-nginx.imageDigest" .`` inside ``with .Values.controller.image``)."""
    found: list[str] = []
    for name, dot in line.includes:
        body = helpers.get((line.chart, name), "")
        for action in _ACTION.finditer(body):
            found.extend(p for p in _paths(action.group(), dot) if p.startswith(dot + "."))
    return tuple(dict.fromkeys(found))


def judged_image_uses(facts: FactSet) -> list[ImageUse]:
    """Every image reference, with each Helm value joined to what its chart's templates do.

    A values image that no ``image:`` line of its chart reads is left out, and so is a bare
    name (``image: nginx``, ``image: enabled``) that no template uses as a whole image. When
    the templates are out of sight (a values file for a chart elsewhere), values that look like
    references (``/`` or ``:``) count and bare names do not. A value under another key
    (:class:`HelmValuesImageCandidate`, ``worker: {repository, tag}``) counts only where a
    container's ``image:`` line reads it as an image: the template's use decides, not the key.

    Each Helm image gets the ``pin_edit`` its templates make valid: the whole string when a
    template prints it as the image; ``digest:`` when a template reads ``<path>.digest``;
    ``tag: X@sha256:…`` when a template joins ``repository:tag`` with the tag last (the
    result, ``repo:X@sha256:…``, is a valid reference). Any other use, or a template that
    prints the value elsewhere (a label cannot hold ``@``), leaves it to pin by hand.
    """
    charts = _chart_templates(facts)
    app_versions = {c.chart: c for c in facts.of(HelmChart) if c.app_version}
    judged: list[ImageUse] = []
    for use in facts.of(ImageUse):
        if not isinstance(use, HelmImage):
            judged.append(use)
            continue
        chart = charts.get(use.chart)
        visible = chart is not None and bool(chart.image_paths)
        path = use.values_path
        if chart is None or not visible:
            if not use.bare:
                judged.append(_helm_pin_edit(use, None))
            continue
        if use.bare and path not in chart.whole_paths:
            continue
        if any(p == path or p.startswith(path + ".") for p in chart.image_paths):
            judged.append(_judged_helm_image(use, chart, app_versions, facts))
    for candidate in facts.of(HelmValuesImageCandidate):
        chart = charts.get(candidate.image.chart)
        if chart is not None and chart.runs(candidate.image):
            judged.append(_judged_helm_image(candidate.image, chart, app_versions, facts))
    judged.extend(_overridden(facts, judged, charts, app_versions))
    judged.extend(_rendered_from_defaults(facts, judged))
    return judged


def _rendered_from_defaults(facts: FactSet, judged: list[ImageUse]) -> Iterator[HelmImage]:
    """The images that containers' ``image:`` lines render from the chart's default values
    where no values image holds them (``{{ .Values.hub }}/app:{{ .Values.tag }}``).

    Only a line whose ``{{ if }}`` conditions hold and whose every action the values tell
    (:func:`readable_name` with the chart's ``values.yaml``), rendering a valid reference;
    any other stays unjudged. The image is located at the value its tag comes from."""
    held = {(use.chart, use.values_path) for use in judged if isinstance(use, HelmImage)}
    defaults = _chart_defaults(facts)
    seen: set[tuple[Location, str]] = set()
    for line in facts.of(HelmTemplateImage):
        values = defaults.get(line.chart)
        if values is None or not line.in_container or line.dot or line.includes:
            continue
        if any(
            (line.chart, held_path) in held
            for path in line.values_paths
            for held_path in _prefixes(path)
        ):
            continue  # a values image of this line is judged as the line builds it
        if not line.values_paths or _renders(line, values) is not True:
            continue
        rendered = readable_name(line.written, line.chart, facts, defaults=values)
        reference = parse_reference(rendered)
        if reference is None or _PLACEHOLDER.search(rendered):
            continue
        tag = _tag_source(line, values, reference.tag or "")
        location = tag[2] if tag else line.location
        if (location, rendered) in seen:
            continue
        seen.add((location, rendered))
        shown = f"`{tag[0]}: {tag[1]}` ({tag[2]})" if tag else "the template"
        yield HelmImage(
            location,
            rendered,
            "helm",
            f"values `{tag[0]}`" if tag else "chart template",
            note=f"as {line.location} renders it with the chart's values, the tag from {shown}",
            chart=line.chart,
            values_path=tag[0] if tag else "",
            rendered_at=line.location,
            pin_blocked=f"{line.location} builds the image from several values "
            f"(`{line.written}`): a digest written into one of them may pin other images "
            "that read it",
        )


def _prefixes(path: str) -> Iterator[str]:
    """``path`` and the paths holding it: ``a.b.c``, ``a.b``, ``a``."""
    while path:
        yield path
        path = path.rpartition(".")[0]


def _tag_source(
    line: HelmTemplateImage, defaults: HelmValues, tag: str
) -> tuple[str, str, Location] | None:
    """The value the tag of ``line``'s image comes from, with what it prints and where it is
    (``global.tag`` of ``… | default .Values.global.tag``); ``None`` when no value sets it.

    The candidates are the paths of the last action after a ``:``, in the order Helm tries
    them (the value, then its ``default``; ``default X Y`` tries ``Y`` first)."""
    last = list(_ACTION.finditer(line.written))[-1:]
    if not tag or not last or line.written[: last[0].start()][-1:] != ":":
        return None
    action = last[0].group()
    paths = list(_paths(action))
    if _first_word(action) == "default":
        paths.reverse()
    entries = {path: (printed, true, where) for path, printed, true, where in defaults.values}
    for path in paths:
        printed, true, where = entries.get(path, (None, False, None))
        if true and printed == tag and where is not None:
            return path, printed, where
    return None


def _overridden(
    facts: FactSet,
    judged: list[ImageUse],
    charts: dict[str, _ChartTemplates],
    app_versions: dict[str, HelmChart],
) -> Iterator[HelmImage]:
    """Each tag override joined to the image it overrides in its chart's ``values.yaml``."""
    bases = {
        (use.location.path, use.values_path): use for use in judged if isinstance(use, HelmImage)
    }
    for override in facts.of(HelmValuesTagOverride):
        image = override.image
        values = f"{image.chart}/values.yaml" if image.chart else "values.yaml"
        base = bases.get((values, image.values_path))
        if base is None or image.location.path == values:
            continue
        name = _name_of(base.reference)
        if base.sha or base.separate_digest:
            digest = f"@sha256:{base.sha}" if base.sha else f"@{base.separate_digest}"
        else:
            digest = ""
        shown = image.location.path.rpartition("/")[2]
        merged = replace(
            image,
            reference=f"{name}{image.reference}{digest}",
            context=f"{image.context} ({shown} over values.yaml)",
            fields=(*((k, v) for k, v in base.fields if k != "tag"), ("tag", image.reference[1:])),
        )
        chart = charts.get(image.chart)
        yield _judged_helm_image(merged, chart, app_versions, facts) if chart else merged


def _name_of(reference: str) -> str:
    """``reference`` without its tag and digest: ``reg:5000/shop`` of ``reg:5000/shop:2.4``."""
    name = reference.partition("@")[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.partition(":")[0]


def _judged_helm_image(
    image: HelmImage,
    chart: _ChartTemplates,
    app_versions: dict[str, HelmChart],
    facts: FactSet,
) -> HelmImage:
    """``image`` as its chart's templates use it: the tag they fall back to, the pin edit,
    the image a template builds from more than it."""
    if image.unresolved and f"{image.values_path}.tag" not in chart.app_version_paths:
        image = _with_values_fallback(image, chart, _chart_defaults(facts).get(image.chart))
    return _built_from_more(_judged_tag(image, chart, app_versions), chart, facts)


def _with_values_fallback(
    image: HelmImage, chart: _ChartTemplates, defaults: HelmValues | None
) -> HelmImage:
    """An image whose empty tag the templates replace by another value (``{{
    .Values.image.tag | default .Values.defaultTag }}``): judged at that value where the
    chart's ``values.yaml`` sets it, and the digest goes into the tag after it, as for
    ``.Chart.AppVersion``; else the fallback is named, as written."""
    tag_path = f"{image.values_path}.tag"
    fallbacks: set[str] = set()
    told: set[tuple[str, str, Location]] = set()
    for line in chart.tag_lines.get(image.values_path, []):
        action = list(_ACTION.finditer(line.written))[-1].group()
        words = _TOKEN.findall(action.strip("{}-"))
        fallback = _default_of(words)
        if fallback is None:
            return image  # a line that prints the empty tag as it is
        fallbacks.add(fallback)
        if defaults is not None and not line.dot:
            scope = _defaults_scope(_Scope("", "", {}), defaults)
            scope = replace(
                scope,
                values={**scope.values, tag_path: ""},
                truth={**scope.truth, tag_path: False},
            )
            value = _evaluate(action.strip("{}-"), scope)
            source = _tag_source(line, defaults, value.printed or "") if value else None
            if source is not None:
                told.add(source)
    if len(told) == 1 and len(fallbacks) == 1:
        path, tag, where = next(iter(told))
        fallen = _tagged(
            image,
            tag,
            f"the tag is `{path}: {tag}` ({where}), which the templates use while "
            f"`{tag_path}` is empty",
        )
        if fallen is not None:
            return fallen
    if len(fallbacks) != 1:
        return image
    fallback = next(iter(fallbacks))
    return replace(
        image,
        unresolved=f"`{fallback}` (the tag is empty)",
        note=f"chart default tag is empty: the templates fall back to `{fallback}`",
        tag_fallback=fallback,
    )


def _default_of(words: list[str]) -> str | None:
    """The fallback of a pipeline's ``default``, as written: ``.Values.defaultTag`` of
    ``.Values.image.tag | default .Values.defaultTag`` or of ``default .Values.defaultTag
    .Values.image.tag``; ``None`` without one."""
    if words[:1] == ["default"] and len(words) >= 3:
        return words[1]
    for index, word in enumerate(words[:-1]):
        if word == "|" and words[index + 1] == "default" and index + 2 < len(words):
            return words[index + 2]
    return None


def _built_from_more(image: HelmImage, chart: _ChartTemplates, facts: FactSet) -> HelmImage:
    """``image`` as its templates build it from more than its values, if one does.

    A registry before the mapping (``ghcr.io/{{ .Values.image.repository }}:{{ … }}``, ``{{
    .Values.imageRegistry }}/…``) builds one image, rendered from the values: that is the
    image, pinned through the tag as the mapping's own would be. Anything else (a value or
    text between the fields, a prefix the values do not tell, lines that build different
    images from one tag) names no image the mapping alone could pin: it is kept as
    ``built_as`` (one service's image in microservices-demo's chart), and no digest written
    into the values pins it. A digest the tag already carries is kept in both.
    """
    lines = chart.tag_lines.get(image.values_path, [])
    if not lines:
        return image
    path = image.values_path
    values = f"{image.chart}/values.yaml" if image.chart else "values.yaml"
    known = {
        **chart.registries.get(values, {}),
        **chart.registries.get(image.location.path, {}),
        **{f"{path}.{key}": value for key, value in image.fields},
        f"{path}.tag": _printed_tag(image),
    }
    built = [(line, how) for line in lines if (how := _builds(line, path, known)) != _OWN]
    if not built or (image.unresolved and all(how == _PREFIXED for _, how in built)):
        return image  # the mapping's own image, or no tag to build one with: pin says so
    rendered = [
        (
            line,
            how,
            readable_name(_from_values(line), image.chart, facts, values=_unset(line, known)),
        )
        for line, how in built
    ]
    images = {as_built for _, _, as_built in rendered}
    more = next((r for r in rendered if r[1] == _MORE or parse_reference(r[2]) is None), None)
    if more is None and len(images) == 1 and len(built) == len(lines):
        line, _, as_built = rendered[0]
        note = f"the image as {line.location} builds it"
        return replace(
            image,
            reference=as_built,
            written=_written_as_built(image, line, known, facts) if image.tag_written else "",
            note=f"{image.note}; {note}" if image.note else note,
        )
    line, _, as_built = more or rendered[0]
    return replace(
        image,
        built_as=as_built,
        built_at=line.location,
        pin_edit=None,
        pin_blocked=f"{line.location} builds the image from more than `{path}` "
        f"(`{line.written}`): a digest in the values would pin no image, or the wrong one",
    )


def _printed_tag(image: HelmImage) -> str:
    """The tag a template prints for a mapping: as written (with the digest written in it),
    as Helm renders an unquoted number, or the ``appVersion`` an empty tag falls back to."""
    if image.tag_rendered:
        return image.tag_rendered
    tag = dict(image.fields).get("tag", "")
    parsed = parse_reference(image.reference) if not tag else None
    return (parsed.tag or "") if parsed is not None else tag


def _from_values(line: HelmTemplateImage) -> str:
    """``line`` as written, its dot's fields named from ``.Values`` (``.tag`` inside ``{{ with
    .Values.image }}`` is ``.Values.image.tag``) so that :func:`readable_name` renders them."""
    if not line.dot:
        return line.written

    def named(field: re.Match[str]) -> str:
        if field.group(1).split(".", 1)[0] in _BUILTIN_OBJECTS:
            return field.group()
        return f".Values.{line.dot}.{field.group(1)}"

    return _ACTION.sub(lambda action: _DOT_FIELD.sub(named, action.group()), line.written)


def _unset(line: HelmTemplateImage, known: dict[str, str]) -> dict[str, str]:
    """``known`` with each ``global.`` value ``line`` reads and no values file sets as empty:
    the parent chart's override, unset here (a ``| default`` after it applies)."""
    unset = {p: "" for p in line.values_paths if p.startswith("global.") and p not in known}
    return {**known, **unset} if unset else known


def _written_as_built(
    image: HelmImage, line: HelmTemplateImage, known: dict[str, str], facts: FactSet
) -> str:
    """The image ``line`` builds with the tag as written, not as Helm renders it."""
    written = {**known, f"{image.values_path}.tag": image.tag_written}
    return readable_name(_from_values(line), image.chart, facts, values=_unset(line, written))


def _judged_tag(
    image: HelmImage, chart: _ChartTemplates, app_versions: dict[str, HelmChart]
) -> HelmImage:
    """``image`` with the tag the templates fall back to, and the pin edit they allow."""
    if image.sha and f"{image.values_path}.sha" not in chart.image_paths:
        # no template appends ``@sha256:{{ .sha }}``: the image runs by its tag
        unpinned = image.reference.removesuffix(f"@sha256:{image.sha}")
        unresolved = "" if ":" in unpinned.rpartition("/")[2] else _EMPTY_TAG
        image = replace(image, reference=unpinned, sha="", unresolved=unresolved)
    if image.unresolved and f"{image.values_path}.tag" in chart.app_version_paths:
        image = _with_app_version(image, app_versions.get(image.chart))
    return _helm_pin_edit(image, chart)


def _with_app_version(image: HelmImage, chart: HelmChart | None) -> HelmImage:
    """An image whose empty tag the templates replace by the chart's ``appVersion``.

    The digest then goes into the tag as ``<appVersion>@sha256:…``: ``.Values.<path>.tag``
    wins over the ``default``, so the rendered image is ``repo:<appVersion>@sha256:…``.
    """
    if chart is None or chart.app_version is None:
        return image
    shown = f"{chart.chart}/Chart.yaml" if chart.chart else "Chart.yaml"
    fallen = _tagged(
        image,
        chart.app_version,
        f"the tag is the appVersion of {shown}, which the templates use while "
        f"`{image.values_path}.tag` is empty",
    )
    return image if fallen is None else fallen


def _tagged(image: HelmImage, tag: str, note: str) -> HelmImage | None:
    """``image`` at the ``tag`` its templates print while its own is empty, the digest
    going into its tag after it (``.Values.<path>.tag`` wins over the ``default``, so the
    rendered image is ``repo:<tag>@sha256:…``); ``None`` when that is no reference."""
    reference = f"{image.reference}:{tag}"
    if parse_reference(reference) is None:
        return None
    edit = image.tag_edit
    return replace(
        image,
        reference=reference,
        unresolved="",
        note=note,
        tag_edit=replace(edit, before=f"{edit.before}{tag}@") if edit else None,
    )


def _helm_pin_edit(image: HelmImage, chart: _ChartTemplates | None) -> HelmImage:
    path = image.values_path
    if image.value_start >= 0:  # ``image: repo:tag``, one string
        if chart is not None and (
            path not in chart.whole_paths
            or path in chart.other_image_paths
            or chart.printed_elsewhere(path)
        ):
            return replace(
                image,
                pin_edit=None,
                pin_blocked=f"the chart's templates do not use `{path}` only as a whole image",
            )
        return image
    if chart is None and image.tag_rendered:
        return _misrendered(image)
    if chart is None:
        return replace(
            image,
            pin_blocked="the chart's templates are not in the repository, so whether they "
            f"read `{path}.digest` or join `repository:tag` cannot be known",
        )
    digest, tag = f"{path}.digest", f"{path}.tag"
    if image.tag_rendered and tag not in chart.image_paths:
        image = replace(image, tag_written="", tag_rendered="")  # no template prints it
    if image.tag_rendered:
        return _misrendered(image)
    if digest in chart.image_paths and image.digest_edit is not None:
        return replace(image, pin_edit=image.digest_edit)
    if (
        tag in chart.tag_paths
        and tag not in chart.other_image_paths
        and not chart.printed_elsewhere(tag)
        and image.tag_edit is not None
    ):
        return replace(image, pin_edit=image.tag_edit)
    return replace(
        image,
        pin_blocked=f"the chart's templates neither read `{digest}` nor end the image with "
        f"`:{{{{ .Values.{tag} }}}}` alone (a tag printed elsewhere, a label say, cannot "
        "hold a digest)",
    )


def _misrendered(image: HelmImage) -> HelmImage:
    """``image`` judged by the tag Helm renders (``repo:1`` for ``tag: 1.0``), not pinnable."""
    if "@" in image.reference:
        return replace(image, tag_written="", tag_rendered="")  # the digest decides
    written = image.reference
    rendered = written[: len(written) - len(image.tag_written)] + image.tag_rendered
    return replace(
        image,
        reference=rendered,
        written=written,
        pin_edit=None,
        pin_blocked="Helm renders the unquoted tag otherwise",
    )


def unused_helm_images(facts: FactSet) -> set[HelmImage]:
    """Values images that :func:`judged_image_uses` leaves out: no template uses them."""
    kept = {
        (use.location, use.values_path)
        for use in judged_image_uses(facts)
        if isinstance(use, HelmImage)
    }
    return {
        image for image in facts.of(HelmImage) if (image.location, image.values_path) not in kept
    }


# ---------------------------------------------------------------------------------------------
# Names as a person reads them


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\S+')
_FORMAT_VERB = re.compile(r"%[-+# 0-9.]*[svdq]")
# How deep ``include`` may go inside ``include``: a helper naming itself cannot loop.
_INCLUDE_DEPTH = 5


@dataclass(frozen=True)
class _Scope:
    chart_name: str
    release: str
    templates: dict[str, str]
    indent: bool = False
    """Apply ``indent``/``nindent`` filters (rendering YAML blocks, not names)."""
    values: dict[str, str] = field(default_factory=dict)
    """What some ``.Values`` paths hold, by path without ``.Values.``."""
    truth: dict[str, bool] = field(default_factory=dict)
    """Whether a ``.Values`` path is true for ``{{ if }}`` and ``default``, where that is not
    whether it prints something (``false``, ``0``, a mapping)."""
    complete: bool = False
    """``values`` holds every value of the values file: a path it lacks is unset (nil)."""


def readable_name(
    written: str,
    chart: str,
    facts: FactSet,
    release: str = "",
    values: dict[str, str] | None = None,
    defaults: HelmValues | None = None,
) -> str:
    """A templated name (``{{ include "shop.fullname" . }}-migrate``) as a person reads it.

    ``.Release.Name`` becomes ``release`` (``<release>`` when unknown), ``.Chart.Name`` the
    chart's name, ``.Values.x`` ``<.Values.x>``; an ``include``/``template`` of a helper the
    chart defines without conditions is replaced by what it renders (``<release>-shop``), any
    other by ``<helper name>``; ``printf`` is applied, and the filters of a pipeline
    (``| trunc 63``) are left out. What cannot be told reads ``<…>``: never a raw ``{{ }}``.
    ``values`` gives what some ``.Values`` paths hold (``{"image.tag": "2.4"}``); a
    ``default`` applies where such a value is empty, and a ``default "x" .Values.y`` reads
    ``x`` unless ``y`` is known. An ``{{ if }}`` whose condition they tell (``{{ if
    .Values.global.registry }}…{{ end }}``) prints its branch taken, as Helm does. With
    ``defaults`` (the chart's ``values.yaml``), the values are all of those: a path it does
    not set is unset, printed as nothing.
    """
    text = written.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if "{{" not in text:
        return text
    chart_name = next((c.name for c in facts.of(HelmChart) if c.chart == chart), "")
    templates = {t.name: t.body for t in facts.of(HelmNamedTemplate) if t.chart == chart}
    scope = _Scope(chart_name or "<chart>", release or "<release>", templates, values=values or {})
    if defaults is not None:
        scope = _defaults_scope(scope, defaults)
    return _render(text, scope, 0)


def _defaults_scope(scope: _Scope, defaults: HelmValues) -> _Scope:
    """``scope`` telling every value of ``defaults``, and nothing else, as set."""
    return replace(
        scope,
        values={path: printed for path, printed, _, _ in defaults.values if printed is not None},
        truth={path: true for path, _, true, _ in defaults.values},
        complete=True,
    )


# How an open block renders: its taken branch, a branch not taken, a branch after the taken
# one, a block inside one not rendered, or a block whose condition cannot be told (rendered
# whole with ``<…>`` for its actions, as before conditions were read).
_ON, _OFF, _DONE, _SKIPPED, _UNTOLD = "on", "off", "done", "skipped", "untold"


def _render(text: str, scope: _Scope, depth: int) -> str:
    out = ""
    position = 0
    trim_next = False
    blocks: list[str] = []
    for action in _ACTION.finditer(text):
        literal = text[position : action.start()]
        literal = literal.lstrip() if trim_next else literal
        shown = all(b in (_ON, _UNTOLD) for b in blocks)
        if shown:
            out += literal.rstrip() if action.group().startswith("{{-") else literal
        words = action.group()[2:-2].strip("-").strip()
        block = _block_step(words, blocks, scope)
        if block is None and shown:
            out += _render_action(words, scope, depth)
        elif block:
            out += block
        trim_next = action.group().endswith("-}}")
        position = action.end()
    tail = text[position:] if all(b in (_ON, _UNTOLD) for b in blocks) else ""
    return out + (tail.lstrip() if trim_next else tail)


def _block_step(words: str, blocks: list[str], scope: _Scope) -> str | None:
    """Follow ``{{ if }}``/``{{ else }}``/``{{ end }}`` in ``blocks``: what the action prints
    (``""``, or ``<…>`` for an untold one), ``None`` for an action that is no ``if`` block's.

    A condition is told by :func:`_evaluate` from the values; ``with``, ``range`` and
    ``define`` blocks are untold, as are the blocks of a condition it cannot tell."""
    head, _, rest = words.partition(" ")
    rendered = all(b in (_ON, _UNTOLD) for b in blocks)
    if head in _BLOCK_WORDS:
        if not rendered:
            blocks.append(_SKIPPED)
            return ""
        truth = _truth(rest, scope) if head == "if" else None
        blocks.append(_UNTOLD if truth is None else _ON if truth else _OFF)
        return None if truth is None else ""
    if head not in ("else", "end") or not blocks:
        return None
    if head == "end":
        return None if blocks.pop() == _UNTOLD else ""
    state = blocks[-1]
    if state in (_SKIPPED, _UNTOLD):
        return None if state == _UNTOLD else ""
    if state in (_ON, _DONE):
        blocks[-1] = _DONE
        return ""
    branch, _, condition = rest.partition(" ")  # ``else if …``
    truth = _truth(condition, scope) if branch == "if" else True if not rest else None
    blocks[-1] = _UNTOLD if truth is None else _ON if truth else _OFF
    return "<…>" if truth is None else ""


@dataclass(frozen=True)
class _Value:
    """A value of a template expression: what it prints (``None``: a mapping or list,
    printed as no name is) and whether it is true (``{{ if }}``, ``default``)."""

    printed: str | None
    true: bool


_EXPRESSION_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|[()|]|[^\s()|]+')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _truth(expression: str, scope: _Scope) -> bool | None:
    value = _evaluate(expression, scope)
    return None if value is None else value.true


def _evaluate(expression: str, scope: _Scope) -> _Value | None:
    """The value of a template pipeline from what ``scope`` tells; ``None`` when it cannot
    be told. Knows values paths, literals, parentheses, ``|`` and the functions ``not``,
    ``eq``, ``ne``, ``and``, ``or``, ``default``, ``empty``, ``contains``; any other (an
    ``include``, ``.Chart``, a variable) is untold."""
    tokens = _EXPRESSION_TOKEN.findall(expression)
    value, end = _pipeline(tokens, 0, scope)
    return value if end == len(tokens) else None


def _pipeline(tokens: list[str], index: int, scope: _Scope) -> tuple[_Value | None, int]:
    value, index = _command(tokens, index, scope, None)
    while index < len(tokens) and tokens[index] == "|":
        value, index = _command(tokens, index + 1, scope, value)
    return value, index


def _command(
    tokens: list[str], index: int, scope: _Scope, piped: _Value | None
) -> tuple[_Value | None, int]:
    """One command: a function and its arguments (``piped``, the value before ``|``, last),
    or one operand. ``None`` when a part of it cannot be told."""
    words: list[str] = []
    arguments: list[_Value | None] = []
    while index < len(tokens) and tokens[index] not in ("|", ")"):
        if tokens[index] == "(":
            value, index = _pipeline(tokens, index + 1, scope)
            if index >= len(tokens) or tokens[index] != ")":
                return None, len(tokens) + 1
            words.append("()")
            arguments.append(value)
        else:
            words.append(tokens[index])
            arguments.append(_operand(tokens[index], scope))
        index += 1
    if piped is not None or (words and words[0] in _FUNCTIONS):
        if not words or words[0] not in _FUNCTIONS:
            return None, index
        return _call(words[0], [*arguments[1:], piped] if piped else arguments[1:]), index
    if len(words) != 1:
        return None, index
    return arguments[0], index


def _operand(word: str, scope: _Scope) -> _Value | None:
    if word[:1] in '"`' and len(word) >= 2:
        return _Value(word[1:-1], len(word) > 2)
    if word in ("true", "false"):
        return _Value(word, word == "true")
    if _NUMBER.fullmatch(word):
        return _Value(word, float(word) != 0)
    path = word.removeprefix("$")
    if not path.startswith(".Values."):
        return None
    path = path.removeprefix(".Values.")
    printed = scope.values.get(path)
    true = scope.truth.get(path)
    if printed is None and true is None:
        return _Value("", False) if scope.complete else None
    return _Value(printed, bool(printed) if true is None else true)


def _call(function: str, arguments: list[_Value | None]) -> _Value | None:
    """``function`` applied as Go templates and sprig do; ``None`` when it cannot be told."""
    if function == "default" and len(arguments) == 2:
        fallback, value = arguments
        if value is not None and (value.true or fallback is not None):
            return value if value.true else fallback
        return None
    if function in ("and", "or") and arguments:
        for argument in arguments:  # the first false (and) or true (or) one decides
            if argument is None:
                return None
            if argument.true != (function == "and"):
                return argument
        return arguments[-1]
    if any(argument is None for argument in arguments):
        return None
    known = [a for a in arguments if a is not None]
    if function in ("not", "empty") and len(known) == 1:
        return _boolean(not known[0].true)
    texts = [a.printed for a in known]
    if None in texts or len(texts) < 2:
        return None
    if function == "eq":
        return _boolean(texts[0] in texts[1:])
    if function == "ne" and len(texts) == 2:
        return _boolean(texts[0] != texts[1])
    if function == "contains" and len(texts) == 2:
        return _boolean(str(texts[0]) in str(texts[1]))  # sprig: ``contains substr str``
    return None


def _boolean(value: bool) -> _Value:
    return _Value("true" if value else "false", value)


_FUNCTIONS = frozenset({"not", "empty", "eq", "ne", "and", "or", "default", "contains"})


def _render_action(action: str, scope: _Scope, depth: int) -> str:
    rendered = _render_pipeline_head(action, scope, depth)
    if not scope.indent:
        return rendered
    for step in action.split("|")[1:]:
        words = step.split()
        if len(words) == 2 and words[0] in ("indent", "nindent") and words[1].isdigit():
            pad = " " * int(words[1])
            rendered = pad + rendered.replace("\n", "\n" + pad)
            rendered = "\n" + rendered if words[0] == "nindent" else rendered
    return rendered


def _render_pipeline_head(action: str, scope: _Scope, depth: int) -> str:
    if action.startswith("/*"):
        return ""
    words = _TOKEN.findall(action.split("|", 1)[0])
    if not words:
        return "<…>"
    head, arguments = words[0], words[1:]
    if arguments[:1] in ([":="], ["="]):  # ``$name := …`` sets a variable, prints nothing
        return ""
    evaluated = _evaluate(action, scope)
    if evaluated is not None and evaluated.printed is not None:
        return evaluated.printed
    if head in ("include", "template") and arguments and arguments[0][0] in '"`':
        name = arguments[0][1:-1]
        body = scope.templates.get(name)
        simple = body is not None and not any(
            _first_word(a.group()) in _CONTROL for a in _ACTION.finditer(body)
        )
        if body is not None and simple and depth < _INCLUDE_DEPTH:
            return _render(body, scope, depth + 1)
        return f"<{name}>"
    if head == "printf" and arguments and arguments[0][0] in '"`':
        values = iter([_render_value(a, scope) for a in arguments[1:]])
        return _FORMAT_VERB.sub(lambda _: next(values, "<…>"), arguments[0][1:-1])
    if head == "default" and arguments:
        # ``default "x" .Values.y``: the value when known and set, else the fallback
        value = _render_value(arguments[1], scope) if len(arguments) == 2 else ""
        told = value and not _PLACEHOLDER.fullmatch(value)
        return value if told else _render_value(arguments[0], scope)
    rendered = _render_value(head, scope) if not arguments else "<…>"
    for step in action.split("|")[1:]:
        fallback = _TOKEN.findall(step)
        if rendered == "" and len(fallback) == 2 and fallback[0] == "default":
            rendered = _render_value(fallback[1], scope)  # a known empty value falls back
    return rendered


def _render_value(word: str, scope: _Scope) -> str:
    path = word.lstrip("$")
    if word[:1] in '"`' and len(word) >= 2:
        return word[1:-1]
    if path == ".Release.Name":
        return scope.release
    if path == ".Release.Namespace":
        return "<namespace>"
    if path == ".Chart.Name":
        return scope.chart_name
    if path.startswith(".Values."):
        return scope.values.get(path.removeprefix(".Values."), f"<{path}>")
    return "<…>"


_PLACEHOLDER = re.compile(r"<[^<>\s]*>")
_KNOWN_PLACEHOLDERS = frozenset({"<release>", "<namespace>"})


def rendered_field(written: str, chart: str, facts: FactSet) -> str | None:
    """A field block of a :class:`HelmTemplateWorkload` rendered, as canonical JSON.

    Actions are rendered as :func:`readable_name` does, with ``include … | nindent N``
    indented, so a selector written through ``{{ include "shop.selectorLabels" . }}`` reads
    as the labels the helper prints. ``None`` when the block depends on what cannot be told
    from the chart alone: a value (``.Values.x``), control flow, a helper with conditions.
    The release name and namespace are the same on both sides of a comparison.
    """
    text = written
    if "{{" in written:
        chart_name = next((c.name for c in facts.of(HelmChart) if c.chart == chart), "")
        templates = {t.name: t.body for t in facts.of(HelmNamedTemplate) if t.chart == chart}
        scope = _Scope(chart_name or "<chart>", "<release>", templates, indent=True)
        text = _render(written, scope, 0)
        if any(p not in _KNOWN_PLACEHOLDERS for p in _PLACEHOLDER.findall(text)):
            return None
    import yaml  # on first use, as in _read_template

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        return None
    return canonical_json(next(iter(value.values())))


# ---------------------------------------------------------------------------------------------
# Reader


class HelmReader:
    """``Chart.yaml``, templates, ``crds/`` and values files of Helm charts."""

    name: ClassVar[str] = "helm"

    def wants(self, path: str) -> bool:
        """Chart files, template and CRD files, values files."""
        return is_helm_file(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """The facts of one chart file; templates are read tolerantly and never unreadable."""
        located = chart_of_template(file.path)
        if located is not None:
            return list(_read_template(file, *located))
        documents = yamlfile.yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            return [documents]
        facts: list[Fact] = []
        if file.name == "Chart.yaml":
            for document in documents[:1]:
                facts.append(
                    HelmChart(
                        Location(file.path, 1, 0),
                        _directory(file.path),
                        yamlfile.text_of(yamlfile.get(document, "name")) or "",
                        yamlfile.text_of(yamlfile.get(document, "appVersion")),
                    )
                )
            return facts
        text = file.text() or ""
        for document in documents:
            # The values as the template that merges the defaults leaves them: a default
            # overridden beside them is no image of the chart.
            merged = _with_defaults_merged(text, document)
            facts.extend(_image_uses(file.path, text, _directory(file.path), merged, "", 0))
            if isinstance(document, yamlfile.MappingNode):
                facts.append(
                    HelmValues(
                        Location(file.path, 1, 0),
                        _directory(file.path),
                        tuple(_values_entries(file.path, text, merged, "", 0)),
                    )
                )
        return facts
