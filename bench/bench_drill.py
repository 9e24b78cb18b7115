"""Benchmark: `backout drill` of 200 migrations on the embedded PostgreSQL, start to finish.

Builds a git repository in a temp dir (golang-migrate layout): the base release has 150
migrations (100 tables with a primary key, a NOT NULL text column, a foreign key to the
previous table and an index, then 50 that add columns), the release adds 50 migrations (a
column with a default and an index each, with down files). Times the whole
``backout drill --base HEAD~1`` command from process start to exit: embedded server start,
base migrations, seeding, snapshot, release up, contract probe, down, diff, data comparison,
up again, server stop. Prints a Markdown row for docs/benchmarks.md.

Usage: ``python bench/bench_drill.py [--runs 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLES = 100
BASE_ALTERS = 50
RELEASE = 50


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def build(repo: Path) -> None:
    """Write the repository: base commit with 150 migrations, HEAD with 50 more."""
    migrations = repo / "migrations"
    migrations.mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "bench@example.com")
    _git(repo, "config", "user.name", "bench")
    number = 0

    def write(up: str, down: str) -> None:
        nonlocal number
        number += 1
        (migrations / f"{number:04d}_step.up.sql").write_text(up)
        (migrations / f"{number:04d}_step.down.sql").write_text(down)

    for table in range(TABLES):
        parent = f",\n  parent_id integer REFERENCES t{table - 1} (id)" if table else ""
        write(
            f"CREATE TABLE t{table} (\n  id serial PRIMARY KEY,\n  name text NOT NULL{parent}\n);\n"
            f"CREATE INDEX t{table}_name ON t{table} (name);\n",
            f"DROP TABLE t{table};\n",
        )
    for step in range(BASE_ALTERS):
        write(
            f"ALTER TABLE t{step} ADD COLUMN note varchar(40);\n",
            f"ALTER TABLE t{step} DROP COLUMN note;\n",
        )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base: 150 migrations")
    for step in range(RELEASE):
        table = TABLES - 1 - step
        write(
            f"ALTER TABLE t{table} ADD COLUMN score integer NOT NULL DEFAULT 0;\n"
            f"CREATE INDEX t{table}_score ON t{table} (score);\n",
            f"DROP INDEX t{table}_score;\nALTER TABLE t{table} DROP COLUMN score;\n",
        )
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "release: 50 migrations")


def main() -> None:
    """Build the repository once, run the drill ``--runs`` times, print the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        build(repo)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "backout", "drill", "--base", "HEAD~1", "--verbose"],
                cwd=repo,
                capture_output=True,
                text=True,
                env={**os.environ, "NO_COLOR": "1"},
            )
            times.append(time.perf_counter() - started)
            if done.returncode != 0:
                sys.exit(f"drill failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        print(done.stderr)
        print(
            f"| {TABLES * 1 + BASE_ALTERS + RELEASE} migrations ({TABLES + BASE_ALTERS} base, "
            f"{RELEASE} release), embedded PostgreSQL | best {min(times):.1f} s | "
            f"median {statistics.median(times):.1f} s | {args.runs} runs | "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores |"
        )


if __name__ == "__main__":
    main()
