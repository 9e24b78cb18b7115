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
them) for the image conventions charts use; templates yield :class:`HelmTemplateImage`
facts naming the ``.Values`` paths their ``image:`` lines use, so that
:func:`unused_helm_images` can tell which values no template uses as an image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import yaml

from backout.imageref import parse_reference
from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.images import ImageUse, scalar_span
from backout.sources.yamlfile import MappingNode, Node, ScalarNode, SequenceNode

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


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
    ``helm rollback`` can delete, with every custom resource of that kind).
    """

    chart: str
    name: str
    in_templates: bool


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


@dataclass(frozen=True)
class HelmResourcePolicy(Fact):
    """``helm.sh/resource-policy`` on a template resource, located at its value (``keep``)."""

    chart: str
    kind: str
    name: str
    policy: str


@dataclass(frozen=True)
class HelmTemplateImage(Fact):
    """An ``image:`` line of a template, located at its value.

    ``values_paths`` are the ``.Values`` paths it reads (``image.repository``,
    ``image.tag``); ``app_version_default`` is True when it falls back to
    ``.Chart.AppVersion`` (``| default .Chart.AppVersion``).
    """

    chart: str
    values_paths: tuple[str, ...]
    app_version_default: bool


@dataclass(frozen=True)
class HelmImage(ImageUse):
    """An image in a chart's values file; ``values_path`` is where (``api.image``).

    Located at the tag value, or at the repository when there is no tag, or at the string
    for ``image: "repo:tag"``. An empty or missing tag is recorded as ``unresolved``: the
    templates decide (usually ``.Chart.AppVersion``).
    """

    chart: str = ""
    values_path: str = ""


_WORKLOAD_KINDS = frozenset(
    {"Job", "Pod", "CronJob", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
)


def chart_of_template(path: str) -> tuple[str, str] | None:
    """``(chart directory, folder)`` for a file under a chart's ``templates/`` or ``crds/``."""
    for folder in ("templates", "crds"):
        if path.startswith(folder + "/"):
            return "", folder
        head, sep, _ = path.rpartition("/" + folder + "/")
        if sep:
            return head, folder
    return None


def _directory(path: str) -> str:
    return path.rpartition("/")[0]


_VALUES_NAME = re.compile(r"values(?:[-._][\w.-]+)?\.ya?ml")


def is_values_file(path: str) -> bool:
    """``values.yaml``, ``values-prod.yaml``, ``values.staging.yaml`` (not inside templates)."""
    return bool(_VALUES_NAME.fullmatch(path.rpartition("/")[2])) and chart_of_template(path) is None


# ---------------------------------------------------------------------------------------------
# Templates


_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def mask_template(text: str) -> str:
    """The template with every ``{{ … }}`` replaced by ``x`` of the same length.

    Newlines inside an action are kept, so line numbers and columns do not move. Lines that
    held only actions and spaces become blank, because an action alone on a line is control
    flow or an ``include``, not a YAML value.
    """
    chars = list(text)
    masked = [False] * len(text)
    for match in _ACTION.finditer(text):
        for i in range(match.start(), match.end()):
            if chars[i] != "\n":
                chars[i] = "x"
                masked[i] = True
    out: list[str] = []
    position = 0
    for line in "".join(chars).split("\n"):
        span = range(position, position + len(line))
        content = [i for i in span if not text[i].isspace()]
        if content and all(masked[i] for i in content):
            out.append(" " * len(line))
        else:
            out.append(line)
        position += len(line) + 1
    return "\n".join(out)


def _raw(text: str, node: Node | None) -> str:
    """The source text of a scalar node, taken from the unmasked template."""
    if not isinstance(node, ScalarNode):
        return ""
    raw = text[node.start_mark.index : node.end_mark.index].strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        raw = raw[1:-1]
    return raw


def _value_location(path: str, node: Node) -> Location:
    location = yamlfile.location(path, node)
    if isinstance(node, ScalarNode) and node.style in ("'", '"'):
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
                items = yamlfile.elements(value) if isinstance(value, SequenceNode) else [value]
                parts.extend(_raw(text, item) for item in items if isinstance(item, ScalarNode))
            return " ".join(p for p in parts if p)
    return ""


