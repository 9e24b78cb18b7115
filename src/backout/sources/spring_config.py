"""Spring Boot's ``application.properties`` / ``application.yml`` → :class:`SpringConfig` facts.

Spring Boot configures Flyway from its own settings (``spring.flyway.placeholders.<name>``,
``spring.flyway.placeholder-prefix``, ``spring.flyway.locations``…), which most Java projects
keep in ``src/main/resources/application.yml`` rather than in a ``flyway.conf``. The reader
records every setting of every document of such a file as Spring flattens it
(``spring.flyway.placeholders.tenant``, ``spring.flyway.locations[0]``), with its line and
column, values as Spring reads them (YAML ``true``/``yes`` is ``true``, a null is the empty
string). It decides nothing: which documents and profile files are active, how a key binds
(relaxed names, ``[…]`` map keys) and what ``${…}`` in a value reads is for the drill
(:mod:`backout.drill.spring`), which needs every file of the application to tell. A file that
cannot be parsed is an :class:`~backout.sources.base.Unreadable` fact (BK901) at its position.

Files: ``application.properties``, ``application.yml``/``.yaml`` and the profile files
``application-<profile>.*``, in a module's ``src/main/resources/`` or ``…/config/`` (where
Spring finds them on the classpath). A ``.properties`` file's documents are separated by
``#---`` (or ``!---``) lines, a YAML file's by ``---``, as in Spring Boot 2.4 and later.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from backout.lines import split_lines
from backout.models import Location
from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.paths import SPRING_READER, SPRING_RESOURCES, is_spring_config
from backout.sources.tool_config import read_properties

_DOCUMENT_SEPARATOR = re.compile(r"[#!]---[ \t]*")
_MAX_DEPTH = 64


@dataclass(frozen=True)
class SpringProperty:
    """One setting as Spring flattens it: ``spring.flyway.placeholders.tenant`` = ``acme``."""

    key: str
    value: str
    line: int
    column: int


@dataclass(frozen=True)
class SpringConfig(Fact):
    """A Spring Boot configuration file: its documents' settings, in the file's order."""

    documents: tuple[tuple[SpringProperty, ...], ...]

    @property
    def module(self) -> str:
        """The directory that holds ``src/main/resources`` (``.`` at the root)."""
        return self.location.path.partition(SPRING_RESOURCES + "/")[0].rstrip("/") or "."

    @property
    def profile(self) -> str | None:
        """``dev`` for ``application-dev.yml``; ``None`` for ``application.yml``."""
        stem = self.location.path.rpartition("/")[2].rpartition(".")[0]
        return stem[len("application-") :] if stem.startswith("application-") else None

    @property
    def in_config_folder(self) -> bool:
        """Whether the file is in ``src/main/resources/config/`` (which Spring reads later,
        so its settings win over the ones beside it)."""
        return self.location.path.rpartition("/")[0].endswith("/config")

    @property
    def is_properties(self) -> bool:
        """A ``.properties`` file (which wins over a YAML file beside it)."""
        return self.location.path.endswith(".properties")


class SpringConfigReader:
    """Reads Spring Boot's ``application*.properties`` / ``application*.y(a)ml`` files."""

    name: ClassVar[str] = SPRING_READER

    def wants(self, path: str) -> bool:
        """``application*.properties|yml|yaml`` in ``src/main/resources`` (and ``config/``)."""
        return is_spring_config(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """One :class:`SpringConfig`, or an :class:`Unreadable` saying where it went wrong."""
        where = Location(file.path, 1, 1)
        if file.path.endswith(".properties"):
            text = file.text()
            if text is not None:
                yield SpringConfig(where, _properties_documents(text))
            elif (error := file.decode_error()) is not None:
                yield error
            return
        documents = yamlfile.yaml_documents(file, self.name)
        if isinstance(documents, Unreadable):
            # The node trees are cached with the first reader's name: report under this one's.
            yield Unreadable(documents.location, self.name, documents.reason)
            return
        read: list[tuple[SpringProperty, ...]] = []
        for document in documents:
            if not isinstance(document, yamlfile.MappingNode):
                at = yamlfile.location(file.path, document)
                yield Unreadable(
                    at, self.name, "a Spring Boot configuration document must be a mapping"
                )
                return
            found: list[SpringProperty] = []
            _flatten(document, "", document, found, 0)
            read.append(tuple(found))
        yield SpringConfig(where, tuple(read))


def _properties_documents(text: str) -> tuple[tuple[SpringProperty, ...], ...]:
    """The documents of a ``.properties`` text, split at its ``#---`` lines."""
    lines = split_lines(text)
    separators = [
        number
        for number, line in enumerate(lines, start=1)
        if _DOCUMENT_SEPARATOR.fullmatch(line.rstrip("\r\n"))
    ]
    documents: list[list[SpringProperty]] = [[] for _ in range(len(separators) + 1)]
    for key, value, line in read_properties(text):
        written = lines[line - 1]
        column = len(written) - len(written.lstrip()) + 1
        document = sum(1 for separator in separators if separator < line)
        documents[document].append(SpringProperty(key, value, line, column))
    return tuple(tuple(document) for document in documents)


def _flatten(
    node: yamlfile.Node,
    prefix: str,
    written: yamlfile.Node,
    found: list[SpringProperty],
    depth: int,
) -> None:
    """Spring's flattening of a YAML tree: ``a: {b: x}`` is ``a.b``, a list item ``a[0]``,
    a ``"[x.y]"`` key is appended as it is (``a[x.y]``). A setting is where its key (or its
    list item) is written: ``written``."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, yamlfile.MappingNode):
        for key, key_node, value in yamlfile.entries(node):
            name = key if not prefix else prefix + key if key.startswith("[") else f"{prefix}.{key}"
            _flatten(value, name, key_node, found, depth + 1)
        return
    if isinstance(node, yamlfile.SequenceNode):
        for index, item in enumerate(node.value):
            _flatten(item, f"{prefix}[{index}]", item, found, depth + 1)
        return
    where = written.start_mark
    found.append(SpringProperty(prefix, _scalar_text(node), where.line + 1, where.column + 1))


def _scalar_text(node: yamlfile.Node) -> str:
    """A YAML scalar as the string Spring binds: what SnakeYAML makes of it, as Java prints
    it (``yes`` is ``true``, ``0x1F`` is ``31``), and a null the empty string."""
    value = yamlfile.scalar(node)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return str(node.value)
