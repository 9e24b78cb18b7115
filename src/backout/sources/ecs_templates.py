"""Amazon ECS task definitions in CloudFormation and Terraform templates: each container's image.

- CloudFormation templates, YAML (short-form tags such as ``!Sub`` included) or JSON, as
  written by hand, by SAM or by ``cdk synth``: resources of ``Type: AWS::ECS::TaskDefinition``,
  ``Properties.ContainerDefinitions[].Image``.
- Terraform: ``resource "aws_ecs_task_definition"`` whose ``container_definitions`` is
  ``jsonencode([{ image = "…" }])`` or a JSON heredoc (``<<EOF [ {"image": …} ] EOF``).

An image written as a literal is an :class:`ImageUse` like one in a task definition JSON
file (``source="ecs"``), located at the string, which ``backout pin --write`` extends with
the digest. An image the template computes is read only as far as the file tells, and
``pin`` never writes into it:

- its parts that the template itself gives count as written: literal text, the literal
  ``Default`` of a CloudFormation parameter (``!Ref ImageUri``, ``${Tag}`` in a ``!Sub``,
  ``{"Ref": …}``; not an ``AWS::SSM::Parameter::Value<…>`` parameter, whose default names
  an SSM parameter), the literal values of a ``!Sub`` variable map, ``!Join``/``Fn::Join``
  of such parts. ``note`` names the defaults used (a deploy may override them);
- a part only the deployment knows (``${AWS::AccountId}``, ``!GetAtt Repo.RepositoryUri``,
  ``!ImportValue``, a parameter without a default, Terraform's ``${var.image}`` or
  ``${aws_ecr_repository.app.repository_url}``) is unknown. When every unknown part comes
  before the tag, the tag is still the file's: ``!Sub "${Repo}:latest"`` and
  ``"${aws_ecr_repository.app.repository_url}:latest"`` run ``latest`` whatever the
  repository is, ``${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/app`` runs no tag
  at all (:attr:`ImageUse.known`). When an unknown part may set the tag (``!Ref ImageUri``
  with no default, ``${Repo}:${Tag}``, ``var.image``, a ``%{ if }`` directive), nothing is
  claimed: no fact is made.

A ``container_definitions = file("…")`` or ``templatefile("…")`` whose path the file gives
is read as Terraform reads it: ``${path.module}/…`` from the ``.tf`` file's directory;
``${path.root}/…``, ``./…`` or a plain relative path from the root module's directory (where
Terraform runs), which is the ``.tf`` file's own unless a ``module`` block of the tree calls
its directory (``source = "./modules/svc"``), and then that of each root module up the calls.
It is read once every file is (:func:`link_container_files`): that file holds only the
container list, no task definition the JSON reader recognises. Its images are located in it; a
``templatefile``'s ``${…}`` are unknown parts, a ``file()``'s are text. Terraform variables
are not followed to their defaults (no other Terraform value is).

``cdk synth`` writes an image built from the app's Dockerfile as
``…/cdk-<qualifier>-container-assets-<account>-<region>:<64-hex asset hash>``: the CDK
bootstrap stack creates that repository with immutable tags, so no claim is made about it,
whether the image is written as a literal or computed. An ``Image`` that is no string
(``Image: 42``) is no image: no claim either.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from backout.imageref import parse_reference
from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, FactSet, SourceFile, Unreadable
from backout.sources.ecs import SOURCE
from backout.sources.images import (
    BLOCK_SCALAR,
    ImageUse,
    KnownTag,
    PinEdit,
    scalar_span,
    scalar_suffix_edit,
    suffix_edit,
)
from backout.sources.paths import is_ecs_template, is_manifest
from backout.sources.policytext import (
    Node,
    PolicyTextError,
    heredoc_json,
    parse_json,
    terraform_blocks,
    text_value,
)

if TYPE_CHECKING:
    from backout.discovery import Tree

_CFN_TYPE = "AWS::ECS::TaskDefinition"
_TF_TYPE = "aws_ecs_task_definition"
_ESCAPED = "it is written with escapes, which pin does not rewrite"
_COMPUTED = (
    "the template computes it ({how}); pin writes only into a literal image, so write the "
    "digest where its parts are set, by hand"
)
# ``${Name}`` in a ``!Sub`` (``${!Literal}`` is the text ``${Literal}``)
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^{}]*)\}")
# The repository of the CDK bootstrap stack, ``cdk-<qualifier>-container-assets-<account>-
# <region>`` (the bootstrap template's qualifier pattern is ``[A-Za-z0-9_-]{1,10}``; ECR names
# are lower case): ``x`` stands for an account or region only the deployment knows.
_CDK_ASSETS = re.compile(
    r"cdk-[a-z0-9_-]{1,10}-container-assets-(?:[0-9]{12}|x)-(?:[a-z]{2}(?:-[a-z]+)+-[0-9]+|x)"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
# A template's top-level ``Resources`` (YAML) or its key (JSON): a file that does not parse is
# reported only when it is plainly a template.
_CFN_RESOURCES = re.compile(r'^Resources[ \t]*:|"Resources"[ \t\r\n]*:', re.MULTILINE)
# What makes the manifest reader report a broken YAML file itself (see its docstring).
_MANIFEST_LINE = re.compile(r"^(?:apiVersion|kind)\s*:", re.MULTILINE)


@dataclass(frozen=True)
class _Part:
    """A piece of a computed image: literal ``text``, or ``unknown`` (what sets it, as
    written) when only the deployment knows it. ``default_of`` names the parameter whose
    ``Default`` gave ``text``."""

    text: str = ""
    unknown: str = ""
    default_of: str = ""


class EcsTemplateReader:
    """Reads ECS task definitions in CloudFormation and Terraform templates into
    :class:`ImageUse` facts (``source="ecs"``, context ``TaskDefinition/<family>``, the
    family being the ``Family``/``family`` literal or else the resource's name)."""

    name: ClassVar[str] = "ECS task definition template"

    def wants(self, path: str) -> bool:
        """Terraform files, YAML, JSON and ``.template`` files (told apart by content)."""
        return is_ecs_template(path)

    def read(self, file: SourceFile) -> Iterable[Fact]:
        """One fact per container image, or an :class:`Unreadable` for a template that
        cannot be parsed."""
        text = file.text()
        if text is None:
            return []
        if file.path.endswith(".tf"):
            if _TF_TYPE not in text and _MODULE_BLOCK.search(text) is None:
                return []
            return list(_terraform(file, text))
        if _CFN_TYPE not in text:
            return []
        return list(_cloudformation(file, text))


# --- CloudFormation --------------------------------------------------------------------------


def _cloudformation(file: SourceFile, text: str) -> Iterator[Fact]:
    documents = yamlfile.yaml_documents(file, "CloudFormation template")
    if isinstance(documents, Unreadable):
        if _CFN_RESOURCES.search(text) is None:
            return  # it names the type without being a template (docs, a Helm template)
        if file.path.endswith(".json"):
            reason = documents.reason.replace("invalid YAML", "invalid JSON", 1)
            yield Unreadable(documents.location, documents.reader, reason)
        elif not (is_manifest(file.path) and _MANIFEST_LINE.search(text)):
            yield documents  # else the manifest reader reports it
        return
    for document in documents:
        parameters = {
            name: value for name, _, value in yamlfile.entries(yamlfile.get(document, "Parameters"))
        }
        for logical_id, _, resource in yamlfile.entries(yamlfile.get(document, "Resources")):
            if yamlfile.text_of(yamlfile.get(resource, "Type")) != _CFN_TYPE:
                continue
            properties = yamlfile.get(resource, "Properties")
            family = _literal(yamlfile.get(properties, "Family")) or logical_id
            containers = yamlfile.get(properties, "ContainerDefinitions")
            for container in yamlfile.elements(containers):
                image = yamlfile.get(container, "Image")
                if image is None:
                    continue
                name = _literal(yamlfile.get(container, "Name")) or "?"
                context = f"TaskDefinition/{family} container {name}"
                use = _cfn_image(file, text, image, parameters, context)
                if use is not None:
                    yield use


def _literal(node: yamlfile.Node | None) -> str | None:
    """A scalar written without a tag (``!Ref x`` is no literal ``x``)."""
    if not isinstance(node, yamlfile.ScalarNode) or node.tag.startswith("!"):
        return None
    return yamlfile.text_of(node)


def _cfn_image(
    file: SourceFile,
    text: str,
    image: yamlfile.Node,
    parameters: dict[str, yamlfile.Node],
    context: str,
) -> ImageUse | None:
    literal = _literal(image)
    if literal is not None and isinstance(image, yamlfile.ScalarNode):
        if not literal or not isinstance(yamlfile.scalar(image), str):
            return None  # `Image: 42`: no image, nor anything the template can make one of
        location, start, end, quote = scalar_span(file.path, text, image)
        blocked = _ESCAPED if file.path.endswith(".json") else BLOCK_SCALAR
        edit = scalar_suffix_edit(text, image)
        return _literal_use(location, literal, context, (start, end, quote), edit, blocked)
    # Point at the template string of a Sub, else at the intrinsic function itself.
    at = _sub_template(image) or image
    if isinstance(at, yamlfile.ScalarNode):
        location = scalar_span(file.path, text, at)[0]
    else:
        location = yamlfile.location(file.path, at)
    parts = _cfn_parts(text, image, parameters)
    template = _sub_template(image)
    written = str(template.value) if template is not None else _shown(text, image)
    return computed_use(location, parts, written, context, "a CloudFormation intrinsic function")


def _sub_template(node: yamlfile.Node) -> yamlfile.ScalarNode | None:
    """The template string of a ``!Sub``/``Fn::Sub`` (either form)."""
    function, argument = _intrinsic(node)
    if function != "Fn::Sub" or argument is None:
        return None
    if isinstance(argument, yamlfile.SequenceNode) and argument.value:
        argument = argument.value[0]
    return argument if isinstance(argument, yamlfile.ScalarNode) else None


def _intrinsic(node: yamlfile.Node | None) -> tuple[str, yamlfile.Node | None]:
    """``("Fn::Sub", argument)`` for ``!Sub …`` or ``{"Fn::Sub": …}``, ``("Ref", …)`` for a
    reference; ``("", None)`` for anything else."""
    if node is None:
        return "", None
    tag = str(node.tag)
    if tag.startswith("!") and tag != "!":
        name = tag[1:]
        return (name if name == "Ref" else f"Fn::{name}"), node
    if isinstance(node, yamlfile.MappingNode) and len(node.value) == 1:
        key, value = node.value[0]
        key_text = yamlfile.text_of(key) or ""
        if key_text == "Ref" or key_text.startswith("Fn::"):
            return key_text, value
    return "", None


def _shown(text: str, node: yamlfile.Node) -> str:
    """A node's source text on one line, shortened: how a part is named in messages."""
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, yamlfile.ScalarNode) and not str(node.tag).startswith("!"):
        return str(node.value)
    shown = " ".join(text[start:end].split())
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _parameter(name: str, shown: str, parameters: dict[str, yamlfile.Node]) -> _Part:
    """A parameter's literal ``Default``, or the parameter as an unknown part."""
    parameter = parameters.get(name)
    kind = _literal(yamlfile.get(parameter, "Type")) or ""
    default = _literal(yamlfile.get(parameter, "Default"))
    if default is None or kind.startswith("AWS::SSM::Parameter::Value"):
        return _Part(unknown=shown)
    line = yamlfile.get(parameter, "Default")
    where = f" (line {line.start_mark.line + 1})" if line is not None else ""
    return _Part(default, default_of=f"`{name}`{where}")


