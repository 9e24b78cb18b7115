"""Liquibase changelog properties in paths: the ``${sql.dir}`` of ``<include file=…>``,
``<includeAll path=…>`` and ``<sqlFile path=…>``.

Liquibase expands ``${name}`` as it parses, in document order, from the parameters set so far:
first those of ``liquibase.properties`` (``parameter.<name>``; the command line and the
environment come first too, but are not in the repository), then each ``<property name=…
value=…>`` of the changelogs as it reaches them, master first, an included changelog where it
is included. A property once set is not changed by a later definition. A ``global`` property
(the default) is seen by every changelog parsed after it, the one that includes its changelog
too; one with ``global="false"`` by its own changelog alone. A name that nothing defines is
left as written, and Liquibase then finds no file of that path.

A reader sees one file: it records each property as a
:class:`~backout.sources.migration_facts.ChangelogProperty`, and :func:`expand_properties`,
run once every file is read and before the files are looked for, walks the changelogs from
each master as Liquibase parses them and puts the values into the paths.
``liquibase.properties`` counts for the masters below its folder, the nearest first. A
property's ``dbms``, ``context`` and ``labels`` are not evaluated, and one of ``file=`` (a
properties file) is not read.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from backout.changelog_order import PathResolver
from backout.sources.liquibase_sql_files import SqlFileChange
from backout.sources.migration_facts import ChangelogInclude, ChangelogProperty

if TYPE_CHECKING:
    from backout.sources.base import FactSet

_PROPERTY = re.compile(r"\$\{([^{}\s]+)\}")
_Pathed = ChangelogInclude | SqlFileChange
_Event = ChangelogProperty | _Pathed
# A defined parameter: its value, and the changelog it is local to (None: global).
_Defined = tuple[str, str | None]


def unknown_properties(target: str) -> list[str]:
    """The ``${…}`` names left in ``target`` (none once every one was expanded)."""
    return _PROPERTY.findall(target)


def expand_properties(facts: FactSet, resolver: PathResolver) -> None:
    """Put the values of the properties into the paths of ``facts``' includes and ``sqlFile``
    changes, as Liquibase parses the changelogs (see the module docstring); ``resolver``
    finds the files of the tree."""
    includes = facts.of(ChangelogInclude)
    changes = facts.of(SqlFileChange)
    pathed: list[_Pathed] = [*includes, *changes]
    if not any("${" in fact.target for fact in pathed):
        return
    events: dict[str, list[_Event]] = {}
    for event in (*facts.of(ChangelogProperty), *pathed):
        events.setdefault(event.location.path, []).append(event)
    for items in events.values():
        items.sort(key=lambda item: (item.location.line, item.location.column))
    parameters = _tool_parameters(facts)
    masters = _masters(includes, resolver)
    # The masters depend on the includes' expanded paths: a second walk from the masters the
    # first one found (a changelog included through a property is no master).
    for _ in range(2):
        expanded: dict[int, _Pathed] = {}
        visited: set[str] = set()
        for path in (*masters, *sorted(events)):
            if path not in visited:
                _walk(path, events, resolver, _seed(path, parameters), visited, expanded)
        now = [expanded.get(id(include), include) for include in includes]
        found = _masters([i for i in now if isinstance(i, ChangelogInclude)], resolver)
        if found == masters:
            break
        masters = found
    facts.replace_each(lambda fact: expanded.get(id(fact), fact))


def _walk(
    start: str,
    events: dict[str, list[_Event]],
    resolver: PathResolver,
    defined: dict[str, list[_Defined]],
    visited: set[str],
    expanded: dict[int, _Pathed],
) -> None:
    """Expand the paths of the changelogs ``start`` parses, in document order, entering each
    included changelog where it is included (an explicit stack: an include chain may be
    long)."""
    visited.add(start)
    stack: list[tuple[str, Iterator[_Event | str]]] = [(start, iter(events.get(start, ())))]
    while stack:
        here, items = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
        elif isinstance(item, str):
            if item not in visited:
                visited.add(item)
                stack.append((item, iter(events.get(item, ()))))
        elif isinstance(item, ChangelogProperty):
            owner = None if item.is_global else here
            known = defined.setdefault(item.name, [])
            if not any(o is None or o == here for _, o in known):  # once set, kept
                known.append((item.value, owner))
        else:
            target = _expand(item.target, here, defined)
            if target != item.target:
                expanded[id(item)] = item = replace(item, target=target)
            if isinstance(item, ChangelogInclude):
                paths = resolver.directory(item) if item.directory else [resolver.file(item)]
                stack.append((here, iter([p for p in paths if p in events])))


def _expand(target: str, here: str, defined: dict[str, list[_Defined]]) -> str:
    """``target`` with each ``${name}`` replaced by its value in the changelog at ``here``:
    the first one defined globally or for it; as written when there is none."""

    def value(match: re.Match[str]) -> str:
        known = defined.get(match[1], ())
        return next((value for value, owner in known if owner in (None, here)), match[0])

    return _PROPERTY.sub(value, target)


def _masters(includes: Sequence[ChangelogInclude], resolver: PathResolver) -> list[str]:
    """The changelogs that include others and that none includes."""
    included: set[str] = set()
    for include in includes:
        if include.directory:
            included.update(resolver.directory(include))
        elif (path := resolver.file(include)) is not None:
            included.add(path)
    return sorted({include.location.path for include in includes} - included)


def _tool_parameters(facts: FactSet) -> list[tuple[str, list[tuple[str, str]]]]:
    """The ``parameter.<name>`` of each ``liquibase.properties``, by its folder (``""`` at
    the root, else ending in ``/``), the deepest first."""
    tool_config = sys.modules.get("backout.sources.tool_config")
    if tool_config is None:  # no configuration file was read
        return []
    found = [
        (
            "" if config.directory == "." else config.directory + "/",
            [(p.name, p.value) for p in config.settings.placeholders],
        )
        for config in facts.of(tool_config.ToolConfig)
        if config.tool == tool_config.LIQUIBASE
    ]
    return sorted(found, key=lambda item: -item[0].count("/"))


def _seed(
    master: str, parameters: list[tuple[str, list[tuple[str, str]]]]
) -> dict[str, list[_Defined]]:
    """The parameters set before the changelog at ``master`` is parsed: those of the
    ``liquibase.properties`` in its folder or one above it, the nearest first."""
    defined: dict[str, list[_Defined]] = {}
    for folder, values in parameters:
        if master.startswith(folder):
            for name, value in values:
                defined.setdefault(name, [(value, None)])
    return defined
