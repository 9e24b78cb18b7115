"""End-to-end tests of the installed ``backout`` command on real repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BACKOUT, git, one_line_error, run_backout

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector:
    matchLabels: {{app: shop}}
  template:
    metadata:
      labels: {{app: shop}}
    spec:
      containers:
        - name: shop
          image: {image}
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "--format", "jsn", "."], "invalid --output-format 'jsn' (did you mean 'json'?)"),
        (["check", "--fail-on", "warn", "."], "invalid --fail-on 'warn' (did you mean 'warning'?)"),
        (
            ["check", "--select", "BK1O1", "."],
            "unknown rule code 'BK1O1' (did you mean 'BK101'?)",
        ),
        (
            ["check", "--keep-releases", "-1", "."],
            "invalid --keep-releases '-1': expected a whole number >= 0, e.g. 5",
        ),
        (
            ["check", "--release-size", "-2", "."],
            "invalid --release-size '-2': expected a whole number >= 1, e.g. 1",
        ),
        (
            ["check", "--keep-releases", "five", "."],
            "invalid --keep-releases 'five': expected a whole number >= 0, e.g. 5",
        ),
        (
            ["check", "--release-size", "0", "."],
            "invalid --release-size '0': expected a whole number >= 1, e.g. 1",
        ),
        (["check", "--fail-on", "ERROR", "."], "invalid --fail-on 'ERROR' (did you mean 'error'?)"),
        (["check", "--format", "SARIF", "."], "(did you mean 'sarif'?)"),
        (["check", "--sql-dialect", "MySQL", "."], "(did you mean 'mysql'?)"),
        (["check", "nots.txt"], "path 'nots.txt' does not exist (did you mean 'notes.txt'?)"),
        (
            ["drill", ".", "--old-queries", "note.txt"],
            "--old-queries file 'note.txt' does not exist (did you mean 'notes.txt'?)",
        ),
        (["check", "nots/x"], "path 'nots/x' does not exist (did you mean 'notes.txt'?)"),
        (
            ["check", "--config", "backout.tml", "."],
            "--config file 'backout.tml' does not exist (did you mean 'backout.toml'?)",
        ),
        (["check", "--sql-dialect", "mysq", "."], "(did you mean 'mysql'?)"),
        (["check", "no/such/dir"], "path 'no/such/dir' does not exist"),
        (["check", "--rollback-window", "soon", "."], "invalid --rollback-window 'soon'"),
        (["explain", "BK10l"], "unknown rule 'BK10l'"),
        (
            ["explain", "BK1"],
            "'BK1' is a group of rules, explain takes one: BK101, BK102, BK103, BK104, BK105",
        ),
        (
            ["explain", "rollback-loses-dat"],
            "unknown rule 'rollback-loses-dat' (did you mean 'rollback-loses-data'?)",
        ),
        (["chek"], "No such command 'chek'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    (tmp_path / "backout.toml").write_text("keep-releases = 3\n")
    line = one_line_error(run_backout(*args, cwd=tmp_path))
    assert expected in line


def test_bad_output_format_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    done = run_backout("check", ".", cwd=tmp_path, env={"BACKOUT_OUTPUT_FORMAT": "jsn"})
    line = one_line_error(done)
    assert line == "backout: error: invalid BACKOUT_OUTPUT_FORMAT 'jsn' (did you mean 'json'?)"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "backout.toml",
            "rollback-window = true\n",
            "invalid rollback-window true: expected a duration such as '30d' (or 30, in days), "
            "not a boolean",
        ),
        (
            "backout.toml",
            'rollback-window = [1, "a"]\n',
            'invalid rollback-window [1, "a"]: expected a duration',
        ),
        ("backout.toml", 'fail-on = "Warn"\n', "invalid fail-on 'Warn' (did you mean 'warning'?)"),
        ("backout.toml", 'sql-dialect = "MYSQL"\n', "(did you mean 'mysql'?)"),
        (
            "ci.toml",
            "[tool.backout]\nkeep-releases = 3\n",
            "unknown key 'tool': ci.toml takes the keys at top level (drop the [tool.backout]",
        ),
    ],
)
def test_bad_config_values_exit_2_naming_value_and_nearest(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    (tmp_path / name).write_text(text)
    args = ["--config", name] if name != "backout.toml" else []
    line = one_line_error(run_backout("check", *args, ".", cwd=tmp_path))
    assert expected in line


def test_bad_config_key_exits_2_naming_the_nearest(tmp_path: Path) -> None:
    (tmp_path / "backout.toml").write_text("keep-release = 3\n")
    line = one_line_error(run_backout("check", ".", cwd=tmp_path))
    assert "unknown key 'keep-release' (did you mean 'keep-releases'?)" in line


def test_clean_tree_exits_0(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    done = run_backout("check", str(tmp_path))
    assert done.returncode == 0
    assert done.stdout == ""
    assert "No rollback hazards found" in done.stderr


def test_fail_on_exit_zero_statistics_and_output_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nspec: [\n")
    assert run_backout("check", str(tmp_path)).returncode == 0  # BK901 is a warning
    assert run_backout("check", "--fail-on", "warning", str(tmp_path)).returncode == 1
    assert (
        run_backout("check", "--fail-on", "warning", "--exit-zero", str(tmp_path)).returncode == 0
    )
    stats = run_backout("check", "--statistics", str(tmp_path))
    assert stats.stdout.split() == ["1", "BK901", "unreadable-input"]
    report = tmp_path / "report.json"
    done = run_backout("check", "--format", "json", "-o", str(report), str(tmp_path))
    assert done.stdout == ""
    assert json.loads(report.read_text())["findings"][0]["code"] == "BK901"


def test_statistics_as_json_as_ruff_does_and_refused_in_report_formats(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nspec: [\n")
    done = run_backout("check", "--statistics", "--output-format", "json", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"code": "BK901", "name": "unreadable-input", "count": 1}]
    line = one_line_error(run_backout("check", "--statistics", "--format", "sarif", str(tmp_path)))
    assert line == (
        "backout: error: --statistics has no sarif form: use --output-format full, concise or json"
    )


@pytest.mark.parametrize(
    ("config", "flags", "expected"),
    [
        (
            'migrations = ["nope/"]\n',
            [],
            "migrations path 'nope/' does not exist below . (did you mean 'db/migrations'?)",
        ),
        (
            "",
            ["--migrations", "db/migratons"],
            "migrations path 'db/migratons' does not exist below . (did you mean 'db/migrations'?)",
        ),
    ],
)
def test_a_migrations_path_that_does_not_exist_names_the_nearest_directory(
    tmp_path: Path, config: str, flags: list[str], expected: str
) -> None:
    # The paths filter migrations by their place below the checked path: one that names
    # nothing would switch the schema rules off without a word.
    migrations = tmp_path / "db" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "0001_init.up.sql").write_text("CREATE TABLE t (id int);\n")
    (migrations / "0001_init.down.sql").write_text("DROP TABLE t;\n")
    (tmp_path / "backout.toml").write_text(config)
    line = one_line_error(run_backout("check", *flags, ".", cwd=tmp_path))
    assert line == f"backout: error: {expected}"
    (tmp_path / "backout.toml").write_text('migrations = ["./db/migrations/"]\n')
    assert run_backout("check", ".", cwd=tmp_path).returncode == 0


def test_a_missing_migrations_path_without_migrations_names_only_the_path(tmp_path: Path) -> None:
    (tmp_path / "backout.toml").write_text('migrations = ["db"]\n')
    line = one_line_error(run_backout("check", str(tmp_path)))
    assert line == f"backout: error: migrations path 'db' does not exist below {tmp_path}"


def test_base_ref_reports_only_what_changed(git_repo: Callable[[dict[str, str]], Path]) -> None:
    repo = git_repo({"k8s/old.yaml": DEPLOYMENT.format(image="shop:latest")})
    git(repo, "checkout", "-q", "-b", "release")
    git_repo({"k8s/new.yaml": DEPLOYMENT.format(image="cart:latest")})
    everything = json.loads(run_backout("check", "--format", "json", ".", cwd=repo).stdout)
    assert {f["path"] for f in everything["findings"]} == {"k8s/old.yaml", "k8s/new.yaml"}
    done = run_backout("check", "--format", "json", "--base", "main", ".", cwd=repo)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert [(f["code"], f["path"], f["line"]) for f in report["findings"]] == [
        ("BK101", "k8s/new.yaml", 14)
    ]
    assert report["summary"]["base"] == "main"


def test_base_ref_that_does_not_exist_is_exit_2(git_repo: Callable[[dict[str, str]], Path]) -> None:
    repo = git_repo({"a.yaml": "a: 1\n"})
    line = one_line_error(run_backout("check", "--base", "nope", ".", cwd=repo))
    assert "--base nope: no such directory, and no such commit, branch or tag" in line


def test_a_rewritten_baseline_keeps_its_permissions(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(image="shop:latest"))
    baseline = tmp_path / "baseline.json"
    assert run_backout("check", "--write-baseline", str(baseline), str(tmp_path)).returncode == 0
    assert baseline.stat().st_mode & 0o777 == 0o644  # a new one
    baseline.chmod(0o600)
    assert run_backout("check", "--write-baseline", str(baseline), str(tmp_path)).returncode == 0
    assert baseline.stat().st_mode & 0o777 == 0o600


def test_baseline_adopts_old_findings(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(image="shop:latest"))
    baseline = tmp_path / "baseline.json"
    assert run_backout("check", "--write-baseline", str(baseline), str(tmp_path)).returncode == 0
    recorded = json.loads(baseline.read_text())
    assert [e["code"] for e in recorded["findings"]] == ["BK101"]
    assert run_backout("check", "--baseline", str(baseline), str(tmp_path)).returncode == 0
    (tmp_path / "b.yaml").write_text(DEPLOYMENT.format(image="cart:latest"))
    done = run_backout("check", "--baseline", str(baseline), "--format", "concise", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.startswith("b.yaml:14:18: BK101")


def test_rules_and_explain() -> None:
    listed = json.loads(run_backout("rules", "--format", "json").stdout)
    codes = [rule["code"] for rule in listed]
    assert codes == sorted(codes) and "BK901" in codes
    done = run_backout("explain", "bk901")
    assert done.returncode == 0
    assert done.stdout.startswith("# BK901 unreadable-input")
    assert "## Use instead" in done.stdout
    assert run_backout("explain", "unreadable-input").returncode == 0


def test_python_dash_m_and_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "backout", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.startswith("backout, version ")


def test_environment_chooses_the_format(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: Pod\nspec: [\n")
    done = run_backout("check", str(tmp_path), env={"BACKOUT_OUTPUT_FORMAT": "concise"})
    assert done.stdout.startswith("bad.yaml:3:1: BK901 [warning]")


def test_per_file_ignores_flag_mirrors_the_config_key(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "bad.yaml").write_text("kind: Pod\nspec: [\n")
    (tmp_path / "prod.yaml").write_text("kind: Pod\nspec: [\n")
    done = run_backout(
        "check", "--format", "json", "--per-file-ignores", "dev/**:BK901", str(tmp_path)
    )
    assert [f["path"] for f in json.loads(done.stdout)["findings"]] == ["prod.yaml"]
    line = one_line_error(run_backout("check", "--per-file-ignores", "dev/**", str(tmp_path)))
    assert "use GLOB:CODES" in line


def test_no_command_prints_the_help() -> None:
    done = run_backout()
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: backout [OPTIONS] COMMAND")
    assert "check" in done.stdout and done.stderr == ""


def test_a_huge_file_is_reported_not_read(tmp_path: Path) -> None:
    with (tmp_path / "dump.yaml").open("wb") as huge:
        huge.truncate(17 * 1024 * 1024)
    done = run_backout("check", "--format", "concise", "--fail-on", "warning", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.startswith("dump.yaml:1: BK901 [warning]")
    assert "larger than 16 MiB" in done.stdout


def test_a_reader_that_stops_early_does_not_change_the_exit_code(tmp_path: Path) -> None:
    for index in range(200):
        (tmp_path / f"p{index}.yaml").write_text(DEPLOYMENT.format(image=f"app{index}:latest"))
    command = [BACKOUT] if BACKOUT else [sys.executable, "-m", "backout"]
    with subprocess.Popen(
        [*command, "check", "--format", "sarif", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(10)
        process.stdout.close()
        stderr = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert code == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_colour_follows_force_color_and_no_color(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(image="shop:latest"))
    plain = run_backout("check", str(tmp_path))
    assert "\x1b[" not in plain.stdout
    forced = run_backout("check", str(tmp_path), env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[" in forced.stdout
    assert forced.stdout.count("BK101") == plain.stdout.count("BK101")
    both = run_backout("check", "--no-color", str(tmp_path), env={"FORCE_COLOR": "1"})
    assert "\x1b[" not in both.stdout


@pytest.mark.parametrize(
    ("env", "coloured"),
    [
        # `0` and `false` say no colour, as Node's `FORCE_COLOR` and chalk's supports-color
        # read them; any other value forces it; an empty one is unset (force-color.org).
        ({"FORCE_COLOR": "0"}, False),
        ({"FORCE_COLOR": "false"}, False),
        ({"FORCE_COLOR": "False"}, False),
        ({"FORCE_COLOR": ""}, False),
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": "true"}, True),
        ({"FORCE_COLOR": "3"}, True),
        # NO_COLOR (not empty) wins, as CPython and rich let it.
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ({"FORCE_COLOR": "1", "NO_COLOR": ""}, True),
    ],
)
def test_force_color_values_through_a_pipe(
    tmp_path: Path, env: dict[str, str], coloured: bool
) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(image="shop:latest"))
    done = run_backout("check", str(tmp_path), env={"NO_COLOR": "", **env})
    assert "BK101" in done.stdout
    assert ("\x1b[" in done.stdout) is coloured, env


def _on_a_terminal(tmp_path: Path, env: dict[str, str]) -> str:
    """What ``backout check`` writes to a terminal (a pseudo-terminal) with ``env``."""
    import pty

    command = [sys.executable, "-m", "backout", "check", str(tmp_path)]
    inherited = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    main, terminal = pty.openpty()
    try:
        with subprocess.Popen(
            command, stdout=terminal, stderr=subprocess.DEVNULL, env={**inherited, **env}
        ) as process:
            os.close(terminal)
            chunks = []
            while True:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the terminal closed: the process is done writing
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            process.wait(timeout=120)
    finally:
        os.close(main)
    return b"".join(chunks).decode()


def test_force_color_0_and_no_color_turn_colour_off_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEPLOYMENT.format(image="shop:latest"))
    assert "\x1b[" in _on_a_terminal(tmp_path, {"TERM": "xterm"})
    for env in ({"FORCE_COLOR": "0"}, {"FORCE_COLOR": "false"}, {"NO_COLOR": "1"}):
        printed = _on_a_terminal(tmp_path, {"TERM": "xterm", **env})
        assert "BK101" in printed and "\x1b[" not in printed, env


def test_shell_completion_script_and_answers() -> None:
    script = run_backout(env={"_BACKOUT_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "_backout_completion" in script.stdout
    answers = run_backout(
        env={"_BACKOUT_COMPLETE": "bash_complete", "COMP_WORDS": "backout ch", "COMP_CWORD": "1"}
    )
    assert "plain,check" in answers.stdout.split()
