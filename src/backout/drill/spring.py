"""Spring Boot's Flyway settings, bound the way Spring Boot binds them.

A Spring Boot application configures Flyway from ``spring.flyway.*``: ``placeholders`` (a
map), ``placeholder-prefix``, ``placeholder-suffix``, ``placeholder-separator``,
``placeholder-replacement``, ``mixed``, ``table`` and ``locations`` (default
``classpath:db/migration``). This module reads them from the
:class:`~backout.sources.spring_config.SpringConfig` facts of each application (the files of
one module's ``src/main/resources``), as Spring Boot 2.4 and later does:

* **Files, lowest first**: ``application.yml``/``.yaml``, ``application.properties`` (a
  ``.properties`` file wins over the YAML one beside it), then the same in ``config/``; then
  the profile files ``application-<profile>.*`` of each active profile in order, each in both
  folders (a profile file always wins over the plain ones, a later profile over an earlier
  one). In a file, a later document wins over an earlier one.
* **Active profiles**: ``drill.spring-profiles`` when it is set, else the environment's
  ``SPRING_PROFILES_ACTIVE``, else ``spring.profiles.active`` of the plain files; with
  ``spring.profiles.include`` before them and ``spring.profiles.group.<name>`` expanded; when
  none is active, ``spring.profiles.default`` (``default``). A document with
  ``spring.config.activate.on-profile`` (or the older ``spring.profiles``) counts when its
  profile expression (``dev``, ``!prod``, ``eu & (dev | test)``) matches; one with
  ``spring.config.activate.on-cloud-platform`` never does (the drill runs on no cloud).
* **Relaxed binding**: a setting's name matches in any spelling (``placeholder-prefix``,
  ``placeholderPrefix``, ``placeholder_prefix``); a placeholder's name is the map key Spring
  binds: the part after ``spring.flyway.placeholders.``, with every character but ASCII
  letters, digits, ``-`` and ``_`` dropped unless it is written in brackets
  (``placeholders.[my.name]``), as Spring Boot's ``ConfigurationPropertyName`` does.
* **``${…}`` in a value** reads the environment first (``${DB_SCHEMA}``, ``${db.schema}``
  as ``DB_SCHEMA``), then the application's settings (``${app.tenant}``), with a default
  after a colon (``${TENANT:acme}``) read only when it is used, as Spring's placeholder
  resolver does; a setting that reads itself stops the drill, as it stops Spring Boot.
* **Which migrations**: an application's settings apply to the migrations in its
  ``spring.flyway.locations``: ``classpath:`` is a module's ``src/main/resources`` (any
  module's, as a dependency's jar would be on the classpath; the application's own module
  wins), ``filesystem:`` is relative to the module; ``{vendor}`` and Flyway's ``*``, ``**``
  and ``?`` match any name.

Not read: ``spring.config.import`` and ``spring.config.location``, files outside
``src/main/resources`` (``./config/`` of the working directory), command-line arguments,
``SPRING_APPLICATION_JSON``, and settings made in Java code (a ``FlywayConfigurationCustomizer``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from backout.drill.database import DrillError
from backout.sources.spring_config import SpringConfig, SpringProperty
from backout.sources.tool_config import Placeholder, ToolSettings

Resolution = tuple[str, "str | None", bool]
"""A configuration value with what it reads filled in: the value, what it reads that is not
set (the words after "reads": ``the environment variable X, which is not set``; ``None``
when everything is), and whether it read the environment."""
Resolve = Callable[[str], Resolution]

SPRING_ENV_PREFIX = "SPRING_FLYWAY_PLACEHOLDERS_"
DEFAULT_LOCATION = "classpath:db/migration"
_MAX_FILLED = 65_536
"""The longest value the ``${…}`` of a Spring Boot setting may fill in to."""
# Spring Boot's boolean spellings (StringToBooleanConverter).
_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")
# The spring.flyway settings the drill uses, by their uniform name → ToolSettings field.
_SETTINGS = {
    "placeholderprefix": "prefix",
    "placeholdersuffix": "suffix",
    "placeholderseparator": "separator",
    "placeholderreplacement": "replacement",
    "mixed": "mixed",
    "table": "table",
}
_Element = tuple[str, bool]
"""One element of a setting's name, and whether it is written in brackets (indexed)."""