def _cfn_parts(
    text: str, node: yamlfile.Node, parameters: dict[str, yamlfile.Node], depth: int = 0
) -> list[_Part]:
    literal = _literal(node)
    if literal is not None:
        return [_Part(literal)]
    function, argument = _intrinsic(node)
    shown = _shown(text, node)
    if depth > 8 or argument is None:
        return [_Part(unknown=shown)]
    if function == "Ref":
        name = yamlfile.text_of(argument) if isinstance(argument, yamlfile.ScalarNode) else None
        return [_parameter(name, shown, parameters) if name else _Part(unknown=shown)]
    if function == "Fn::Sub":
        variables: dict[str, yamlfile.Node] = {}
        template = argument
        if isinstance(argument, yamlfile.SequenceNode) and len(argument.value) == 2:
            template = argument.value[0]
            variables = {key: value for key, _, value in yamlfile.entries(argument.value[1])}
        if not isinstance(template, yamlfile.ScalarNode):
            return [_Part(unknown=shown)]
        return _sub_parts(str(template.value), variables, text, parameters, depth)
    if function == "Fn::Join" and isinstance(argument, yamlfile.SequenceNode):
        delimiter, items = [*argument.value, None, None][:2]
        separator = _literal(delimiter) if delimiter is not None else None
        if separator is None or not isinstance(items, yamlfile.SequenceNode):
            return [_Part(unknown=shown)]
        parts: list[_Part] = []
        for index, item in enumerate(items.value):
            if index:
                parts.append(_Part(separator))
            parts.extend(_cfn_parts(text, item, parameters, depth + 1))
        return parts
    return [_Part(unknown=shown)]


