"""Alembic revisions → :class:`~.migration_facts.Migration` facts, from the Python AST.

A revision file is never imported (importing runs the project's code). ``revision`` and
``down_revision`` come from the module's assignments (``revision = "b"``, annotated
``revision: str = "b"``, or unpacked: ``revision, down_revision = "b", "a"``); ``upgrade()``
and ``downgrade()`` are read as lists of ``op.*`` calls, ``with op.batch_alter_table(...)``
blocks included. ``op.execute`` with a SQL string is read as SQL
(:mod:`backout.sources.sql`); ``op.execute`` of anything computed is reported unreadable. A
``downgrade()`` that is ``pass`` (Alembic's template when autogenerate found nothing) or that
only raises is recorded as such, so BK207 can report it.

Code under a test of the database's dialect (``if op.get_bind().dialect.name == "mysql":``,
``if dialect_name != "postgresql": return``, ``if url.startswith("mysql"):`` of the bind's URL,
``if not is_sqlite:`` with ``is_sqlite`` bound to such a test in the function or the module)
runs on those dialects only: its operations are recorded for them, and its SQL is read with
their grammars alone, so a MySQL-only ``INSERT IGNORE`` is not unreadable in a PostgreSQL
project.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import ClassVar

from backout.models import Location
from backout.schema_operations import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    CHECK,
    CREATE_TABLE,
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DOWN_RAISES,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEFAULT,
    DROP_NOT_NULL,
    DROP_TABLE,
    DROPPED_INDEX,
    FOREIGN_KEY,
    ORM_DEFAULT_ONLY,
    RENAME_COLUMN,
    RENAME_TABLE,
    RESTATED,
    SET_DEFAULT,
    SET_NOT_NULL,
    UNIQUE,
    Column,
    DialectRead,
    Operation,
    declared_column,
    is_null_default,
)
from backout.sources.base import Computed, Fact, SourceFile, SqlUnreadable, Unreadable
from backout.sources.migration_facts import Migration, version_key
from backout.sources.paths import is_alembic_revision
from backout.sources.python_ast import argument as _argument
from backout.sources.python_ast import callee_name as _callee
from backout.sources.python_ast import keyword_value as _keyword
from backout.sources.python_ast import literal as _const
from backout.sources.python_ast import literal_string as _string
from backout.sources.python_ast import lone_surrogate, parse_python, string_pieces
from backout.sources.sql import BodyReads, SqlText, condition_columns, read_bodies

# SQLAlchemy type constructors → the SQL type they create (lower-case, PostgreSQL spelling).
_SA_TYPES = {
    "integer": "integer",
    "biginteger": "bigint",
    "smallinteger": "smallint",
    "string": "varchar",
    "unicode": "varchar",
    "varchar": "varchar",
    "text": "text",
    "unicodetext": "text",
    "boolean": "boolean",
    "numeric": "numeric",
    "float": "double precision",
    "datetime": "timestamp",
    "date": "date",
    "time": "time",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "jsonb",
    "largebinary": "bytea",
    "char": "char",
}


def _strings(node: ast.AST | None) -> tuple[str, ...]:
    value = _const(node)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


# SQLAlchemy calls that combine conditions, and column methods that compare.
_SA_COMBINATORS = frozenset({"and_", "or_", "not_"})
_SA_COMPARATORS = frozenset(
    {"in_", "not_in", "notin_", "is_", "is_not", "isnot", "between", "like", "ilike"}
)


def _constraint_name(node: ast.AST | None) -> str:
    """A constraint's name as written: a literal, or the literal in ``op.f("…")`` /
    ``batch_op.f("…")`` / ``conv("…")`` (Alembic's mark of a name already final under the
    naming convention, which autogenerate writes for every named constraint)."""
    if (
        isinstance(node, ast.Call)
        and _callee(node) in ("f", "conv")
        and len(node.args) == 1
        and not node.keywords
    ):
        node = node.args[0]
    return _string(node) or ""


def _check_columns(node: ast.AST | None) -> tuple[str, ...]:
    """The columns an ``op.create_check_constraint`` condition names; ``()`` when unknown.

    The condition is SQL text (a string, ``sa.text("…")``), read with PostgreSQL's grammar, or
    a SQLAlchemy expression built from ``sa.column("…")``. Unknown columns (unparsable SQL, an
    expression with anything else in it) leave the constraint judged as touching the table's
    existing rows, which is the safe side.
    """
    if isinstance(node, ast.Call) and _callee(node) == "text" and node.args:
        node = node.args[0]
    sql = _string(node)
    if sql is not None:
        return tuple(c.lower() for c in condition_columns(sql) or ())
    found: list[str] = []
    return tuple(dict.fromkeys(found)) if _expression_columns(node, found) else ()


def _expression_columns(node: ast.AST | None, found: list[str]) -> bool:
    """Collect the ``sa.column("…")`` names of a SQLAlchemy condition into ``found``.

    False when the expression holds anything whose columns cannot be told (a variable, a
    model attribute, a function of the database).
    """
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_expression_columns(item, found) for item in node.elts)
    if isinstance(node, ast.Compare):
        return all(_expression_columns(n, found) for n in (node.left, *node.comparators))
    if isinstance(node, ast.BoolOp):
        return all(_expression_columns(n, found) for n in node.values)
    if isinstance(node, ast.BinOp):
        return _expression_columns(node.left, found) and _expression_columns(node.right, found)
    if isinstance(node, ast.UnaryOp):
        return _expression_columns(node.operand, found)
    if not isinstance(node, ast.Call) or node.keywords:
        return False
    name = _callee(node)
    if name in ("column", "literal_column") and len(node.args) == 1:
        text = _string(node.args[0])
        if text is None:
            return False
        columns = (text,) if name == "column" else condition_columns(text)
        if columns is None:
            return False
        found.extend(c.lower() for c in columns)
        return True
    if name in _SA_COMBINATORS:
        return all(_expression_columns(a, found) for a in node.args)
    if name in _SA_COMPARATORS and isinstance(node.func, ast.Attribute):
        return all(_expression_columns(n, found) for n in (node.func.value, *node.args))
    return False


def _type_text(node: ast.AST | None) -> str | None:
    """``sa.String(50)`` → ``varchar(50)``; ``sa.Enum("a", "b")`` → ``enum('a','b')``."""
    if node is None:
        return None
    call = node if isinstance(node, ast.Call) else None
    name = _callee(call) if call else (node.attr if isinstance(node, ast.Attribute) else "")
    if not name and isinstance(node, ast.Name):
        name = node.id
    lowered = name.lower()
    if lowered == "enum" and call is not None:
        labels = [_string(a) for a in call.args]
        if not labels or None in labels:
            # ``Enum(*statuses)``, ``Enum(Status)`` (a Python enum): the labels are known at
            # run time only, so the type is not judged.
            return None
        if _const(_keyword(call, "native_enum")) is False:
            # A VARCHAR as long as the longest label (or ``length=``), with a CHECK at most.
            length = _const(_keyword(call, "length"))
            size = length if isinstance(length, int) else max(len(str(v)) for v in labels)
            return f"varchar({size})"
        return "enum(" + ",".join(f"'{label}'" for label in labels) + ")"
    base = _SA_TYPES.get(lowered, lowered or None)
    if base is None:
        return None
    if call is not None:
        params = [str(v) for v in (_const(a) for a in call.args) if isinstance(v, int)]
        length = next((k.value for k in call.keywords if k.arg == "length"), None)
        if not params and isinstance(_const(length), int):
            params = [str(_const(length))]
        if params:
            return f"{base}({','.join(params)})"
    return base


def _where(path: str, node: ast.AST | None, fallback: ast.AST) -> Location:
    target = node if node is not None and hasattr(node, "lineno") else fallback
    return Location(path, getattr(target, "lineno", 1), getattr(target, "col_offset", 0) + 1)


def _sa_column(call: ast.Call) -> Column | None:
    if _callee(call) != "Column":
        return None
    name = _string(call.args[0]) if call.args else _string(_keyword(call, "name"))
    if name is None:
        return None
    type_node = call.args[1] if len(call.args) > 1 else _keyword(call, "type_")
    generated = any(
        isinstance(a, ast.Call) and _callee(a) in ("Identity", "Computed") for a in call.args
    )
    primary = _const(_keyword(call, "primary_key")) is True
    nullable_node = _keyword(call, "nullable")
    nullable = not primary if nullable_node is None else _const(nullable_node) is not False
    has_default = _is_default(_keyword(call, "server_default"))
    type_text = (
        _type_text(type_node)
        if not isinstance(type_node, ast.Call)
        or (_callee(type_node) not in ("Identity", "Computed", "ForeignKey"))
        else None
    )
    # ``unique=True`` is an unnamed ``UNIQUE (column)`` of the column's own (in CREATE TABLE,
    # or ``ALTER TABLE … ADD UNIQUE (column)`` after add_column): PostgreSQL names it
    # ``<table>_<column>_key``.
    unique_key = _const(_keyword(call, "unique")) is True
    return declared_column(
        name, type_text, nullable, has_default, generated, primary=primary, unique_key=unique_key
    )


_SERIAL_TYPES = frozenset({"integer", "bigint", "smallint"})


def _autoincrements(column: Column, call: ast.Call) -> bool:
    """An added column that SQLAlchemy emits as ``SERIAL``/``BIGSERIAL`` on PostgreSQL (and
    ``AUTO_INCREMENT`` on MySQL), so it fills itself: an integer primary key, the only one of
    the table ``op.add_column`` builds, with ``autoincrement`` left to "auto" (or True) and no
    ``ForeignKey`` (lemur's ``sa.Column('id', sa.Integer, primary_key=True,
    autoincrement=True)``, ``ALTER TABLE … ADD COLUMN id SERIAL NOT NULL``). A Python-side
    ``default=`` or a ``Sequence`` makes it ``INTEGER NOT NULL`` with no default on PostgreSQL
    (SQLAlchemy serials only a column whose default is None)."""
    if not column.primary_key or column.type not in _SERIAL_TYPES:
        return False
    autoincrement = _keyword(call, "autoincrement")
    if autoincrement is not None and _const(autoincrement) not in (True, "auto"):
        return False
    default = _keyword(call, "default")
    if default is not None and not (isinstance(default, ast.Constant) and default.value is None):
        return False
    return not any(
        isinstance(a, ast.Call) and _callee(a) in ("ForeignKey", "Sequence") for a in call.args
    )


def _sa_table_columns(arguments: Sequence[ast.expr]) -> tuple[Column, ...]:
    """The columns of ``op.create_table``, as the DDL SQLAlchemy emits for them declares them.

    A primary key column (``primary_key=True`` or in a ``PrimaryKeyConstraint``) is written
    ``NOT NULL`` unless it says ``nullable=True``; then only the key makes it NOT NULL:
    PostgreSQL and MySQL do, SQLite does not unless the key is the rowid alias (one column of
    type ``Integer``, emitted ``INTEGER``: ``Column.sqlite_nullable``). SQLAlchemy's own DDL
    for SQLite shows it: ``sa.Column("code", sa.String(3), primary_key=True, nullable=True)``
    is ``code VARCHAR(3), PRIMARY KEY (code)``, without it ``code VARCHAR(3) NOT NULL``.
    """
    declared: list[tuple[Column, bool]] = []  # each column, and whether nullable=True is written
    keys: list[str] = []
    for argument in arguments:
        if not isinstance(argument, ast.Call):
            continue
        if _callee(argument) == "PrimaryKeyConstraint":
            keys.extend(k.lower() for k in map(_string, argument.args) if k is not None)
            continue
        column = _sa_column(argument)
        if column is None:
            continue
        if _const(_keyword(argument, "primary_key")) is True:
            keys.append(column.name)
        nullable = _keyword(argument, "nullable")
        declared.append((column, nullable is not None and _const(nullable) is not False))
    if not keys:
        return tuple(column for column, _ in declared)
    rowid_alias = len(keys) == 1 and any(
        column.name == keys[0] and column.type == "integer" for column, _ in declared
    )
    return tuple(
        replace(
            column,
            nullable=False,
            unique=column.unique or len(keys) == 1,
            sqlite_nullable=written_nullable and not rowid_alias,
        )
        if column.name in keys
        else column
        for column, written_nullable in declared
    )


def _sa_table_foreign_keys(
    arguments: Sequence[ast.expr],
) -> list[tuple[tuple[str, ...], str, ast.expr | None]]:
    """The foreign keys of ``op.create_table``, in the order written: ``sa.Column(…,
    sa.ForeignKey("x.id"))`` and ``sa.ForeignKeyConstraint(["a"], ["x.id"])``, each as its
    columns, the table it references (``""`` when not written out) and its ``name=``
    (PostgreSQL names an unnamed one ``<table>_<columns>_fkey``, numbered when taken)."""
    found: list[tuple[tuple[str, ...], str, ast.expr | None]] = []
    for argument in arguments:
        if not isinstance(argument, ast.Call):
            continue
        if _callee(argument) == "ForeignKeyConstraint":
            columns = _strings(_argument(argument, 0, "columns"))
            targets = _strings(_argument(argument, 1, "refcolumns"))
            if columns:
                found.append(
                    (
                        tuple(c.lower() for c in columns),
                        _referenced_table(targets[0] if targets else ""),
                        _keyword(argument, "name"),
                    )
                )
            continue
        column = _sa_column(argument)
        if column is None:
            continue
        for key in argument.args[1:]:
            if isinstance(key, ast.Call) and _callee(key) == "ForeignKey":
                target = _string(_argument(key, 0, "column")) or ""
                found.append(((column.name,), _referenced_table(target), _keyword(key, "name")))
    return found


def _referenced_table(target: str) -> str:
    """The table of a ``ForeignKey`` target ``"[schema.]table.column"``, lower-cased."""
    table, _, column = target.rpartition(".")
    return table.rpartition(".")[2].lower() if column else ""


def _is_default(node: ast.AST | None) -> bool:
    """Whether a ``server_default=`` value gives the column a default: any value but ``None``,
    ``sa.null()`` or ``sa.text("NULL")`` (``sa.text("NULL::text")`` too; ``sa.text("0")``,
    ``sa.func.now()``, ``sa.false()`` and ``"0"`` all do)."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return False
    if isinstance(node, ast.Call):
        name = _callee(node)
        if name == "null":
            return False
        if name in ("text", "literal_column") and node.args:
            text = _string(node.args[0])
            return text is None or not is_null_default(text)
    return True


