"""Benchmark: backout's schema rules vs squawk on 5,000 generated PostgreSQL migration files.

Generates a golang-migrate tree (``NNNNN_name.up.sql``/``.down.sql``; 5,000 up files of 3–6
statements each: CREATE TABLE, ADD COLUMN with and without NOT NULL/defaults, DROP and RENAME
COLUMN, type changes, SET NOT NULL, unique indexes, CHECK constraints, UPDATEs, DO blocks)
and times, as whole commands from process start to exit (output captured through a pipe, as
a CI log or a pager reads it), best of N runs, two pairings of the same work:

- one line a finding: ``backout check --output-format concise`` vs ``squawk --reporter gcc``;
- each tool's default report: ``backout check`` (``full``: the rule name, the offending line,
  the fix) vs ``squawk`` (its ``tty`` reporter: the statement, the rule's help).

backout runs with ``select = ["BK2", "BK901"]`` and every migration but the 50 that create
the tables in the release (``release-size``), so each up and down file is parsed and each
migration judged against a base schema; squawk (``squawk-cli`` from PyPI, in its own virtual
environment: ``python3 -m venv bench/.venv-squawk && bench/.venv-squawk/bin/pip install
squawk-cli``) lints the same up files.

Usage: ``python bench/bench_schema.py [--files 5000] [--runs 3] [--out DIR]``; the result
is printed as Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import backout_command, machine, python_env

STATEMENTS = (
    "ALTER TABLE t{t} ADD COLUMN c{i} integer;",
    "ALTER TABLE t{t} ADD COLUMN d{i} text NOT NULL DEFAULT '';",
    "ALTER TABLE t{t} ADD COLUMN e{i} bigint NOT NULL;",
    "UPDATE t{t} SET name = lower(name) WHERE id > {i};",
    "ALTER TABLE t{t} DROP COLUMN IF EXISTS old{i};",
    "ALTER TABLE t{t} RENAME COLUMN name TO name{i};",
    "ALTER TABLE t{t} ALTER COLUMN c{i} TYPE bigint;",
    "ALTER TABLE t{t} ALTER COLUMN name SET NOT NULL;",
    "CREATE UNIQUE INDEX CONCURRENTLY t{t}_u{i} ON t{t} (name, c{i});",
    "ALTER TABLE t{t} ADD CONSTRAINT t{t}_k{i} CHECK (id > 0) NOT VALID;",
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM t{t}) THEN "
    "ALTER TABLE t{t} ADD COLUMN f{i} text; END IF; END $$;",
)


def generate(root: Path, files: int) -> Path:
    """Write the tree and a backout.toml putting all but the first 50 files in the release."""
    if root.exists():
        shutil.rmtree(root)
    migrations = root / "db" / "migrations"
    migrations.mkdir(parents=True)
    (root / "backout.toml").write_text(
        f'select = ["BK2", "BK901"]\nrelease-size = {max(files - 50, 1)}\n', encoding="utf-8"
    )
    for number in range(1, files + 1):
        table = number % 50
        if number <= 50:
            body = [f"CREATE TABLE t{table} (id bigserial PRIMARY KEY, name text);"]
        else:
            count = 3 + number % 4
            body = [
                STATEMENTS[(number * 7 + k) % len(STATEMENTS)].format(t=table, i=number * 10 + k)
                for k in range(count)
            ]
        stem = f"{number:05d}_change_{number}"
        (migrations / f"{stem}.up.sql").write_text("\n".join(body) + "\n", encoding="utf-8")
        if number % 3:
            (migrations / f"{stem}.down.sql").write_text("SELECT 1;\n", encoding="utf-8")
    return root


def best_of(
    commands: dict[str, list[str]], runs: int, cwd: Path, env: dict[str, str]
) -> dict[str, tuple[float, int]]:
    """The fastest wall time of ``runs`` runs of each command, and its exit code.

    The commands take turns (one run of each, ``runs`` times), so that a change in the
    machine's load during the benchmark falls on all of them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    codes = dict.fromkeys(commands, 0)
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
            times[name].append(time.perf_counter() - start)
            codes[name] = done.returncode
    return {name: (min(times[name]), codes[name]) for name in commands}


def main() -> None:
    """Generate, time both tools, print the Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    # Outside the repository: inside it, git would hide the (ignored) tree from backout.
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "backout-bench-schema"
    )
    args = parser.parse_args()
    root = generate(args.out.resolve() / "schema", args.files)
    squawk = Path("bench/.venv-squawk/bin/squawk").resolve()
    if not squawk.is_file():
        sys.exit("squawk not found: create bench/.venv-squawk (see the module docstring)")
    up_files = sorted(str(p.relative_to(root)) for p in root.glob("db/migrations/*.up.sql"))
    backout = backout_command()
    env = python_env(args.out.resolve() / "pycache")
    concise = [backout, "check", ".", "--output-format", "concise"]
    # Warm-up: writes the bytecode cache and brings the tree into the page cache.
    report = subprocess.run(concise, cwd=root, env=env, capture_output=True, text=True)
    findings = sum(1 for line in report.stdout.splitlines() if ": BK" in line)
    commands = {
        "backout concise": concise,
        "squawk gcc": [str(squawk), "--reporter", "gcc", *up_files],
        "backout full": [backout, "check", "."],
        "squawk tty": [str(squawk), *up_files],
    }
    load_before = os.getloadavg()[0]
    timed = best_of(commands, args.runs, root, env)
    load_after = os.getloadavg()[0]
    version = subprocess.run(
        [str(squawk), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"Machine: {machine()}. Best of {args.runs} runs, whole command, wall time, output "
        f"through a pipe; 1-minute load average {load_before:.1f} before, {load_after:.1f} after."
        "\n"
    )
    print("| report | backout check (BK2xx + BK901) | squawk | ratio backout / squawk |")
    print("|---|---|---|---|")
    for label, ours, theirs in (
        ("one line a finding (`concise` / `--reporter gcc`)", "backout concise", "squawk gcc"),
        ("default (`full` / `tty`)", "backout full", "squawk tty"),
    ):
        print(
            f"| {label} | {timed[ours][0]:.2f} s | {timed[theirs][0]:.2f} s | "
            f"{timed[ours][0] / timed[theirs][0]:.2f} |"
        )
    down_files = len(list(root.glob("db/migrations/*.down.sql")))
    print(
        f"\nbackout: {len(up_files)} up + {down_files} down files, "
        f"exit {timed['backout concise'][1]}, {findings} findings; {version}: "
        f"{len(up_files)} up files, exit {timed['squawk gcc'][1]}."
    )


if __name__ == "__main__":
    main()