def _sub_parts(
    template: str,
    variables: dict[str, yamlfile.Node],
    text: str,
    parameters: dict[str, yamlfile.Node],
    depth: int,
) -> list[_Part]:
    parts: list[_Part] = []
    position = 0
    for match in _SUB_VARIABLE.finditer(template):
        parts.append(_Part(template[position : match.start()]))
        position = match.end()
        name = match.group(2).strip()
        if match.group(1):
            parts.append(_Part("${" + match.group(2) + "}"))
        elif name in variables:
            parts.extend(_cfn_parts(text, variables[name], parameters, depth + 1))
        elif "." not in name and not name.startswith("AWS::"):
            parts.append(_parameter(name, match.group(), parameters))
        else:
            parts.append(_Part(unknown=match.group()))
    parts.append(_Part(template[position:]))
    return [part for part in parts if part.text or part.unknown]


# --- the images ------------------------------------------------------------------------------


def _literal_use(
    location: Location,
    reference: str,
    context: str,
    span: tuple[int, int, str],
    edit: PinEdit | None,
    blocked: str,
) -> ImageUse | None:
    """An image written as a literal: ``span`` is its start, end and quote in the file;
    ``blocked`` says why pin cannot write there when ``edit`` is ``None``. ``None`` for a
    CDK asset (:func:`_cdk_asset`)."""
    start, end, quote = span
    parsed = parse_reference(reference)
    if parsed is not None and _cdk_asset(parsed.repository, parsed.tag):
        return None
    return ImageUse(
        location,
        reference=reference,
        source=SOURCE,
        context=context,
        value_start=start,
        value_end=end,
        quote=quote,
        pin_edit=edit,
        pin_blocked="" if edit is not None else blocked,
    )