# The ``op`` calls that change the schema and the position of their table-name argument.
_TABLE_ARGUMENT = {
    "create_table": 0,
    "drop_table": 0,
    "rename_table": 0,
    "add_column": 0,
    "drop_column": 0,
    "alter_column": 0,
    "create_unique_constraint": 1,
    "create_check_constraint": 1,
    "create_foreign_key": 1,
    "create_index": 1,
    "drop_constraint": 1,
}
_TABLE_KEYWORD = {"create_foreign_key": "source_table", "rename_table": "old_table_name"}
# Their column-name arguments (position outside a batch block, keyword).
_COLUMN_ARGUMENT = {
    "drop_column": (1, "column_name"),
    "alter_column": (1, "column_name"),
    "add_column": (1, "column"),
}


class _Bind(ast.NodeTransformer):
    """Replaces the names in ``values`` (loop variables, a helper's parameters, the module's
    constants) by the expression they stand for: at the name's position, or with ``moved``
    False at the expression's own (a helper's argument, where the call site writes it)."""

    def __init__(self, values: Mapping[str, ast.expr], moved: bool) -> None:
        self.values = values
        self.moved = moved

    def visit_Name(self, node: ast.Name) -> ast.AST:
        value = self.values.get(node.id)
        if value is None or not isinstance(node.ctx, ast.Load):
            return node
        bound = copy.deepcopy(value)
        return ast.copy_location(bound, node) if self.moved else bound


