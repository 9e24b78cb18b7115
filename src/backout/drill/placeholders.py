"""Flyway placeholders and Liquibase changelog parameters, replaced as the tools replace them.

Flyway replaces ``${name}`` everywhere in a SQL migration (strings and comments included) with
the value its configuration gives, matching names without regard to case, and refuses to run a
migration with a placeholder it has no value for; ``placeholderReplacement=false`` turns it
off and ``placeholderPrefix``/``placeholderSuffix`` change the markers. It also fills its own
``${flyway:…}`` placeholders. Liquibase expands ``${name}`` from its changelog parameters and
leaves a name it does not know as written. The drill does the same with the values of, the
later winning:

1. the repository's ``pom.xml`` (the ``flyway-maven-plugin``), ``flyway.conf``,
   ``flyway.toml`` and ``liquibase.properties``
   (:class:`~backout.sources.tool_config.ToolConfig` facts) that apply to the migration's
   directory: at the root, in ``conf/``, next to the migrations or in a directory above them,
   the nearest winning; in one directory the pom first, as the Maven plugin reads the
   configuration files it is given over its own settings; in ``flyway.toml`` the
   environment's overrides over ``[flyway]``;
2. Spring Boot's ``spring.flyway.*`` of each application whose ``spring.flyway.locations``
   hold the migration (:mod:`backout.drill.spring`), then ``SPRING_FLYWAY_PLACEHOLDERS_*``;
3. ``FLYWAY_PLACEHOLDERS_*``, as Flyway and its Maven plugin read them over their files;
4. ``[tool.backout.drill] placeholders``, which wins over all;

and the built-in ``${flyway:…}`` ones with the throwaway database's values. Which tool runs the
migrations in production (the Flyway command line, the Maven plugin, the application at its
start) the repository does not say: every source that applies is taken, in this order.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backout.config import did_you_mean
from backout.drill.database import DrillDatabase, DrillError
from backout.drill.spring import SPRING_ENV_PREFIX, Resolution, Resolve, SpringApplications
from backout.lines import position
from backout.models import Location
from backout.redact import SECRET_NAME
from backout.schema_model import Migration
from backout.sources.spring_config import SpringConfig
from backout.sources.tool_config import FLYWAY, LIQUIBASE, ToolConfig, ToolSettings

DEFAULT_ENVIRONMENT = "default"
DEFAULT_TABLE = "flyway_schema_history"
BUILT_IN = (
    "defaultSchema",
    "user",
    "database",
    "timestamp",
    "filename",
    "workingDirectory",
    "table",
    "environment",
)
"""Flyway's own placeholders, ``${flyway:<name>}`` (the separator is ``placeholderSeparator``)."""

_ENV_PREFIX = "FLYWAY_PLACEHOLDERS_"
_LAYOUT_TOOL = {"flyway": FLYWAY, "liquibase": LIQUIBASE}
# Lower first: the file that comes later in this order wins for the same directory.
_FILE_ORDER = {
    "pom.xml": -1,
    "conf/flyway.conf": 0,
    "flyway.conf": 1,
    "conf/flyway.toml": 2,
    "flyway.toml": 3,
}


@dataclass
class Scheme:
    """How one migration's placeholders are replaced."""

    tool: str
    prefix: str = "${"
    suffix: str = "}"
    separator: str = ":"
    enabled: bool = True
    mixed: bool = False
    table: str = DEFAULT_TABLE
    environment: str = DEFAULT_ENVIRONMENT
    values: dict[str, str] = field(default_factory=dict)
    """Case-folded name → value."""
    sources: dict[str, str] = field(default_factory=dict)
    """Case-folded name → where its value was set (``flyway.conf:3``), for messages."""
    unset: dict[str, str] = field(default_factory=dict)
    """Case-folded name → why the value set for it is not there (an environment variable)."""
    from_environment: set[str] = field(default_factory=set)
    """Case-folded names whose value was read from the environment (``FLYWAY_PLACEHOLDERS_*``,
    ``${env.NAME}``): such a value is kept out of the repository, as a credential is."""

    @property
    def strict(self) -> bool:
        """Flyway stops on a placeholder without a value; Liquibase leaves it as written."""
        return self.tool == FLYWAY

    def built_in(self, name: str) -> str | None:
        """``defaultSchema`` for ``flyway:defaultSchema`` (any case), else ``None``."""
        if self.tool != FLYWAY:
            return None
        head = f"flyway{self.separator}"
        if not name.casefold().startswith(head.casefold()):
            return None
        wanted = name[len(head) :].casefold()
        return next((b for b in BUILT_IN if b.casefold() == wanted), None)

    def merge(self, settings: ToolSettings, where: str, resolve: Resolve) -> None:
        """Apply ``settings`` (of the file ``where``) over what is set already. A value that
        reads something (an environment variable, ``${env.NAME}`` in TOML, a Maven or Spring
        property) is filled in by ``resolve``; one that reads what is not set leaves the
        placeholder without a value, and the drill says why."""
        for attribute, value in (
            ("prefix", settings.prefix),
            ("suffix", settings.suffix),
            ("separator", settings.separator),
            ("enabled", settings.replacement),
            ("mixed", settings.mixed),
            ("table", settings.table),
        ):
            if value is not None and value != "":
                setattr(self, attribute, value)
        for placeholder in settings.placeholders:
            key = placeholder.name.casefold()
            value, unset, read_environment = resolve(placeholder.value)
            source = f"{where}:{placeholder.line}"
            if unset is None:
                self._set(key, value, source, read_environment)
            else:
                self.values.pop(key, None)
                self.sources[key] = source
                self.unset[key] = f"its value in {source} reads {unset}"

    def give(self, values: Mapping[str, str], source: str, from_environment: bool) -> None:
        """Set ``values`` over what is set already (``source`` names where they come from)."""
        for name, value in values.items():
            self._set(name.casefold(), value, source.format(name=name), from_environment)

    def _set(self, key: str, value: str, source: str, from_environment: bool) -> None:
        self.values[key] = value
        self.unset.pop(key, None)
        self.sources[key] = source
        if from_environment:
            self.from_environment.add(key)
        else:
            self.from_environment.discard(key)