def computed_use(
    location: Location, parts: Sequence[_Part], written: str, context: str, how: str
) -> ImageUse | None:
    """The :class:`ImageUse` of an image made of ``parts``, or ``None`` when the file does
    not tell its tag."""
    unknown = [part.unknown for part in parts if part.unknown]
    defaults = tuple(dict.fromkeys(part.default_of for part in parts if part.default_of))
    blocked = _COMPUTED.format(how=how)
    if not unknown:
        reference = "".join(part.text for part in parts)
        if not reference:
            return None
        note = ""
        if defaults:
            names = ", ".join(defaults)
            note = f"Default of parameter{'s' if len(defaults) > 1 else ''} {names}"
        return ImageUse(
            location,
            reference=reference,
            source=SOURCE,
            context=context,
            note=note,
            written=written if written != reference else "",
            pin_blocked=blocked,
        )
    last = max(index for index, part in enumerate(parts) if part.unknown)
    suffix = "".join(part.text for part in parts[last + 1 :])
    stand_in = "".join(part.text if not part.unknown else "x" for part in parts)
    parsed = parse_reference(stand_in)
    if parsed is None or not _decided_by(suffix, parsed.tag, parsed.digest):
        return None
    if _cdk_asset(parsed.repository, parsed.tag):
        return None
    shown_defaults = tuple(f"parameter {name}" for name in defaults)
    return ImageUse(
        location,
        reference=written,
        source=SOURCE,
        context=context,
        written=written,
        unresolved=", ".join(dict.fromkeys(unknown)),
        pin_blocked=blocked,
        known=KnownTag(parsed, shown_defaults, tuple(dict.fromkeys(unknown))),
    )