@dataclass(frozen=True)
class Layer:
    """One set of settings that may apply to a migration: where it is written, how the values
    it sets read what they name, and the names it seems to set but binds otherwise (name →
    why), which the drill explains when such a placeholder has no value."""

    settings: ToolSettings
    where: str
    resolve: Resolve
    hints: Mapping[str, str] = field(default_factory=dict)


def elements(key: str) -> list[_Element]:
    """The elements of a flattened name: ``a.b[c.d].e`` → ``a``, ``b``, ``[c.d]``, ``e``."""
    found: list[_Element] = []
    current: list[str] = []
    index = 0
    while index < len(key):
        char = key[index]
        if char == "[":
            close = key.find("]", index)
            if close > 0:
                if current:
                    found.append(("".join(current), False))
                    current = []
                found.append((key[index + 1 : close], True))
                index = close + 1
                if key[index : index + 1] == ".":
                    index += 1
                continue
        if char == ".":
            found.append(("".join(current), False))
            current = []
        else:
            current.append(char)
        index += 1
    if current:
        found.append(("".join(current), False))
    return found


def _uniform(element: str) -> str:
    """Spring's uniform form of a name element: ASCII letters and digits, lower case."""
    return "".join(c for c in element.lower() if c.isascii() and c.isalnum())


def _original(element: str) -> str:
    """Spring's original form of a map key element: ASCII letters, digits and ``_``, and
    ``-`` but not first; every other character dropped."""
    return "".join(
        c
        for index, c in enumerate(element)
        if c == "_" or (c.isascii() and c.isalnum()) or (c == "-" and index > 0)
    )


def _after(key: str, *path: str) -> list[_Element] | None:
    """The elements of ``key`` after ``path`` (matched as Spring matches names), or None."""
    found = elements(key)
    if len(found) < len(path):
        return None
    for (text, indexed), wanted in zip(found, path, strict=False):
        if indexed or _uniform(text) != wanted:
            return None
    return found[len(path) :]


def _is(key: str, *path: str) -> bool:
    """Whether ``key`` is the setting ``path``, or an item of it (``locations[0]``)."""
    rest = _after(key, *path)
    return rest is not None and all(indexed for _, indexed in rest[:1]) and len(rest) <= 1


def _list_value(properties: Sequence[SpringProperty], *path: str) -> list[SpringProperty]:
    """The setting ``path`` of one document as a list: its items (``a[0]``, ``a[1]``) or its
    comma-separated value, each a property of its own, where it is written."""
    found = [p for p in properties if _is(p.key, *path)]
    items: list[SpringProperty] = []
    for prop in found:
        for part in prop.value.split(","):
            if part.strip():
                items.append(SpringProperty(prop.key, part.strip(), prop.line, prop.column))
    return items


def _environment_value(environ: Mapping[str, str], name: str) -> str | None:
    """A setting read from the environment as Spring reads it: ``db.schema`` is also
    ``DB_SCHEMA`` (dots and dashes as underscores, upper case)."""
    dotted = name.replace(".", "_")
    for candidate in (name, dotted, name.replace("-", "_"), dotted.replace("-", "_")):
        for spelling in (candidate, candidate.upper()):
            if spelling in environ:
                return environ[spelling]
    return None


def _closing(text: str, start: int) -> int:
    """The index of the ``}`` that closes the placeholder whose content starts at ``start``."""
    depth = 0
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            if depth == 0:
                return index
            depth -= 1
        index += 1
    return -1


_Filled = tuple[str, list[str], bool]
"""A text with its ``${…}`` filled in, the placeholders it reads that are not set, and
whether it read the environment."""