# Flyway's resolvers in a configuration value: ``${env.NAME}`` (TOML), ``${NAME}`` (.conf).
_TOML_ENV = re.compile(r"\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}")
_CONF_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What Maven leaves of ${…} in a pom once the pom's own properties are filled in.
_MAVEN_REFERENCE = re.compile(r"\$\{([^}]+)\}")
_MAVEN_BASEDIR = ("project.basedir", "basedir", "pom.basedir")


def _environment_resolver(pattern: re.Pattern[str], environ: Mapping[str, str]) -> Resolve:
    """Fills the environment variables a Flyway configuration value reads (``pattern``)."""

    def resolve(value: str) -> Resolution:
        unset: list[str] = []

        def fill(match: re.Match[str]) -> str:
            if match[1] not in environ:
                unset.append(match[1])
                return match[0]
            return environ[match[1]]

        filled = pattern.sub(fill, value)
        why = f"the environment variable {unset[0]}, which is not set" if unset else None
        return filled, why, filled != value and not unset

    return resolve


def _maven_resolver(basedir: Path, environ: Mapping[str, str]) -> Resolve:
    """Fills what Maven fills in a pom from outside it: ``${env.NAME}`` and the pom's
    directory (the pom's own properties were filled in when it was read)."""

    def resolve(value: str) -> Resolution:
        unset: list[str] = []
        read_environment: list[bool] = []

        def fill(match: re.Match[str]) -> str:
            name = match[1]
            if name in _MAVEN_BASEDIR:
                return str(basedir)
            if name.startswith("env.") and name[4:] in environ:
                read_environment.append(True)
                return environ[name[4:]]
            unset.append(name)
            return match[0]

        filled = _MAVEN_REFERENCE.sub(fill, value) if "${" in value else value
        why = None
        if unset:
            name = unset[0]
            why = (
                f"the environment variable {name[4:]}, which is not set"
                if name.startswith("env.")
                else f"the Maven property {name}, which the pom does not set (Maven would "
                f"take it from -D{name}=… or settings.xml)"
            )
        return filled, why, bool(read_environment)

    return resolve


@dataclass(frozen=True)
class Occurrence:
    """A placeholder written in a migration: its text (``${schema}``), its name, its place."""

    text: str
    name: str
    start: int
    end: int


def occurrences(text: str, prefix: str, suffix: str) -> Iterator[Occurrence]:
    """Each ``prefix…suffix`` of ``text``, as Flyway's reader finds them: from a prefix to the
    next suffix, whatever is between. A prefix with no suffix after it is left as written."""
    if not prefix or not suffix:
        return
    position = 0
    while True:
        start = text.find(prefix, position)
        if start < 0:
            return
        close = text.find(suffix, start + len(prefix))
        if close < 0:
            return
        end = close + len(suffix)
        yield Occurrence(text[start:end], text[start + len(prefix) : close], start, end)
        position = end


@dataclass(frozen=True)
class Missing:
    """A Flyway placeholder without a value: as written, its name, where, and why (when a
    value was set but reads an environment variable that is not set)."""

    text: str
    name: str
    location: Location
    why: str = ""

    def __str__(self) -> str:
        return f"{self.text} ({self.location}{': ' + self.why if self.why else ''})"