def _cdk_asset(repository: str, tag: str | None) -> bool:
    """True for an image ``cdk synth`` writes for a ``DockerImageAsset``: the bootstrap
    stack's container assets repository (its tags are immutable) and the asset hash, the
    sha256 of the asset's source, as the tag."""
    name = repository.rpartition("/")[2]
    return tag is not None and bool(_HEX64.fullmatch(tag) and _CDK_ASSETS.fullmatch(name))


def _decided_by(suffix: str, tag: str | None, digest: str | None) -> bool:
    """True when the literal ``suffix`` after the last unknown part holds the reference's tag
    and digest: no unknown part can change them. An untagged reference needs the last ``/``
    of its name in the suffix (an unknown last name component may carry a tag)."""
    name = suffix.partition("@")[0]
    if digest is not None:
        return "@" in suffix
    if tag is not None:
        return name.endswith(f":{tag}") and "/" not in name[name.rfind(":") :]
    return "/" in name


# --- Terraform -------------------------------------------------------------------------------

_FILE_CALLS = ("file", "templatefile")
# What a path given to file()/templatefile() may start with: the module's own directory, or
# the root module's (``${path.cwd}``, ``./`` and a plain relative path: where Terraform runs)
_PATH_MODULE = re.compile(r"^\$\{path\.module\}/")
_PATH_ROOT = re.compile(r"^(?:\$\{path\.(?:root|cwd)\}/|\./)")
# A ``module`` block, whose ``source`` may name a directory of the tree (a child module)
_MODULE_BLOCK = re.compile(r'^[ \t]*module[ \t]+"', re.MULTILINE)


@dataclass(frozen=True)
class EcsContainersFile(Fact):
    """A Terraform ``container_definitions = file("…")`` (or ``templatefile``): ``written`` is
    the path it reads as the call gives it, past ``${path.module}/``, ``${path.root}/`` or
    ``./``, and ``family`` the task definition's. ``from_root`` is true when Terraform reads
    it from the root module's directory (``${path.root}``, ``${path.cwd}``, a relative path),
    false for the directory of the module that holds the call (``${path.module}``): the two
    differ in a child module (:func:`container_file_paths`). ``location`` is the call. The
    file is read once every file is (:func:`link_container_files`): no reader knows it for
    what it is, a bare list of containers."""

    written: str
    family: str
    template: bool
    from_root: bool = False


@dataclass(frozen=True)
class TerraformModuleCall(Fact):
    """A ``module`` block whose ``source`` is a directory of the tree (``./modules/svc``,
    relative to the calling file): ``directory`` is that directory, relative to the checked
    root, and ``location`` the block, in the calling module."""

    directory: str


def _file_argument(argument: Node | None) -> tuple[str, bool] | None:
    """The path a ``file()`` argument names, past its ``${path.…}/`` or ``./``, and whether
    it is read from the root module's directory (see :class:`EcsContainersFile`); ``None``
    for a computed or absolute path."""
    if argument is None:
        return None
    written = text_value(argument)
    if written is None and argument.kind == "expr" and str(argument.value).startswith('"'):
        written = _quoted(str(argument.value))
    if not written:
        return None
    relative = _PATH_MODULE.sub("", written)
    from_root = relative == written
    relative = _PATH_ROOT.sub("", relative) if from_root else relative
    if "${" in relative or "%{" in relative or relative.startswith("/"):
        return None
    return relative, from_root


def _below_root(directory: str, relative: str) -> str | None:
    """``relative`` joined to ``directory``, relative to the checked root; ``None`` above it."""
    path = posixpath.normpath(posixpath.join(directory, relative))
    return None if path == ".." or path.startswith("../") else path


def _callers(facts: FactSet) -> dict[str, set[str]]:
    """The directories of the modules that call each module directory of the tree."""
    callers: dict[str, set[str]] = {}
    for call in facts.of(TerraformModuleCall):
        caller = posixpath.dirname(call.location.path)
        callers.setdefault(call.directory, set()).add(caller)
    return callers


