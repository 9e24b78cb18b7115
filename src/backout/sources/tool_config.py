"""Migration tools' own configuration files → :class:`ToolConfig` facts.

* ``flyway.conf`` (Java properties): ``flyway.placeholders.<name>=value``,
  ``flyway.placeholderPrefix``, ``flyway.placeholderSuffix``, ``flyway.placeholderSeparator``,
  ``flyway.placeholderReplacement``, ``flyway.mixed``, ``flyway.table``;
* ``flyway.toml``: the same settings in ``[flyway]`` (``[flyway.placeholders]``), the
  environment it names (``[flyway] environment``) and each environment's overrides
  (``[environments.<name>.flyway]``, ``[environments.<name>.flyway.placeholders]``);
* ``pom.xml``: the ``flyway-maven-plugin``'s ``<configuration>`` (``<placeholders>`` with one
  element a placeholder, ``<placeholderPrefix>``…), in ``<pluginManagement>``, in
  ``<plugins>`` and in its ``<executions>``, then the ``flyway.*`` Maven properties of
  ``<properties>``, which the plugin reads over its configuration. The pom's own
  ``${property}`` references are filled in here, as Maven fills them before the plugin
  starts; what the pom cannot fill (``${env.NAME}``, ``-D`` properties) is left for the
  drill. A property that reads itself, which Maven refuses, or values that fill in to more
  than 65,536 characters are unreadable. Profiles (``<profiles>``) and parent poms are not
  read;
* ``liquibase.properties``: changelog parameters, ``parameter.<name>=value``.

The reader records what the file says, with the line of each placeholder; which files apply to
which migrations, and what a placeholder without a value means, is for the drill to decide
(:mod:`backout.drill.placeholders`). A file that cannot be parsed, or a setting of the wrong
type, is an :class:`~backout.sources.base.Unreadable` fact (BK901) at its line. A ``pom.xml``
that does not mention ``flyway`` is not parsed at all.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from backout.lines import split_lines
from backout.models import Location
from backout.sources.base import Fact, SourceFile, Unreadable
from backout.sources.paths import is_tool_config
from backout.sources.xmlfile import Element, read_xml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found]

FLYWAY = "flyway"
LIQUIBASE = "liquibase"


@dataclass(frozen=True)
class Placeholder:
    """One placeholder value a configuration file sets, and the line it is set on."""

    name: str
    value: str
    line: int


@dataclass(frozen=True)
class ToolSettings:
    """One set of settings: a whole ``flyway.conf``, ``[flyway]`` of a ``flyway.toml``, or an
    environment's ``[environments.<name>.flyway]``. ``None`` means not set there."""

    placeholders: tuple[Placeholder, ...] = ()
    prefix: str | None = None
    suffix: str | None = None
    separator: str | None = None
    replacement: bool | None = None
    mixed: bool | None = None
    table: str | None = None


@dataclass(frozen=True)
class ToolConfig(Fact):
    """A migration tool's configuration file (its location is the file's first line)."""

    tool: str
    """``flyway`` or ``liquibase``."""
    settings: ToolSettings
    environment: str | None = None
    """``flyway.toml``'s ``[flyway] environment``: the environment Flyway runs with."""
    environments: tuple[tuple[str, ToolSettings], ...] = ()
    """Each ``[environments.<name>]`` of a ``flyway.toml`` with the overrides it sets."""

    @property
    def directory(self) -> str:
        """The root-relative directory of the file (``.`` at the root)."""
        return self.location.path.rpartition("/")[0] or "."


