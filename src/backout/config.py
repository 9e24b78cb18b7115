"""Configuration: ``[tool.backout]`` in ``pyproject.toml`` or ``backout.toml``, then flags.

The file is found upward from the checked path, closest first, as ruff does. Unknown keys,
unknown rule codes and malformed values raise :class:`ConfigError` with the nearest valid name;
the CLI turns that into exit 2 and one line on stderr.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from backout.models import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found]


class ConfigError(Exception):
    """A bad configuration value or flag; the message is shown to the user as is."""


SQL_DIALECTS = ("postgres", "mysql", "sqlite")
ROLLBACK_VIA = ("kubernetes", "git")

TOP_KEYS = (
    "rollback-window",
    "keep-releases",
    "select",
    "ignore",
    "extend-select",
    "per-file-ignores",
    "fail-on",
    "sql-dialect",
    "migrations",
    "release-size",
    "exclude",
    "rollback-via",
    "insecure-registries",
    "runbooks",
    "drill",
)
DRILL_KEYS = (
    "old-queries",
    "old-command",
    "database",
    "placeholders",
    "flyway-environment",
    "spring-profiles",
)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 86400, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def nearest(value: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``value``, or ``None`` when nothing is close."""
    import difflib  # only to name a typo's nearest spelling: not worth importing on every run

    choices = list(choices)
    # Case is no spelling mistake: ``ERROR`` is nearest ``error``, however short the word
    # (difflib compares characters, so ``ERROR`` and ``error`` share none).
    folded = {choice.casefold(): choice for choice in reversed(choices)}
    if value.casefold() in folded:
        return folded[value.casefold()]
    lowered = value.casefold()
    matches = difflib.get_close_matches(lowered, list(folded), n=len(folded) or 1, cutoff=0.5)
    # difflib's ratio ties on one-character typos (``BK1O1`` scores the same against
    # ``BK101`` and ``BK211``); the fewest edits breaks the tie the way a reader would.
    best = min(matches, key=lambda match: _edits(lowered, match), default=None)
    return folded[best] if best is not None else None


def _edits(source: str, target: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions from source to target."""
    previous = list(range(len(target) + 1))
    for i, char in enumerate(source, start=1):
        current = [i]
        for j, other in enumerate(target, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        previous = current
    return previous[-1]


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or, when nothing is close, the list of valid values."""
    choices = list(choices)
    best = nearest(value, choices)
    if best is not None:
        return f" (did you mean '{best}'?)"
    return " (valid: " + ", ".join(choices) + ")"


def nearest_path(path: Path) -> str:
    """`` (did you mean 'x'?)`` naming the existing path nearest ``path``: the closest name
    in the deepest directory of it that exists, or ``""`` when none is close."""
    parent, missing = path.parent, path.name
    while not parent.is_dir() and parent != parent.parent:
        parent, missing = parent.parent, parent.name
    import os

    try:
        names = [entry.name for entry in os.scandir(parent)] if parent.is_dir() else []
    except OSError:
        names = []
    best = nearest(missing, names)
    if best is None:
        return ""
    return f" (did you mean '{(parent / best).as_posix()}'?)"


def closest(value: str, choices: Iterable[str], count: int = 3) -> list[str]:
    """The ``count`` choices most like ``value``, most alike first, however unlike they are.

    For lists too long to print whole (installed packages, directories) when :func:`nearest`
    finds nothing close: a few names point the reader the right way, a thousand bury it.
    """
    import difflib

    return difflib.get_close_matches(value, list(choices), n=count, cutoff=0.0)


# Unit words people write, by the unit backout spells; months and years have no unit here, so
# they are offered in days.
_UNIT_WORDS = {
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "wk", "wks", "week", "weeks"),
    "30d": ("mo", "mon", "month", "months"),
    "365d": ("y", "yr", "yrs", "year", "years"),
}
_LOOSE_DURATION = re.compile(r"^\s*(\d+|an?|one)?\s*([a-z]+)\s*$")


def _duration_suggestion(text: str) -> str | None:
    """The valid spelling of a duration written in words or another unit: ``30 days`` → ``30d``."""
    match = _LOOSE_DURATION.match(text.lower())
    if match is None:
        return None
    count = int(match.group(1)) if (match.group(1) or "").isdigit() else 1
    for unit, words in _UNIT_WORDS.items():
        if match.group(2) in words:
            if unit.endswith("d") and unit != "d":  # months, years: in days
                return f"{count * int(unit[:-1])}d"
            return f"{count}{unit}"
    return None


