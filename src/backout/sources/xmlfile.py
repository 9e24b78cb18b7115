"""XML with positions: the standard library's expat parser, entities refused.

expat gives each element's line and column (``xml.etree`` throws them away). A document that
declares an entity is refused rather than expanded: entity expansion is how a small file makes
a parser hang ("billion laughs"), or read a file it names (``SYSTEM "file:///…"``), and no
input backout reads needs one. Parameter entities and external DTDs are never read. The
Liquibase changelog reader and the Maven ``pom.xml`` reader both read XML through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

from backout.models import Location
from backout.sources.base import SourceFile, Unreadable


@dataclass
class Element:
    """An XML element (or a YAML/JSON mapping that stands for one) and where it starts."""

    name: str
    location: Location
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element] = field(default_factory=list)
    text: str = ""
    text_line: int = 0
    text_column: int = 1

    def attr(self, name: str) -> str:
        """The attribute's value, stripped; ``""`` when absent."""
        return self.attrs.get(name, "").strip()

    def flag(self, name: str) -> bool | None:
        """A boolean attribute: True, False, or None when absent."""
        value = self.attrs.get(name)
        if value is None:
            return None
        return value.strip().lower() in ("true", "1", "yes", "on", "y")

    def named(self, name: str) -> list[Element]:
        """The children with that element name."""
        return [child for child in self.children if child.name == name]

    def child(self, name: str) -> Element | None:
        """The last child with that element name (as Maven reads a repeated setting)."""
        found = self.named(name)
        return found[-1] if found else None


class _EntitiesForbidden(Exception):
    """An XML document declares an entity."""


class _OtherRoot(Exception):
    """The document's root element is not the one wanted: stop reading it."""


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def read_xml(file: SourceFile, reader: str, root: str, what: str) -> Element | Unreadable | None:
    """The document's root element when it is named ``root`` (namespace prefixes dropped),
    ``None`` when another element is the root, or an :class:`Unreadable` for ``reader``
    saying why the file cannot be read (``what`` names the file in that message)."""
    path = file.path
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Element] = []
    chunks: list[list[str]] = []
    found: list[Element] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        where = Location(path, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        element = Element(_local(name), where, {_local(k): v for k, v in attributes.items()})
        if stack:
            stack[-1].children.append(element)
        elif found or element.name != root:
            raise _OtherRoot
        else:
            found.append(element)
        stack.append(element)
        chunks.append([])

    def end(name: str) -> None:
        element = stack.pop()
        element.text = "".join(chunks.pop())

    def text(data: str) -> None:
        if not stack:
            return
        if not chunks[-1]:
            stack[-1].text_line = parser.CurrentLineNumber
            stack[-1].text_column = parser.CurrentColumnNumber + 1
        chunks[-1].append(data)

    def entity(name: str, *_: object) -> None:
        raise _EntitiesForbidden(name)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.EntityDeclHandler = entity
    try:
        parser.Parse(file.data, True)
    except _OtherRoot:
        return None
    except expat.ExpatError as exc:
        where = Location(path, exc.lineno, exc.offset + 1)
        return Unreadable(where, reader, f"invalid XML: {expat.ErrorString(exc.code)}")
    except _EntitiesForbidden as exc:
        where = Location(path, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        return Unreadable(
            where,
            reader,
            f"the document declares the XML entity {exc.args[0]!r}; backout does not expand "
            f"entities (expanding them is how a small file makes a parser hang), so this "
            f"{what} was not checked",
        )
    return found[0] if found else None
