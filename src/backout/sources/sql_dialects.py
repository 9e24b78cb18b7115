"""MySQL and SQLite SQL → schema operations, through sqlglot's dialect grammars.

Split from :mod:`backout.sources.sql` so that sqlglot (a large import) is loaded only when
PostgreSQL's grammar rejects a body, which most trees never need.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.expressions import Expr

from backout.check_conditions import (
    FLIPPED,
    IN_LIST,
    NUMBER,
    OPAQUE,
    STRING,
    Atom,
    Condition,
    between,
    compared,
)
from backout.models import Location
from backout.schema_model import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    CHECK,
    COLUMNS_UNKNOWN,
    CREATE_TABLE,
    CREATE_VIEW,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEFAULT,
    DROP_NOT_NULL,
    DROP_TABLE,
    DROP_VIEW,
    DROPPED_INDEX,
    FOREIGN_KEY,
    PRIMARY_KEY,
    REDEFINED,
    RENAME_COLUMN,
    RENAME_TABLE,
    SET_DEFAULT,
    SET_NOT_NULL,
    UNIQUE,
    Column,
    Operation,
)
from backout.schema_operations import (
    IF_EXISTS,
    PLAIN_INDEX,
    UNNAMED_PRIMARY_KEY,
    with_primary_key,
    written_integer,
)
from backout.sources.base import SqlUnreadable
from backout.sources.sql import SQLGLOT_DIALECTS, SqlRead, SqlText


def _name(node: Any) -> str:
    if isinstance(node, exp.Identifier):
        return node.name if node.quoted else node.name.lower()
    if isinstance(node, (exp.Column, exp.Table)):
        return _name(node.this)
    if isinstance(node, exp.Expression):
        return node.name.lower()
    return str(node or "").lower()


def _key_part_names(parts: Any) -> tuple[str, ...]:
    """The columns of a key's parts: a column, a MySQL prefix ``name(10)``, an ordered
    ``a DESC``; for a functional part (MySQL ``(lower(email))``), the columns it reads (a
    generic expression's ``name`` is ``""``, which became a column named ``""``)."""
    names: list[str] = []
    for part in parts or ():
        node = part
        while isinstance(node, (exp.Ordered, exp.ColumnPrefix, exp.Paren)):
            node = node.this
        if isinstance(node, (exp.Identifier, exp.Column)):
            names.append(_name(node))
        else:
            names.extend(_name(c) for c in node.find_all(exp.Column))
    return tuple(dict.fromkeys(name for name in names if name))


def _glot_type(kind: Any, dialect: str) -> str | None:
    if not isinstance(kind, exp.DataType):
        return None
    return re.sub(r",\s+", ",", kind.sql(dialect).lower())


# A column's name as written, quoted or not, and the space before its type.
_COLUMN_NAME = re.compile(r'(?:"[^"]*"|`[^`]*`|\[[^\]]*\]|[\w$]+)["`\]]?\s*')


def _glot_written_integer(stmt: _GlotStatement, column: exp.ColumnDef) -> bool:
    """Whether ``column``'s type is written ``INTEGER`` (sqlglot reads ``INT`` the same)."""
    start = column.this.meta.get("start") if isinstance(column.this, exp.Identifier) else None
    if start is None:
        return False
    name = _COLUMN_NAME.match(stmt.body.text, int(start))
    return name is not None and written_integer(stmt.body.text, name.end())


def _glot_null(expression: Any) -> bool:
    """Whether ``expression`` is NULL, cast or in parentheses or not."""
    while isinstance(expression, (exp.Cast, exp.Paren)):
        expression = expression.this
    return isinstance(expression, exp.Null)


def _glot_column(column: exp.ColumnDef, stmt: _GlotStatement) -> Column:
    type_text = _glot_type(column.args.get("kind"), stmt.dialect)
    nullable, has_default, generated, primary_key = True, False, False, False
    descending, unique = False, False
    for constraint in column.args.get("constraints") or ():
        kind = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else None
        if isinstance(kind, exp.NotNullColumnConstraint):
            nullable = bool(kind.args.get("allow_null"))
        elif isinstance(kind, exp.PrimaryKeyColumnConstraint):
            primary_key = True
            descending = bool(kind.args.get("desc"))
        elif isinstance(kind, exp.UniqueColumnConstraint):
            unique = True
        elif isinstance(kind, exp.DefaultColumnConstraint):
            has_default = not _glot_null(kind.this)
        elif isinstance(
            kind,
            (
                exp.AutoIncrementColumnConstraint,
                exp.GeneratedAsIdentityColumnConstraint,
                exp.ComputedColumnConstraint,
            ),
        ):
            generated = True
    if type_text and type_text.startswith("serial"):
        generated = True
    # SQLite: a key column is NOT NULL only as the rowid alias or WITHOUT ROWID (see
    # Column.sqlite_nullable). ``INTEGER PRIMARY KEY DESC`` is no rowid alias: "a quirk"
    # kept for compatibility (sqlite.org/lang_createtable.html, ROWIDs and the INTEGER
    # PRIMARY KEY); sqlite3 stores the NULL that column is given. ``PRIMARY KEY (x DESC)``
    # written for the table is one.
    sqlite_enforced = primary_key and (
        stmt.without_rowid or (not descending and _glot_written_integer(stmt, column))
    )
    return Column(
        _name(column.this),
        type_text,
        nullable and not primary_key,
        has_default,
        generated,
        sqlite_nullable=nullable and primary_key and not sqlite_enforced,
        unique=unique or primary_key,
        primary_key=primary_key,
        # A column's UNIQUE is its PRIMARY KEY's index (PostgreSQL and MariaDB make one).
        unique_key=unique and not primary_key,
    )


class _GlotStatement:
    def __init__(
        self, body: SqlText, start: int, end: int, dialect: str, without_rowid: bool = False
    ) -> None:
        self.body = body
        self.start = start
        self.end = end
        self.dialect = dialect
        self.without_rowid = without_rowid
        """A SQLite ``CREATE TABLE … WITHOUT ROWID``."""

    def at(self, node: Any) -> Location:
        identifier = node if isinstance(node, exp.Identifier) else None
        if identifier is None and isinstance(node, exp.Expression):
            identifier = node.find(exp.Identifier)
        meta = identifier.meta if identifier is not None else {}
        if "start" in meta:
            return self.body.location(int(meta["start"]))
        return self.body.location(self.start)


def _glot_constraint(
    stmt: _GlotStatement, table: str, constraint: exp.Expression
) -> Operation | None:
    name = _name(constraint.this) if isinstance(constraint, exp.Constraint) else ""
    references = ""
    condition: Condition = ()
    for part in constraint.expressions if isinstance(constraint, exp.Constraint) else [constraint]:
        if isinstance(part, exp.UniqueColumnConstraint):
            schema = part.this
            columns = _key_part_names(getattr(schema, "expressions", ()))
            label = UNIQUE
            # MySQL ``UNIQUE KEY uq_ab (a, b)`` / ``ADD UNIQUE INDEX uq_ab (…)``: the index
            # name is the schema's.
            if not name and isinstance(schema, exp.Schema) and schema.this is not None:
                name = _name(schema.this)
        elif isinstance(part, exp.CheckColumnConstraint):
            columns = tuple(dict.fromkeys(_name(c) for c in part.find_all(exp.Column)))
            label = CHECK
            condition = _glot_condition(part.this, stmt.dialect)
        elif isinstance(part, exp.ForeignKey):
            columns = _key_part_names(part.expressions)
            label = FOREIGN_KEY
            referenced = part.args.get("reference")
            target = referenced.this if isinstance(referenced, exp.Reference) else None
            if isinstance(target, exp.Schema):
                target = target.this
            references = _name(target) if isinstance(target, exp.Table) else ""
        elif isinstance(part, exp.PrimaryKey):
            columns = _key_part_names(part.expressions)
            label = PRIMARY_KEY
        elif isinstance(part, exp.IndexColumnConstraint):
            # MySQL ``KEY``/``INDEX``/``FULLTEXT`` (named or not): no constraint, but a name
            # the table's next unnamed key avoids.
            columns = _key_part_names(part.expressions)
            label = PLAIN_INDEX
            if not name and part.this is not None:
                name = _name(part.this)
        else:
            continue
        return Operation(
            ADD_CONSTRAINT,
            stmt.at(constraint),
            table,
            constraint=label,
            constrained=columns,
            detail=name,
            references=references,
            condition=condition,
        )
    return None


def _with_dropped_alongside(
    node: exp.Alter, operations: Iterator[Operation]
) -> Iterator[Operation]:
    """``operations`` of the ``ALTER TABLE`` ``node``, each unnamed FOREIGN KEY it adds with
    the foreign keys it drops (:attr:`Operation.dropped_alongside`)."""
    dropped = tuple(
        _name(target)
        for action in node.args.get("actions") or ()
        if isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "FOREIGN KEY"
        for target in action.args.get("tables") or [action.this]
    )
    for op in operations:
        if dropped and op.kind == ADD_CONSTRAINT and op.constraint == FOREIGN_KEY and not op.detail:
            op = replace(op, dropped_alongside=dropped)
        yield op


def _glot_alter(stmt: _GlotStatement, node: exp.Alter) -> Iterator[Operation]:
    table = _name(node.this)
    for action in node.args.get("actions") or ():
        if isinstance(action, exp.ColumnDef):
            column = _glot_column(action, stmt)
            yield Operation(ADD_COLUMN, stmt.at(action.this), table, column.name, column_def=column)
        elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
            detail = IF_EXISTS if action.args.get("exists") else ""
            for target in action.args.get("tables") or [action.this]:
                yield Operation(DROP_COLUMN, stmt.at(target), table, _name(target), detail=detail)
        elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() in (
            _DROPPED_CONSTRAINTS
        ):
            # MySQL DROP INDEX / KEY / CONSTRAINT / FOREIGN KEY / CHECK: a constraint (or a
            # unique index) created again under its name later in the release is not new.
            yield from _glot_drops(stmt, action, table)
        elif isinstance(action, exp.DropPrimaryKey):
            # MySQL: the table's one primary key, whatever name it was given (MySQL calls
            # every primary key PRIMARY).
            yield Operation(
                DROP_CONSTRAINT,
                stmt.at(node.this),
                table,
                detail=UNNAMED_PRIMARY_KEY,
                constraint=PRIMARY_KEY,
            )
        elif isinstance(action, exp.RenameColumn):
            yield Operation(
                RENAME_COLUMN,
                stmt.at(action.this),
                table,
                _name(action.this),
                new_name=_name(action.args.get("to")),
            )
        elif isinstance(action, exp.AlterRename):
            yield Operation(RENAME_TABLE, stmt.at(node.this), table, new_name=_name(action.this))
        elif isinstance(action, exp.ModifyColumn) and isinstance(action.this, exp.ColumnDef):
            # MySQL MODIFY / CHANGE: a rename (CHANGE old new) plus a full redefinition.
            column = _glot_column(action.this, stmt)
            old_name = action.args.get("rename_from")
            current = column.name
            if old_name is not None and _name(old_name) != column.name:
                current = _name(old_name)
                yield Operation(
                    RENAME_COLUMN, stmt.at(old_name), table, current, new_name=column.name
                )
            yield Operation(
                ALTER_TYPE,
                stmt.at(action.this.this),
                table,
                column.name,
                column_def=column,
                detail=REDEFINED,
            )
        elif isinstance(action, exp.AlterColumn):
            column_name = _name(action.this)
            where = stmt.at(action.this)
            if action.args.get("dtype") is not None:
                yield Operation(
                    ALTER_TYPE,
                    where,
                    table,
                    column_name,
                    column_def=Column(column_name, _glot_type(action.args["dtype"], stmt.dialect)),
                )
            default = action.args.get("default")
            if default is not None:
                # SET DEFAULT NULL leaves the column as DROP DEFAULT does.
                kind = DROP_DEFAULT if _glot_null(default) else SET_DEFAULT
                yield Operation(kind, where, table, column_name)
            if action.args.get("drop"):
                yield Operation(DROP_DEFAULT, where, table, column_name)
            allow_null = action.args.get("allow_null")
            if allow_null is not None:
                kind = DROP_NOT_NULL if allow_null else SET_NOT_NULL
                yield Operation(kind, where, table, column_name)
        elif isinstance(action, exp.AddConstraint):
            for constraint in action.expressions:
                yield from _glot_added_constraint(stmt, table, constraint)
        elif isinstance(
            action,
            (exp.Constraint, exp.ForeignKey, exp.UniqueColumnConstraint, exp.IndexColumnConstraint),
        ):
            yield from _glot_added_constraint(stmt, table, action)


def _glot_added_constraint(
    stmt: _GlotStatement, table: str, constraint: exp.Expression
) -> Iterator[Operation]:
    """An added constraint; for a primary key, also the NOT NULL it sets on its columns (MySQL
    and MariaDB make a nullable column NOT NULL when it joins the primary key, as PostgreSQL
    does)."""
    op = _glot_constraint(stmt, table, constraint)
    if op is None:
        return
    yield op
    if op.constraint == PRIMARY_KEY:
        for column in op.constrained:
            yield Operation(SET_NOT_NULL, op.location, table, column)


def _glot_updatable_from(view: exp.Create) -> str:
    """The one table a view reads when INSERT, UPDATE and DELETE write through it (MySQL's
    MERGE views: one table, no join, grouping, DISTINCT, LIMIT, UNION or aggregate, and not
    ``ALGORITHM=TEMPTABLE``); ``""`` otherwise."""
    select = view.expression
    properties = view.args.get("properties")
    temptable = properties is not None and any(
        isinstance(p, exp.AlgorithmProperty) and p.name.upper() == "TEMPTABLE"
        for p in properties.expressions
    )
    if temptable or not isinstance(select, exp.Select):
        return ""
    if any(select.args.get(part) for part in ("joins", "group", "having", "distinct", "limit")):
        return ""
    source = select.args.get("from_") or select.args.get("from")
    if not isinstance(source, exp.From) or not isinstance(source.this, exp.Table):
        return ""
    if any(column.find(exp.AggFunc, exp.Window) for column in select.expressions):
        return ""
    return _name(source.this)


def _glot_drops(stmt: _GlotStatement, drop: exp.Drop, table: str) -> Iterator[Operation]:
    """The constraints or indexes ``drop`` removes from ``table`` (``""`` when unnamed)."""
    dropped = DROPPED_INDEX if (drop.args.get("kind") or "").upper() == "INDEX" else ""
    for target in drop.args.get("tables") or [drop.this]:
        name = _name(target)
        if dropped and stmt.dialect == "mysql" and name.lower() == "primary":
            # MySQL calls every primary key PRIMARY: ``DROP INDEX `PRIMARY``` drops it, as
            # ``DROP PRIMARY KEY`` does, whatever name the key was given.
            yield Operation(
                DROP_CONSTRAINT,
                stmt.at(target),
                table,
                detail=UNNAMED_PRIMARY_KEY,
                constraint=PRIMARY_KEY,
            )
            continue
        yield Operation(DROP_CONSTRAINT, stmt.at(target), table, detail=name, constraint=dropped)


# What ``ALTER TABLE … DROP <kind> name`` drops that a constraint of the model stands for.
_DROPPED_CONSTRAINTS = frozenset({"INDEX", "CONSTRAINT", "FOREIGN KEY", "CHECK"})

_RENAME_TABLE = re.compile(r"^\s*TABLE\s+(.+)$", re.I | re.S)
# A backticked name keeps its case, an unquoted one is folded, as :func:`_name` reads them.
_RENAME_PAIR = re.compile(r"^\s*(`?)([\w$]+)\1\s+TO\s+(`?)([\w$]+)\3\s*$", re.I)


def _glot_operations(stmt: _GlotStatement, node: Expr) -> Iterator[Operation]:
    if isinstance(node, exp.Create):
        kind = (node.args.get("kind") or "").upper()
        target = node.this
        if kind == "TABLE" and isinstance(target, exp.Schema):
            column_defs = [c for c in target.expressions if isinstance(c, exp.ColumnDef)]
            columns = tuple(_glot_column(c, stmt) for c in column_defs)
            table = _name(target.this)
            # Table-level constraints: recorded after the table, so that their names are known
            # (one dropped and created again later is not new) and a one-column UNIQUE makes
            # it unique.
            constraints: list[Operation] = []
            for element in target.expressions:
                if isinstance(element, exp.ColumnDef):
                    continue
                parts = element.expressions if isinstance(element, exp.Constraint) else [element]
                for key in (p for p in parts if isinstance(p, exp.PrimaryKey)):
                    keys = list(_key_part_names(key.expressions))
                    rowid_alias = len(keys) == 1 and any(
                        _name(c.this) == keys[0] and _glot_written_integer(stmt, c)
                        for c in column_defs
                    )
                    columns = with_primary_key(
                        columns, keys, sqlite_enforced=stmt.without_rowid or rowid_alias
                    )
                # Not _glot_added_constraint: the key's NOT NULL is in the columns already.
                op = _glot_constraint(stmt, table, element)
                if op is not None:
                    constraints.append(op)
            # ``(LIKE other)`` copies columns the statement does not name.
            copied = any(isinstance(e, exp.LikeProperty) for e in target.expressions)
            yield Operation(
                CREATE_TABLE,
                stmt.at(target.this),
                table,
                columns=columns,
                detail=COLUMNS_UNKNOWN if copied else "",
            )
            yield from constraints
        elif kind == "TABLE" and isinstance(target, exp.Table):
            # ``CREATE TABLE t AS SELECT …`` or ``… LIKE other``: new, its columns unknown.
            properties = node.args.get("properties")
            if not (properties and properties.find(exp.TemporaryProperty)):
                yield Operation(
                    CREATE_TABLE, stmt.at(target), _name(target), detail=COLUMNS_UNKNOWN
                )
        elif kind == "VIEW" and isinstance(target, (exp.Table, exp.Schema)):
            # ``CREATE VIEW users (id, email) AS …``: the name is the schema's table.
            view = target.this if isinstance(target, exp.Schema) else target
            yield Operation(
                CREATE_VIEW, stmt.at(view), _name(view), detail=_glot_updatable_from(node)
            )
        elif kind == "INDEX" and isinstance(target, exp.Index):
            params = target.args.get("params")
            indexed = tuple(
                _name(o.this) for o in (params.args.get("columns") or () if params else ())
            )
            yield Operation(
                ADD_CONSTRAINT,
                stmt.at(target.this),
                _name(target.args.get("table")),
                constraint=UNIQUE if node.args.get("unique") else PLAIN_INDEX,
                constrained=indexed,
                detail=_name(target.this),
            )
    elif isinstance(node, exp.Alter) and (node.args.get("kind") or "").upper() == "TABLE":
        yield from _with_dropped_alongside(node, _glot_alter(stmt, node))
    elif isinstance(node, exp.Drop) and (node.args.get("kind") or "").upper() == "TABLE":
        for target in node.args.get("tables") or [node.this]:
            yield Operation(DROP_TABLE, stmt.at(target), _name(target))
    elif isinstance(node, exp.Drop) and (node.args.get("kind") or "").upper() == "VIEW":
        for target in node.args.get("tables") or [node.this]:
            yield Operation(DROP_VIEW, stmt.at(target), _name(target))
    elif isinstance(node, exp.Drop) and (node.args.get("kind") or "").upper() == "INDEX":
        # ``DROP INDEX name ON table`` (MySQL); SQLite names no table (index names are unique
        # in the schema there).
        cluster = node.args.get("cluster")
        yield from _glot_drops(
            stmt, node, _name(cluster.this) if isinstance(cluster, exp.OnProperty) else ""
        )


def _command_rename(stmt: _GlotStatement, node: exp.Command) -> list[Operation] | None:
    """MySQL ``RENAME TABLE a TO b, c TO d``, which sqlglot leaves as a ``Command``."""
    if str(node.this).upper() != "RENAME":
        return None
    literal = node.expression
    text = literal.this if isinstance(literal, exp.Literal) else str(literal or "")
    match = _RENAME_TABLE.match(text)
    if not match:
        return None
    operations = []
    for pair in match.group(1).split(","):
        names = _RENAME_PAIR.match(pair)
        if not names:
            return None
        old = names.group(2) if names.group(1) else names.group(2).lower()
        new = names.group(4) if names.group(3) else names.group(4).lower()
        offset = stmt.body.find_name(old, stmt.start, stmt.end)
        where = stmt.body.location(offset if offset is not None else stmt.start)
        operations.append(Operation(RENAME_TABLE, where, old, new_name=new))
    return operations


# SQLite ``CREATE VIRTUAL TABLE name USING module(arguments)``: sqlglot's grammar takes only
# bare names as arguments, and no module's arguments are SQL, so backout reads them itself.
_CREATE_VIRTUAL_TABLE = re.compile(r"CREATE\s+VIRTUAL\s+TABLE\b", re.I)
_FTS3 = frozenset({"fts3", "fts4"})
_RTREE = frozenset({"rtree", "rtree_i32"})


def _virtual_table_name(token: Any) -> str:
    """A name as sqlite3 reads it in a module argument: quoted (``"a"``, ``[a]``, `` `a` ``,
    ``'a'``) as written, bare folded as :func:`_name` folds it."""
    if token.token_type in (sqlglot.TokenType.IDENTIFIER, sqlglot.TokenType.STRING):
        return str(token.text)
    return str(token.text).lower()


def _module_arguments(tokens: list[Any]) -> list[list[Any]] | None:
    """The arguments of ``(a, b, …)`` (``tokens``, parentheses included), each a token list;
    None when the tokens are not one parenthesised list."""
    if len(tokens) < 2 or tokens[0].token_type != sqlglot.TokenType.L_PAREN:
        return None
    if tokens[-1].token_type != sqlglot.TokenType.R_PAREN:
        return None
    arguments: list[list[Any]] = [[]]
    depth = 0
    for token in tokens[1:-1]:
        kind = token.token_type
        if kind == sqlglot.TokenType.COMMA and depth == 0:
            arguments.append([])
            continue
        depth += {sqlglot.TokenType.L_PAREN: 1, sqlglot.TokenType.R_PAREN: -1}.get(kind, 0)
        if depth < 0:
            return None
        arguments[-1].append(token)
    return [] if arguments == [[]] else arguments


def _virtual_columns(module: str, arguments: list[list[Any]]) -> tuple[Column, ...] | str:
    """The columns sqlite3 gives a table of ``module`` (fts3/fts4/fts5/rtree) made with
    ``arguments``; a reason when sqlite3 would reject them."""
    columns: list[Column] = []
    for number, argument in enumerate(arguments):
        if not argument:
            return f"{module}: an empty argument"
        first = argument[0]
        is_option = len(argument) > 1 and argument[1].token_type == sqlglot.TokenType.EQ
        if module == "fts5":
            # Options (``tokenize=…``, ``content=…``, ``prefix=…``) are no columns; a column
            # is a name, perhaps ``UNINDEXED``, and takes no type (sqlite.org/fts5.html).
            if is_option:
                continue
            extra = [str(token.text).upper() for token in argument[1:]]
            if extra not in ([], ["UNINDEXED"]):
                return f"fts5 column {first.text} takes no type or constraint"
            columns.append(Column(_virtual_table_name(first)))
        elif module in _FTS3:
            # ``tokenize=porter``, ``tokenize porter``, ``prefix="2,4"`` are options; a column
            # may carry a type, which FTS3 and FTS4 ignore (sqlite.org/fts3.html).
            bare = first.token_type == sqlglot.TokenType.VAR
            if is_option or (bare and first.text.lower() == "tokenize"):
                continue
            columns.append(Column(_virtual_table_name(first)))
        else:
            # R*Tree: the integer key (the rowid, filled when NULL), then the coordinates,
            # then ``+name [type]`` auxiliary columns (sqlite.org/rtree.html); a type after
            # a key or coordinate is ignored.
            aux = first.token_type == sqlglot.TokenType.PLUS
            if aux and len(argument) < 2:
                return f"{module}: `+` without a column name"
            name = argument[1] if aux else first
            columns.append(
                Column(_virtual_table_name(name), generated=number == 0, unique=number == 0)
            )
    if module in _FTS3 and not columns:
        columns.append(Column("content"))  # FTS3/FTS4's one column when none is named
    return tuple(columns)


def _virtual_table_parts(text: str) -> tuple[Any, str, list[list[Any]]] | str:
    """The name token, the module (lower case) and the arguments' tokens of a
    ``CREATE VIRTUAL TABLE [IF NOT EXISTS] [schema.]name USING module[(arguments)]`` text; a
    reason when the text is not of that form."""
    try:
        tokens = sqlglot.tokenize(text, read=SQLGLOT_DIALECTS["sqlite"])
    except Exception as exc:  # sqlglot bugs, as in read_sqlglot
        return f"sqlite tokenizer rejects it: {_first_line(exc)}"
    words = [str(t.text).upper() for t in tokens]
    index = 3
    if words[index : index + 3] == ["IF", "NOT", "EXISTS"]:
        index += 3
    if index + 1 < len(tokens) and tokens[index + 1].token_type == sqlglot.TokenType.DOT:
        index += 2  # ``main.name``, ``temp.name``
    if index + 2 >= len(tokens) or words[index + 1] != "USING":
        return "CREATE VIRTUAL TABLE without `name USING module`"
    name, module = tokens[index], str(tokens[index + 2].text).lower()
    rest = tokens[index + 3 :]
    arguments = _module_arguments(rest) if rest else []
    if arguments is None:
        return f"CREATE VIRTUAL TABLE … USING {module}: its arguments are not one list"
    return name, module, arguments


def _virtual_table(stmt: _GlotStatement, text: str) -> Operation | str:
    """``CREATE VIRTUAL TABLE`` as the table it creates: with its columns for the modules
    SQLite ships (FTS3/4/5, R*Tree), its columns unknown for any other (``fts5vocab``, an
    extension's); a reason when the statement is not of that form."""
    parts = _virtual_table_parts(text)
    if isinstance(parts, str):
        return parts
    name, module, arguments = parts
    where = stmt.body.location(stmt.start + name.start)
    if module != "fts5" and module not in _FTS3 and module not in _RTREE:
        return Operation(CREATE_TABLE, where, _virtual_table_name(name), detail=COLUMNS_UNKNOWN)
    columns = _virtual_columns(module, arguments)
    if isinstance(columns, str):
        return columns
    return Operation(CREATE_TABLE, where, _virtual_table_name(name), columns=columns)


@dataclass(frozen=True)
class VirtualModule:
    """What a SQLite ``CREATE VIRTUAL TABLE`` says after ``USING``."""

    module: str
    """The module, in lower case: ``fts5``, ``rtree``, an extension's."""
    arguments: tuple[str, ...]
    """Each argument as written, its whitespace collapsed: ``title``, ``tokenize='porter'``."""
    content_table: str
    """FTS4/FTS5 ``content=`` naming a table (external content), or the index an
    ``fts5vocab``/``fts4aux`` table reads: the rows are that table's; empty when the index
    keeps its own content or none (``content=''``)."""

    def describe(self) -> str:
        """``fts5(title, body, tokenize='porter')``."""
        return f"{self.module}({', '.join(self.arguments)})"


def _argument_text(text: str, argument: list[Any]) -> str:
    """A module argument's tokens as written, one space between them and none around ``=``
    or after R*Tree's ``+``: ``tokenize = 'porter'`` and ``tokenize='porter'`` are the same
    argument."""
    pieces: list[str] = []
    for before, token in zip([None, *argument], argument, strict=False):
        glued = token.token_type == sqlglot.TokenType.EQ or (
            before is not None
            and before.token_type in (sqlglot.TokenType.EQ, sqlglot.TokenType.PLUS)
        )
        if pieces and not glued:
            pieces.append(" ")
        pieces.append(text[token.start : token.end + 1])
    return "".join(pieces)


def virtual_module(create_virtual_table: str) -> VirtualModule | None:
    """The module and arguments of a SQLite ``CREATE VIRTUAL TABLE`` text (as
    ``sqlite_master`` keeps it); None when the text is not one."""
    parts = _virtual_table_parts(create_virtual_table)
    if isinstance(parts, str):
        return None
    _name, module, arguments = parts
    written = tuple(_argument_text(create_virtual_table, argument) for argument in arguments)
    content = ""
    for argument in arguments:
        is_content = (
            len(argument) == 3
            and str(argument[0].text).lower() == "content"
            and argument[1].token_type == sqlglot.TokenType.EQ
        )
        if module in ("fts4", "fts5") and is_content:
            content = _virtual_table_name(argument[2])
    # fts5vocab(table, kind) and fts4aux(table) show the terms of the index they name, read
    # only (a schema name comes first, in TEMP tables only): their rows are that index's.
    reader_of = {"fts5vocab": -2, "fts4aux": -1}.get(module)
    if reader_of is not None and len(arguments) >= -reader_of and len(arguments[reader_of]) == 1:
        content = _virtual_table_name(arguments[reader_of][0])
    return VirtualModule(module, written, content)


_SQLITE_TABLE_OPTIONS = re.compile(
    r"\)\s*((?:WITHOUT\s+ROWID|STRICT)(?:\s*,\s*(?:WITHOUT\s+ROWID|STRICT))*)\s*$", re.I
)
_CREATE_TABLE = re.compile(r"CREATE\s+(?:TEMP(?:ORARY)?\s+)?TABLE\b", re.I)

# The start of a key's column list: ``PRIMARY KEY (``, ``UNIQUE [KEY|INDEX] [name] (``; no
# comma between, so a column's own ``PRIMARY KEY, next_column INT(11)`` is not one.
_KEY_LIST = re.compile(r"\b(?:PRIMARY\s+KEY|UNIQUE)\b[^(),;]*\(", re.I)
# What a key part may say besides its column that sqlglot's grammar rejects there: its order,
# and SQLite's collation. Quoted text is skipped whole, so a quoted column keeps its name.
_KEY_PART_EXTRA = re.compile(
    r"""("[^"]*"|`[^`]*`|'[^']*'|\[[^\]]*\])|\b(?:ASC|DESC|COLLATE\s+(?:"[^"]*"|[\w$]+))\b""",
    re.I,
)


def _without_key_order(text: str) -> str:
    """``text`` with the ``ASC``/``DESC``/``COLLATE x`` of its key parts blanked (MySQL 8's
    ``PRIMARY KEY (a DESC)``, SQLite's ``PRIMARY KEY (id DESC)`` and ``UNIQUE (k COLLATE
    NOCASE)``, valid there and rejected by sqlglot), each by as many spaces, so that every
    offset stays where it is. A key keeps its columns: the order changes what it holds
    unique, and NOT NULL, in nothing (SQLite's ``PRIMARY KEY (id DESC)`` is still the rowid
    alias, as sqlite3 shows)."""
    if "(" not in text:
        return text
    out = text
    for match in _KEY_LIST.finditer(text):
        start = match.end()
        end = _list_end(text, start)
        parts = text[start : end - 1]
        blanked = _KEY_PART_EXTRA.sub(
            lambda m: m.group(0) if m.group(1) else " " * len(m.group(0)), parts
        )
        if blanked != parts:
            out = out[:start] + blanked + out[end - 1 :]
    return out


def _list_end(text: str, start: int) -> int:
    """The offset just after the ``)`` that closes the list opened just before ``start``
    (``len(text)`` when none does), quoted text skipped whole."""
    depth, end = 1, start
    while end < len(text) and depth:
        char = text[end]
        if char in "\"`'[":
            close = "]" if char == "[" else char
            found = text.find(close, end + 1)
            end = len(text) if found < 0 else found + 1
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        end += 1
    return end


# MySQL's index type before a primary key's columns, ``PRIMARY KEY USING BTREE (a, b)``:
# sqlglot's grammar takes it after them only, so it made an ALTER TABLE an opaque Command and
# a CREATE TABLE a parse error. Quoted text is skipped whole.
_PRIMARY_KEY_TYPE = re.compile(
    r"""("[^"]*"|`[^`]*`|'[^']*')|(\bPRIMARY\s+KEY\s+)(USING\s+(?:BTREE|HASH))(?=\s*\()""", re.I
)
# ``CREATE [UNIQUE] INDEX name [USING type] ON table (``, up to its column list; group 1 the
# index type, which sqlglot's grammar rejects there.
_IDENTIFIER = r"(?:`[^`]*`|[\w$]+)"
_CREATE_INDEX = re.compile(
    rf"CREATE\s+(?:(?:UNIQUE|FULLTEXT|SPATIAL)\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?{_IDENTIFIER}\s+"
    rf"(USING\s+(?:BTREE|HASH)\s+)?ON\s+{_IDENTIFIER}(?:\.{_IDENTIFIER})?\s*\(",
    re.I,
)
# What MySQL and MariaDB take after CREATE INDEX's column list, none of which sqlglot's grammar
# does: index options (the type, KEY_BLOCK_SIZE, COMMENT, MySQL's VISIBLE/INVISIBLE, MariaDB's
# IGNORED/NOT IGNORED) and the ALGORITHM and LOCK of the change.
_INDEX_OPTION = (
    r"""\s*(?:USING\s+(?:BTREE|HASH)|KEY_BLOCK_SIZE\s*=?\s*\d+|COMMENT\s*=?\s*"""
    r"""(?:'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")|(?:IN)?VISIBLE|(?:NOT\s+)?IGNORED"""
    r"""|(?:ALGORITHM|LOCK)\s*=?\s*\w+)(?![\w$])"""
)
_INDEX_OPTIONS = re.compile(rf"(?:{_INDEX_OPTION})+\s*", re.I)


def _without_index_options(text: str, upper: str) -> str:
    """MySQL ``text`` (``upper`` its upper case) with the index syntax that sqlglot's grammar
    rejects blanked, each by as many spaces, so that every offset stays where it is: an index
    type before a primary key's columns, and CREATE INDEX's index type and options. None of
    them changes a key's columns or whether it is unique, which is all that is read of it."""
    if "USING" in upper and "PRIMARY" in upper:
        text = _PRIMARY_KEY_TYPE.sub(lambda m: m[0] if m[1] else m[2] + " " * len(m[3]), text)
    create = _CREATE_INDEX.match(text)
    if create is None:
        return text
    if create.group(1):
        start, end = create.span(1)
        text = text[:start] + " " * (end - start) + text[end:]
    end = _list_end(text, create.end())
    if _INDEX_OPTIONS.fullmatch(text, end):
        text = text[:end] + " " * (len(text) - end)
    return text


# MySQL's way to run a statement only when the schema needs it (mattermost's migrations,
# among many): the statement is a string chosen by ``IF`` into a user variable, then prepared
# and executed. ``SET @s = (SELECT IF(cond, 'ALTER TABLE …', 'SELECT 1')); PREPARE p FROM @s;
# EXECUTE p; DEALLOCATE PREPARE p;``
_DEALLOCATE = re.compile(r"^\s*(?:DEALLOCATE|DROP)\s+PREPARE\s+`?[\w$]+`?\s*$", re.I)
_PREPARE = re.compile(r"^\s*`?([\w$]+)`?\s+FROM\s+(.+?)\s*$", re.I | re.S)
_EXECUTE = re.compile(r"^\s*`?([\w$]+)`?(?:\s+USING\b.*)?$", re.I | re.S)
_USER_VARIABLE = re.compile(r"^@`?([\w$.]+)`?$")
# ``SELECT IF(…) FROM information_schema.columns WHERE … INTO @s``: INTO last, MySQL 8's
# preferred place for it, which sqlglot's grammar rejects.
# ``INTO @s`` sets a user variable; ``INTO found`` a routine's local variable (a stored
# procedure's body, read where a CALL runs it).
_TRAILING_INTO = re.compile(r"\s+INTO\s+@?`?([\w$.]+)`?\s*$", re.I)
_SELECT = re.compile(r"^\s*\(?\s*SELECT\b", re.I)


def _statement_texts(node: Any) -> list[exp.Literal] | None:
    """The string literals that ``node`` (a user variable's value) can evaluate to: a literal,
    either branch of ``IF``/``CASE``, through ``(SELECT …)`` without ``FROM``; None when the
    value is built otherwise (``CONCAT`` with a variable), so the statement is not known."""
    if isinstance(node, exp.Literal):
        return [node] if node.is_string else []
    if isinstance(node, exp.Null):
        return []
    if isinstance(node, (exp.Paren, exp.Subquery)):
        return _statement_texts(node.this)
    if isinstance(node, exp.Select):
        # ``(SELECT IF(COUNT(*) > 0, 'SELECT 1', 'ALTER …') FROM information_schema.columns
        # WHERE …)``: the value is one of the expression's strings whatever the rows (a column
        # of the FROM in it makes it unknown, below).
        if len(node.expressions) != 1:
            return None
        return _statement_texts(node.expressions[0])
    if isinstance(node, exp.Concat):
        return _concatenated(node.expressions)
    branches: list[Any]
    if isinstance(node, exp.If):
        branches = [node.args.get("true"), node.args.get("false")]
    elif isinstance(node, exp.Case):
        ifs = node.args.get("ifs") or []
        branches = [i.args.get("true") for i in ifs] + [node.args.get("default")]
    else:
        return None
    found: list[exp.Literal] = []
    for branch in branches:
        if branch is None:
            continue
        texts = _statement_texts(branch)
        if texts is None:
            return None
        found.extend(texts)
    return found


def _concatenated(parts: list[Any]) -> list[exp.Literal] | None:
    """The string ``CONCAT(parts…)`` evaluates to when every part is a string or number literal
    (or such a CONCAT); None otherwise. It is found in the file by its first part (``anchor``
    in its meta), where the statement it makes starts. A part chosen at run time (an ``IF``
    over ``information_schema``'s IS_NULLABLE) is not combined: not every combination runs."""
    text = ""
    anchor = None
    for part in parts:
        if isinstance(part, exp.Literal):
            value = str(part.this)
        elif isinstance(part, exp.Concat):
            inner = _concatenated(part.expressions)
            if inner is None:
                return None
            value = str(inner[0].this)
        else:
            return None
        text += value
        anchor = anchor or value
    literal = exp.Literal.string(text)
    literal.meta["anchor"] = anchor or text
    return [literal]


class _Prepared:
    """MySQL user variables holding statements, and the statements prepared from them.

    ``PREPARE p FROM @s`` reads every statement ``@s`` may hold (both branches of its ``IF``:
    which one runs depends on the database) at the string's place in the file; ``EXECUTE p``
    and ``DEALLOCATE PREPARE p`` add nothing. A statement built at run time is reported once,
    at its ``PREPARE``.
    """

    def __init__(self, body: SqlText, dialect: str, result: SqlRead) -> None:
        self.body = body
        self.dialect = dialect
        self.result = result
        self.variables: dict[str, tuple[list[exp.Literal] | None, int]] = {}
        self.names: set[str] = set()

    def assigned(self, node: exp.Set, begin: int) -> None:
        """Record the values that ``SET @s = …`` gives user variables."""
        for item in node.expressions:
            assignment = item.this if isinstance(item, exp.SetItem) else None
            if not isinstance(assignment, (exp.EQ, exp.PropertyEQ)):
                continue
            target = assignment.this
            if isinstance(target, exp.Parameter):
                name = target.name.lower()
                self.variables[name] = (_statement_texts(assignment.expression), begin)

    def selected(self, node: exp.Select, begin: int, trailing: str | None = None) -> bool:
        """Record the value that ``SELECT … INTO @s`` gives one user variable (``trailing``:
        the variable of an INTO written last, ``SELECT … FROM … INTO @s``, which the grammar
        does not take); False for a SELECT that sets no user variable."""
        into = node.args.get("into")
        target = into.this if isinstance(into, exp.Into) else None
        if trailing is not None:
            name = trailing
        elif isinstance(target, exp.Table) and isinstance(target.this, exp.Parameter):
            name = target.this.name
        else:
            return False
        joins = node.args.get("joins") or []
        if trailing is None and joins:
            # ``INTO @a, @b`` parses as a join of the second: which value each gets is not
            # kept, so a statement prepared from either is unknown.
            self.variables[name.lower()] = (None, begin)
            for join in joins:
                if isinstance(join.this, exp.Table) and isinstance(join.this.this, exp.Parameter):
                    self.variables[join.this.this.name.lower()] = (None, begin)
            return True
        texts = _statement_texts(node.expressions[0]) if len(node.expressions) == 1 else None
        self.variables[name.lower()] = (texts, begin)
        return True

    def command(self, node: exp.Command, begin: int) -> bool:
        """Read ``PREPARE``/``EXECUTE`` of a prepared statement; False for other commands."""
        keyword = str(node.this).upper()
        literal = node.expression
        text = literal.this if isinstance(literal, exp.Literal) else str(literal or "")
        if keyword == "EXECUTE":
            executed = _EXECUTE.match(text)
            return executed is not None and executed.group(1).lower() in self.names
        if keyword != "PREPARE":
            return False
        match = _PREPARE.match(text)
        if not match:
            return False
        self.names.add(match.group(1).lower())
        source = match.group(2)
        variable = _USER_VARIABLE.match(source)
        texts: list[tuple[exp.Literal, int]] | None
        if variable:
            literals, assigned_at = self.variables.get(variable.group(1).lower(), (None, begin))
            texts = None if literals is None else [(lit, assigned_at) for lit in literals]
        elif len(source) >= 2 and source[0] == source[-1] and source[0] in "'\"":
            texts = [(exp.Literal.string(source[1:-1]), begin)]
        else:
            texts = None
        if texts is None:
            self.result.problems.append(
                SqlUnreadable(
                    self.body.location(begin),
                    "SQL",
                    f"PREPARE {match.group(1)} FROM {source[:60]}: a statement built at run "
                    "time cannot be checked",
                    self.dialect,
                )
            )
            return True
        for literal, search_from in texts:
            statement = str(literal.this)
            found = self.body.text.find(literal.meta.get("anchor", statement), search_from)
            offset = found if found >= 0 else begin
            where = self.body.location(offset)
            inner = SqlText(statement, self.body.path, where.line, where.column)
            read = read_sqlglot(inner, self.dialect)
            self.result.operations.extend(read.operations)
            self.result.problems.extend(read.problems)
        return True


_CREATE_TRIGGER = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+|DEFINER\s*=\s*\S+\s+)?TRIGGER\b", re.I
)
_CREATE_ROUTINE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(PROCEDURE|FUNCTION)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]*`|[\w$.]+)",
    re.I,
)
# A procedure's body: what its outer ``BEGIN … END`` holds.
_ROUTINE_BODY = re.compile(r"\bBEGIN\b(.*)\bEND\s*$", re.I | re.S)
_CALL = re.compile(r"^\s*(`[^`]*`|[\w$.]+)\s*(?:\(.*\))?\s*$", re.S)
# In a procedure's body: its local variables, conditions, cursors and handlers, and the
# ends of its IF blocks, change no table; a branch's statements may each run.
_NO_CHANGE = re.compile(r"^\s*(?:DECLARE\b|END\s+IF\s*$)", re.I)
_BRANCH = re.compile(r"^\s*(?:(?:ELSE)?IF\b.*?\bTHEN\b|ELSE\b)", re.I | re.S)
# ``DELIMITER //`` (the mysql client's, and Flyway's): until the next one, statements end at
# ``//`` where ``;`` ended them, so a routine's body keeps its ``;``s.
_DELIMITER = re.compile(r"^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*\r?$", re.I | re.M)