class _Fill:
    """One value's ``${…}`` filled in as Spring's placeholder resolver fills them: the name
    (its own ``${…}`` filled first), else the default after its first ``:``, filled only when
    it is used. Each setting is filled once per value; one that reads itself stops the drill,
    as Spring Boot stops ("Circular placeholder reference"), and so does a value longer than
    :data:`_MAX_FILLED` (settings that each read the next one ten times)."""

    def __init__(self, application: _Application) -> None:
        self.application = application
        self.settings: dict[str, _Filled] = {}

    def text(self, text: str, chain: tuple[str, ...]) -> _Filled:
        if "${" not in text:
            return text, [], False
        pieces: list[str] = []
        unresolved: list[str] = []
        read_environment = False
        index = 0
        while True:
            start = text.find("${", index)
            end = _closing(text, start + 2) if start >= 0 else -1
            if end < 0:
                pieces.append(text[index:])
                break
            pieces.append(text[index:start])
            value, missing, from_environment = self.placeholder(text[start + 2 : end], chain)
            pieces.append(text[start : end + 1] if value is None else value)
            unresolved += missing
            read_environment = read_environment or from_environment
            index = end + 1
        filled = "".join(pieces)
        if len(filled) > _MAX_FILLED:
            raise DrillError(
                f"the ${{…}} of a Spring Boot setting fill in to more than {_MAX_FILLED:,} "
                f"characters ({text[:60]}…); the drill does not fill them in"
            )
        return filled, unresolved, read_environment

    def placeholder(
        self, content: str, chain: tuple[str, ...]
    ) -> tuple[str | None, list[str], bool]:
        """What ``${content}`` is: ``None`` (and it named as not set) when nothing is."""
        colon = _separator(content)
        key = content if colon < 0 else content[:colon]
        name, missing, read_environment = self.text(key, chain)
        found = self.setting(name, chain)
        if found is None and colon >= 0 and "${" not in content:
            found = self.setting(content, chain)  # a name with a colon (`${a:b}` itself)
        if found is not None:
            value, inner_missing, from_environment = found
            return value, inner_missing, read_environment or from_environment
        if colon >= 0:
            default, default_missing, from_environment = self.text(content[colon + 1 :], chain)
            return default, default_missing, read_environment or from_environment
        return None, missing or [name], read_environment

    def setting(self, name: str, chain: tuple[str, ...]) -> _Filled | None:
        """The setting ``name`` (the environment first), its own ``${…}`` filled in."""
        if name in self.settings:
            return self.settings[name]
        value, from_environment = self.application.lookup(name)
        if value is None:
            return None
        if name in chain:
            cycle = " -> ".join((*chain[chain.index(name) :], name))
            raise DrillError(
                f"the Spring Boot setting {name} reads itself ({cycle}); Spring Boot would not "
                "start with it (circular placeholder reference)"
            )
        filled, missing, read_environment = self.text(value, (*chain, name))
        self.settings[name] = (filled, missing, from_environment or read_environment)
        return self.settings[name]


def _separator(content: str) -> int:
    """The index of the ``:`` that starts the default of ``${content}``, not one inside a
    nested ``${…}``; -1 when there is none."""
    depth = 0
    index = 0
    while index < len(content):
        if content.startswith("${", index):
            depth += 1
            index += 2
            continue
        char = content[index]
        if char == "}" and depth:
            depth -= 1
        elif char == ":" and not depth:
            return index
        index += 1
    return -1


