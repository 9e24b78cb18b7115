"""Configuration: discovery upward, key validation with the nearest name, selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from backout.config import (
    Config,
    ConfigError,
    config_from_table,
    format_duration,
    is_enabled,
    load_config,
    parse_duration,
)
from backout.models import Severity
from tests.conftest import one_line_error, run_backout


def test_defaults_follow_the_spec() -> None:
    config = Config()
    assert config.rollback_window == 30 * 86400
    assert config.keep_releases == 5
    assert config.fail_on is Severity.ERROR
    assert config.sql_dialect == "postgres"
    assert config.rollback_via == "kubernetes"


def test_pyproject_table_is_found_upward(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.backout]\nrollback-window = "14d"\nkeep-releases = 3\n'
        'ignore = ["BK9"]\n[tool.backout.drill]\nold-queries = "q.sql"\n'
    )
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    config = load_config(deep)
    assert config.rollback_window == 14 * 86400
    assert config.keep_releases == 3
    assert config.ignore == ("BK9",)
    assert config.drill.old_queries == "q.sql"
    assert config.source == tmp_path / "pyproject.toml"


def test_backout_toml_wins_over_a_farther_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.backout]\nkeep-releases = 9\n")
    inner = tmp_path / "svc"
    inner.mkdir()
    (inner / "backout.toml").write_text("keep-releases = 2\n")
    assert load_config(inner).keep_releases == 2


def test_pyproject_without_our_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert load_config(tmp_path).source is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"rollback-windw": "7d"},
            "unknown key 'rollback-windw' (did you mean 'rollback-window'?)",
        ),
        (
            {"sql-dialect": "postgresql"},
            "invalid sql-dialect 'postgresql' (did you mean 'postgres'?)",
        ),
        ({"fail-on": "errors"}, "invalid fail-on 'errors' (did you mean 'error'?)"),
        ({"select": ["BK1O1"]}, "unknown rule code 'BK1O1' (did you mean 'BK101'?)"),
        ({"rollback-window": "a month"}, "invalid rollback-window 'a month'"),
        ({"keep-releases": -1}, "invalid keep-releases -1"),
        (
            {"drill": {"old-query": "x"}},
            "unknown key 'drill.old-query' (did you mean 'old-queries'?)",
        ),
        ({"rollback-via": "gitops"}, "invalid rollback-via 'gitops' (did you mean 'git'?)"),
    ],
)
def test_bad_values_name_the_nearest_valid_one(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_table(table)
    assert message in str(caught.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "backout.toml").write_text("keep-releases = \n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool]\nbackout = 5\n", "[tool.backout] must be a table, not an integer"),
        ('[tool]\nbackout = "x"\n', "[tool.backout] must be a table, not a string"),
        ("[tool]\nbackout = [1]\n", "[tool.backout] must be a table, not an array"),
        ("tool = true\n", "[tool] must be a table, not a boolean"),
    ],
)
def test_tool_backout_that_is_not_a_table_is_one_line_exit_2(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    line = one_line_error(run_backout("check", ".", cwd=tmp_path))
    assert line == f"backout: error: {tmp_path / 'pyproject.toml'}: {message}"


def test_invalid_pyproject_is_one_line_exit_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.backout]\nkeep-releases = 1\nfoo = [\n")
    line = one_line_error(run_backout("check", ".", cwd=tmp_path))
    assert line.startswith(f"backout: error: {tmp_path / 'pyproject.toml'}: invalid TOML: ")


def test_invalid_pyproject_met_upward_stops_the_search_as_in_ruff(tmp_path: Path) -> None:
    # Not meant for backout, perhaps, but which settings it holds cannot be told.
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n")
    service = tmp_path / "svc"
    service.mkdir()
    line = one_line_error(run_backout("check", "svc", cwd=tmp_path))
    assert f"{tmp_path / 'pyproject.toml'}: invalid TOML" in line
    # A closer backout.toml is found first: the broken file above it is never read.
    (service / "backout.toml").write_text("keep-releases = 2\n")
    assert run_backout("check", "svc", cwd=tmp_path).returncode == 0


def test_valid_pyproject_without_our_table_keeps_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    done = run_backout("check", ".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "No rollback hazards found" in done.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("2w", 14 * 86400), ("12h", 43200), ("90m", 5400), (7, 7 * 86400)],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_format_duration() -> None:
    assert format_duration(30 * 86400) == "30d"
    assert format_duration(7200) == "2h"
    assert format_duration(61) == "61s"


def test_selection_most_specific_wins() -> None:
    config = Config(select=("ALL",), ignore=("BK9",), extend_select=("BK901",))
    assert is_enabled(config, "BK901")
    assert not is_enabled(config, "BK902")
    assert is_enabled(Config(), "BK902")
    assert not is_enabled(Config(select=("BK1",)), "BK901")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("rollback-window = -5", "invalid rollback-window -5: it must be longer than zero"),
        ("rollback-window = 0", "invalid rollback-window 0: it must be longer than zero"),
        ('rollback-window = "0d"', "invalid rollback-window '0d': it must be longer than zero"),
        ('rollback-window = "-5d"', "invalid rollback-window '-5d': it must be longer than zero"),
        ('rollback-window = "30 days"', "invalid rollback-window '30 days' (did you mean '30d'?)"),
        ('rollback-window = "30D"', "invalid rollback-window '30D' (did you mean '30d'?)"),
        ('rollback-window = "4 weeks"', "invalid rollback-window '4 weeks' (did you mean '4w'?)"),
        ('rollback-window = "1mo"', "invalid rollback-window '1mo' (did you mean '30d'?)"),
        ('rollback-window = "1y"', "invalid rollback-window '1y' (did you mean '365d'?)"),
        # 0 used to judge every migration as the release's: a check of nothing at the base.
        ("release-size = 0", "invalid release-size 0: expected a whole number >= 1"),
        ("keep-releases = true", "invalid keep-releases true: expected a whole number >= 0"),
        (
            'keep-releases = "3"',
            'invalid keep-releases "3": expected a whole number >= 0 '
            "(without quotes: keep-releases = 3)",
        ),
        ('release-size = "0"', 'invalid release-size "0": expected a whole number >= 1'),
        ("runbooks = true", "invalid runbooks: expected a list of strings, got true"),
        (
            '[tool.backout.drill]\nold-command = ["pytest", "-x"]',
            'invalid drill.old-command: expected a string, got ["pytest", "-x"]',
        ),
    ],
)
def test_bad_value_in_pyproject_is_exit_2_naming_the_value(
    tmp_path: Path, setting: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.backout]\n{setting}\n")
    line = one_line_error(run_backout("check", ".", cwd=tmp_path))
    assert line.startswith(f"backout: error: {tmp_path / 'pyproject.toml'}: {message}")


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("0", "invalid --rollback-window '0': it must be longer than zero"),
        ("-5", "invalid --rollback-window '-5': it must be longer than zero"),
        ("2 weeks", "invalid --rollback-window '2 weeks' (did you mean '2w'?)"),
    ],
)
def test_bad_rollback_window_flag_is_exit_2_naming_the_value(
    tmp_path: Path, flag: str, message: str
) -> None:
    line = one_line_error(run_backout("check", ".", f"--rollback-window={flag}", cwd=tmp_path))
    assert line.startswith(f"backout: error: {message}")


@pytest.mark.parametrize(
    ("args", "toml", "line"),
    [
        (["--exclude", "\\"], "", "invalid exclude glob '\\'"),
        (["--per-file-ignores", "[z-a]:BK305"], "", "invalid per-file-ignores glob '[z-a]'"),
        ([], '[tool.backout]\nrunbooks = ["!"]\n', "invalid runbooks glob '!'"),
    ],
)
def test_a_glob_pathspec_cannot_compile_is_exit_2(
    tmp_path: Path, args: list[str], toml: str, line: str
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3\n")
    if toml:
        (tmp_path / "pyproject.toml").write_text(toml)
    assert line in one_line_error(run_backout("check", str(tmp_path), *args))


def test_a_gitignore_line_git_cannot_use_is_passed_over(tmp_path: Path) -> None:
    # Outside a git work tree backout reads .gitignore itself; git ignores such lines.
    (tmp_path / "Dockerfile").write_text("FROM alpine:3\n")
    (tmp_path / "old.Dockerfile").write_text("FROM alpine:3\n")
    (tmp_path / ".gitignore").write_text("\\\n!\n[z-a]\nold.Dockerfile\n")
    done = run_backout("check", str(tmp_path), "--output-format", "concise")
    assert done.returncode == 0, done.stderr
    assert "Dockerfile:1:6: BK305" in done.stdout and "old.Dockerfile" not in done.stdout


def test_a_given_pyproject_without_a_backout_table_is_exit_2(tmp_path: Path) -> None:
    """``--config pyproject.toml`` with no ``[tool.backout]`` ran on the defaults without a
    word: a typo'd header (``[tool.backuot]``) or the wrong file let every finding through at
    the default fail-on. Found while searching, such a file is passed over (as before)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.backuot]\n')
    (tmp_path / "app.yaml").write_text("a: 1\n")
    line = one_line_error(run_backout("check", ".", "--config", "pyproject.toml", cwd=tmp_path))
    assert "pyproject.toml has no [tool.backout] table" in line
    assert run_backout("check", ".", cwd=tmp_path).returncode == 0


def test_a_sql_dialect_set_in_the_file_is_known_as_given() -> None:
    # It then names the database Django's names are shortened for, over the settings'.
    assert not config_from_table({}).sql_dialect_given
    assert config_from_table({"sql-dialect": "postgres"}).sql_dialect_given