def _roots(directory: str, callers: dict[str, set[str]]) -> set[str]:
    """The root modules that ``directory``'s module is part of: the directories up its chain
    of callers that no module of the tree calls (itself, when none calls it)."""
    roots: set[str] = set()
    seen, pending = {directory}, [directory]
    while pending:
        current = pending.pop()
        above = callers.get(current, set())
        if not above:
            roots.add(current)
        for caller in sorted(above - seen):
            seen.add(caller)
            pending.append(caller)
    return roots or {directory}  # a cycle of calls: read from the module itself


def container_file_paths(origin: EcsContainersFile, callers: dict[str, set[str]]) -> list[str]:
    """The files, relative to the checked root, that ``origin``'s call reads: from its
    module's directory for ``${path.module}``, else from the directory of each root module
    that calls that module, directly or through other modules (its own directory when no
    module of the tree calls it). None above the checked root."""
    module = posixpath.dirname(origin.location.path)
    bases = _roots(module, callers) if origin.from_root else {module}
    paths = (_below_root(base, origin.written) for base in sorted(bases))
    return [path for path in paths if path is not None]


def link_container_files(facts: FactSet, tree: Tree) -> None:
    """Read the files that Terraform task definitions take their containers from
    (:class:`EcsContainersFile`), once every file of ``tree`` is read: their images become
    :class:`ImageUse` facts located in those files, as literals (pin writes into them) or,
    for ``templatefile``, as templates (``${…}`` is unknown, as in a heredoc). A file that
    is a whole task definition (``containerDefinitions``) is the JSON reader's."""
    origins = facts.of(EcsContainersFile)
    present = set(tree.paths) if origins else set()
    callers = _callers(facts) if origins else {}
    wanted = {
        path: fact
        for fact in origins
        for path in container_file_paths(fact, callers)
        if path in present
    }
    if not wanted:
        return
    for path, data in tree.subset(sorted(wanted)).read_all():
        if not isinstance(data, bytes):
            continue  # too large, or unreadable: the readers that want it said so
        file = SourceFile(path, data)
        facts.extend(_containers_file(file, wanted[path]))


def container_files_of_new_reads(head: FactSet, base: FactSet) -> set[str]:
    """The files that a task definition of ``head`` reads its containers from and did not in
    ``base`` (a ``file()`` that now names another file, a ``jsonencode`` replaced by one): they
    count as changed with ``--base``, since the release now runs their images although the
    files themselves did not change."""
    callers = _callers(base)
    before = {
        (path, fact.family)
        for fact in base.of(EcsContainersFile)
        for path in container_file_paths(fact, callers)
    }
    callers = _callers(head)
    return {
        path
        for fact in head.of(EcsContainersFile)
        for path in container_file_paths(fact, callers)
        if (path, fact.family) not in before
    }


def _containers_file(file: SourceFile, origin: EcsContainersFile) -> Iterator[Fact]:
    text = file.text()
    if text is None or b'"containerDefinitions"' in file.data:
        return
    try:
        root = parse_json(text)
    except PolicyTextError as exc:
        if origin.template and ("${" in text or "%{" in text):
            return  # a template that may well render JSON: nothing is claimed
        reason = f"the containers of {_TF_TYPE} (read by {origin.location}): {exc}"
        yield Unreadable(Location(file.path, exc.line, exc.column), "Terraform", reason)
        return
    if root.kind != "array":
        return
    for container in root.items:
        image = container.fields.get("image") if container.kind == "object" else None
        if image is None:
            continue
        name = text_value(container.fields.get("name")) or "?"
        context = f"TaskDefinition/{origin.family} container {name}"
        use = _terraform_image(file.path, text, image, context, origin.template)
        if use is not None:
            yield use