def without_delimiters(text: str) -> str:
    """``text`` with each ``DELIMITER x`` line blanked and each ``x`` ending a line after it
    made ``;`` (same length, so offsets and lines stay): MySQL SQL as the server takes it."""
    matches = list(_DELIMITER.finditer(text))
    if not matches:
        return text
    parts = [text[: matches[0].start()]]
    for index, match in enumerate(matches):
        parts.append(" " * (match.end() - match.start()))
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        region = text[match.end() : end]
        delimiter = match.group(1)
        if delimiter != ";":
            ending = re.compile(re.escape(delimiter) + r"(?=[ \t]*(?:\r?\n|$))")
            region = ending.sub(";" + " " * (len(delimiter) - 1), region)
        parts.append(region)
    return "".join(parts)


# A compound statement's ``END`` that closes these opened no block the count knows of (MySQL's
# ``END IF``, ``END LOOP``, …): ``BEGIN`` and ``CASE`` open one, any other ``END`` closes it.
_NOT_A_BLOCK_END = frozenset({"IF", "LOOP", "WHILE", "REPEAT"})
# What follows ``CREATE`` in a statement that is no trigger, though a column in it may be
# called ``trigger`` (SQLite takes the word unquoted) and another ``begin``.
_NOT_A_TRIGGER = frozenset(
    {
        sqlglot.TokenType.TABLE,
        sqlglot.TokenType.VIEW,
        sqlglot.TokenType.INDEX,
        sqlglot.TokenType.UNIQUE,
    }
)
# The statements whose ``BEGIN … END`` body is theirs: triggers and MySQL's stored routines.
_COMPOUND = frozenset(
    {sqlglot.TokenType.TRIGGER, sqlglot.TokenType.PROCEDURE, sqlglot.TokenType.FUNCTION}
)
# How far into a statement ``TRIGGER`` may come: ``CREATE DEFINER=`u`@`h` TRIGGER``.
_TRIGGER_WITHIN = 8