class Placeholders:
    """The placeholder values of a repository's migrations, and their replacement."""

    def __init__(
        self,
        configs: Sequence[ToolConfig],
        overrides: Mapping[str, str],
        root: Path,
        environment: str | None = None,
        environ: Mapping[str, str] | None = None,
        spring: Sequence[SpringConfig] = (),
        spring_profiles: str | None = None,
    ) -> None:
        self.configs = sorted(
            configs, key=lambda c: (_anchor(c).count("/") + (_anchor(c) != "."), _order(c))
        )
        self.overrides = dict(overrides)
        self.root = root
        self.environment = environment
        self.environ = dict(os.environ if environ is None else environ)
        self.spring = SpringApplications(spring, self.environ, spring_profiles)
        if spring_profiles is not None and not self.spring:
            raise DrillError(
                f"invalid drill.spring-profiles '{spring_profiles}': the repository has no "
                "Spring Boot configuration (application.properties or application.yml in "
                "src/main/resources), whose profile files it would choose"
            )
        self._schemes: dict[str, Scheme | None] = {}
        self._identities: dict[str, tuple[str, str]] = {}
        if environment is not None:
            self._check_environment(environment)

    def _check_environment(self, environment: str) -> None:
        known = sorted({name for c in self.configs for name, _ in c.environments})
        if environment in known:
            return
        tomls = [c.location.path for c in self.configs if c.location.path.endswith(".toml")]
        if not tomls:
            raise DrillError(
                f"invalid drill.flyway-environment '{environment}': the repository has no "
                "flyway.toml, whose [environments.<name>] it would choose"
            )
        hint = did_you_mean(environment, known) if known else " (it defines none)"
        raise DrillError(
            f"invalid drill.flyway-environment '{environment}': no [environments.{environment}] "
            f"in {', '.join(tomls)}{hint}"
        )

    def scheme(self, migration: Migration) -> Scheme | None:
        """The scheme of ``migration``'s tool and directory; ``None`` for other layouts."""
        tool = _LAYOUT_TOOL.get(migration.layout)
        if tool is None:
            return None
        directory = migration.location.path.rpartition("/")[0] or "."
        key = f"{tool}\0{directory}"
        if key not in self._schemes:
            self._schemes[key] = self._build(tool, directory)
        return self._schemes[key]

    def _build(self, tool: str, directory: str) -> Scheme:
        scheme = Scheme(tool)
        hints: dict[str, str] = {}
        for config in self.configs:
            anchor = _anchor(config)
            if config.tool != tool or not (
                anchor == "." or directory == anchor or directory.startswith(anchor + "/")
            ):
                continue
            where = config.location.path
            resolve = self._resolver(config)
            scheme.merge(config.settings, where, resolve)
            environment = self.environment or config.environment
            if environment is not None:
                scheme.environment = environment
            overrides = dict(config.environments).get(scheme.environment)
            if overrides is not None:
                scheme.merge(overrides, where, resolve)
        if tool == FLYWAY:
            for layer in self.spring.layers(directory):
                scheme.merge(layer.settings, layer.where, layer.resolve)
                hints.update(layer.hints)
            spring_values, spring_hints = self.spring.environment_placeholders()
            hints.update(spring_hints)
            scheme.give(spring_values, SPRING_ENV_PREFIX + "{name}", from_environment=True)
            # As Flyway reads them: over its configuration files.
            given = {
                name[len(_ENV_PREFIX) :]: value
                for name, value in self.environ.items()
                if name.upper().startswith(_ENV_PREFIX) and len(name) > len(_ENV_PREFIX)
            }
            scheme.give(given, _ENV_PREFIX + "{name}", from_environment=True)
        scheme.give(self.overrides, "drill.placeholders", from_environment=False)
        for name, why in hints.items():
            if name not in scheme.values:
                scheme.unset.setdefault(name, why)
        return scheme

    def _resolver(self, config: ToolConfig) -> Resolve:
        """How the values of ``config`` read what they name, by the kind of file."""
        path = config.location.path
        if path.endswith("pom.xml"):
            return _maven_resolver(self.root.resolve() / config.directory, self.environ)
        return _environment_resolver(
            _TOML_ENV if path.endswith(".toml") else _CONF_ENV, self.environ
        )

    def secrets(self) -> set[str]:
        """The placeholder values of the schemes built so far that may be credentials: each
        read from the environment, and each whose name says it is one (``appPassword``,
        ``apiKey``, ``token``). A database error or a failing statement quotes them; the drill
        masks them in everything it reports."""
        found: set[str] = set()
        for scheme in self._schemes.values():
            if scheme is None:
                continue
            for key, value in scheme.values.items():
                if key in scheme.from_environment or SECRET_NAME.search(key):
                    found.add(value)
        return found

    def mixed(self, migration: Migration) -> bool:
        """Whether Flyway's ``mixed`` is true for ``migration``."""
        scheme = self.scheme(migration)
        return scheme is not None and scheme.mixed

    def missing(self, migrations: Sequence[Migration]) -> list[Missing]:
        """Each Flyway placeholder of ``migrations`` (up and down SQL) that has no value."""
        found: list[Missing] = []
        for migration in migrations:
            scheme = self.scheme(migration)
            if scheme is None or not scheme.enabled or not scheme.strict:
                continue
            down_path = (migration.down_location or migration.location).path
            for text, first, path in (
                (migration.up_sql, migration.up_line, migration.location.path),
                (migration.down_sql, migration.down_line, down_path),
            ):
                for occurrence in occurrences(text or "", scheme.prefix, scheme.suffix):
                    name = occurrence.name
                    if name.casefold() in scheme.values or scheme.built_in(name):
                        continue
                    where = _location(text or "", occurrence, first, path)
                    why = scheme.unset.get(name.casefold(), "")
                    found.append(Missing(occurrence.text, name, where, why))
        return found

    def apply(
        self, migration: Migration, text: str, path: str, database: DrillDatabase
    ) -> tuple[str, Occurrence | None]:
        """``text`` (SQL of ``migration`` in the file ``path``) with its placeholders
        replaced, and the first one without a value (Flyway) that stopped the replacement."""
        scheme = self.scheme(migration)
        if scheme is None or not scheme.enabled:
            return text, None
        pieces: list[str] = []
        last = 0
        for occurrence in occurrences(text, scheme.prefix, scheme.suffix):
            value = scheme.values.get(occurrence.name.casefold())
            if value is None:
                built_in = scheme.built_in(occurrence.name)
                if built_in is not None:
                    value = self._built_in(built_in, scheme, path, database)
            if value is None:
                if scheme.strict:
                    return text, occurrence
                continue
            pieces.append(text[last : occurrence.start])
            pieces.append(value)
            last = occurrence.end
        pieces.append(text[last:])
        return "".join(pieces), None

    def _built_in(self, name: str, scheme: Scheme, path: str, database: DrillDatabase) -> str:
        if name in ("defaultSchema", "user"):
            if database.name not in self._identities:
                self._identities[database.name] = database.schema_and_user()
            schema, user = self._identities[database.name]
            return schema if name == "defaultSchema" else user
        values = {
            "database": database.name,
            "timestamp": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "filename": path.rpartition("/")[2],
            "workingDirectory": str(self.root.resolve()),
            "table": scheme.table,
            "environment": scheme.environment,
        }
        return values[name]