def _structured_template(
    file: SourceFile, text: str, chart: str, folder: str, documents: list[Node]
) -> Iterator[Fact]:
    for document in documents:
        kind_node = yamlfile.get(document, "kind")
        kind = _raw(text, kind_node)
        metadata = yamlfile.get(document, "metadata")
        name = _raw(text, yamlfile.get(metadata, "name"))
        if kind == "CustomResourceDefinition" and kind_node is not None:
            yield HelmCrd(
                yamlfile.location(file.path, kind_node), chart, name, folder == "templates"
            )
        if folder != "templates":
            continue
        annotations = yamlfile.get(metadata, "annotations")
        for key, value in yamlfile.items(annotations):
            if key == "helm.sh/hook":
                hooks = tuple(h.strip() for h in _raw(text, value).split(",") if h.strip())
                yield HelmHook(
                    _value_location(file.path, value),
                    chart,
                    kind,
                    name,
                    hooks,
                    kind in _WORKLOAD_KINDS,
                    _first_command(text, yamlfile.get(document, "spec")),
                )
            elif key == "helm.sh/resource-policy":
                yield HelmResourcePolicy(
                    _value_location(file.path, value), chart, kind, name, _raw(text, value)
                )


_KIND_LINE = re.compile(r"^kind:\s*[\"']?(\w+)")
_NAME_LINE = re.compile(r"^  name:\s*(.+?)\s*$")
_ANNOTATION_LINE = re.compile(
    r"^\s+[\"']?(helm\.sh/hook|helm\.sh/resource-policy)[\"']?\s*:\s*[\"']?([^\"'#]*?)[\"']?\s*(#.*)?$"
)


def _scanned_template(file: SourceFile, chart: str, folder: str) -> Iterator[Fact]:
    """Line scan for templates that stay invalid YAML after masking."""
    kind = name = ""
    pending: list[tuple[str, str, Location]] = []

    def flush() -> Iterator[Fact]:
        for key, value, location in pending:
            if key == "helm.sh/hook":
                hooks = tuple(h.strip() for h in value.split(",") if h.strip())
                yield HelmHook(location, chart, kind, name, hooks, kind in _WORKLOAD_KINDS)
            else:
                yield HelmResourcePolicy(location, chart, kind, name, value)
        pending.clear()

    for number, line in enumerate(file.lines(), start=1):
        if line.startswith("---"):
            yield from flush()
            kind = name = ""
            continue
        kind_match = _KIND_LINE.match(line)
        if kind_match:
            kind = kind_match.group(1)
            if kind == "CustomResourceDefinition":
                column = line.index(kind) + 1
                yield HelmCrd(Location(file.path, number, column), chart, "", folder == "templates")
            continue
        name_match = _NAME_LINE.match(line)
        if name_match and not name:
            name = name_match.group(1)
        annotation = _ANNOTATION_LINE.match(line)
        if annotation and folder == "templates":
            column = annotation.start(2) + 1
            pending.append(
                (annotation.group(1), annotation.group(2), Location(file.path, number, column))
            )
    yield from flush()


_IMAGE_LINE = re.compile(r"^\s*(?:-\s+)?image:\s*(\S.*?)\s*$")
_VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][\w-]*)+)")


def _template_images(file: SourceFile, chart: str) -> Iterator[HelmTemplateImage]:
    for number, line in enumerate(file.lines(), start=1):
        match = _IMAGE_LINE.match(line)
        if match is None or "{{" not in match.group(1):
            continue
        value = match.group(1)
        paths = tuple(dict.fromkeys(p.lstrip(".") for p in _VALUES_PATH.findall(value)))
        yield HelmTemplateImage(
            Location(file.path, number, match.start(1) + 1),
            chart,
            paths,
            ".Chart.AppVersion" in value,
        )


