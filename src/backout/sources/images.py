"""The fact every image-naming reader shares: :class:`ImageUse`, one image a release runs or builds.

Kubernetes manifests, docker-compose files, Kustomize ``images:``, Helm values and Dockerfile
``FROM`` lines all end up here, so that BK101/BK305 judge them alike and ``backout pin`` can
rewrite any of them from the recorded span.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backout.imageref import ImageReference, parse_reference
from backout.lines import LINE_BREAK, line_end, line_start
from backout.models import Location
from backout.sources.base import Fact

if TYPE_CHECKING:
    from backout.sources.yamlfile import MappingNode, Node, ScalarNode

SOURCES = ("kubernetes", "compose", "kustomize", "helm", "dockerfile", "ecs")
"""The values of :attr:`ImageUse.source`."""


@dataclass(frozen=True)
class ImageUse(Fact):
    """One image reference a release pulls (or, for ``source="dockerfile"``, builds from).

    ``location`` points at the value itself (1-based line and column of its first character,
    the opening quote for a quoted scalar), not at the resource that holds it.

    ``reference`` is the reference to judge. It is the text as written, except where the file
    interpolates: a compose ``${TAG:-latest}`` or a Dockerfile ``$BASE`` is replaced by its
    default, ``written`` then keeps the text exactly as it is in the file and ``note`` says how
    the reference was derived ("default of ${TAG:-latest}"). ``unresolved`` names a variable
    with no default that decides the image (``${IMAGE}``): the image cannot be known from the
    repository, and ``reference`` is then the written text. ``required`` names the variables
    of those that ``${VAR:?err}`` requires (set at deploy time, or compose refuses to start),
    and ``unresolved_rest`` the other unresolved expressions.

    ``value_start``/``value_end`` are character offsets into the decoded file text
    (:meth:`SourceFile.text`) spanning the whole scalar, quotes included, and ``quote`` is its
    quote character (``'``, ``"``, or ``""`` for a plain scalar). ``backout pin`` replaces that
    span byte-exactly. For Kustomize the span is the ``newTag`` (or ``name``) value: pinning
    there means adding a ``digest:`` key. Both are ``-1`` when there is no single span.

    ``pin_edit`` is how ``backout pin`` writes a digest into the file (``None``: it cannot,
    and ``pin_blocked`` says why, in words for the user).

    ``env_values`` are the variables a compose reference takes from the ``.env`` file beside
    the compose file (set after reading, by :func:`backout.sources.dotenv.link_compose_env`).

    ``known`` is set by a reader that has itself worked out the tag of a reference whose
    repository only the deployment knows (a CloudFormation ``!Sub "${Repo}:latest"``, a
    Terraform ``"${aws_ecr_repository.app.repository_url}:latest"``): ``unresolved`` then
    names what sets the repository, and the tag is judged all the same.
    """

    reference: str
    source: str
    context: str
    note: str = ""
    written: str = ""
    unresolved: str = ""
    required: tuple[str, ...] = ()
    unresolved_rest: str = ""
    value_start: int = -1
    value_end: int = -1
    quote: str = ""
    pin_edit: PinEdit | None = None
    pin_blocked: str = ""
    env_values: tuple[EnvValue, ...] = ()
    known: KnownTag | None = None

    @property
    def text_in_file(self) -> str:
        """The value exactly as it is written in the file."""
        return self.written or self.reference

    @property
    def rewritable(self) -> bool:
        """True when ``backout pin`` can write the digest into the file itself."""
        return self.pin_edit is not None and not self.unresolved


@dataclass(frozen=True)
class EnvValue:
    """A variable that a compose image reference takes from a ``.env`` file.

    ``where`` is the line that sets it (``deploy/.env:3``). ``value`` is ``None`` when the
    file sets it to something backout does not read: ``unread`` says why (it looks like a
    credential, or it is made from a variable the file does not set).
    """

    name: str
    value: str | None
    where: str
    unread: str = ""


@dataclass(frozen=True)
class PinEdit:
    """How to write a digest into a file: replace ``old`` at ``[start, end)``.

    Offsets are characters of the decoded file text. The replacement is ``before``, the digest
    (``sha256:…``), then ``after``; ``old`` is checked first, so a file changed since it was
    read is never patched blindly. The same edit may serve several references (two ``FROM
    $BASE`` lines share their ``ARG BASE`` default).
    """

    start: int
    end: int
    old: str
    before: str
    after: str

    def apply(self, text: str, digest: str) -> str | None:
        """``text`` with the digest written in; ``None`` when ``old`` is no longer there."""
        if text[self.start : self.end] != self.old:
            return None
        return text[: self.start] + self.before + digest + self.after + text[self.end :]


def suffix_edit(text: str, start: int, end: int, at: int) -> PinEdit:
    """An edit appending ``@<digest>`` at offset ``at`` inside ``text[start:end]``."""
    return PinEdit(start, end, text[start:end], text[start:at] + "@", text[at:end])


_PROPERTIES = re.compile(r"(?:[&!][^\s]*\s+)*")


def value_start(text: str, node: Node) -> int:
    """Where a node's value starts in ``text``: after its ``&anchor`` and ``!tag``, if any.

    PyYAML starts a node at its properties: ``&img "shop:1.4"`` starts at the ``&``.
    """
    properties = _PROPERTIES.match(text, node.start_mark.index, node.end_mark.index)
    assert properties is not None  # the pattern matches the empty string
    return properties.end()


def scalar_suffix_edit(text: str, node: ScalarNode) -> PinEdit | None:
    """``@<digest>`` appended to a YAML scalar, inside its quotes.

    ``None`` for a block scalar, or a quoted one whose text in the file is not its value
    (escapes, line folding): its end in the file is not where the value ends. An anchor
    (``&img shop:1.4``) stays where it is, so every alias of it is pinned too.
    """
    start, end = value_start(text, node), node.end_mark.index
    style = node.style or ""
    quote = style if style in ("'", '"') else ""
    if style not in ("", "'", '"') or text[start:end] != f"{quote}{node.value}{quote}":
        return None
    return suffix_edit(text, start, end, end - len(quote))


def is_helm_test(metadata: Node | None) -> bool:
    """True for a resource annotated ``helm.sh/hook: test``: ``helm test`` runs it, no release
    deploys it, so its images are not what a rollback restores (``test-success`` and
    ``test-failure`` are the Helm 2 names)."""
    from backout.sources import yamlfile  # the readers that call this have loaded it

    annotations = yamlfile.get(metadata, "annotations")
    hooks = yamlfile.text_of(yamlfile.get(annotations, "helm.sh/hook")) or ""
    return any(hook.strip().startswith("test") for hook in hooks.split(","))


BLOCK_SCALAR = "it is written as a YAML block scalar or with escapes, which pin does not rewrite"
"""Why :func:`scalar_suffix_edit` gave no edit, for :attr:`ImageUse.pin_blocked`."""


def key_edit(text: str, mapping: MappingNode, after: Node, key: str) -> PinEdit:
    """An edit adding ``key: <digest>`` to ``mapping``, right after the entry ending at ``after``.

    A block mapping gets a new line, indented like the mapping's first key, with the line
    ending of the line it follows; a flow mapping gets ``, key: <digest>``. Everything else
    (comments after the value included) stays as it is.
    """
    start, end = after.start_mark.index, after.end_mark.index
    if mapping.flow_style:
        return PinEdit(start, end, text[start:end], f"{text[start:end]}, {key}: ", "")
    stop, newline = line_end(text, end)
    if not newline:  # the last line: end it as the file's other lines end
        found = LINE_BREAK.search(text)
        newline = found.group() if found is not None else "\n"
    indent = " " * mapping.value[0][0].start_mark.column
    old = text[start:stop]
    return PinEdit(start, stop, old, f"{old}{newline}{indent}{key}: ", "")


def scalar_span(path: str, text: str, node: ScalarNode) -> tuple[Location, int, int, str]:
    """Location, character span and quote character of a YAML scalar, for an :class:`ImageUse`.

    Both start at the value, after an ``&anchor`` or ``!tag`` written before it.
    """
    start, end = node.start_mark, node.end_mark
    index = value_start(text, node)
    line = start.line + len(LINE_BREAK.findall(text, start.index, index))
    column = (
        start.column + index - start.index
        if line == start.line
        else index - line_start(text, index)
    )
    end_line = end.line + 1
    location = Location(
        path,
        line + 1,
        column + 1,
        end_line if end_line != line + 1 else 0,
        end.column + 1,
    )
    style = node.style or ""
    quote = style if style in ("'", '"') else ""
    return location, index, end.index, quote


@dataclass(frozen=True)
class Interpolation:
    """An image reference with its variables substituted, and how each one was decided.

    ``defaults_used`` lists the expressions decided by their written default
    (``${TAG:-latest}``), ``known_used`` the names taken from ``known``, ``unresolved`` the
    expressions whose value only the environment or a build argument knows (``${IMAGE}``).
    Of those, ``required_expressions`` are the ones that require their variable
    (``${TAG:?err}``, ``${TAG?err}``), and ``required`` names each one's variable (``TAG``);
    ``withheld_used`` names the variables of ``withheld`` met (set, value not known), and
    ``withheld_expressions`` are their expressions.
    """

    value: str
    defaults_used: tuple[str, ...] = ()
    known_used: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    required_expressions: tuple[str, ...] = ()
    withheld_used: tuple[str, ...] = ()
    withheld_expressions: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the text held at least one variable."""
        return bool(self.defaults_used or self.known_used or self.unresolved)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_MAX_NESTING = 10


class InterpolationTooLong(ValueError):
    """The substituted text would be longer than the ``limit`` given to :func:`interpolate`."""


def interpolate(
    text: str,
    known: Mapping[str, str | None] | None = None,
    dollar_escape: bool = True,
    limit: int | None = None,
    withheld: Collection[str] = (),
) -> Interpolation:
    """Substitute shell-style ``$VAR``/``${VAR:-default}`` as compose and Docker do.

    ``known`` maps variables to their value (``None``: declared without a value); every other
    variable is unknown. ``${VAR:-d}``/``${VAR-d}`` of an unknown variable is ``d``; ``$VAR``,
    ``${VAR:?err}`` and ``${VAR:+alt}`` of one are unresolved (substituted by ``""``).
    ``dollar_escape`` turns ``$$`` into ``$`` (compose); Dockerfiles escape with ``\\$``.
    ``withheld`` names variables that are set to a value not known here (a ``.env`` value
    that looks like a credential): every expression of one is unresolved, whatever its
    operator, since no default applies to a variable that is set. Raises
    :class:`InterpolationTooLong` as soon as the result passes ``limit`` characters: values
    that each name the one before twice double at every step.
    """
    state = _Substitution(known or {}, dollar_escape, limit, withheld)
    value = state.expand(text, 0)
    return Interpolation(
        value,
        tuple(state.defaults_used),
        tuple(state.known_used),
        tuple(state.unresolved),
        tuple(name for name, _ in state.required),
        tuple(expression for _, expression in state.required),
        tuple(dict.fromkeys(name for name, _ in state.withheld)),
        tuple(expression for _, expression in state.withheld),
    )


class _Substitution:
    def __init__(
        self,
        known: Mapping[str, str | None],
        dollar_escape: bool,
        limit: int | None = None,
        withheld: Collection[str] = (),
    ) -> None:
        self.known = known
        self.withheld_names = withheld
        self.withheld: list[tuple[str, str]] = []  # (variable, expression)
        self.dollar_escape = dollar_escape
        self.limit = limit
        self.defaults_used: list[str] = []
        self.known_used: list[str] = []
        self.unresolved: list[str] = []
        self.required: list[tuple[str, str]] = []  # (variable, expression)

    def expand(self, text: str, depth: int) -> str:
        out: list[str] = []
        i = size = 0
        while i < len(text):
            char = text[i]
            if char == "\\" and not self.dollar_escape and text[i + 1 : i + 2] == "$":
                out.append("$")
                i += 2
            elif char != "$":
                out.append(char)
                i += 1
            elif self.dollar_escape and text[i + 1 : i + 2] == "$":
                out.append("$")
                i += 2
            elif text[i + 1 : i + 2] == "{":
                end = _closing_brace(text, i + 2)
                if end < 0 or depth >= _MAX_NESTING:
                    out.append(text[i:])
                    break
                out.append(self._braced(text[i : end + 1], text[i + 2 : end], depth))
                i = end + 1
            else:
                match = _NAME.match(text, i + 1)
                if match is None:
                    out.append(char)
                    i += 1
                    continue
                out.append(self._lookup(match.group(), text[i : match.end()]))
                i = match.end()
            size += len(out[-1])  # every branch that gets here appended one piece
            if self.limit is not None and size > self.limit:
                raise InterpolationTooLong(f"more than {self.limit:,} characters")
        return "".join(out)

    def _lookup(self, name: str, expression: str) -> str:
        if name in self.withheld_names:
            return self._withhold(name, expression)
        value = self.known.get(name)
        if value is None:
            self.unresolved.append(expression)
            return ""
        self.known_used.append(name)
        return value

    def _braced(self, expression: str, inner: str, depth: int) -> str:
        match = _NAME.match(inner)
        if match is None:
            self.unresolved.append(expression)
            return ""
        name, rest = match.group(), inner[match.end() :]
        if name in self.withheld_names:
            return self._withhold(name, expression)
        if not rest:
            return self._lookup(name, expression)
        operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
        if operator is None:
            self.unresolved.append(expression)
            return ""
        argument = rest[len(operator) :]
        value = self.known.get(name)
        is_set = name in self.known and value is not None
        if operator in (":-", "-"):
            if is_set and (value or operator == "-"):
                self.known_used.append(name)
                return value or ""
            self.defaults_used.append(expression)
            return self.expand(argument, depth + 1)
        if is_set and operator in (":?", "?"):
            self.known_used.append(name)
            return value or ""
        if is_set and operator in (":+", "+"):
            self.known_used.append(name)
            return self.expand(argument, depth + 1) if value or operator == "+" else ""
        if operator in (":?", "?"):
            self.required.append((name, expression))
        self.unresolved.append(expression)
        return ""

    def _withhold(self, name: str, expression: str) -> str:
        self.withheld.append((name, expression))
        self.unresolved.append(expression)
        return ""


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return -1


def digest_offset(written: str, dollar_escape: bool = True) -> tuple[int | None, str]:
    """Where ``@<digest>`` goes in an interpolated reference, or why it cannot go anywhere.

    The digest belongs at the end of the reference that runs when the variables are unset: after
    a literal ending (``${REGISTRY:-ghcr.io}/shop:1.4``), or inside the default of a final
    ``${TAG:-1.4}`` (so that a ``TAG`` set by the environment still wins, unpinned, as the
    author meant). A reference that ends in a variable with no default (``shop:$TAG``) cannot
    be pinned in the file.
    """
    if not written.endswith("}"):
        tail = re.search(r"\$[A-Za-z_][A-Za-z0-9_]*$", written)
        before = written[: tail.start()] if tail is not None else ""
        # ``$$TAG`` (compose) and ``\$TAG`` (Dockerfile) are literal text, not variables.
        escaped = (
            (len(before) - len(before.rstrip("$"))) % 2 == 1
            if dollar_escape
            else (before.endswith("\\"))
        )
        if tail is not None and not escaped:
            return None, f"the tag is set by {tail.group()}, which has no default"
        return len(written), ""
    opening = _opening_brace(written)
    expression = written[opening - 1 :] if opening > 0 else ""
    match = _NAME.match(written, opening + 1) if opening > 0 else None
    if match is None or written[opening - 1] != "$":
        return None, f"`{written}` does not end in a reference pin can extend"
    rest = written[match.end() : -1]
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator not in (":-", "-"):
        return None, f"the tag is set by {expression}, which has no default"
    default_start = match.end() + len(operator)
    inner, why = digest_offset(written[default_start:-1], dollar_escape)
    if inner is None:
        return None, why
    return default_start + inner, ""


def _opening_brace(text: str) -> int:
    """The index of the ``{`` that the final ``}`` of ``text`` closes (-1 if none)."""
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] == "}":
            depth += 1
        elif text[index] == "{":
            depth -= 1
            if depth == 0:
                return index
    return -1