def parse_duration(text: str | int, what: str = "rollback-window") -> int:
    """Seconds in a duration like ``30d``, ``2w``, ``12h``, ``90m``; a bare number is days.

    A duration is longer than zero: a zero or negative window would silently turn off the
    checks that use it. A value in other words (``30 days``, ``30D``, ``1mo``, ``1y``) is an
    error that names its valid spelling.
    """
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise ConfigError(
            f"invalid {what} {toml_value(text)}: expected a duration such as '30d' "
            f"(or 30, in days), not {_toml_type(text)}"
        )
    if isinstance(text, int):
        if text <= 0:
            raise ConfigError(
                f"invalid {what} {text}: it must be longer than zero, e.g. '30d' (or 30, in days)"
            )
        return text * 86400
    match = _DURATION.match(str(text))
    if not match:
        suggestion = _duration_suggestion(str(text))
        if str(text).strip().startswith("-"):
            hint = ": it must be longer than zero, e.g. '30d'"
        elif suggestion is not None:
            hint = f" (did you mean '{suggestion}'?)"
        else:
            hint = ": use a number and a unit, e.g. '30d', '2w', '12h'"
        raise ConfigError(f"invalid {what} '{text}'{hint}")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds == 0:
        raise ConfigError(f"invalid {what} '{text}': it must be longer than zero, e.g. '30d'")
    return seconds


def format_duration(seconds: int) -> str:
    """``2592000`` → ``30d``; falls back to hours, minutes, seconds."""
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size and unit != "w":
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class DrillConfig:
    """``[tool.backout.drill]``: how to run the old release against the new schema."""

    old_queries: str | None = None
    old_command: str | None = None
    database: str | None = None
    placeholders: Mapping[str, str] = field(default_factory=dict)
    """Flyway placeholder (and Liquibase parameter) values, over the repository's own."""
    flyway_environment: str | None = None
    """The ``flyway.toml`` environment whose placeholders apply (default: the one
    ``[flyway] environment`` names, else ``default``)."""
    spring_profiles: str | None = None
    """The Spring Boot profiles whose ``application-<profile>`` files and documents apply,
    comma-separated (default: ``SPRING_PROFILES_ACTIVE``, else ``spring.profiles.active``)."""


@dataclass(frozen=True)
class Config:
    """Every setting, with the defaults of SPEC §4."""

    rollback_window: int = 30 * 86400
    keep_releases: int = 5
    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fail_on: Severity = Severity.ERROR
    sql_dialect: str = "postgres"
    sql_dialect_given: bool = False
    """Whether ``sql-dialect`` was set (file or flag): then it beats what a Django project's
    settings name (their literal ENGINE may be the development database)."""
    migrations: tuple[str, ...] = ()
    release_size: int = 1
    exclude: tuple[str, ...] = ()
    rollback_via: str = "kubernetes"
    insecure_registries: tuple[str, ...] = ()
    runbooks: tuple[str, ...] = ()
    drill: DrillConfig = field(default_factory=DrillConfig)
    source: Path | None = None
    root: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        # A glob pathspec cannot compile would fail where it is first used, as a traceback.
        validate_globs("exclude", self.exclude)
        validate_globs("per-file-ignores", tuple(self.per_file_ignores))
        validate_globs("runbooks", self.runbooks)

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with the given fields replaced (flags that were given)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def validate_globs(setting: str, globs: Iterable[str]) -> None:
    """Raise :class:`ConfigError` naming the first of ``globs`` that is no gitignore-style
    pattern (a lone ``\\`` or ``!``, a range ``[z-a]``)."""
    globs = [glob for glob in globs if glob.strip()]
    if not globs:
        return
    import pathspec  # ~25 ms of start-up, only for the configs that set globs

    for glob in globs:
        try:
            pathspec.GitIgnoreSpec.from_lines([glob])
        except (ValueError, re.error) as exc:
            raise ConfigError(f"invalid {setting} glob '{glob}': {exc}") from None


def find_config_file(start: Path) -> Path | None:
    """The closest ``backout.toml``, or ``pyproject.toml`` with ``[tool.backout]``, upward.

    A ``pyproject.toml`` met on the way that cannot be read, is not valid TOML, or has a
    ``tool`` or ``tool.backout`` that is not a table stops the search with a
    :class:`ConfigError`, as ruff does: whether it was meant to configure backout cannot be
    told, and skipping it would check with settings nobody chose.
    """
    here = start if start.is_dir() else start.parent
    for directory in (here, *here.parents):
        for name in ("backout.toml", ".backout.toml"):
            candidate = directory / name
            if candidate.is_file():
                return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _backout_table(pyproject, _read_toml(pyproject)) is not None:
            return pyproject
    return None