def _anchor(config: ToolConfig) -> str:
    """The directory a configuration file speaks for: its own, or the parent of ``conf/``."""
    directory = config.directory
    if directory == "conf":
        return "."
    if directory.endswith("/conf"):
        return directory[: -len("/conf")]
    return directory


def _order(config: ToolConfig) -> int:
    name = config.location.path.rpartition("/")[2]
    in_conf = config.directory == "conf" or config.directory.endswith("/conf")
    return _FILE_ORDER.get(f"conf/{name}" if in_conf else name, 1)


def _location(text: str, occurrence: Occurrence, first_line: int, path: str) -> Location:
    line, column = position(text, occurrence.start)
    return Location(path, first_line + line - 1, column)


def missing_message(missing: Sequence[Missing], spring: bool = False) -> str:
    """The drill's error for Flyway placeholders without a value: where, and how to give one
    (``spring``: in Spring Boot's configuration too, which the repository has)."""
    shown = ", ".join(str(m) for m in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    names: list[str] = []
    for item in missing:
        if item.name not in names:
            names.append(item.name)
    table = ", ".join(f'{name} = "…"' for name in names[:3])
    in_spring = (
        f"Spring Boot's application.properties (spring.flyway.placeholders.{names[0]}=…), "
        if spring
        else ""
    )
    plural = "s" if len(missing) > 1 else ""
    return (
        f"Flyway placeholder{plural} without a value: {shown}{more}; Flyway refuses to run "
        f"such a migration, and so does the drill. Give the value in backout's configuration, "
        f"placeholders = {{ {table} }} under [tool.backout.drill] ([drill] in backout.toml), "
        f"or in {in_spring}flyway.conf (flyway.placeholders.{names[0]}=…), flyway.toml "
        f"([flyway.placeholders]) or the environment (FLYWAY_PLACEHOLDERS_{names[0].upper()})"
    )