def _read_template(file: SourceFile, chart: str, folder: str) -> Iterator[Fact]:
    text = file.text()
    if text is None:
        return
    if folder == "templates":
        yield from _template_images(file, chart)
    if not file.path.endswith((".yaml", ".yml")):
        return  # _helpers.tpl and friends hold named templates, not resources
    try:
        documents = [
            d for d in yaml.compose_all(mask_template(text), Loader=_Loader) if d is not None
        ]
    except (yaml.YAMLError, RecursionError):
        yield from _scanned_template(file, chart, folder)
        return
    yield from _structured_template(file, text, chart, folder, documents)


# ---------------------------------------------------------------------------------------------
# Values


def _is_image_key(key: str) -> bool:
    return key == "image" or key.endswith("Image") or key.endswith("_image")


def _image_uses(path: str, chart: str, node: Node, prefix: str, depth: int) -> Iterator[Fact]:
    if depth > 30:
        return
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _image_uses(path, chart, item, f"{prefix}[{index}]", depth + 1)
        return
    for key, value in yamlfile.items(node):
        values_path = f"{prefix}.{key}" if prefix else key
        if _is_image_key(key) and isinstance(value, MappingNode):
            use = _image_from_mapping(path, chart, value, values_path)
            if use is not None:
                yield use
                continue
        if _is_image_key(key) and isinstance(value, ScalarNode):
            text = yamlfile.text_of(value)
            if text and parse_reference(text) is not None and ("/" in text or ":" in text):
                location, start, end, quote = scalar_span(path, value)
                yield HelmImage(
                    location,
                    text,
                    "helm",
                    f"values `{values_path}`",
                    value_start=start,
                    value_end=end,
                    quote=quote,
                    chart=chart,
                    values_path=values_path,
                )
            continue
        yield from _image_uses(path, chart, value, values_path, depth + 1)


def _image_from_mapping(
    path: str, chart: str, image: MappingNode, values_path: str
) -> HelmImage | None:
    """``{registry?, repository, tag?, digest?}`` — the convention of ``helm create``."""
    repository_node = yamlfile.get(image, "repository") or yamlfile.get(image, "name")
    repository = yamlfile.text_of(repository_node)
    if not repository or repository_node is None:
        return None
    registry = yamlfile.text_of(yamlfile.get(image, "registry"))
    tag_node = yamlfile.get(image, "tag")
    tag = yamlfile.text_of(tag_node)
    digest = yamlfile.text_of(yamlfile.get(image, "digest"))
    name = f"{registry.rstrip('/')}/{repository}" if registry else repository
    reference = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    anchor = tag_node if tag else repository_node
    assert isinstance(anchor, ScalarNode)
    location, _, _, _ = scalar_span(path, anchor)
    unresolved = note = ""
    if not tag and not digest:
        unresolved = "`.Chart.AppVersion` (the tag is empty)"
        note = "chart default tag is empty: the templates usually fall back to .Chart.AppVersion"
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
    )


def unused_helm_images(facts: FactSet) -> set[HelmImage]:
    """Values images that no ``image:`` line of their chart's templates reads.

    Only charts whose templates were read and name ``.Values`` paths in ``image:`` lines are
    judged; for the others every values image counts (the templates are out of sight).
    """
    used: dict[str, set[str]] = {}
    for template_image in facts.of(HelmTemplateImage):
        used.setdefault(template_image.chart, set()).update(template_image.values_paths)
    unused: set[HelmImage] = set()
    for image in facts.of(HelmImage):
        paths = used.get(image.chart)
        if not paths:
            continue
        prefix = image.values_path
        if not any(p == prefix or p.startswith(prefix + ".") for p in paths):
            unused.add(image)
    return unused


# ---------------------------------------------------------------------------------------------
# Reader


class HelmReader:
    """``Chart.yaml``, templates, ``crds/`` and values files of Helm charts."""

    name: ClassVar[str] = "helm"

    def wants(self, path: str) -> bool:
        """Chart files, template and CRD files, values files."""
        name = path.rpartition("/")[2]
        if name == "Chart.yaml":
            return True
        located = chart_of_template(path)
        if located is not None:
            return name.endswith((".yaml", ".yml", ".tpl"))
        return is_values_file(path)

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
        for document in documents:
            facts.extend(_image_uses(file.path, _directory(file.path), document, "", 0))
        return facts