def _bind(
    statements: list[ast.stmt], values: Mapping[str, ast.expr], moved: bool = True
) -> list[ast.stmt]:
    if values:
        # Only the names the statements use: a deep copy of every revision's body would cost
        # more than reading it (``revision`` and ``down_revision`` are constants of every one).
        used = {n.id for s in statements for n in ast.walk(s) if isinstance(n, ast.Name)}
        values = {name: value for name, value in values.items() if name in used}
    if not values:
        return statements
    binder = _Bind(values, moved)
    return [binder.visit(copy.deepcopy(statement)) for statement in statements]


def _assigned_names(statements: list[ast.stmt]) -> set[str]:
    """The names a function body assigns to (they shadow the module's constants)."""
    names: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.add(node.id)
    return names


def _unpacked(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr | None]]:
    """The names ``target = value`` binds, each with its value: ``revision, down_revision =
    "b", "a"`` (or in parentheses or brackets) binds each name to its item; a name whose value
    is not known so (a call, items of another number) is bound to None."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    if not isinstance(target, (ast.Tuple, ast.List)):
        return []
    items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
    if items is None or len(items) != len(target.elts):
        return [(n.id, None) for n in ast.walk(target) if isinstance(n, ast.Name)]
    return [
        bound
        for part, item in zip(target.elts, items, strict=True)
        for bound in _unpacked(part, item)
    ]


# Alembic's own module variables: never a table or column name.
_REVISION_NAMES = frozenset({"revision", "down_revision", "branch_labels", "depends_on"})


def _parameters(function: ast.FunctionDef) -> dict[str, ast.expr | None]:
    """Every parameter of ``function`` with its default (``None`` when it has none)."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    found: dict[str, ast.expr | None] = {
        a.arg: d for a, d in zip(positional, defaults, strict=True)
    }
    found.update((a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True))
    return found