def scalar_value_edit(text: str, node: ScalarNode) -> PinEdit | None:
    """An edit replacing a YAML scalar's value with the digest, its quotes kept.

    An empty plain value (``digest:``) gets a space before the digest. ``None`` for a block
    scalar or a quoted one written with escapes.
    """
    start, end = value_start(text, node), node.end_mark.index
    style = node.style or ""
    quote = style if style in ("'", '"') else ""
    if style not in ("", "'", '"') or text[start:end] != f"{quote}{node.value}{quote}":
        return None
    space = " " if start == end and text[start - 1 : start] == ":" else ""
    return PinEdit(start, end, text[start:end], f"{space}{quote}", quote)


# Stands for an unset variable while :func:`known_tag` looks where it sits: no ``/``, ``:``,
# ``@`` or character of a reference.
_UNSET = "\x00"
# An unset variable that is either its value or nothing: ``$X``, ``${X}``, ``${X:?err}``.
# ``${X:+alt}`` is not: set or unset, it gives two texts.
_PLAIN_OR_REQUIRED = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?:\}|:?\?.*\})?", re.DOTALL)


@dataclass(frozen=True)
class KnownTag:
    """What :func:`known_tag` found: ``reference`` stands for the image (each unset variable
    read as ``x``) with the tag and digest it runs; ``defaults_used`` and ``unset`` are the
    expressions decided by their default and those whose value no file gives."""

    reference: ImageReference
    defaults_used: tuple[str, ...]
    unset: tuple[str, ...]


