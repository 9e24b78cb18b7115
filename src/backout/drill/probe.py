"""What the old release runs: the contract probe, ``drill.old-queries`` and ``drill.old-command``.

Every probe statement is first run on the base schema (in a transaction that is rolled back):
only statements that work there can prove anything when they fail on the new schema.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from backout.drill.database import DrillDatabase, DrillError, StatementFailed
from backout.drill.runners import split_statements
from backout.drill.seed import Seeded, insert_statement, render, select_statement, value_for
from backout.drill.snapshot import SchemaSnapshot
from backout.models import Location


@dataclass(frozen=True)
class ProbeStatement:
    """One statement the old release could issue, and the table it is about."""

    table: str
    sql: str
    kind: str
    """``INSERT`` or ``SELECT`` for the contract probe, ``query`` for ``drill.old-queries``."""
    location: Location | None = None
    """Where an old query is written (``None`` for the contract probe)."""


def contract_probe(
    database: DrillDatabase, base_schema: SchemaSnapshot, seeded: Seeded
) -> list[ProbeStatement]:
    """Per base table, the INSERT of its old columns and the SELECT of every old column; per
    base view, the SELECT of every old column."""
    probes = []
    for name, table in sorted(base_schema.tables.items()):
        row = seeded.probe_rows.get(name)
        if row is not None:
            probes.append(ProbeStatement(name, insert_statement(database, name, row), "INSERT"))
        columns = [c.name for c in table.columns]
        probes.append(ProbeStatement(name, select_statement(database, name, columns), "SELECT"))
    for name, view in sorted(base_schema.views.items()):
        select = select_statement(database, name, view.columns)
        probes.append(ProbeStatement(name, select, "SELECT"))
    return probes


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|\?|\$\d+|(?<![:\w]):([A-Za-z_]\w*)")
_COMPARED = re.compile(
    r"[\"`]?(\w+)[\"`]?\s*(?:=|<>|!=|<=|>=|<|>|\bLIKE|\bIN\s*\()\s*$", re.IGNORECASE
)
_INSERT = re.compile(
    r"INSERT\s+INTO\s+[\"`]?(\w+)[\"`]?\s*\(([^)]*)\)\s*VALUES\s*\(", re.IGNORECASE
)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+[\"`]?(\w+)", re.IGNORECASE)


def fill_placeholders(sql: str, schema: SchemaSnapshot, seeded: Seeded, dialect: str) -> str:
    """``sql`` with each placeholder replaced by a value of the column it stands for.

    The column is the placeholder's name (``:email``, ``%(email)s``), the column it is compared
    with (``email = ?``), or its position in an ``INSERT … (columns) VALUES (…)``. A seeded
    value is used where one exists, so that reads and updates hit rows.
    """
    table_match = _TABLE.search(sql)
    table_name = table_match.group(1) if table_match else ""
    insert = _INSERT.search(sql)
    insert_columns = [c.strip().strip('"`') for c in insert.group(2).split(",")] if insert else []
    out: list[str] = []
    cursor = 0
    position = 0
    for match in _PLACEHOLDER.finditer(sql):
        column = match.group(1) or match.group(2)
        if column is None:
            compared = _COMPARED.search(sql[: match.start()])
            if insert is not None and match.start() >= insert.end():
                if position < len(insert_columns):
                    column = insert_columns[position]
                position += 1
            elif compared is not None:
                column = compared.group(1)
        out.append(sql[cursor : match.start()])
        out.append(render(_value(column, table_name, schema, seeded), dialect))
        cursor = match.end()
    out.append(sql[cursor:])
    return "".join(out)


def _value(column: str | None, table_name: str, schema: SchemaSnapshot, seeded: Seeded) -> object:
    if column is None:
        return "1"
    tables = [table_name] if table_name in schema.tables else sorted(schema.tables)
    for name in tables:
        shape = schema.tables[name].column(column)
        if shape is None:
            continue
        rows = seeded.rows.get(name) or []
        if rows and column in rows[0] and rows[0][column] is not None:
            return rows[0][column]
        return value_for(shape, 1)
    return "1"


def old_queries(
    path: Path,
    shown_path: str,
    database: DrillDatabase,
    schema: SchemaSnapshot,
    seeded: Seeded,
) -> list[ProbeStatement]:
    """The statements of a ``drill.old-queries`` file, placeholders filled."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DrillError(f"cannot read drill.old-queries {shown_path}: no such file") from None
    except UnicodeDecodeError:
        raise DrillError(f"cannot read drill.old-queries {shown_path}: not UTF-8 text") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise DrillError(f"cannot read drill.old-queries {shown_path}: {reason}") from None
    probes = []
    for statement in split_statements(text, database.dialect):
        filled = fill_placeholders(statement.sql, schema, seeded, database.dialect)
        table = _TABLE.search(filled)
        probes.append(
            ProbeStatement(
                table.group(1) if table else "",
                filled,
                "query",
                Location(shown_path, statement.line, 1),
            )
        )
    return probes


def failures(
    database: DrillDatabase, probes: Sequence[ProbeStatement]
) -> list[tuple[ProbeStatement, StatementFailed]]:
    """Each probe that fails, run alone in a transaction that is rolled back."""
    failed = []
    for probe in probes:
        error = database.try_rolled_back([probe.sql])
        if error is not None:
            failed.append((probe, error))
    return failed


@dataclass(frozen=True)
class CommandResult:
    """How the old release's own command ended."""

    exit_code: int
    output_tail: str


def run_old_command(command: str, repo: Path, commit: str, subdir: str, url: str) -> CommandResult:
    """Run ``command`` in a ``git worktree`` of ``commit`` with ``DATABASE_URL`` set."""
    holder = Path(tempfile.mkdtemp(prefix="backout-old-release-"))
    worktree = holder / "tree"
    added = subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), commit],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if added.returncode != 0:
        raise DrillError(f"git worktree add {commit}: {added.stderr.strip()[-300:]}")
    try:
        env = dict(os.environ)
        env["DATABASE_URL"] = url
        done = subprocess.run(
            command,
            shell=True,
            cwd=worktree / subdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        output = (done.stdout + done.stderr).strip().splitlines()
        return CommandResult(done.returncode, "\n".join(output[-15:]))
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)],
            cwd=repo,
            capture_output=True,
            check=False,
        )
        subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True, check=False)
        shutil.rmtree(holder, ignore_errors=True)