class _Application:
    """One Spring Boot application: the configuration files of one module."""

    def __init__(
        self,
        module: str,
        configs: Sequence[SpringConfig],
        environ: Mapping[str, str],
        profiles: str | None,
    ) -> None:
        self.module = module
        self.environ = environ
        plain = sorted((c for c in configs if c.profile is None), key=_file_order)
        # While the profiles are worked out, ${…} in them reads the plain files' documents
        # that hold for every profile, as Spring reads them before it knows the profiles.
        self.documents: list[tuple[SpringConfig, tuple[SpringProperty, ...]]] = [
            (config, document)
            for config in plain
            for document in config.documents
            if not any(_activation(p.key) for p in document)
        ]
        """The active documents, lowest precedence first."""
        self.profiles = self._profiles(profiles)
        active = set(self.profiles)
        self.documents = []
        by_profile = [
            config
            for profile in self.profiles
            for config in sorted((c for c in configs if c.profile == profile), key=_file_order)
        ]
        for config in [*plain, *by_profile]:
            for document in config.documents:
                if self._active(config, document, active):
                    self.documents.append((config, document))
        self.locations = self._locations()

    # --- profiles ---------------------------------------------------------------------------

    def _profiles(self, setting: str | None) -> list[str]:
        unconditional = [document for _, document in self.documents]

        def last(*path: str) -> list[str]:
            for document in reversed(unconditional):
                items = _list_value(document, *path)
                if items:
                    return [self.resolve(item.value)[0] for item in items]
            return []

        if setting is not None:
            active = [name.strip() for name in setting.split(",") if name.strip()]
        elif "SPRING_PROFILES_ACTIVE" in self.environ:
            raw = self.environ["SPRING_PROFILES_ACTIVE"]
            active = [name.strip() for name in raw.split(",") if name.strip()]
        else:
            active = last("spring", "profiles", "active")
        included: list[str] = []
        for document in unconditional:
            included += [
                self.resolve(item.value)[0]
                for item in _list_value(document, "spring", "profiles", "include")
            ]
        profiles = list(dict.fromkeys([*included, *active]))
        if not profiles:
            profiles = last("spring", "profiles", "default") or ["default"]
        groups: dict[str, list[str]] = {}
        for document in unconditional:
            for prop in document:
                rest = _after(prop.key, "spring", "profiles", "group")
                if rest:
                    name = rest[0][0]
                    groups.setdefault(name, [])
                    groups[name] += [p.strip() for p in prop.value.split(",") if p.strip()]
        return _expand(profiles, groups)

    def _active(
        self, config: SpringConfig, document: Sequence[SpringProperty], active: set[str]
    ) -> bool:
        """Whether ``document`` counts with the ``active`` profiles."""
        expressions: list[SpringProperty] = []
        for prop in document:
            kind = _activation(prop.key)
            if kind == "cloud":
                return False
            if kind == "profile":
                expressions += _list_value([prop], *_path_of(prop.key))
        if not expressions:
            return True
        where = config.location.path
        return any(_matches(e.value, active, f"{where}:{e.line}:{e.column}") for e in expressions)

    # --- values -----------------------------------------------------------------------------

    def lookup(self, name: str) -> tuple[str | None, bool]:
        """A setting as Spring's placeholder resolver finds it: the environment first,
        then the active documents, the last one first; and whether it was the environment."""
        value = _environment_value(self.environ, name)
        if value is not None:
            return value, True
        for _, document in reversed(self.documents):
            for prop in reversed(document):
                if prop.key == name:
                    return prop.value, False
        return None, False

    def resolve(self, text: str) -> Resolution:
        """``text`` with its ``${name}`` / ``${name:default}`` filled in."""
        filled, unresolved, read_environment = _Fill(self).text(text, ())
        why = (
            f"${{{unresolved[0]}}}, which neither the environment nor the application's "
            "Spring Boot configuration sets"
            if unresolved
            else None
        )
        return filled, why, read_environment

    # --- Flyway's settings ------------------------------------------------------------------

    def _locations(self) -> list[tuple[str, SpringProperty | None]]:
        for _, document in reversed(self.documents):
            items = _list_value(document, "spring", "flyway", "locations")
            if items:
                return [(self.resolve(item.value)[0], item) for item in items]
        return [(DEFAULT_LOCATION, None)]

    def covers(self, directory: str) -> bool:
        """Whether Flyway, run by this application, reads migrations in ``directory``."""
        for location, _ in self.locations:
            pattern = _location_pattern(location, self.module)
            if pattern is not None and pattern.fullmatch(directory):
                return True
        return False

    def layers(self) -> Iterator[Layer]:
        """The ``spring.flyway`` settings of each active document, lowest first."""
        for config, document in self.documents:
            where = config.location.path
            placeholders: list[Placeholder] = []
            hints: dict[str, str] = {}
            values: dict[str, Any] = {}
            for prop in document:
                named = _placeholder_name(prop.key)
                if named is not None:
                    name, written = named
                    if name:
                        placeholders.append(Placeholder(name, prop.value, prop.line))
                    if written is not None:
                        hints[written.casefold()] = (
                            f"{prop.key} in {where}:{prop.line} binds to the name '{name}': "
                            "Spring Boot drops every character but letters, digits, '-' and "
                            f"'_' from a map key not written in brackets ([{written}])"
                        )
                    continue
                rest = _after(prop.key, "spring", "flyway")
                if rest and len(rest) == 1 and not rest[0][1]:
                    setting = _SETTINGS.get(_uniform(rest[0][0]))
                    if setting is not None:
                        values[setting] = self._setting(setting, prop, where)
            if placeholders or values or hints:
                yield Layer(
                    ToolSettings(placeholders=tuple(placeholders), **values),
                    where,
                    self.resolve,
                    hints,
                )

    def elsewhere(self, directory: str) -> Layer | None:
        """No settings, but why each placeholder this application sets gives no value to the
        migrations of ``directory``: its locations do not hold them."""
        hints: dict[str, str] = {}
        locations = ", ".join(location for location, _ in self.locations)
        for config, document in self.documents:
            for prop in document:
                named = _placeholder_name(prop.key)
                if named is not None and named[0]:
                    hints[named[0].casefold()] = (
                        f"{config.location.path}:{prop.line} sets it for the migrations in "
                        f"spring.flyway.locations ({locations}), which do not hold {directory}"
                    )
        return Layer(ToolSettings(), "", self.resolve, hints) if hints else None

    def _setting(self, setting: str, prop: SpringProperty, where: str) -> str | bool:
        value, why, _ = self.resolve(prop.value)
        if setting not in ("replacement", "mixed"):
            return value
        lowered = value.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        reads = f" (it reads {why})" if why else ""
        raise DrillError(
            f"{where}:{prop.line}:{prop.column}: {prop.key} must be true or false, not "
            f"'{value}'{reads}; Spring Boot would not start with it, and the drill cannot tell "
            "how Flyway replaces placeholders"
        )