def known_tag(
    written: str,
    compose: bool = True,
    known: Mapping[str, str] | None = None,
    withheld: Collection[str] = (),
) -> KnownTag | None:
    """The tag and digest of ``written`` when its unset variables set only the repository.

    ``${REGISTRY:-ghcr.io}/${PREFIX}/api:${TAG:-latest}`` runs the tag ``latest`` unless
    ``TAG`` is set, whatever ``PREFIX`` holds, and ``${REGISTRY}/api`` runs no tag at all:
    each variable with no default stands before the last ``/`` of the name, so it cannot
    reach the tag. ``None`` when no variable is unset, or one may set the last name
    component, the tag or the digest (``${IMAGE}``, ``api:${TAG}``, ``app${SUFFIX}``), or
    the text is no reference whatever they hold.

    ``compose``: compose's interpolation (``$$`` is a ``$``). Otherwise the text is filled in
    by a deploy step, envsubst or Flux's post-build substitution, whose documented default is
    ``${VAR:=default}``: read as ``${VAR:-default}``, and named as written.

    ``known`` and ``withheld``: the variables a compose ``.env`` sets, as for
    :func:`interpolate` (``TAG=1.4.2`` there runs ``1.4.2``, not ``${TAG:-latest}``'s default).
    """
    assigned: set[str] = set()

    def as_default(match: re.Match[str]) -> str:
        assigned.add(match.group(1))
        return f"${{{match.group(1)}{match.group(2)}-"

    text = written if compose else _ASSIGN_DEFAULT.sub(as_default, written)
    plain = interpolate(text, known, dollar_escape=compose, withheld=withheld)
    names = []
    for expression in plain.unresolved:
        match = _PLAIN_OR_REQUIRED.fullmatch(expression)
        if match is None:
            return None
        names.append(match.group(1))
    if not names:
        return None
    unset = {**(known or {}), **dict.fromkeys(names, _UNSET)}
    marked = interpolate(text, unset, dollar_escape=compose, withheld=withheld).value
    name = marked.partition("@")[0]
    if _UNSET in marked[name.rfind("/") + 1 :]:
        return None
    reference = parse_reference(marked.replace(_UNSET, "x"))
    if reference is None:
        return None

    def as_written(expression: str) -> str:
        return _DEFAULT.sub(
            lambda m: f"${{{m.group(1)}{m.group(2)}{'=' if m.group(1) in assigned else '-'}",
            expression,
        )

    defaults = tuple(as_written(used) for used in plain.defaults_used)
    return KnownTag(reference, defaults, tuple(as_written(u) for u in plain.unresolved))


# ``${VAR:=default}``/``${VAR=default}`` (envsubst, Flux), and the ``${VAR:-`` it is read as.
_ASSIGN_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?)=")
_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?)-")