def statement_spans(tokens: list[Any], length: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of the statements in ``tokens`` (sqlglot's, of a text of
    ``length`` characters), each ended by its ``;``. A ``CREATE TRIGGER``'s ``BEGIN … END``
    body is one statement with its ``;``s, as SQLite and the MySQL server read it (and as
    goose's ``-- +goose StatementBegin``/``StatementEnd`` send it), and so is a MySQL
    ``CREATE PROCEDURE``'s or ``CREATE FUNCTION``'s; other statements end at their first
    ``;``."""
    semicolon, create = sqlglot.TokenType.SEMICOLON, sqlglot.TokenType.CREATE
    begin, case, end = sqlglot.TokenType.BEGIN, sqlglot.TokenType.CASE, sqlglot.TokenType.END
    spans: list[tuple[int, int]] = []
    start: int | None = None
    first = 0
    # 0: a plain statement; 1: a CREATE that may be a trigger; 2: a trigger.
    trigger = 0
    depth = 0
    closed = -1  # the index of the CASE of an ``END CASE``
    for index, token in enumerate(tokens):
        kind = token.token_type
        if start is None:
            if kind == semicolon:
                continue
            start, first, depth = token.start, index, 0
            trigger = 1 if kind == create else 0
            continue
        if kind == semicolon and depth == 0:
            spans.append((start, token.start))
            start = None
        elif trigger == 1:
            if kind in _COMPOUND:  # the keyword, not a quoted `trigger`
                trigger = 2
            elif kind in _NOT_A_TRIGGER or index - first > _TRIGGER_WITHIN:
                trigger = 0
        elif trigger == 2:
            if kind in (begin, case) and index != closed:
                depth += 1
            elif kind == end and depth:
                following = tokens[index + 1] if index + 1 < len(tokens) else None
                if following is None or following.text.upper() not in _NOT_A_BLOCK_END:
                    depth -= 1
                    # MySQL's ``END CASE`` closes the CASE statement: its CASE opens nothing.
                    closed = index + 1
    if start is not None:
        spans.append((start, length))
    return spans


def read_sqlglot(body: SqlText, dialect: str, routine: bool = False) -> SqlRead:
    """Read a SQL body with sqlglot's grammar for ``dialect`` (``mysql`` or ``sqlite``);
    ``routine``: the body of a MySQL procedure, read where a ``CALL`` runs it."""
    result = SqlRead()
    read = SQLGLOT_DIALECTS[dialect]
    if dialect == "mysql" and "DELIMITER" in body.text.upper():
        body = SqlText(
            without_delimiters(body.text),
            body.path,
            body.first_line,
            body.first_column,
            body.pieces,
        )
    try:
        tokens = sqlglot.tokenize(body.text, read=read)
    # sqlglot's own bugs surface as AttributeError & co. on malformed input: still unreadable.
    except Exception as exc:
        result.problems.append(
            SqlUnreadable(
                body.location(0),
                "SQL",
                f"{dialect} tokenizer rejects it: {_first_line(exc)}",
                dialect,
            )
        )
        return result
    # Statement spans from the tokens, so each statement is parsed (and fails) on its own.
    spans = statement_spans(tokens, len(body.text))
    prepared = _Prepared(body, dialect, result)
    procedures: dict[str, tuple[int, int]] = {}  # a procedure's name → its body's span
    for begin, end in spans:
        text = body.text[begin:end]
        created = _CREATE_ROUTINE.match(text) if dialect == "mysql" else None
        if created is not None:
            # Defining a routine changes no table: a procedure's body runs where a CALL
            # runs it; a function's cannot change the schema (MySQL refuses DDL in one).
            inside = _ROUTINE_BODY.search(text, created.end())
            if created.group(1).upper() == "PROCEDURE" and inside is not None:
                name = created.group(2).strip("`").lower()
                procedures[name] = (begin + inside.start(1), begin + inside.end(1))
            continue
        if routine and _NO_CHANGE.match(text):
            continue
        branch = _BRANCH.match(text) if routine else None
        if branch is not None:
            begin, text = begin + branch.end(), text[branch.end() :]
            if not text.strip():
                continue
        if _CREATE_TRIGGER.match(text):
            continue  # a trigger's body writes rows only: it changes no table or column
        if dialect == "sqlite" and _CREATE_VIRTUAL_TABLE.match(text):
            virtual = _virtual_table(_GlotStatement(body, begin, end, dialect), text)
            if isinstance(virtual, Operation):
                result.operations.append(virtual)
            else:
                result.problems.append(SqlUnreadable(body.location(begin), "SQL", virtual, dialect))
            continue
        # SQLite's table options, which sqlglot's grammar does not know: read the table
        # without them, noting WITHOUT ROWID (its key columns are NOT NULL).
        options = _SQLITE_TABLE_OPTIONS.search(text) if dialect == "sqlite" else None
        if options is not None and _CREATE_TABLE.match(text):
            text = text[: options.start(1)]
        without_rowid = options is not None and "ROWID" in options.group(1).upper()
        upper = text.upper()
        if "KEY" in upper or "UNIQUE" in upper:
            text = _without_key_order(text)
        if dialect == "mysql":
            text = _without_index_options(text, upper)
        stmt = _GlotStatement(body, begin, end, dialect, without_rowid)
        if dialect == "mysql" and _DEALLOCATE.match(text):
            continue  # frees a prepared statement: changes no table
        trailing = _TRAILING_INTO.search(text) if dialect == "mysql" else None
        if trailing is not None and _SELECT.match(text):
            try:
                node = sqlglot.parse_one(
                    text[: trailing.start()], read=read, error_level=sqlglot.ErrorLevel.RAISE
                )
            except Exception:  # read as written below, and reported as the grammar says
                node = None
            if isinstance(node, exp.Select) and prepared.selected(node, begin, trailing[1]):
                continue
        try:
            parsed = sqlglot.parse(text, read=read, error_level=sqlglot.ErrorLevel.RAISE)
        except Exception as exc:  # sqlglot bugs, as for tokenize above
            result.problems.append(
                SqlUnreadable(
                    body.location(begin),
                    "SQL",
                    f"{dialect} parser rejects it: {_first_line(exc)}",
                    dialect,
                )
            )
            continue
        for node in parsed:
            if node is None:
                continue
            _shift_meta(node, begin)
            if isinstance(node, exp.Set) and dialect == "mysql":
                prepared.assigned(node, begin)
                continue
            if (
                isinstance(node, exp.Select)
                and dialect == "mysql"
                and prepared.selected(node, begin)
            ):
                continue
            if isinstance(node, exp.Command):
                renamed = _command_rename(stmt, node)
                if renamed is not None:
                    result.operations.extend(renamed)
                    continue
                if dialect == "mysql" and prepared.command(node, begin):
                    continue
                called = _called(node, procedures) if dialect == "mysql" else None
                if called is not None:
                    # The procedure's statements run here, as if written in its place.
                    start, stop = called
                    where = body.location(start)
                    inner = SqlText(body.text[start:stop], body.path, where.line, where.column)
                    ran = read_sqlglot(inner, dialect, routine=True)
                    result.operations.extend(ran.operations)
                    result.problems.extend(ran.problems)
                    continue
                if dialect == "mysql" and str(node.this).upper() in _TABLE_LOCKS:
                    continue  # a dump's LOCK TABLES … / UNLOCK TABLES: no schema in them
                result.problems.append(
                    SqlUnreadable(
                        body.location(begin),
                        "SQL",
                        f"the {dialect} parser does not model `{str(node.this)[:40]}` "
                        "statements; this one was not checked",
                        dialect,
                    )
                )
                continue
            result.operations.extend(_glot_operations(stmt, node))
    return result


def _called(node: exp.Command, procedures: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    """The body's span of the procedure that ``CALL p()`` runs, when the same SQL created
    it; None for any other command."""
    if str(node.this).upper() != "CALL":
        return None
    literal = node.expression
    text = literal.this if isinstance(literal, exp.Literal) else str(literal or "")
    match = _CALL.match(text)
    return procedures.get(match.group(1).strip("`").lower()) if match else None


_TABLE_LOCKS = frozenset({"LOCK TABLES", "LOCK TABLE", "UNLOCK TABLES", "UNLOCK TABLE"})
"""MySQL statements sqlglot leaves as a ``Command`` that change no schema: the table locks
around the rows of every ``mysqldump`` (a baseline migration taken from a dump)."""


def _first_line(exc: Exception) -> str:
    """The first line of a parser's error, or its type when the error has no text."""
    lines = str(exc).splitlines()
    if isinstance(exc, SqlglotError) and lines:
        return lines[0]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _shift_meta(node: Expr, offset: int) -> None:
    """Identifier offsets are relative to the statement text; make them body offsets."""
    if not offset:
        return
    for identifier in node.find_all(exp.Identifier):
        meta = identifier.meta
        if "start" in meta:
            meta["start"] = int(meta["start"]) + offset


# sqlglot's comparisons, as the operators :mod:`backout.check_conditions` names.
_GLOT_COMPARISONS: dict[type[Expr], str] = {
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.EQ: "=",
    exp.NEQ: "<>",
}


def _glot_condition(node: Any, dialect: str) -> Condition:
    """The conjuncts of a CHECK condition (:mod:`backout.check_conditions`)."""
    if not isinstance(node, exp.Expression):
        return ()
    atoms: list[Atom] = []
    stack = [node]
    while stack:
        current = stack.pop()
        while isinstance(current, exp.Paren):
            current = current.this
        if isinstance(current, exp.And):
            stack.extend((current.expression, current.this))
            continue
        atoms.extend(_glot_atoms(current, dialect))
    return tuple(dict.fromkeys(atoms))


def _glot_atoms(node: Expr, dialect: str) -> list[Atom]:
    """One conjunct as :class:`Atom` (two for a ``BETWEEN``)."""
    operator = _GLOT_COMPARISONS.get(type(node))
    if operator is not None:
        column, value = _glot_column_name(node.this), _glot_literal(node.expression)
        if column is None or value is None:
            column, value = _glot_column_name(node.expression), _glot_literal(node.this)
            operator = FLIPPED[operator]
        if column is not None and value is not None:
            return [compared(column, operator, value)]
    elif isinstance(node, exp.In) and not node.args.get("query"):
        column = _glot_column_name(node.this)
        values = [_glot_literal(item) for item in node.expressions]
        known = tuple(v for v in values if v is not None)
        if column is not None and known and len(known) == len(values):
            return [Atom(IN_LIST, (column,), values=known)]
    elif isinstance(node, exp.Between):
        column = _glot_column_name(node.this)
        low, high = _glot_literal(node.args.get("low")), _glot_literal(node.args.get("high"))
        if column is not None and low is not None and high is not None:
            return between(column, low, high)
    return [_glot_opaque(node, dialect)]


def _glot_column_name(node: Any) -> str | None:
    """The column a plain column reference names (``None`` for anything else)."""
    return _name(node) if isinstance(node, exp.Column) else None


def _glot_literal(node: Any) -> tuple[str, str] | None:
    """A number or string literal (``-5`` too); ``None`` for anything else, NULL among them."""
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if not isinstance(node, exp.Literal):
        return None
    if node.is_string:
        return None if negative else (STRING, node.this)
    return NUMBER, f"-{node.this}" if negative else node.this


def _glot_opaque(node: Expr, dialect: str) -> Atom:
    """A conjunct backout does not read, as its text with its columns numbered."""
    columns: list[str] = []

    def number(part: Expr) -> Expr:
        if isinstance(part, exp.Column):
            name = _name(part)
            if name not in columns:
                columns.append(name)
            return exp.Var(this=f"${columns.index(name)}")
        return part

    text = node.transform(number).sql(dialect=dialect)
    return Atom(OPAQUE, tuple(columns), text)