def _terraform(file: SourceFile, text: str) -> Iterator[Fact]:
    # A file that only calls modules is no ECS template: its being unreadable is not ours to say.
    blocks = terraform_blocks(file, text, report=_TF_TYPE in text)
    if not isinstance(blocks, list):
        if blocks is not None:
            yield blocks
        return
    for block in blocks:
        if block.type == "module":
            source = text_value(block.attributes.get("source")) or ""
            directory = posixpath.dirname(file.path)
            called = _below_root(directory, source) if source.startswith(("./", "../")) else None
            if called is not None:
                yield TerraformModuleCall(Location(file.path, block.line, block.column), called)
            continue
        if block.type != "resource" or block.labels[:1] != [_TF_TYPE] or len(block.labels) < 2:
            continue
        label = block.labels[1]
        family = text_value(block.attributes.get("family")) or label
        value = block.attributes.get("container_definitions")
        containers: Node | None = None
        if value is not None and value.kind == "call" and value.name == "jsonencode":
            containers = value.items[0] if value.items else None
        elif value is not None and value.kind == "call" and value.name in _FILE_CALLS:
            target = _file_argument(value.items[0] if value.items else None)
            if target is not None:
                at = Location(file.path, value.line, value.column)
                written, from_root = target
                template = value.name == "templatefile"
                yield EcsContainersFile(at, written, family, template, from_root)
            continue
        elif value is not None and value.kind == "heredoc":
            try:
                containers = heredoc_json(value, text)
            except PolicyTextError as exc:
                if "${" in value.value or "%{" in value.value:
                    continue  # a template that may well render JSON: nothing is claimed
                yield Unreadable(
                    Location(file.path, exc.line, exc.column),
                    "Terraform",
                    f'container_definitions of {_TF_TYPE} "{label}": {exc}',
                )
                continue
        if containers is None or containers.kind != "array":
            continue
        for container in containers.items:
            if container.kind != "object":
                continue
            image = container.fields.get("image")
            if image is None:
                continue
            name = text_value(container.fields.get("name")) or "?"
            context = f"TaskDefinition/{family} container {name}"
            use = _terraform_image(file.path, text, image, context)
            if use is not None:
                yield use


def _terraform_image(
    path: str, text: str, image: Node, context: str, template: bool = True
) -> ImageUse | None:
    """``template``: a JSON string is a Terraform template (a heredoc, a ``templatefile``),
    not so in a file that ``file()`` reads as it is."""
    location = Location(path, image.line, image.column)
    how = "a Terraform expression"
    if image.kind == "string":
        value = str(image.value)
        if template and ("${" in value or "%{" in value):  # a template's string
            parts = _template_parts(value)
            return computed_use(location, parts, value, context, how) if parts else None
        if not value:
            return None
        start, end = image.offset, image.offset + len(value) + 2
        edit = suffix_edit(text, start, end, end - 1) if text[start:end] == f'"{value}"' else None
        return _literal_use(location, value, context, (start, end, '"'), edit, _ESCAPED)
    written = str(image.value)
    if image.kind != "expr" or not written.startswith('"'):
        return None  # var.image, local.x, a call: what it is only Terraform can tell
    inner = _quoted(written)
    parts = _template_parts(inner) if inner is not None else None
    return computed_use(location, parts, inner, context, how) if parts and inner else None


def _quoted(written: str) -> str | None:
    """The content of an expression that is one quoted HCL string (``None`` otherwise)."""
    index, depth = 1, 0
    while index < len(written):
        char = written[index]
        if char == "\\":
            return None  # escapes: not worth decoding for a computed image
        if char == "{" and depth:
            depth += 1
        elif char == "{" and written[index - 1] in "$%" and written[index - 2 : index] != "$$":
            depth = 1
        elif char == "}" and depth:
            depth -= 1
        elif char == '"' and not depth:
            return written[1:index] if index == len(written) - 1 else None
        index += 1
    return None


def _template_parts(template: str) -> list[_Part] | None:
    """A Terraform string template as parts: ``${…}`` interpolations are unknown, ``$${`` is
    the text ``${``; ``None`` for a ``%{ … }`` directive (which may choose the tag)."""
    parts: list[_Part] = []
    literal: list[str] = []
    index = 0
    while index < len(template):
        if template.startswith(("$${", "%%{"), index):
            literal.append(template[index + 1 : index + 3])
            index += 3
            continue
        if template.startswith("%{", index):
            return None
        if template.startswith("${", index):
            end, depth = index + 2, 1
            while end < len(template) and depth:
                depth += {"{": 1, "}": -1}.get(template[end], 0)
                end += 1
            if depth:
                return None
            parts.extend([_Part("".join(literal)), _Part(unknown=template[index:end])])
            literal = []
            index = end
            continue
        literal.append(template[index])
        index += 1
    parts.append(_Part("".join(literal)))
    return [part for part in parts if part.text or part.unknown]