def load_config(start: Path, explicit: Path | None = None) -> Config:
    """Read the configuration that applies to ``start`` (or the ``explicit`` file)."""
    if explicit is not None and not explicit.exists():
        raise ConfigError(f"--config file '{explicit}' does not exist{nearest_path(explicit)}")
    path = explicit if explicit is not None else find_config_file(start.resolve())
    root = start.resolve() if start.is_dir() else start.resolve().parent
    if path is None:
        return Config(root=root)
    data = _read_toml(path)
    if path.name != "pyproject.toml":
        return config_from_table(data, source=path, root=root)
    table = _backout_table(path, data)
    if table is None and explicit is not None:
        # Given by name, a pyproject.toml without the table is a mistake (the wrong file, a
        # misspelt header), not a request for the defaults. mypy only notes it ("No [mypy]
        # section in config file") and goes on; a CI run on the defaults passes silently.
        raise ConfigError(
            f"--config file '{explicit}': pyproject.toml has no [tool.backout] table; add "
            "one, or drop --config to use the defaults"
        )
    return config_from_table(table or {}, source=path, root=root)


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed ``path``; a :class:`ConfigError` naming it when it is unreadable or not TOML."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return data


def _backout_table(path: Path, pyproject: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``[tool.backout]`` of a parsed ``pyproject.toml``, ``None`` when it has none.

    ``tool = 5`` or ``[tool]`` then ``backout = 5`` is a mistake, not the absence of a
    table: it is an error that names the type found, never a traceback or a guess at keys.
    """
    tool = pyproject.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table, not {_toml_type(tool)}")
    table = tool.get("backout")
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.backout] must be a table, not {_toml_type(table)}")
    return table


def toml_value(value: Any) -> str:
    """``value`` as TOML writes it (``true``, ``30.5``, ``[1, "a"]``), for error messages."""
    import json  # only to show a mistyped value

    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", " = "))


def _toml_type(value: Any) -> str:
    """What ``value`` is in TOML's words (``an integer``, ``a string``), for error messages."""
    import datetime  # only to name a mistyped value: not worth importing on every run

    if isinstance(value, bool):  # before int: a TOML boolean is a Python int too
        return "a boolean"
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date too
        return "a date-time"
    kinds: tuple[tuple[type, str], ...] = (
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (datetime.date, "a date"),
        (datetime.time, "a time"),
    )
    return next((name for kind, name in kinds if isinstance(value, kind)), "a table")


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"invalid {key}: expected a list of strings, got {toml_value(value)}")