class SpringApplications:
    """The Spring Boot applications of a repository, one per module with configuration."""

    def __init__(
        self,
        configs: Sequence[SpringConfig],
        environ: Mapping[str, str],
        profiles: str | None = None,
    ) -> None:
        self.environ = environ
        self._modules: dict[str, list[SpringConfig]] = {}
        for config in configs:
            self._modules.setdefault(config.module, []).append(config)
        self._profiles = profiles
        self._applications: dict[str, _Application] = {}

    def __bool__(self) -> bool:
        return bool(self._modules)

    def application(self, module: str) -> _Application:
        """The application of ``module`` (its profiles worked out on first use)."""
        if module not in self._applications:
            self._applications[module] = _Application(
                module, self._modules[module], self.environ, self._profiles
            )
        return self._applications[module]

    def layers(self, directory: str) -> list[Layer]:
        """The settings of every application whose locations hold ``directory``, lowest
        first: other modules' applications, then the one of the module it is in."""

        def own(module: str) -> bool:
            return module == "." or directory == module or directory.startswith(module + "/")

        found: list[Layer] = []
        elsewhere: list[Layer] = []
        for module in sorted(self._modules, key=lambda m: (own(m), m.count("/"), m)):
            application = self.application(module)
            if application.covers(directory):
                found.extend(application.layers())
            else:
                hints = application.elsewhere(directory)
                elsewhere += [hints] if hints is not None else []
        return [*elsewhere, *found]

    def environment_placeholders(self) -> tuple[dict[str, str], dict[str, str]]:
        """``SPRING_FLYWAY_PLACEHOLDERS_*`` as Spring Boot binds them (the name lower case,
        each ``_`` a ``.``), and for each the name it seems to set but does not (why)."""
        values: dict[str, str] = {}
        hints: dict[str, str] = {}
        for variable, value in self.environ.items():
            if not variable.upper().startswith(SPRING_ENV_PREFIX):
                continue
            written = variable[len(SPRING_ENV_PREFIX) :]
            name = ".".join(part for part in written.lower().split("_") if part)
            if not name:
                continue
            values[name] = value
            if name != written.lower():
                why = (
                    f"the environment variable {variable} binds to the name '{name}': Spring "
                    "Boot reads each '_' of an environment variable as a '.'"
                )
                # The name it was meant for, with '_' or with '-' (which no variable can hold).
                hints[written.casefold()] = hints[written.casefold().replace("_", "-")] = why
        return values, hints


def _placeholder_name(key: str) -> tuple[str, str | None] | None:
    """For a ``spring.flyway.placeholders.<key>`` setting, the placeholder name Spring binds
    (Spring's original form of the map key), and the key as written when that differs
    (characters dropped); ``None`` for any other setting."""
    rest = _after(key, "spring", "flyway", "placeholders")
    if not rest:
        return None
    name = ".".join(text if indexed else _original(text) for text, indexed in rest)
    written = ".".join(text for text, _ in rest)
    dropped = name != written and not any(indexed for _, indexed in rest)
    return name, written if dropped else None