def _loop_bindings(loop: ast.For) -> list[dict[str, ast.expr]] | None:
    """One set of values per pass of a ``for`` over a literal list or tuple (``for name in
    ["a", "b"]``, ``for table, column in [("t", "a"), ...]``, ``reversed([…])``); ``None`` for
    any other loop."""
    iterated = loop.iter
    backwards = (
        isinstance(iterated, ast.Call)
        and _callee(iterated) == "reversed"
        and len(iterated.args) == 1
        and not iterated.keywords
    )
    if backwards and isinstance(iterated, ast.Call):
        iterated = iterated.args[0]
    if not isinstance(iterated, (ast.List, ast.Tuple)) or loop.orelse:
        return None
    passes: list[dict[str, ast.expr]] = []
    for item in reversed(iterated.elts) if backwards else iterated.elts:
        if isinstance(loop.target, ast.Name):
            passes.append({loop.target.id: item})
        elif (
            isinstance(loop.target, ast.Tuple)
            and all(isinstance(t, ast.Name) for t in loop.target.elts)
            and isinstance(item, (ast.Tuple, ast.List))
            and len(item.elts) == len(loop.target.elts)
        ):
            names = [t.id for t in loop.target.elts if isinstance(t, ast.Name)]
            passes.append(dict(zip(names, item.elts, strict=True)))
        else:
            return None
    return passes


# The dialects backout reads SQL for, and the names SQLAlchemy gives them (``dialect.name``).
_DIALECTS = ("postgres", "mysql", "sqlite")
_EVERY_DIALECT = frozenset(_DIALECTS)
_DIALECT_NAMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
_Guard = frozenset[str] | None


def _names_dialect(node: ast.expr) -> bool:
    """``dialect_name``, ``op.get_bind().dialect.name``, ``bind.engine.name``: the name of the
    database's dialect, as revisions test it."""
    if isinstance(node, ast.Name):
        return "dialect" in node.id.lower()
    if isinstance(node, ast.Attribute):
        if node.attr == "name" and isinstance(node.value, ast.Attribute):
            return node.value.attr in ("dialect", "engine")
        return node.attr == "dialect_name"
    return False


