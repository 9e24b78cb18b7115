"""YAML with positions: parse once with PyYAML's C loader into nodes that keep their marks.

Every YAML reader (manifests, compose, Helm values, CI pipelines, retention policies) goes
through :func:`yaml_documents`, which caches the node trees on the :class:`SourceFile`, so a
file that two readers want is still parsed once. Marks from PyYAML are 0-based; the helpers
here turn them into 1-based :class:`Location` objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from backout.models import Location
from backout.sources.base import SourceFile, Unreadable

if TYPE_CHECKING:
    from types import ModuleType

    from yaml import MappingNode as MappingNode
    from yaml import Node as Node
    from yaml import ScalarNode as ScalarNode
    from yaml import SequenceNode as SequenceNode

_UNRESOLVED = "?"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"


def _load(yaml: ModuleType) -> type[Any]:
    """Set up what needs PyYAML, the first time a file is parsed; return the loader.

    PyYAML is imported on first use rather than with the readers: importing it (its C loader,
    and a reader regex compiled at import) is about a tenth of backout's start-up, and a run
    over a tree without YAML files, such as a folder of SQL migrations, never needs it. The
    real node classes take the place of the stand-ins below.
    """
    global _loader, _resolver
    if _loader is None:
        globals().update(
            Node=yaml.Node,
            MappingNode=yaml.MappingNode,
            SequenceNode=yaml.SequenceNode,
            ScalarNode=yaml.ScalarNode,
        )
        _resolver = yaml.resolver.Resolver()
        _loader = _loader_class(yaml)
    return _loader


def _loader_class(yaml: ModuleType) -> type[Any]:
    base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[misc]
        """The C loader with scalar type resolution deferred to :func:`resolved_tag`.

        Resolving every plain scalar against YAML 1.1's implicit regexes is half the time of
        composing a manifest, and readers look at the type of few scalars: those are resolved
        on demand, the rest stay strings. Merge keys are resolved here, as composers rely on
        them.
        """

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            """No path resolvers are registered: skip the per-node bookkeeping."""

        def ascend_resolver(self) -> None:
            """No path resolvers are registered: skip the per-node bookkeeping."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is yaml.ScalarNode:
                if not implicit[0]:
                    return _STR
                return _MERGE if value == "<<" else _UNRESOLVED
            return str(super().resolve(kind, value, implicit))

    return _Loader


_loader: type[Any] | None = None
_resolver: Any = None

if not TYPE_CHECKING:

    class _PyYamlClass(type):
        """Metaclass of the stand-ins for PyYAML's node classes, until :func:`_load` runs.

        Readers test ``isinstance(node, yamlfile.MappingNode)`` against the module's current
        class; a test made before a file was parsed here (a helper given ``None``, or a node
        composed by code that imported PyYAML itself) imports PyYAML and asks the real class.
        """

        def __instancecheck__(cls, instance: object) -> bool:
            import yaml

            _load(yaml)
            return isinstance(instance, getattr(yaml, cls.__name__))

    class Node(metaclass=_PyYamlClass):
        """Stand-in for ``yaml.Node`` until PyYAML is imported."""

    class MappingNode(Node):
        """Stand-in for ``yaml.MappingNode`` until PyYAML is imported."""

    class SequenceNode(Node):
        """Stand-in for ``yaml.SequenceNode`` until PyYAML is imported."""

    class ScalarNode(Node):
        """Stand-in for ``yaml.ScalarNode`` until PyYAML is imported."""


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_NULL_SPELLINGS = frozenset(("", "~", "null", "Null", "NULL"))


def yaml_documents(file: SourceFile, reader: str = "yaml") -> list[Node] | Unreadable:
    """The file's YAML documents as node trees (empty documents dropped), or why not."""
    key = "yaml_documents"
    if key in file.cache:
        cached: list[Node] | Unreadable = file.cache[key]
        return cached
    result: list[Node] | Unreadable
    text = file.text()
    if text is None:
        error = file.decode_error()
        assert error is not None
        result = Unreadable(error.location, reader, error.reason)
    else:
        import yaml  # on first use: see _load

        loader = _loader or _load(yaml)
        try:
            result = [doc for doc in yaml.compose_all(text, Loader=loader) if doc is not None]
            # Only a file that defines anchors can hold an alias bomb; skip the walk otherwise.
            problem = alias_problem(result) if "&" in text else None
            if problem is not None:
                result = Unreadable(Location(file.path, 1, 0), reader, problem)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            location = (
                Location(file.path, mark.line + 1, mark.column + 1)
                if mark is not None
                else Location(file.path, 1, 0)
            )
            problem = exc.problem or exc.context or "invalid YAML"
            result = Unreadable(location, reader, f"invalid YAML: {problem}")
        except yaml.YAMLError as exc:
            result = Unreadable(Location(file.path, 1, 0), reader, f"invalid YAML: {exc}")
        except RecursionError:
            result = Unreadable(Location(file.path, 1, 0), reader, "YAML nested too deeply")
    file.cache[key] = result
    return result


MAX_EXPANDED_NODES = 1_000_000
"""Nodes a file may hold once its aliases are expanded: far above any real manifest, far
below what a "billion laughs" document (each anchor aliased nine times by the next) needs."""