class _Bad(ValueError):
    """A setting of the wrong type; ``line`` (and ``column``) is where it is written."""

    def __init__(self, message: str, line: int, column: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class ToolConfigReader:
    """Reads ``flyway.conf``, ``flyway.toml``, ``pom.xml`` and ``liquibase.properties``."""

    name: ClassVar[str] = "migration tool configuration"

    def wants(self, path: str) -> bool:
        """``flyway.conf``, ``flyway.toml``, ``pom.xml`` and ``liquibase.properties`` anywhere."""
        return is_tool_config(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """One :class:`ToolConfig`, or an :class:`Unreadable` saying where it went wrong."""
        if file.name == "pom.xml" and b"flyway" not in file.data:
            return  # most poms: no Flyway plugin, no Flyway property
        text = file.text()
        if text is None:
            error = file.decode_error()
            if error is not None:
                yield error
            return
        try:
            if file.name == "pom.xml":
                pom = _maven_pom(file)
                if pom is not None:
                    yield pom
            elif file.name == "flyway.toml":
                yield _flyway_toml(file.path, text)
            elif file.name == "flyway.conf":
                yield _flyway_conf(file.path, text)
            else:
                yield _liquibase_properties(file.path, text)
        except _Bad as bad:
            yield Unreadable(Location(file.path, bad.line, bad.column), self.name, str(bad))


# --- Java properties (flyway.conf, liquibase.properties) -------------------------------------

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 == len(text):
            out.append(char)
            index += 1
            continue
        following = text[index + 1]
        if following == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
            out.append(chr(int(text[index + 2 : index + 6], 16)))
            index += 6
            continue
        out.append(_ESCAPES.get(following, following))
        index += 2
    return "".join(out)


def _continues(line: str) -> bool:
    """A line that ends in an odd number of backslashes goes on on the next line."""
    stripped = line.rstrip("\r\n")
    return (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1


_KEY_END = re.compile(r"(?<!\\)(?:\\\\)*[=:\s]")


def read_properties(text: str) -> Iterator[tuple[str, str, int]]:
    """``(key, value, line)`` of each entry of a Java properties text, as
    ``java.util.Properties.load`` reads it (comments, continuation lines, escapes)."""
    lines = split_lines(text)
    index = 0
    while index < len(lines):
        first = index
        logical = lines[index].lstrip()
        index += 1
        if not logical or logical[0] in "#!":
            continue
        while _continues(logical) and index < len(lines):
            logical = logical.rstrip("\r\n")[:-1] + lines[index].lstrip()
            index += 1
        if _continues(logical):
            logical = logical[:-1]
        end = _KEY_END.search(logical)
        if end is None:
            key, rest = logical, ""
        else:
            cut = end.end() - 1
            key, rest = logical[:cut], logical[cut:]
            rest = rest.lstrip(" \t\f")
            if rest[:1] in ("=", ":"):
                rest = rest[1:].lstrip(" \t\f")
        yield _unescape(key), _unescape(rest), first + 1


def _boolean(key: str, value: str, line: int, column: int = 1) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise _Bad(f"{key} must be true or false, not '{value}'", line, column)


def _flyway_conf(path: str, text: str) -> ToolConfig:
    placeholders: list[Placeholder] = []
    values: dict[str, Any] = {}
    for key, value, line in read_properties(text):
        if key.startswith("flyway.placeholders.") and len(key) > len("flyway.placeholders."):
            placeholders.append(Placeholder(key[len("flyway.placeholders.") :], value, line))
            continue
        setting = _CONF_SETTINGS.get(key)
        if setting is None:
            continue
        if setting in ("replacement", "mixed"):
            values[setting] = _boolean(key, value, line)
        else:
            values[setting] = value
    return ToolConfig(
        Location(path, 1, 1), FLYWAY, ToolSettings(placeholders=tuple(placeholders), **values)
    )


_CONF_SETTINGS = {
    "flyway.placeholderPrefix": "prefix",
    "flyway.placeholderSuffix": "suffix",
    "flyway.placeholderSeparator": "separator",
    "flyway.placeholderReplacement": "replacement",
    "flyway.mixed": "mixed",
    "flyway.table": "table",
}
_SETTING_NAMES = {key.split(".", 1)[1]: field for key, field in _CONF_SETTINGS.items()}
"""The settings as ``flyway.toml`` and the Maven plugin's ``<configuration>`` name them."""


def _liquibase_properties(path: str, text: str) -> ToolConfig:
    placeholders = tuple(
        Placeholder(key[len("parameter.") :], value, line)
        for key, value, line in read_properties(text)
        if key.startswith("parameter.") and len(key) > len("parameter.")
    )
    return ToolConfig(Location(path, 1, 1), LIQUIBASE, ToolSettings(placeholders=placeholders))


# --- flyway.toml ------------------------------------------------------------------------------

_TOML_ERROR_LINE = re.compile(r"\(at line (\d+)")


def _flyway_toml(path: str, text: str) -> ToolConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_ERROR_LINE.search(str(exc))
        raise _Bad(f"invalid TOML: {exc}", int(found[1]) if found else 1) from None
    flyway = data.get("flyway", {})
    if not isinstance(flyway, dict):
        raise _Bad("[flyway] must be a table", _line_of(text, r"flyway\s*="))
    settings = _toml_settings(text, flyway, "flyway")
    environment = flyway.get("environment")
    if environment is not None and not isinstance(environment, str):
        raise _Bad("[flyway] environment must be a string", _line_of(text, r"environment\s*="))
    raw_environments = data.get("environments", {})
    if not isinstance(raw_environments, dict):
        raise _Bad("[environments] must be a table", _line_of(text, r"environments\s*="))
    environments: list[tuple[str, ToolSettings]] = []
    for name, table in raw_environments.items():
        if not isinstance(table, dict):
            raise _Bad(f"environments.{name} must be a table", _line_of(text, re.escape(name)))
        override = table.get("flyway", {})
        if not isinstance(override, dict):
            raise _Bad(
                f"environments.{name}.flyway must be a table",
                _line_of(text, rf"\[environments\.{re.escape(name)}"),
            )
        environments.append((name, _toml_settings(text, override, f"environments.{name}.flyway")))
    return ToolConfig(Location(path, 1, 1), FLYWAY, settings, environment, tuple(environments))


def _toml_settings(text: str, table: Mapping[str, Any], where: str) -> ToolSettings:
    values: dict[str, Any] = {}
    for key, field in _SETTING_NAMES.items():
        if key not in table:
            continue
        value = table[key]
        line = _line_of(text, rf"{key}\s*=")
        if field in ("replacement", "mixed"):
            if isinstance(value, str):  # "true" as a string, as the .conf spelling has it
                value = _boolean(f"{where}.{key}", value, line)
            elif not isinstance(value, bool):
                raise _Bad(f"{where}.{key} must be true or false", line)
        elif not isinstance(value, str):
            raise _Bad(f"{where}.{key} must be a string", line)
        values[field] = value
    raw = table.get("placeholders", {})
    header = _line_of(text, rf"\[\s*{re.escape(where)}\.placeholders\s*\]")
    if not isinstance(raw, dict):
        raise _Bad(f"{where}.placeholders must be a table", _line_of(text, r"placeholders\s*="))
    placeholders = []
    for name, value in raw.items():
        line = _line_of(
            text, rf"(?:placeholders\s*\.\s*)?[\"']?{re.escape(name)}[\"']?\s*=", header
        )
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str):
            raise _Bad(f"placeholder {where}.placeholders.{name} must be a string", line)
        placeholders.append(Placeholder(name, value, line))
    return ToolSettings(placeholders=tuple(placeholders), **values)


def _line_of(text: str, pattern: str, after: int = 1) -> int:
    """The line (from ``after`` on) that starts with ``pattern``; ``after`` when none does."""
    compiled = re.compile(rf"^\s*{pattern}")
    for number, line in enumerate(split_lines(text)[after - 1 :], start=after):
        if compiled.match(line):
            return number
    return after


# --- pom.xml (flyway-maven-plugin) ------------------------------------------------------------

_MAVEN_PLUGIN = "flyway-maven-plugin"
# ``${name}`` in a pom: Maven fills it from the pom's properties and coordinates.
_MAVEN_REFERENCE = re.compile(r"\$\{([^}]+)\}")
_MAX_FILLED = 65_536
"""The longest value a pom's ``${…}`` may fill in: ``<a>${b}${b}</a><b>${c}${c}</b>``…
doubles at every property, as the entities that XML reading refuses would."""


def _maven_pom(file: SourceFile) -> ToolConfig | Unreadable | None:
    """The Flyway settings of a ``pom.xml``; ``None`` when it configures none."""
    root = read_xml(file, ToolConfigReader.name, "project", "pom.xml")
    if root is None or isinstance(root, Unreadable):
        return root
    variables = _maven_variables(root)
    configurations: list[Element] = []
    build = root.child("build")
    for holder in (build and build.child("pluginManagement"), build):
        plugins = holder.child("plugins") if holder is not None else None
        for plugin in plugins.named("plugin") if plugins is not None else []:
            artifact = plugin.child("artifactId")
            if artifact is None or artifact.text.strip() != _MAVEN_PLUGIN:
                continue
            executions = plugin.child("executions")
            for holder_of_configuration in (
                plugin,
                *(executions.named("execution") if executions is not None else []),
            ):
                configuration = holder_of_configuration.child("configuration")
                if configuration is not None:
                    configurations.append(configuration)
    properties = root.child("properties")
    flyway_properties = [
        element
        for element in (properties.children if properties is not None else [])
        if element.name in _CONF_SETTINGS or element.name.startswith("flyway.placeholders.")
    ]
    if not configurations and not flyway_properties:
        return None
    placeholders: list[Placeholder] = []
    values: dict[str, Any] = {}
    # Lowest first: pluginManagement, the plugin, its executions; then the flyway.* Maven
    # properties, which the plugin puts over its configuration.
    for configuration in configurations:
        for element in configuration.children:
            if element.name == "placeholders":
                for entry in element.children:
                    placeholders.append(_maven_placeholder(entry.name, entry, variables))
            elif element.name in _SETTING_NAMES:
                field = _SETTING_NAMES[element.name]
                values[field] = _maven_setting(element.name, field, element, variables)
    for element in flyway_properties:
        if element.name in _CONF_SETTINGS:
            field = _CONF_SETTINGS[element.name]
            values[field] = _maven_setting(element.name, field, element, variables)
        elif len(element.name) > len("flyway.placeholders."):
            name = element.name[len("flyway.placeholders.") :]
            placeholders.append(_maven_placeholder(name, element, variables))
    return ToolConfig(
        Location(file.path, 1, 1), FLYWAY, ToolSettings(placeholders=tuple(placeholders), **values)
    )


def _maven_variables(root: Element) -> dict[str, str]:
    """What ``${…}`` may name in this pom: its ``<properties>`` and its coordinates
    (``project.version``, ``project.groupId``…, the parent's when the pom inherits them)."""
    variables: dict[str, str] = {}
    parent = root.child("parent")
    for name in ("groupId", "artifactId", "version", "name"):
        element = root.child(name) or (parent.child(name) if parent and name != "name" else None)
        if element is not None and not element.children:
            variables[f"project.{name}"] = variables[f"pom.{name}"] = element.text.strip()
    properties = root.child("properties")
    for element in properties.children if properties is not None else []:
        if not element.children:
            variables[element.name] = element.text.strip()
    return variables


def _maven_text(what: str, element: Element, variables: Mapping[str, str]) -> str:
    """An element's text as the plugin gets it: trimmed (Maven trims configuration values),
    the pom's own ``${…}`` filled in."""
    if element.children:
        child = element.children[0]
        raise _Bad(
            f"{what} must be text, not the element <{child.name}>",
            child.location.line,
            child.location.column,
        )
    return _MavenFill(variables, element).fill(element.text.strip(), ())


class _MavenFill:
    """The pom's own ``${…}`` filled in one value, each property filled once; a property that
    reads itself (Maven stops: "recursive expression cycle") or a value longer than
    :data:`_MAX_FILLED` is :class:`_Bad` at ``element``."""

    def __init__(self, variables: Mapping[str, str], element: Element) -> None:
        self.variables = variables
        self.element = element
        self.filled: dict[str, str] = {}

    def fill(self, value: str, chain: tuple[str, ...]) -> str:
        if "${" not in value:
            return value
        filled = _MAVEN_REFERENCE.sub(lambda match: self.property(match, chain), value)
        if len(filled) > _MAX_FILLED:
            self.bad(f"the properties it reads fill in to more than {_MAX_FILLED:,} characters")
        return filled

    def property(self, match: re.Match[str], chain: tuple[str, ...]) -> str:
        name = match[1]
        found = self.variables.get(name)
        if found is None:
            return match[0]  # not the pom's: the drill reads ${env.…}, says what is unset
        if name in chain:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            self.bad(f"the property {name} reads itself ({cycle}); Maven refuses such a pom")
        if name not in self.filled:
            self.filled[name] = self.fill(found, (*chain, name))
        return self.filled[name]

    def bad(self, message: str) -> NoReturn:
        where = self.element.location
        raise _Bad(message, where.line, where.column)


def _maven_placeholder(name: str, element: Element, variables: Mapping[str, str]) -> Placeholder:
    # An empty element (<tenant/>) is the empty string: the plugin passes "" for a null value.
    value = _maven_text(f"the placeholder <{name}>", element, variables)
    return Placeholder(name, value, element.location.line)


def _maven_setting(name: str, field: str, element: Element, variables: Mapping[str, str]) -> Any:
    value = _maven_text(f"<{name}>", element, variables)
    if field in ("replacement", "mixed"):
        return _boolean(f"<{name}>", value, element.location.line, element.location.column)
    return value