def _dialect_values(node: ast.expr) -> frozenset[str] | None:
    """The dialects a string, or a tuple/list/set of strings, names (others' names: none)."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    names = [_string(item) for item in items]
    if any(name is None for name in names):
        return None
    return frozenset(_DIALECT_NAMES[n.lower()] for n in names if n and n.lower() in _DIALECT_NAMES)


def _names_url(node: ast.expr) -> bool:
    """``url``, ``bind.engine.url``, ``str(bind.engine.url)``, ``….url.drivername``: the
    database URL (or its driver name), whose scheme names the dialect."""
    if isinstance(node, ast.Call) and _callee(node) == "str" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.Name):
        return "url" in node.id.lower()
    return isinstance(node, ast.Attribute) and node.attr in ("url", "drivername")


def _url_dialects(prefixes: ast.expr) -> frozenset[str] | None:
    """The dialects whose URL can start with a string, or any of a tuple of them (CTFd's
    ``url.startswith("mysql")``; ``"postgres"`` and ``"postgresql+psycopg2"`` alike)."""
    items = prefixes.elts if isinstance(prefixes, ast.Tuple) else [prefixes]
    found: set[str] = set()
    for item in items:
        prefix = _string(item)
        if prefix is None:
            return None
        prefix = prefix.lower()
        if not any(b.startswith(prefix) or prefix.startswith(b) for b in _URL_SCHEMES):
            return None  # ``url.startswith("https")``: no test of the database's dialect
        found.update(
            dialect
            for scheme, dialect in _DIALECT_NAMES.items()
            if scheme.startswith(prefix) or prefix.startswith(scheme)
        )
    return frozenset(found)


# The schemes of SQLAlchemy's database URLs: those of the dialects backout reads, and the
# other built-in ones, whose code runs on none of them.
_URL_SCHEMES = (*_DIALECT_NAMES, "oracle", "mssql")


def _dialect_guard(
    test: ast.expr, flags: Mapping[str, tuple[_Guard, _Guard]] | None = None
) -> tuple[_Guard, _Guard]:
    """The dialects on which an ``if`` with ``test`` runs its body, and its ``else``; None for
    a side whose dialects the test does not decide (it tests something else). ``flags``: the
    names bound to such a test (``is_sqlite = bind.dialect.name == "sqlite"``)."""
    if isinstance(test, ast.Name) and flags and test.id in flags:
        return flags[test.id]
    if (
        isinstance(test, ast.Call)
        and isinstance(test.func, ast.Attribute)
        and test.func.attr == "startswith"
        and len(test.args) == 1
        and not test.keywords
        and (_names_url(test.func.value) or _names_dialect(test.func.value))
    ):
        values = _url_dialects(test.args[0])
        return (None, None) if values is None else (values, _EVERY_DIALECT - values)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right, compare = test.left, test.comparators[0], test.ops[0]
        values = None
        if _names_dialect(left):
            values = _dialect_values(right)
        elif _names_dialect(right) and isinstance(compare, (ast.Eq, ast.NotEq)):
            values = _dialect_values(left)
        if values is None:
            return None, None
        if isinstance(compare, (ast.Eq, ast.In)):
            return values, _EVERY_DIALECT - values
        if isinstance(compare, (ast.NotEq, ast.NotIn)):
            return _EVERY_DIALECT - values, values
        return None, None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        body, orelse = _dialect_guard(test.operand, flags)
        return orelse, body
    if isinstance(test, ast.BoolOp):
        parts = [_dialect_guard(value, flags) for value in test.values]
        bodies = [b for b, _ in parts if b is not None]
        elses = [e for _, e in parts if e is not None]
        if isinstance(test.op, ast.And):
            # The body runs where every part holds; the else wherever one fails.
            body = frozenset.intersection(*bodies) if bodies else None
            return body, frozenset.union(*elses) if len(elses) == len(parts) else None
        body = frozenset.union(*bodies) if len(bodies) == len(parts) else None
        return body, frozenset.intersection(*elses) if elses else None
    return None, None


def _within(guard: _Guard, narrower: _Guard) -> _Guard:
    if narrower is None:
        return guard
    return narrower if guard is None else guard & narrower


def _returns(body: list[ast.stmt]) -> bool:
    """A block that ends the function: ``return`` last, after nothing but plain calls."""
    return (
        bool(body)
        and isinstance(body[-1], ast.Return)
        and all(isinstance(s, (ast.Expr, ast.Pass)) for s in body[:-1])
    )


class _Body:
    """Reads one function (``upgrade``/``downgrade``) into operations.

    Calls of helper functions defined in the same module are read as the helper's body (with
    the literal arguments bound to its parameters), loops over literal lists once per item, and
    the module's string constants in place of their names. An ``op`` call whose table or
    column name is still not a literal after that is reported unreadable, never skipped.
    """

    def __init__(
        self,
        path: str,
        source: str,
        helpers: Mapping[str, ast.FunctionDef] | None = None,
        constants: Mapping[str, ast.expr] | None = None,
        flags: Mapping[str, tuple[_Guard, _Guard]] | None = None,
    ) -> None:
        self.path = path
        self.source = source
        self.operations: list[Operation] = []
        self.problems: list[Fact] = []
        self.helpers = helpers or {}
        self.constants = constants or {}
        self._entered: list[str] = []
        # The dialects the code being read runs on (None: every one), and the operations
        # recorded for MySQL and SQLite where they differ from PostgreSQL's (``operations``).
        self.guard: _Guard = None
        # Names bound to a test of the dialect (``is_sqlite = … == "sqlite"``), module-level
        # ones first: the dialects where they are true and where false.
        self.flags: dict[str, tuple[_Guard, _Guard]] = dict(flags or {})
        self.other: dict[str, list[Operation]] = {"mysql": [], "sqlite": []}
        self.differs = False

    def read_function(self, function: ast.FunctionDef) -> None:
        """Read ``function``'s body with the module's constants bound."""
        self.read(self._with_constants(function))

    def _with_constants(self, function: ast.FunctionDef) -> list[ast.stmt]:
        """``function``'s body with the module constants it does not shadow bound."""
        if not self.constants:  # most revisions: no walk of the body at all
            return function.body
        shadowed = _assigned_names(function.body) | set(_parameters(function))
        values = {k: v for k, v in self.constants.items() if k not in shadowed}
        return _bind(function.body, values)

    def dialect_reads(self, other: _Body) -> tuple[DialectRead, ...]:
        """MySQL's and SQLite's ``(up, down)`` when this body (the upgrade) or ``other`` (the
        downgrade) differs by dialect from PostgreSQL's; else none (PostgreSQL's serve)."""
        if not self.differs and not other.differs:
            return ()
        return tuple(
            DialectRead(d, tuple(self.other[d]), tuple(other.other[d])) for d in ("mysql", "sqlite")
        )

    def read(self, statements: list[ast.stmt], table: str | None = None) -> None:
        outer = self.guard
        try:
            self._read(statements, table)
        finally:
            self.guard = outer

    def _read(self, statements: list[ast.stmt], table: str | None) -> None:
        for statement in statements:
            if isinstance(statement, ast.Assign):
                self.assigned(statement)
            if isinstance(statement, ast.If):
                body, orelse = _dialect_guard(statement.test, self.flags)
                if body is not None or orelse is not None:
                    current = self.guard
                    self.guard = _within(current, body)
                    self.read(statement.body, table)
                    self.guard = _within(current, orelse)
                    self.read(statement.orelse, table)
                    # ``if dialect != "postgresql": return``: the rest runs where it did not.
                    self.guard = _within(current, orelse) if _returns(statement.body) else current
                    continue
            if isinstance(statement, ast.With):
                batch_table = None
                for item in statement.items:
                    call = item.context_expr
                    if isinstance(call, ast.Call) and _callee(call) == "batch_alter_table":
                        batch_table = _string(_argument(call, 0, "table_name"))
                        if batch_table is None:
                            # Its operations name no table: read as ``op`` calls, their
                            # column would be taken for the table.
                            self.unreadable(
                                _where(self.path, call, call),
                                "batch_alter_table() names its table with a value computed "
                                "at run time, so what its block changes cannot be checked",
                            )
                            break
                else:
                    self.read(statement.body, batch_table or table)
            elif isinstance(statement, ast.For) and (passes := _loop_bindings(statement)):
                for values in passes:
                    self.read(_bind(statement.body, values), table)
            elif isinstance(statement, (ast.If, ast.For, ast.While, ast.Try)):
                for block in ("body", "orelse", "finalbody"):
                    self.read(list(getattr(statement, block, []) or []), table)
            elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
                self.call(statement.value, table)

    def assigned(self, statement: ast.Assign) -> None:
        """Note a name bound to a test of the dialect, or forget one bound to something else."""
        for target in statement.targets:
            if isinstance(target, ast.Name):
                guard = _dialect_guard(statement.value, self.flags)
                if guard != (None, None):
                    self.flags[target.id] = guard
                else:
                    self.flags.pop(target.id, None)

    def helper(self, call: ast.Call, table: str | None) -> bool:
        """Read a call of a function defined in the module as that function's body."""
        if not isinstance(call.func, ast.Name):
            return False
        function = self.helpers.get(call.func.id)
        if function is None or function.name in self._entered:
            return False  # not a helper of this module, or a recursion
        parameters = _parameters(function)
        values = dict(_parameters(function))  # the defaults
        positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        values.update(zip(positional, call.args, strict=False))
        values.update((k.arg, k.value) for k in call.keywords if k.arg in parameters)
        # A parameter the helper assigns to is no longer the argument.
        reassigned = _assigned_names(function.body)
        bound = {
            # An argument or default naming a module constant stands for its value.
            name: self.constants.get(v.id, v) if isinstance(v, ast.Name) else v
            for name, v in values.items()
            if v is not None and name not in reassigned
        }
        self._entered.append(function.name)
        try:
            body = _bind(self._with_constants(function), bound, moved=False)
            self.read(body, table)
        finally:
            self._entered.pop()
        return True

    def run_time_names(self, call: ast.Call, name: str, batch_table: str | None) -> bool:
        """Report an ``op`` call whose table or column is computed at run time."""
        shift = 0 if batch_table is None else -1
        unknown = None
        if batch_table is None and name in _TABLE_ARGUMENT:
            keyword = _TABLE_KEYWORD.get(name, "table_name")
            if _string(_argument(call, _TABLE_ARGUMENT[name], keyword)) is None:
                unknown = "table"
        if unknown is None and name in _COLUMN_ARGUMENT:
            index, keyword = _COLUMN_ARGUMENT[name]
            node = _argument(call, index + shift, keyword)
            if name == "add_column":
                named = isinstance(node, ast.Call) and _sa_column(node) is not None
            else:
                named = _string(node) is not None
            if not named:
                unknown = "column"
        if unknown is None:
            return False
        self.unreadable(
            _where(self.path, call, call),
            f"{name}() names its {unknown} with a value computed at run time, so what it "
            "changes cannot be checked",
        )
        return True

    def call(self, call: ast.Call, batch_table: str | None) -> None:
        name = _callee(call)
        if self.helper(call, batch_table):
            return
        if name == "create_index" and _const(_keyword(call, "unique")) is not True:
            return
        if name in ("add_columns", "drop_columns") and isinstance(call.func, ast.Name):
            self.columns_helper(call, name)
            return
        if self.run_time_names(call, name, batch_table):
            return
        # In a batch block the table is implicit and every argument shifts left by one.
        shift = 0 if batch_table is None else -1
        table = batch_table or (_string(_argument(call, 0, "table_name")) or "").lower()
        path = self.path
        if name == "create_table":
            table = (_string(_argument(call, 0, "table_name")) or "").lower()
            declared = _sa_table_columns(call.args[1:])
            where = _where(path, call.args[0] if call.args else None, call)
            self.add(CREATE_TABLE, where, table, columns=declared)
            for columns, referent, name_node in _sa_table_foreign_keys(call.args[1:]):
                self.add(
                    ADD_CONSTRAINT,
                    _where(path, name_node, call) if name_node is not None else where,
                    table,
                    constraint=FOREIGN_KEY,
                    constrained=columns,
                    detail=_constraint_name(name_node),
                    references=referent,
                )
        elif name == "drop_table":
            node = _argument(call, 0, "table_name")
            self.add(DROP_TABLE, _where(path, node, call), table)
        elif name == "rename_table":
            old = _argument(call, 0, "old_table_name")
            self.add(
                RENAME_TABLE,
                _where(path, old, call),
                (_string(old) or "").lower(),
                new_name=(_string(_argument(call, 1, "new_table_name")) or "").lower(),
            )
        elif name == "add_column":
            self.add_column(call, _argument(call, 1 + shift, "column"), table)
        elif name == "drop_column":
            node = _argument(call, 1 + shift, "column_name")
            self.add(DROP_COLUMN, _where(path, node, call), table, (_string(node) or "").lower())
        elif name == "alter_column":
            self.alter(call, table, shift)
        elif name in ("create_unique_constraint", "create_check_constraint", "create_foreign_key"):
            self.constraint(call, name, table, shift)
        elif name == "create_index" and _const(_keyword(call, "unique")) is True:
            index_table = batch_table or (_string(_argument(call, 1, "table_name")) or "")
            columns = _strings(_argument(call, 2 + shift, "columns"))
            name_node = _argument(call, 0, "index_name")
            self.add(
                ADD_CONSTRAINT,
                _where(path, name_node, call),
                index_table.lower(),
                constraint=UNIQUE,
                constrained=tuple(c.lower() for c in columns),
                detail=_constraint_name(name_node),
            )
        elif name == "drop_index":
            # As the SQL reader's ``DROP INDEX``: the index may have been a unique one (its
            # name says which), or a plain one, which restricted nothing.
            name_node = _argument(call, 0, "index_name")
            if batch_table is None:
                table = (_string(_argument(call, 1, "table_name")) or "").lower()
            self.add(
                DROP_CONSTRAINT,
                _where(path, name_node, call),
                table,
                detail=_constraint_name(name_node),
                constraint=DROPPED_INDEX,
            )
        elif name == "drop_constraint":
            if batch_table is None:
                table = (_string(_argument(call, 1, "table_name")) or "").lower()
            name_node = _argument(call, 0, "constraint_name")
            self.add(
                DROP_CONSTRAINT, _where(path, call, call), table, detail=_constraint_name(name_node)
            )
        elif name == "execute":
            self.execute(call)

    def add_column(self, call: ast.Call, column_call: ast.expr | None, table: str) -> None:
        column = _sa_column(column_call) if isinstance(column_call, ast.Call) else None
        if column is not None and isinstance(column_call, ast.Call):
            if _autoincrements(column, column_call):
                column = replace(column, generated=True)
            where = _where(self.path, column_call.args[0] if column_call.args else None, call)
            orm_only = not column.has_default and _keyword(column_call, "default") is not None
            self.add(
                ADD_COLUMN,
                where,
                table,
                column.name,
                column_def=column,
                detail=ORM_DEFAULT_ONLY if orm_only else "",
            )

    def columns_helper(self, call: ast.Call, name: str) -> None:
        """``add_columns("t", sa.Column(…), …)`` / ``drop_columns("t", "a", "b")``: the helpers
        of Superset's ``migrations/shared/utils.py`` (a batch ``add_column``/``drop_column`` per
        column), which its revisions call instead of ``op``."""
        table = _string(call.args[0]) if call.args else None
        columns = call.args[1:]
        if name == "add_columns":
            unknown = [c for c in columns if not isinstance(c, ast.Call) or not _sa_column(c)]
        else:
            unknown = [c for c in columns if _string(c) is None]
        if table is None or unknown or call.keywords:
            what = "table" if table is None else "columns"
            self.unreadable(
                _where(self.path, call, call),
                f"{name}() names its {what} with a value computed at run time, so what it "
                "changes cannot be checked",
            )
            return
        table = table.lower()
        for column in columns:
            if name == "add_columns":
                self.add_column(call, column, table)
            else:
                dropped = _string(column) or ""
                self.add(DROP_COLUMN, _where(self.path, column, call), table, dropped.lower())

    def alter(self, call: ast.Call, table: str, shift: int) -> None:
        column_node = _argument(call, 1 + shift, "column_name")
        column = (_string(column_node) or "").lower()
        where = _where(self.path, column_node, call)
        nullable = _keyword(call, "nullable")
        if nullable is not None:
            # Alembic emits SET/DROP NOT NULL whenever ``nullable`` is given; an equal
            # ``existing_nullable`` (autogenerate restates both beside a type change) only
            # claims the column had it already (:data:`RESTATED`).
            value = _const(nullable)
            existing = _const(_keyword(call, "existing_nullable"))
            restated = isinstance(value, bool) and value is existing
            kind = SET_NOT_NULL if value is False else DROP_NOT_NULL
            self.add(kind, where, table, column, detail=RESTATED if restated else "")
        type_node = _keyword(call, "type_")
        if type_node is not None:
            self.add(
                ALTER_TYPE,
                where,
                table,
                column,
                column_def=Column(column, _type_text(type_node)),
                old_type=_type_text(_keyword(call, "existing_type")),
            )
        default = _keyword(call, "server_default")
        # ``server_default=False`` is the parameter's own default: the default is left alone.
        if default is not None and _const(default) is not False:
            kind = SET_DEFAULT if _is_default(default) else DROP_DEFAULT
            self.add(kind, where, table, column)
        elif _keyword(call, "existing_server_default") is None and _rewrites_mysql_column(call):
            # MySQL has no statement for the type or nullability alone: Alembic writes the
            # whole column (MODIFY/CHANGE) with ``existing_server_default`` as its default, so
            # without one the column's default is dropped there (mlflow had to put back
            # ``metrics.is_nan``'s).
            self.add(DROP_DEFAULT, where, table, column, only=("mysql",))
        new_name = _string(_keyword(call, "new_column_name"))
        if new_name:
            self.add(RENAME_COLUMN, where, table, column, new_name=new_name.lower())

    def constraint(self, call: ast.Call, name: str, table: str, shift: int) -> None:
        referent = ""
        if name == "create_unique_constraint":
            table_node = _argument(call, 1, "table_name") if shift == 0 else None
            columns = _strings(_argument(call, 2 + shift, "columns"))
            kind = UNIQUE
        elif name == "create_check_constraint":
            table_node = _argument(call, 1, "table_name") if shift == 0 else None
            columns = _check_columns(_argument(call, 2 + shift, "condition"))
            kind = CHECK
        else:
            table_node = _argument(call, 1, "source_table") if shift == 0 else None
            columns = _strings(_argument(call, 3 + shift, "local_cols"))
            kind = FOREIGN_KEY
            referent = (_string(_argument(call, 2 + shift, "referent_table")) or "").lower()
        if table_node is not None:
            table = (_string(table_node) or "").lower()
        name_node = _argument(call, 0, "constraint_name")
        self.add(
            ADD_CONSTRAINT,
            _where(self.path, name_node, call),
            table,
            constraint=kind,
            constrained=tuple(c.lower() for c in columns),
            detail=_constraint_name(name_node),
            references=referent,
        )

    def execute(self, call: ast.Call) -> None:
        node = _argument(call, 0, "sqltext")
        if isinstance(node, ast.Call) and _callee(node) == "text" and node.args:
            node = node.args[0]
        surrogate = lone_surrogate(node)
        if surrogate is not None:
            where = _where(self.path, surrogate[0], call)
            self.unreadable(where, surrogate[1], computed=False)
            return
        if isinstance(node, ast.JoinedStr):
            self.execute_formatted(call, node)
            return
        sql = _string(node)
        if sql is None and _builds_dml(node):
            return  # rows read or written, as a SQL INSERT or UPDATE: no schema change
        if sql is None or node is None:
            self.unreadable(
                _where(self.path, call, call),
                f"{_called(call)} of a statement built at run time cannot be checked",
            )
            return
        pieces = string_pieces(self.source, node)
        line, column = pieces[0][1:] if pieces else (node.lineno, node.col_offset + 2)
        reads = read_bodies(SqlText(sql, self.path, line, column, pieces), None)
        self.take(reads)

    def unreadable(self, where: Location, reason: str, computed: bool = True) -> None:
        """Note code that cannot be read: for every dialect, or under a test of the dialect
        (CTFd's MySQL-only loop of ``conn.execute(f"ALTER TABLE `{table}` …")``) for the
        dialects it runs on, which BK901 reports only when one is the configured one."""
        if self.guard is None or self.guard == _EVERY_DIALECT:
            self.problems.append((Computed if computed else Unreadable)(where, "Alembic", reason))
            return
        for dialect in sorted(self.guard):
            self.problems.append(SqlUnreadable(where, "Alembic", reason, dialect))

    def take(self, reads: BodyReads, where: Location | None = None) -> None:
        """Record ``reads`` (one SQL string) for the dialects it runs on: each its own grammar's
        operations, and only their grammars' failures (``where``: every one's location)."""
        guard = _EVERY_DIALECT if self.guard is None else self.guard
        ops: dict[str, tuple[Operation, ...]] = {d: reads.up for d in _DIALECTS}
        if not reads.readable:
            for read in reads.dialect_reads:
                ops[read.dialect] = read.up
                self.differs = True
        if guard != _EVERY_DIALECT:
            self.differs = True
        for dialect in _DIALECTS:
            if dialect not in guard:
                continue
            found = (
                ops[dialect]
                if where is None
                else [replace(o, location=where) for o in ops[dialect]]
            )
            (self.operations if dialect == "postgres" else self.other[dialect]).extend(found)
        for problem in reads.problems:
            if problem.dialect in guard:
                self.problems.append(problem if where is None else replace(problem, location=where))

    def execute_formatted(self, call: ast.Call, node: ast.JoinedStr) -> None:
        """``op.execute(f"ALTER TABLE {TABLE} …")`` whose every field is a literal once the
        module's constants are bound: read as that SQL, each finding at the f-string (the
        substituted values move the columns after them)."""
        parts: list[str] = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif (
                isinstance(value, ast.FormattedValue)
                and value.conversion == -1
                and value.format_spec is None
                and isinstance(value.value, ast.Constant)
                and isinstance(value.value.value, (str, int))
                and not isinstance(value.value.value, bool)
            ):
                parts.append(str(value.value.value))
            else:
                self.unreadable(
                    _where(self.path, call, call),
                    f"{_called(call)} of an f-string with a value computed at run time "
                    "cannot be checked",
                )
                return
        where = Location(self.path, node.lineno, node.col_offset + 1)
        self.take(read_bodies(SqlText("".join(parts), self.path, node.lineno), None), where)

    def add(
        self,
        kind: str,
        where: Location,
        table: str,
        column: str | None = None,
        only: tuple[str, ...] | None = None,
        **fields: object,
    ) -> None:
        """Record an operation for the dialects the code being read runs on (``only``: of
        those, the ones where Alembic emits it)."""
        operation = Operation(kind, where, table, column, **fields)  # type: ignore[arg-type]
        guard = self.guard if only is None else _within(self.guard, frozenset(only))
        if guard is None or "postgres" in guard:
            self.operations.append(operation)
        for dialect, found in self.other.items():
            if guard is None or dialect in guard:
                found.append(operation)
        if guard is not None and guard != _EVERY_DIALECT:
            self.differs = True