def alias_problem(documents: list[Node]) -> str | None:
    """Why walking these node trees would not end, or ``None`` when it would.

    Readers walk node trees as trees, so an alias is walked once per use: nested anchors can
    expand a small file exponentially, and an anchor aliased inside itself never ends. One
    pass over the distinct nodes, sizes memoised, finds both.
    """
    sizes: dict[int, int] = {}
    total = 0
    for document in documents:
        on_path: set[int] = set()
        stack: list[tuple[Node, bool]] = [(document, False)]
        while stack:
            node, finished = stack.pop()
            children = _children(node)
            if finished:
                on_path.discard(id(node))
                size = 1 + sum(sizes[id(child)] for child in children)
                sizes[id(node)] = min(size, MAX_EXPANDED_NODES + 1)
                continue
            if id(node) in sizes:
                continue
            if id(node) in on_path:
                return "YAML anchor is aliased inside itself (a recursive document)"
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
        total += sizes[id(document)]
        if total > MAX_EXPANDED_NODES:
            return f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (an alias bomb)"
    return None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def location(path: str, node: Node) -> Location:
    """The 1-based location where ``node`` starts (and ends)."""
    start, end = node.start_mark, node.end_mark
    end_line = end.line + 1 if end is not None else 0
    return Location(
        path,
        start.line + 1,
        start.column + 1,
        end_line if end_line != start.line + 1 else 0,
    )


_MAX_MERGE_DEPTH = 20


def get(node: Node | None, key: str) -> Node | None:
    """The value node under ``key`` in a mapping node (last one wins, as in YAML loaders).

    Merge keys are followed as YAML loaders do: a key written in the mapping wins over one
    merged in with ``<<: *defaults``, and of several merged mappings the first wins.
    """
    return _get(node, key, 0)


def _get(node: Node | None, key: str, depth: int) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    found: Node | None = None
    merge: Node | None = None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode):
            if key_node.value == key:
                found = value_node
            elif key_node.tag == _MERGE:
                merge = value_node
    if found is not None or merge is None or depth >= _MAX_MERGE_DEPTH:
        return found
    for source in merge.value if isinstance(merge, SequenceNode) else (merge,):
        found = _get(source, key, depth + 1)
        if found is not None:
            return found
    return None


def entries(node: Node | None, depth: int = 0) -> list[tuple[str, Node, Node]]:
    """``(key, key node, value node)`` of a mapping whose keys are scalars, merges expanded.

    The ``<<`` entries themselves are replaced by the keys they merge in, with the precedence
    of :func:`get`: keys written in the mapping first, then merged keys not written there.
    """
    if not isinstance(node, MappingNode) or depth > _MAX_MERGE_DEPTH:
        return []
    own: list[tuple[str, Node, Node]] = []
    merged: list[tuple[str, Node, Node]] = []
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            continue
        if key_node.tag == _MERGE:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                merged.extend(entries(source, depth + 1))
        else:
            own.append((str(key_node.value), key_node, value_node))
    names = {name for name, _, _ in own}
    for entry in merged:
        if entry[0] not in names:
            names.add(entry[0])  # of several merged mappings, the first one's key wins
            own.append(entry)
    return own


def key_node(node: Node | None, key: str) -> Node | None:
    """The key node itself (for pointing at a key rather than its value)."""
    if not isinstance(node, MappingNode):
        return None
    for k, _ in node.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k
    return None


def get_path(node: Node | None, *keys: str) -> Node | None:
    """Follow nested mapping keys: ``get_path(doc, "spec", "template")``."""
    for key in keys:
        node = get(node, key)
        if node is None:
            return None
    return node


def items(node: Node | None) -> Iterator[tuple[str, Node]]:
    """``(key, value node)`` pairs of a mapping node whose keys are scalars, merges expanded."""
    for name, _, value in entries(node):
        yield name, value


def elements(node: Node | None) -> list[Node]:
    """The element nodes of a sequence node (empty for anything else)."""
    return list(node.value) if isinstance(node, SequenceNode) else []


def resolved_tag(node: Node) -> str:
    """The node's YAML tag, resolving a plain scalar's implicit type on first use."""
    if node.tag == _UNRESOLVED:
        node.tag = _resolver.resolve(ScalarNode, node.value, (True, False))
    return str(node.tag)


def scalar(node: Node | None) -> Any:
    """A scalar node's value resolved as YAML 1.1 core types; ``None`` for non-scalars."""
    if not isinstance(node, ScalarNode):
        return None
    text: str = node.value
    tag = resolved_tag(node)
    try:
        if tag == _INT:
            return (
                int(text.replace("_", ""), 0)
                if text[:2] in ("0x", "0o")
                else int(text.replace("_", ""))
            )
        if tag == _FLOAT:
            return float(text.replace("_", ""))
    except ValueError:
        return text
    if tag == _BOOL:
        return text.lower() in ("true", "yes", "on", "y")
    if tag == _NULL:
        return None
    return text


def text_of(node: Node | None) -> str | None:
    """A scalar node's value as a string (numbers and booleans as written), else ``None``."""
    if not isinstance(node, ScalarNode):
        return None
    if node.tag == _UNRESOLVED:
        # Only the null spellings matter here; avoid resolving against every regex.
        return None if node.value in _NULL_SPELLINGS else str(node.value)
    if node.tag != _NULL:
        return str(node.value)
    return None


def plain(node: Node | None, depth: int = 0) -> Any:
    """The node tree as plain Python (dicts, lists, scalars), positions dropped."""
    if depth > 200:
        return None
    if isinstance(node, MappingNode):
        return {str(scalar(k)): plain(v, depth + 1) for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [plain(v, depth + 1) for v in node.value]
    return scalar(node)