def _whole_number(key: str, value: Any, minimum: int = 0) -> int:
    """``value`` if it is an integer >= ``minimum``; else a :class:`ConfigError` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        quoted = isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
        quoted = quoted and int(value) >= minimum
        hint = f" (without quotes: {key} = {int(value)})" if quoted else ""
        raise ConfigError(
            f"invalid {key} {toml_value(value)}: expected a whole number >= {minimum}{hint}"
        )
    return value


def parse_choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a :class:`ConfigError` naming the nearest."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"invalid {key} '{value}'{did_you_mean(str(value), choices)}")
    return value


def parse_severity(key: str, value: Any) -> Severity:
    """A severity name, else a :class:`ConfigError` naming the nearest."""
    names = tuple(s.label for s in Severity)
    if isinstance(value, str) and value.lower() in names:
        return Severity.parse(value)
    raise ConfigError(f"invalid {key} '{value}'{did_you_mean(str(value), names)}")


def config_from_table(
    table: Mapping[str, Any], source: Path | None = None, root: Path | None = None
) -> Config:
    """Validate a ``[tool.backout]`` table and build a :class:`Config` from it."""
    where = f"{source}: " if source else ""
    for key in table:
        if key == "tool" and source is not None and source.name != "pyproject.toml":
            # The pyproject.toml spelling copied into backout.toml (or a file given with
            # --config under another name), where keys are top level.
            raise ConfigError(
                f"{where}unknown key 'tool': {source.name} takes the keys at top level "
                "(drop the [tool.backout] header; it belongs in pyproject.toml)"
            )
        if key not in TOP_KEYS:
            raise ConfigError(f"{where}unknown key '{key}'{did_you_mean(key, TOP_KEYS)}")
    values: dict[str, Any] = {}
    try:
        if "rollback-window" in table:
            values["rollback_window"] = parse_duration(table["rollback-window"])
        if "keep-releases" in table:
            values["keep_releases"] = _whole_number("keep-releases", table["keep-releases"])
        if "release-size" in table:
            # At least one: the newest migrations form the release, and none is no release.
            values["release_size"] = _whole_number("release-size", table["release-size"], minimum=1)
        for key in ("select", "ignore", "extend-select"):
            if key in table:
                values[key.replace("-", "_")] = validate_codes(key, _strings(key, table[key]))
        for key in ("migrations", "exclude", "insecure-registries", "runbooks"):
            if key in table:
                values[key.replace("-", "_")] = _strings(key, table[key])
        if "per-file-ignores" in table:
            raw = table["per-file-ignores"]
            if not isinstance(raw, dict):
                raise ConfigError("invalid per-file-ignores: expected a table of glob = [codes]")
            values["per_file_ignores"] = {
                glob: validate_codes("per-file-ignores", _strings("per-file-ignores", codes))
                for glob, codes in raw.items()
            }
        if "fail-on" in table:
            values["fail_on"] = parse_severity("fail-on", table["fail-on"])
        if "sql-dialect" in table:
            values["sql_dialect"] = parse_choice("sql-dialect", table["sql-dialect"], SQL_DIALECTS)
            values["sql_dialect_given"] = True
        if "rollback-via" in table:
            values["rollback_via"] = parse_choice(
                "rollback-via", table["rollback-via"], ROLLBACK_VIA
            )
        if "drill" in table:
            values["drill"] = _drill_config(table["drill"])
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    return Config(source=source, root=root or Path.cwd(), **values)


def _drill_config(raw: Any) -> DrillConfig:
    if not isinstance(raw, dict):
        raise ConfigError("invalid drill: expected a table")
    for key in raw:
        if key not in DRILL_KEYS:
            raise ConfigError(f"unknown key 'drill.{key}'{did_you_mean(key, DRILL_KEYS)}")
    for key, value in raw.items():
        if key != "placeholders" and not isinstance(value, str):
            raise ConfigError(f"invalid drill.{key}: expected a string, got {toml_value(value)}")
    return DrillConfig(
        old_queries=raw.get("old-queries"),
        old_command=raw.get("old-command"),
        database=raw.get("database"),
        placeholders=_placeholders(raw.get("placeholders", {})),
        flyway_environment=raw.get("flyway-environment"),
        spring_profiles=raw.get("spring-profiles"),
    )


def _placeholders(raw: Any) -> dict[str, str]:
    """``drill.placeholders``: a table of placeholder name = string value."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"invalid drill.placeholders: expected a table such as "
            f'{{ schema = "app" }}, got {_toml_type(raw)} {raw!r}'
        )
    for name, value in raw.items():
        if isinstance(value, dict) or not name.strip():
            # A dotted key (`placeholders.a.b = …`) or an empty name: no placeholder is named so.
            raise ConfigError(
                f"invalid drill.placeholders name '{name}': expected name = \"value\" "
                f'(quote a name with a dot: "{name}.…" = "value")'
            )
        if not isinstance(value, str):
            suggestion = str(value).lower() if isinstance(value, bool) else str(value)
            raise ConfigError(
                f"invalid drill.placeholders.{name} {value!r}: expected a string, "
                f'e.g. {name} = "{suggestion}"'
            )
    return dict(raw)


def validate_codes(key: str, codes: Iterable[str]) -> tuple[str, ...]:
    """Check rule codes and prefixes (``BK101``, ``BK1``, ``ALL``); raise on unknown ones."""
    from backout.rules import all_codes

    known = all_codes()
    out: list[str] = []
    for code in codes:
        upper = code.strip().upper()
        if upper == "ALL" or (any(k.startswith(upper) for k in known) and upper.startswith("BK")):
            out.append(upper)
            continue
        raise ConfigError(f"invalid {key}: unknown rule code '{code}'{did_you_mean(upper, known)}")
    return tuple(out)


def _matches(code: str, selectors: Iterable[str]) -> int:
    """The length of the longest selector that covers ``code`` (0 when none does)."""
    best = 0
    for selector in selectors:
        if selector == "ALL":
            best = max(best, 1)
        elif code.startswith(selector):
            best = max(best, len(selector) + 1)
    return best


def is_enabled(config: Config, code: str) -> bool:
    """Whether ``code`` is selected: the most specific of select/ignore wins, as in ruff."""
    selected = max(_matches(code, config.select), _matches(code, config.extend_select))
    ignored = _matches(code, config.ignore)
    if ignored:
        return selected > ignored
    return selected > 0