def _rewrites_mysql_column(call: ast.Call) -> bool:
    """Whether Alembic's MySQL ``alter_column`` writes the whole column for ``call``
    (``MODIFY``/``CHANGE``): a new name, type, nullability or comment is given."""
    if any(_keyword(call, k) is not None for k in ("new_column_name", "type_", "nullable")):
        return True
    comment = _keyword(call, "comment")
    return comment is not None and _const(comment) is not False


# SQLAlchemy Core's statements of rows: ``queries.update()``, ``sa.insert(table)``, ``select()``.
_DML_BUILDERS = frozenset({"insert", "update", "delete", "select"})


def _builds_dml(node: ast.AST | None) -> bool:
    """Whether ``node`` is a SQLAlchemy Core statement of rows, the builder anywhere in its
    chain of calls: ``queries.update().where(queries.c.id == 1).values(schedule=None)``."""
    while isinstance(node, ast.Call):
        if _callee(node) in _DML_BUILDERS:
            return True
        func = node.func
        node = func.value if isinstance(func, ast.Attribute) else None
    return False


def _called(call: ast.Call) -> str:
    """How the revision names the call: ``op.execute()``, ``conn.execute()``."""
    return f"{ast.unparse(call.func)}()"


def _literal_names(value: ast.expr) -> bool:
    """A list or tuple of string literals (``tables = ["tables", "query"]``), which a loop of
    the revision may walk."""
    return isinstance(value, (ast.List, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts
    )


def _only_pass(body: list[ast.stmt]) -> bool:
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # docstring or `...`
        return False
    return True


def _only_raises(body: list[ast.stmt]) -> bool:
    meaningful = [s for s in body if not _only_pass([s])]
    return bool(meaningful) and all(isinstance(s, ast.Raise) for s in meaningful)


class AlembicReader:
    """Reads Alembic revision files (``…/versions/*.py``)."""

    name: ClassVar[str] = "Alembic"

    def wants(self, path: str) -> bool:
        """Python files in a ``versions/`` directory, Alembic's layout."""
        return is_alembic_revision(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """Yield the revision as a migration, or why it could not be read."""
        tree = parse_python(file, self.name, "revision", "def upgrade")
        if not isinstance(tree, ast.Module):
            if tree is not None:
                yield tree
            return
        assigned: dict[str, ast.expr] = {}
        functions: dict[str, ast.FunctionDef] = {}
        reassigned: set[str] = set()
        for statement in tree.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    for name, value in _unpacked(target, statement.value):
                        reassigned.update({name} & assigned.keys())
                        if value is None:
                            reassigned.add(name)
                            assigned.pop(name, None)
                        else:
                            assigned[name] = value
            elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
                reassigned.add(statement.target.id)
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                if statement.value is not None:
                    assigned[statement.target.id] = statement.value
            elif isinstance(statement, ast.FunctionDef):
                functions[statement.name] = statement
        revision = _string(assigned.get("revision"))
        upgrade = functions.get("upgrade")
        if revision is None or upgrade is None:
            return
        down_revisions = tuple(r for r in _strings(assigned.get("down_revision")) if r)
        script_directory = file.path.rsplit("versions/", 1)[0].rstrip("/") or "."
        # Module-level names bound once to a string or number stand for their value.
        constants = {
            name: value
            for name, value in assigned.items()
            if name not in reassigned
            and name not in _REVISION_NAMES
            and (
                (isinstance(value, ast.Constant) and isinstance(value.value, (str, int)))
                or (isinstance(value, ast.Call) and _callee(value) == "Enum")
                or _literal_names(value)
            )
        }
        helpers = {k: f for k, f in functions.items() if k not in ("upgrade", "downgrade")}
        # ``IS_SQLITE = context.get_context().dialect.name == "sqlite"`` at module level.
        flags = {
            name: guard
            for name, value in assigned.items()
            if name not in reassigned and (guard := _dialect_guard(value)) != (None, None)
        }
        text = file.text() or ""
        up = _Body(file.path, text, helpers, constants, flags)
        up.read_function(upgrade)
        yield from up.problems
        downgrade = functions.get("downgrade")
        down = _Body(file.path, text, helpers, constants, flags)
        if downgrade is None:
            state, reason, down_location = DOWN_MISSING, "the revision has no downgrade()", None
        else:
            down.read_function(downgrade)
            yield from down.problems
            down_location = Location(file.path, downgrade.lineno, downgrade.col_offset + 1)
            if _only_pass(downgrade.body) and _only_pass(upgrade.body):
                # Nothing to undo: a merge revision, or one kept for its place in the chain.
                state, reason = DOWN_PRESENT, ""
            elif _only_pass(downgrade.body):
                state, reason = DOWN_EMPTY, "downgrade() does nothing (`pass`)"
            elif _only_raises(downgrade.body):
                state, reason = DOWN_RAISES, "downgrade() only raises"
            else:
                state, reason = DOWN_PRESENT, ""
        name = file.name.removesuffix(".py")
        yield Migration(
            Location(file.path, 1, 1),
            layout="alembic",
            engine="alembic",
            stream=script_directory,
            version=revision,
            sort_key=version_key(name),
            name=name,
            down_location=down_location,
            down_state=state,
            down_reason=reason,
            revision=revision,
            down_revisions=down_revisions,
            script_directory=script_directory,
            up=tuple(up.operations),
            down=tuple(down.operations),
            dialect_reads=up.dialect_reads(down),
        )