def _file_order(config: SpringConfig) -> tuple[bool, bool, str]:
    """Lowest first: the resources folder before ``config/``, YAML before ``.properties``."""
    return config.in_config_folder, config.is_properties, config.location.path


def _activation(key: str) -> str | None:
    """``profile`` for ``spring.config.activate.on-profile`` (and the older
    ``spring.profiles`` in a document), ``cloud`` for ``…on-cloud-platform``."""
    if _is(key, "spring", "config", "activate", "onprofile") or _is(key, "spring", "profiles"):
        return "profile"
    if _is(key, "spring", "config", "activate", "oncloudplatform"):
        return "cloud"
    return None


def _path_of(key: str) -> tuple[str, ...]:
    """The uniform path of a setting without its index: ``spring.profiles[0]`` → spring,
    profiles."""
    return tuple(_uniform(text) for text, indexed in elements(key) if not indexed)


def _expand(profiles: Sequence[str], groups: Mapping[str, Sequence[str]]) -> list[str]:
    """Profiles with their groups' members after each, depth first, each once (Spring's
    ``Profiles.expandProfiles``)."""
    stack = list(reversed(profiles))
    expanded: list[str] = []
    while stack:
        current = stack.pop()
        if current not in expanded:
            expanded.append(current)
            stack.extend(reversed(groups.get(current, [])))
    return expanded


_PROFILE_TOKEN = re.compile(r"[()&|!]|[^()&|!\s]+")


def _matches(expression: str, active: set[str], where: str) -> bool:
    """Whether a profile expression (``dev``, ``!prod``, ``a & (b | c)``) holds for
    ``active``; one Spring would refuse is exit 2, naming where it is written."""
    tokens = _PROFILE_TOKEN.findall(expression)
    position = 0

    def bad(reason: str) -> DrillError:
        return DrillError(
            f"{where}: invalid Spring profile expression '{expression}': {reason}; Spring Boot "
            "would not start with it"
        )

    def operand() -> bool:
        nonlocal position
        if position >= len(tokens):
            raise bad("it ends where a profile name is expected")
        token = tokens[position]
        position += 1
        if token == "!":
            return not operand()
        if token == "(":
            value = either()
            if position >= len(tokens) or tokens[position] != ")":
                raise bad("a '(' is not closed")
            position += 1
            return value
        if token in "&|)":
            raise bad(f"'{token}' where a profile name is expected")
        return token in active

    def either() -> bool:
        nonlocal position
        value = operand()
        operator = None
        while position < len(tokens) and tokens[position] in ("&", "|"):
            if operator is not None and tokens[position] != operator:
                raise bad("'&' and '|' are mixed without parentheses")
            operator = tokens[position]
            position += 1
            right = operand()
            value = (value and right) if operator == "&" else (value or right)
        return value

    result = either()
    if position != len(tokens):
        raise bad(f"'{tokens[position]}' after the end of the expression")
    return result


_LOCATION_WILDCARDS = {"**": ".*", "*": "[^/]*", "?": "[^/]", "{vendor}": "[^/]+"}
_LOCATION_PARTS = re.compile(r"(\*\*|\*|\?|\{vendor\})")


def _location_pattern(location: str, module: str) -> re.Pattern[str] | None:
    """The root-relative directories a Flyway location holds (subdirectories too), as a
    pattern; ``None`` for a location outside the repository (an absolute path, ``s3:``)."""
    scheme, colon, path = location.strip().partition(":")
    if not colon:
        scheme, path = "classpath", location.strip()
    if scheme == "classpath":
        base = r"(?:.*/)?src/main/resources"
        path = path.strip("/")
    elif scheme == "filesystem" and not path.startswith("/"):
        path = posixpath.normpath(posixpath.join(module, path))
        if path == ".." or path.startswith("../"):
            return None
        base, path = "", "" if path == "." else path
    else:
        return None
    pieces = [base] if base else []
    if path:
        pieces.append(
            "".join(
                _LOCATION_WILDCARDS.get(part, re.escape(part))
                for part in _LOCATION_PARTS.split(path)
            )
        )
    joined = "/".join(pieces)
    return re.compile(rf"{joined}(?:/.*)?" if joined else ".*")
