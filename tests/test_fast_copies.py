"""Objects built without their class's ``__init__`` (for speed) are the ones it would build.

``make_finding`` fills a :class:`Finding`'s attributes directly and ``schema_model._with_down``
copies a :class:`Migration`'s attributes: neither runs the dataclass ``__init__``, so a field
added to the class is not filled in unless they are changed too. These tests compare each fast
copy, field by field and in field order, with what the constructor builds.
``ColumnState.copy`` names every field rather than calling ``dataclasses.replace``: it is
checked the same way.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from backout.models import Family, Finding, Location, RuleMeta, Severity, make_finding
from backout.schema_model import ColumnState, _with_down
from backout.schema_operations import (
    ADD_COLUMN,
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DROP_COLUMN,
    DialectRead,
    Operation,
)
from backout.sources.migration_facts import DownScript, Migration


def _same_instance(fast: Any, built: Any) -> None:
    """``fast`` holds exactly what the constructor put into ``built``, in the same order."""
    cls = type(built)
    names = [f.name for f in dataclasses.fields(cls)]
    assert type(fast) is cls
    assert vars(fast) == vars(built)
    assert list(vars(fast)) == names
    assert fast == built
    assert repr(fast) == repr(built)
    assert hash(fast) == hash(built)
    assert pickle.loads(pickle.dumps(fast)) == built
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, names[0], "changed")


META = RuleMeta("BK999", "a-rule", Severity.WARNING, Family.SCHEMA, "Summary.", "Docs.")
WHERE = Location("db/0001_x.up.sql", 3, 5, 3, 9)


def test_make_finding_builds_what_finding_builds() -> None:
    built = Finding(META.code, META.name, META.severity, WHERE, "the message", "the fix")
    _same_instance(make_finding(META, WHERE, "the message", "the fix"), built)


def test_make_finding_with_a_severity_of_its_own() -> None:
    built = Finding(META.code, META.name, Severity.ERROR, WHERE, "the message", "the fix")
    fast = make_finding(META, WHERE, "the message", "the fix", Severity.ERROR)
    _same_instance(fast, built)


# What joining a down file decides, and what it keeps of the up migration. A field added to
# Migration fails test_every_field_is_judged until it is listed here and ``_with_down`` does
# the right thing with it.
SET_BY_THE_DOWN_FILE = {
    "down_sql",
    "down_line",
    "down_location",
    "down_state",
    "down_reason",
    # A down file is the down: no customChange class is left to decide it (the default).
    "down_custom_classes",
    "down_reference",
    "down",
    "dialect_reads",
}
KEPT_FROM_THE_UP_FILE = {
    "location",
    "layout",
    "engine",
    "stream",
    "version",
    "sort_key",
    "name",
    "up_sql",
    "up_line",
    "revision",
    "down_revisions",
    "script_directory",
    "app_label",
    "app_tables",
    # Django's, which has no down file.
    "literal_tables",
    "sql_steps",
    "django_backend",
    "migration_name",
    "dependencies",
    "replaces",
    "changeset",
    "up",
    "readable",
    "generated_at",
    "up_transaction",
    # Only dbmate and Liquibase set it, and neither has a separate down file.
    "down_transaction",
    # pop's down file is joined to the up file of its own dialect: the same value.
    "dialect",
    "dialects",
}

UP_PATH = "db/0001_x.up.sql"
DOWN_PATH = "db/0001_x.down.sql"


def _op(kind: str, path: str) -> Operation:
    return Operation(kind, Location(path, 1, 1), "users", "email")


def _migration(dialect_reads: tuple[DialectRead, ...] = ()) -> Migration:
    """A migration whose every field differs from its default (and from the down file's)."""
    return Migration(
        location=Location(UP_PATH, 1, 1),
        layout="golang-migrate",
        engine="sql",
        stream="db",
        version="0001",
        sort_key=((1, ""),),
        name="x",
        up_sql="ALTER TABLE users ADD COLUMN email text;",
        down_sql="the up file's own down section",
        up_line=2,
        down_line=7,
        down_location=Location(UP_PATH, 7, 1),
        down_state=DOWN_MISSING,
        down_reason="no down file",
        down_custom_classes=("com.shop.Custom",),
        down_reference=("db/other.xml", "me:0"),
        revision="rev",
        down_revisions=("before",),
        script_directory="scripts",
        app_label="app",
        app_tables=("app_x",),
        literal_tables=("x_table",),
        django_backend="sqlite",
        sql_steps=((0,), (0,)),
        migration_name="0001_x",
        dependencies=(("app", "0000_initial"),),
        replaces=(("app", "0001_old"),),
        changeset="me:1",
        up=(_op(ADD_COLUMN, UP_PATH),),
        down=(_op(ADD_COLUMN, UP_PATH),),
        readable=False,
        dialect_reads=dialect_reads,
        generated_at="2024-01-05 12:34",
        up_transaction=False,
        down_transaction=False,
        dialect="mysql",
        dialects=("mysql",),
    )


def _down(sql: str, dialect_reads: tuple[DialectRead, ...] = ()) -> DownScript:
    return DownScript(
        location=Location(DOWN_PATH, 1, 1),
        layout="golang-migrate",
        stream="db",
        version="0001",
        sql=sql,
        down=(_op(DROP_COLUMN, DOWN_PATH),),
        readable=not dialect_reads,
        dialect_reads=dialect_reads,
    )


def test_every_field_is_judged() -> None:
    names = {f.name for f in dataclasses.fields(Migration)}
    assert names == SET_BY_THE_DOWN_FILE | KEPT_FROM_THE_UP_FILE
    assert not SET_BY_THE_DOWN_FILE & KEPT_FROM_THE_UP_FILE
    # The migrations below give every field a value of its own, so that a field the copy
    # dropped or took from the wrong file shows.
    migration = _migration((DialectRead("mysql"),))
    assert all(
        getattr(migration, f.name) != f.default
        for f in dataclasses.fields(Migration)
        if f.default is not dataclasses.MISSING
    )


def _joined_by_constructor(migration: Migration, **decided: Any) -> Migration:
    """``migration`` joined to a down file, as the constructor builds it from ``decided``."""
    kept = {name: getattr(migration, name) for name in KEPT_FROM_THE_UP_FILE}
    return Migration(**kept, **decided)


def test_with_down_builds_what_the_constructor_builds() -> None:
    migration, down = _migration(), _down("ALTER TABLE users DROP COLUMN email;")
    built = _joined_by_constructor(
        migration,
        down_sql=down.sql,
        down_line=1,
        down_location=down.location,
        down_state=DOWN_PRESENT,
        down_reason="",
        down=down.down,
        dialect_reads=(),
    )
    _same_instance(_with_down(migration, down), built)


def test_with_an_empty_down_file() -> None:
    migration, down = _migration(), _down("-- nothing to undo\n")
    built = _joined_by_constructor(
        migration,
        down_sql=down.sql,
        down_line=1,
        down_location=down.location,
        down_state=DOWN_EMPTY,
        down_reason=f"{DOWN_PATH} is empty",
        down=down.down,
        dialect_reads=(),
    )
    _same_instance(_with_down(migration, down), built)


def test_with_dialect_reads() -> None:
    mysql_down = (_op(DROP_COLUMN, DOWN_PATH), _op(DROP_COLUMN, DOWN_PATH))
    migration = _migration((DialectRead("mysql", up=(_op(ADD_COLUMN, UP_PATH),)),))
    down = _down("ALTER TABLE users DROP email;", (DialectRead("mysql", down=mysql_down),))
    built = _joined_by_constructor(
        migration,
        down_sql=down.sql,
        down_line=1,
        down_location=down.location,
        down_state=DOWN_PRESENT,
        down_reason="",
        down=down.down,
        dialect_reads=(DialectRead("mysql", up=(_op(ADD_COLUMN, UP_PATH),), down=mysql_down),),
    )
    _same_instance(_with_down(migration, down), built)


def test_column_state_copy_is_a_copy_of_every_field() -> None:
    # A value of its own per field, so that a field the copy leaves out (at its default) shows.
    values = [f"value of {f.name}" for f in dataclasses.fields(ColumnState)]
    column = ColumnState(*values)  # type: ignore[arg-type]
    copied = column.copy()
    assert copied is not column
    assert [getattr(copied, f.name) for f in dataclasses.fields(ColumnState)] == values
    assert copied == column


def test_report_order_is_the_findings_sort_key() -> None:
    """``engine.REPORT_ORDER`` (a C-level getter) sorts as :attr:`Finding.sort_key` does."""
    from backout.engine import REPORT_ORDER

    meta = RuleMeta("BK201", "rule", Severity.ERROR, Family.SCHEMA, "summary", "docs")
    findings = [
        make_finding(meta, Location(path, line, column), message, "fix")
        for path in ("b.sql", "a.sql", "a/b.sql")
        for line in (10, 2)
        for column in (3, 1)
        for message in ("z", "a")
    ]
    findings.append(
        make_finding(dataclasses.replace(meta, code="BK101"), Location("a.sql", 2, 1), "z", "f")
    )
    assert [REPORT_ORDER(f) for f in findings] == [f.sort_key for f in findings]
    assert sorted(findings, key=REPORT_ORDER) == sorted(findings, key=lambda f: f.sort_key)
