"""Django migrations → :class:`~.migration_facts.Migration` facts, from the Python AST.

A migration module is never imported. The ``Migration`` class gives ``dependencies``,
``replaces`` (squashed migrations) and ``operations``; each operation becomes schema
operations on the table Django names ``<app_label>_<model>``. Django reverses schema
operations itself, so the down operations are the reverses (``AddField`` ↔ drop the column);
``RunPython`` without ``reverse_code`` and ``RunSQL`` without ``reverse_sql`` are irreversible
steps. ``SeparateDatabaseAndState`` contributes its ``database_operations``, and of its
``state_operations`` the fields and models that leave the state (the code stops reading them;
the database keeps them) or enter it again (the code reads them again). ``RunSQL`` strings
are read as SQL. Sentry's ``SafeRunSQL``, ``SafeRemoveField`` and ``SafeDeleteModel`` are
read as Django's operations, the last two as state-only removals with
``DeletionAction.MOVE_TO_PENDING``.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import ClassVar, TypeGuard

from backout.models import Location
from backout.schema_operations import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    ALTERED_FIELD,
    ALTERED_UNIQUE,
    CHECK,
    COLUMNS_UNKNOWN,
    CREATE_TABLE,
    DELETE_MODEL,
    DOWN_PRESENT,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_TABLE,
    FOREIGN_KEY,
    IN_DATABASE_OPERATIONS,
    IRREVERSIBLE_STEP,
    JOIN_TABLE,
    MODEL_TABLE,
    ORM_ADDED,
    ORM_DEFAULT_ONLY,
    ORM_REMOVED,
    OWN_JOIN_TABLE,
    REDEFINED,
    REMOVE_FIELD,
    RENAME_COLUMN,
    RENAME_MODEL,
    RENAME_TABLE,
    THROUGH_MODEL,
    UNIQUE,
    UNIQUE_TOGETHER,
    Column,
    Operation,
    declared_column,
    field_foreign_key,
    join_columns,
    join_foreign_key,
    join_table_name,
    unique_together_key,
)
from backout.sources.base import Computed, Fact, FactSet, SourceFile, Unreadable
from backout.sources.django_settings import (
    DEFAULT_USER_MODEL,
    USER_MODEL,
    DjangoDatabase,
    DjangoUserModel,
)
from backout.sources.migration_facts import Migration, version_key
from backout.sources.paths import is_django_migration
from backout.sources.python_ast import argument as _argument
from backout.sources.python_ast import callee_name as _callee
from backout.sources.python_ast import keyword_value as _keyword
from backout.sources.python_ast import literal as _const
from backout.sources.python_ast import literal_string as _string
from backout.sources.python_ast import lone_surrogate, parse_python, string_pieces
from backout.sources.sql import SqlText, read_bodies

_FIELD_TYPES = {
    "CharField": "varchar",
    "SlugField": "varchar",
    "EmailField": "varchar",
    "URLField": "varchar",
    "TextField": "text",
    "IntegerField": "integer",
    "PositiveIntegerField": "integer",
    "BigIntegerField": "bigint",
    "PositiveBigIntegerField": "bigint",
    "SmallIntegerField": "smallint",
    "PositiveSmallIntegerField": "smallint",
    "BooleanField": "boolean",
    "DecimalField": "numeric",
    "FloatField": "double precision",
    "DateTimeField": "timestamp with time zone",
    "DateField": "date",
    "TimeField": "time",
    "UUIDField": "uuid",
    "JSONField": "jsonb",
    "BinaryField": "bytea",
    "ForeignKey": "bigint",
    "OneToOneField": "bigint",
}
_AUTO_FIELDS = {"AutoField", "BigAutoField", "SmallAutoField"}
_RELATIONS = {"ForeignKey", "OneToOneField"}
_NO_COLUMN = {"ManyToManyField", "TaggableManager"}
"""Relations with no column: a join table (:func:`_is_join_field`) or, django-taggit's
``TaggableManager``, the rows of a ``through`` model of its own."""


def _field_kind(node: ast.AST | None) -> str:
    """The field class a call makes, a subclass of a relation taken for it:
    ``TreeForeignKey`` (django-mptt) and ``ParentalKey`` (django-modelcluster, Wagtail) are
    ``ForeignKey`` fields (the column ``<field>_id``), ``ParentalManyToManyField`` and
    ``SortedManyToManyField`` are ``ManyToManyField`` fields (no column)."""
    kind = _callee(node)
    if kind.endswith("ManyToManyField"):
        return "ManyToManyField"
    if kind.endswith("ForeignKey") or kind == "ParentalKey":
        return "ForeignKey"
    if kind.endswith("OneToOneField"):
        return "OneToOneField"
    return kind


def _field(name: str, node: ast.AST | None) -> Column | None:
    """A Django model field as the column it creates (``None`` for a many-to-many field,
    which creates a table of its own: :func:`_m2m_table`)."""
    if not isinstance(node, ast.Call):
        return None
    kind = _field_kind(node)
    if kind in _NO_COLUMN:
        return None
    column = f"{name}_id" if kind in _RELATIONS else name
    db_column = _string(_keyword(node, "db_column"))
    if db_column:
        column = db_column.lower()
    type_text = _FIELD_TYPES.get(kind)
    if type_text == "varchar":
        length = _const(_keyword(node, "max_length"))
        type_text = f"varchar({length})" if isinstance(length, int) else "varchar"
    elif type_text == "numeric":
        digits = _const(_keyword(node, "max_digits"))
        places = _const(_keyword(node, "decimal_places"))
        if isinstance(digits, int) and isinstance(places, int):
            type_text = f"numeric({digits},{places})"
    nullable = _const(_keyword(node, "null")) is True
    # Only `db_default` (Django 5) is a database default. A model `default` fills the rows
    # that exist when the migration runs, then Django drops it from the column (`ALTER COLUMN
    # … DROP DEFAULT`, whatever `preserve_default` says): the old release's INSERTs, which
    # leave the column out, get no value.
    db_default = _keyword(node, "db_default")
    has_default = db_default is not None and not _is_none(db_default)
    generated = kind in _AUTO_FIELDS or kind == "GeneratedField"
    primary = _const(_keyword(node, "primary_key")) is True
    if primary:
        nullable = False
    # ``unique=True`` and a OneToOneField are an inline ``UNIQUE`` (CREATE TABLE and ADD
    # COLUMN alike): PostgreSQL names it ``<table>_<column>_key``. A primary key is the key.
    unique_key = not primary and (
        kind == "OneToOneField" or _const(_keyword(node, "unique")) is True
    )
    declared = declared_column(
        column, type_text, nullable, has_default, generated, primary=primary, unique_key=unique_key
    )
    if db_column:
        return replace(declared, field=name, own_column=True)
    return declared if column == name else replace(declared, field=name)


def _is_join_field(node: ast.AST | None) -> TypeGuard[ast.Call]:
    """A ``ManyToManyField`` whose join table Django makes (no ``through=`` model)."""
    return (
        isinstance(node, ast.Call)
        and _field_kind(node) == "ManyToManyField"
        and _keyword(node, "through") is None
    )


def _has_foreign_key(node: ast.AST | None) -> TypeGuard[ast.Call]:
    """A ``ForeignKey`` or ``OneToOneField`` whose column Django gives a foreign key (not
    ``db_constraint=False``)."""
    return (
        isinstance(node, ast.Call)
        and _field_kind(node) in _RELATIONS
        and _const(_keyword(node, "db_constraint")) is not False
    )


def _option(options: ast.AST | None, name: str) -> ast.expr | None:
    """The value of ``name`` in a ``CreateModel``'s ``options`` dict."""
    if not isinstance(options, ast.Dict):
        return None
    for key, value in zip(options.keys, options.values, strict=True):
        if _string(key) == name:
            return value
    return None


def _db_table(options: ast.AST | None) -> str | None:
    """``db_table`` of a ``CreateModel``'s ``options`` dict, lower-cased."""
    table = _string(_option(options, "db_table"))
    return table.lower() if table else None


def _unique_together(node: ast.AST | None) -> tuple[tuple[str, ...], ...] | None:
    """The groups of field names a ``unique_together`` value holds, lower-cased: a set or
    list of tuples, or one tuple of names, which Django takes for one group
    (``normalize_together``); ``()`` for ``None`` or ``set()``, and ``None`` for a value
    computed at run time."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return ()
    if isinstance(node, ast.Call) and _callee(node) == "set" and not node.args:
        return ()
    groups = _const(node)
    if not isinstance(groups, tuple):
        return None
    if groups and all(isinstance(name, str) for name in groups):
        groups = (groups,)
    if not all(isinstance(g, tuple) and all(isinstance(n, str) for n in g) for g in groups):
        return None
    return tuple(tuple(str(n).lower() for n in group) for group in groups)


def _together_key(table: str, group: tuple[str, ...], where: Location) -> Operation:
    """The unique key a ``unique_together`` group over fields ``group`` is."""
    return Operation(
        ADD_CONSTRAINT,
        where,
        table,
        constraint=UNIQUE,
        constrained=group,
        detail=unique_together_key(group),
        by_field=True,
    )


def _model_default_only(node: ast.AST | None) -> bool:
    """A field with a model ``default=`` and no ``db_default=`` (or ``db_default=None``)."""
    if not isinstance(node, ast.Call) or _keyword(node, "default") is None:
        return False
    db_default = _keyword(node, "db_default")
    return db_default is None or _is_none(db_default)


class _Operations:
    """Turns the ``operations`` list of one migration into up and down operations."""

    def __init__(self, path: str, source: str, app_label: str) -> None:
        self.path = path
        self.source = source
        self.app = app_label
        self.app_tables: set[str] = set()
        self.within = ""
        """:data:`IN_DATABASE_OPERATIONS` while a ``SeparateDatabaseAndState``'s database
        operations are read."""
        """The tables named after the app label (see ``Migration.app_tables``)."""
        self.literal_tables: set[str] = set()
        """The tables models are given as written (see ``Migration.literal_tables``)."""
        self.from_sql: set[int] = set()
        """The ``id`` of each operation read from SQL (see ``Migration.sql_steps``)."""
        self.up: list[Operation] = []
        self.down: list[Operation] = []
        self.problems: list[Fact] = []

    def table(self, model: str | None) -> str:
        """The table Django names after the app label and ``model``."""
        name = f"{self.app}_{(model or '').lower()}"
        self.app_tables.add(name)
        return name

    def join_table(self, table: str, field_name: str, field: ast.Call) -> str:
        """The join table of ``table``'s many-to-many ``field`` ``field_name``: its own
        ``db_table``, or ``<table>_<field>``."""
        own = _string(_keyword(field, "db_table"))
        if own:
            self.literal_tables.add(own.lower())
            return own.lower()
        join = join_table_name(table, field_name)
        if table in self.app_tables:
            self.app_tables.add(join)
        return join

    def many_to_many(
        self,
        model_table: str,
        model: str,
        field_name: str,
        field: ast.Call,
        where: Location,
        *,
        table: str | None = None,
        altered: bool = False,
        state_only: bool = False,
    ) -> None:
        """The join table Django makes for the many-to-many ``field`` ``field_name`` of
        ``model`` (whose default table is ``model_table``, its table ``table``): created
        (:data:`JOIN_TABLE`, then ``CREATE_TABLE``), stated anew by an ``AlterField``
        (``altered``), whose changes the schema model knows, or taken into the models'
        state alone (``state_only``: the field's from now on, the table the database's,
        :data:`ORM_ADDED`)."""
        to = (_string(_argument(field, 0, "to")) or "").lower()
        target = model if to == "self" else to.rpartition(".")[2]
        references = self.referenced_table(field, model_table)
        own = _string(_keyword(field, "db_table"))
        if altered:
            if own:  # named as written, never shortened nor relabelled
                self.literal_tables.add(own.lower())
            self.up.append(
                Operation(
                    JOIN_TABLE,
                    where,
                    model_table,
                    field_name,
                    new_name=own.lower() if own else None,
                    references=references,
                    values=(model, target),
                    detail=ALTERED_FIELD,
                )
            )
            return
        join = self.join_table(table or model_table, field_name, field)
        self.up.append(
            Operation(
                JOIN_TABLE,
                where,
                model_table,
                field_name,
                new_name=join,
                references=references,
                values=(model, target),
                detail=OWN_JOIN_TABLE if own else "",
            )
        )
        if state_only:
            self.up.append(Operation(ORM_ADDED, where, join, by_field=True))
            return
        # Its columns: an id, and a column with a foreign key to each model (to a computed
        # `to`, one of a name not known).
        columns = [declared_column("id", None, False, False, True, primary=True, unique_key=False)]
        keys = []
        for name, to_table in zip(
            join_columns(model, target), (model_table, references), strict=True
        ):
            if name:
                column = declared_column(
                    name, "bigint", False, False, False, primary=False, unique_key=False
                )
                columns.append(column)
                keys.append(join_foreign_key(join, name, to_table, where))
        self.up.append(
            Operation(
                CREATE_TABLE,
                where,
                join,
                columns=tuple(columns),
                detail="" if target else COLUMNS_UNKNOWN,
            )
        )
        self.up.extend(keys)
        reverse = "reverse of AddField" if table is None else "reverse of CreateModel"
        self.down.append(Operation(DROP_TABLE, where, join, detail=reverse))

    def at(self, node: ast.AST | None, fallback: ast.AST) -> Location:
        target = node if node is not None and hasattr(node, "lineno") else fallback
        return Location(
            self.path, getattr(target, "lineno", 1), getattr(target, "col_offset", 0) + 1
        )

    def read(self, nodes: list[ast.expr]) -> None:
        for node in nodes:
            if isinstance(node, ast.Call):
                self.operation(node)

    def operation(self, call: ast.Call) -> None:
        kind = _callee(call)
        if kind in _SENTRY_OPERATIONS:
            # Sentry's subclasses (src/sentry/new_migrations/monkey): MOVE_TO_PENDING takes
            # the field or model out of the models' state and leaves the database alone.
            kind = kind.removeprefix("Safe")
            action = _keyword(call, "deletion_action")
            if _name_of(action) == "MOVE_TO_PENDING":
                self.forget(call, kind)
                return
        if kind == "CreateModel":
            name_node = _argument(call, 0, "name")
            fields = _argument(call, 1, "fields")
            columns = []
            joins: list[tuple[str, ast.Call]] = []
            relations: list[tuple[Column, ast.Call]] = []
            for item in getattr(fields, "elts", []) or []:
                if isinstance(item, ast.Tuple) and len(item.elts) == 2:
                    field_name = (_string(item.elts[0]) or "").lower()
                    field = item.elts[1]
                    column = _field(field_name, field)
                    if column is not None:
                        columns.append(column)
                        if _has_foreign_key(field):
                            relations.append((column, field))
                    elif _is_join_field(field):
                        joins.append((field_name, field))
            model_table = self.table(_string(name_node))
            where = self.at(name_node, call)
            db_table = _db_table(_argument(call, 2, "options"))
            if db_table:
                self.literal_tables.add(db_table)
            table = db_table or model_table
            if table != model_table:
                self.up.append(Operation(MODEL_TABLE, where, model_table, new_name=table))
            self.up.append(Operation(CREATE_TABLE, where, table, columns=tuple(columns)))
            self.down.append(Operation(DROP_TABLE, where, table, detail="reverse of CreateModel"))
            for column, field in relations:
                self.up.append(self.foreign_key(table, column, field, model_table, where))
            # ``options={"unique_together": …}`` (a squash folds AlterUniqueTogether in there).
            together = _option(_argument(call, 2, "options"), "unique_together")
            for group in _unique_together(together) or ():
                self.up.append(_together_key(table, group, where))
            model_name = (_string(name_node) or "").lower()
            for field_name, field in joins:  # each many-to-many field's join table
                self.many_to_many(model_table, model_name, field_name, field, where, table=table)
        elif kind == "DeleteModel":
            name_node = _argument(call, 0, "name")
            self.up.append(
                Operation(
                    DROP_TABLE,
                    self.at(name_node, call),
                    self.table(_string(name_node)),
                    detail=DELETE_MODEL,
                )
            )
        elif kind == "RenameModel":
            old = _argument(call, 0, "old_name")
            old_name = _string(old)
            new = _string(_argument(call, 1, "new_name"))
            self.up.append(
                Operation(
                    RENAME_TABLE,
                    self.at(old, call),
                    self.table(old_name),
                    new_name=self.table(new),
                    # The model's names, after which its join tables' columns are named.
                    values=((old_name or "").lower(), (new or "").lower()),
                    detail=RENAME_MODEL,
                )
            )
        elif kind == "AlterModelTable":
            name_node = _argument(call, 0, "name")
            model_table = self.table(_string(name_node))
            table = (_string(_argument(call, 1, "table")) or "").lower() or model_table
            if table != model_table:
                self.literal_tables.add(table)
            where = self.at(name_node, call)
            self.up.append(Operation(RENAME_TABLE, where, model_table, new_name=table))
            self.up.append(Operation(MODEL_TABLE, where, model_table, new_name=table))
        elif kind in ("AddField", "RemoveField", "AlterField", "RenameField"):
            self.field_operation(call, kind)
        elif kind == "AddConstraint":
            self.constraint(call)
        elif kind == "RemoveConstraint":
            # Its name is the one AddConstraint gave it: the key of that name is gone.
            name_node = _argument(call, 1, "name")
            self.up.append(
                Operation(
                    DROP_CONSTRAINT,
                    self.at(name_node, call),
                    self.table(_string(_argument(call, 0, "model_name"))),
                    detail=_string(name_node) or "",
                )
            )
        elif kind == "AlterUniqueTogether":
            model = _argument(call, 0, "name")
            groups = _unique_together(_argument(call, 1, "unique_together"))
            if groups is not None:
                self.unique_together(self.table(_string(model)), groups, self.at(model, call))
        elif kind == "RunPython":
            reverse = _argument(call, 1, "reverse_code")
            if reverse is None or _is_none(reverse):
                self.up.append(
                    Operation(
                        IRREVERSIBLE_STEP,
                        self.at(call, call),
                        detail="RunPython without reverse_code" + self.within,
                    )
                )
        elif kind == "RunSQL":
            self.run_sql(call)
        elif kind == "SeparateDatabaseAndState":
            database = _argument(call, 0, "database_operations")
            self.within = IN_DATABASE_OPERATIONS
            self.read(list(getattr(database, "elts", []) or []))
            self.within = ""
            state = _argument(call, 1, "state_operations")
            for node in getattr(state, "elts", []) or []:
                if isinstance(node, ast.Call):
                    kind = _callee(node)
                    if kind in ("AddField", "CreateModel"):
                        self.adopt(node, kind)
                    else:
                        self.forget(node, kind)

    def forget(self, call: ast.Call, kind: str) -> None:
        """A ``RemoveField`` or ``DeleteModel`` of the models' state alone: the code stops
        reading the column or table, which stays (:data:`ORM_REMOVED`)."""
        if kind == "RemoveField":
            table = self.table(_string(_argument(call, 0, "model_name")))
            name_node = _argument(call, 1, "name")
            column = (_string(name_node) or "").lower() or None
        elif kind == "DeleteModel":
            name_node = _argument(call, 0, "name")
            table, column = self.table(_string(name_node)), None
        else:
            if kind == "AlterField":
                self.through(call)
            return
        self.up.append(
            Operation(ORM_REMOVED, self.at(name_node, call), table, column, by_field=True)
        )

    def through(self, call: ast.Call) -> None:
        """An ``AlterField`` that gives a ``ManyToManyField`` a ``through=`` model (Django's
        documented way keeps it to the models' state): its join table is that model's from
        now on (:data:`THROUGH_MODEL`)."""
        field = _argument(call, 2, "field")
        if (
            not isinstance(field, ast.Call)
            or _field_kind(field) != "ManyToManyField"
            or _is_join_field(field)
        ):
            return
        name_node = _argument(call, 1, "name")
        self.up.append(
            Operation(
                JOIN_TABLE,
                self.at(name_node, call),
                self.table(_string(_argument(call, 0, "model_name"))),
                (_string(name_node) or "").lower(),
                detail=THROUGH_MODEL,
            )
        )

    def adopt(self, call: ast.Call, kind: str) -> None:
        """An ``AddField`` or ``CreateModel`` of the models' state alone: the code reads the
        column, or the model and the fields it lists, again (:data:`ORM_ADDED`)."""
        if kind == "AddField":
            model = _string(_argument(call, 0, "model_name"))
            table = model_table = self.table(model)
            name_node = _argument(call, 1, "name")
            fields = [((_string(name_node) or "").lower(), _argument(call, 2, "field"))]
        else:
            name_node = _argument(call, 0, "name")
            model = _string(name_node)
            model_table = self.table(model)
            db_table = _db_table(_argument(call, 2, "options"))
            if db_table:
                self.literal_tables.add(db_table)
            table = db_table or model_table
            self.up.append(Operation(ORM_ADDED, self.at(name_node, call), table, by_field=True))
            listed = getattr(_argument(call, 1, "fields"), "elts", []) or []
            fields = [
                ((_string(item.elts[0]) or "").lower(), item.elts[-1])
                for item in listed
                if isinstance(item, ast.Tuple) and item.elts
            ]
        where = self.at(name_node, call)
        for name, node in fields:
            if name and _is_join_field(node):
                # The join table, which the database operations made or which was there.
                model_name = (model or "").lower()
                own_table = None if kind == "AddField" else table
                self.many_to_many(
                    model_table, model_name, name, node, where, table=own_table, state_only=True
                )
            elif name:
                # A field stored in a column of another name (a ForeignKey's <name>_id, a
                # db_column) carries it: the schema model learns that column.
                column = _field(name, node)
                column_def = column if column is not None and column.field else None
                self.up.append(
                    Operation(ORM_ADDED, where, table, name, column_def=column_def, by_field=True)
                )

    def field_operation(self, call: ast.Call, kind: str) -> None:
        model = _string(_argument(call, 0, "model_name"))
        table = self.table(model)
        if kind == "RenameField":
            old = _argument(call, 1, "old_name")
            new = _string(_argument(call, 2, "new_name")) or ""
            self.up.append(
                Operation(
                    RENAME_COLUMN,
                    self.at(old, call),
                    table,
                    (_string(old) or "").lower(),
                    new_name=new.lower(),
                    by_field=True,
                )
            )
            return
        name_node = _argument(call, 1, "name")
        name = (_string(name_node) or "").lower()
        where = self.at(name_node, call)
        if kind == "RemoveField":
            self.up.append(
                Operation(DROP_COLUMN, where, table, name, detail=REMOVE_FIELD, by_field=True)
            )
            return
        field = _argument(call, 2, "field")
        if isinstance(field, ast.Call) and _field_kind(field) in _NO_COLUMN:
            # A join table (`<model table>_<field>` or its db_table), no column; with
            # `through=`, the table of a model of its own, which that model's CreateModel makes.
            if _is_join_field(field):
                model_name = (model or "").lower()
                altered = kind == "AlterField"
                self.many_to_many(table, model_name, name, field, where, altered=altered)
            elif kind == "AlterField":
                self.through(call)
            return
        column = _field(name, field)
        if column is None:
            return
        if kind == "AddField":
            detail = ORM_DEFAULT_ONLY if _model_default_only(field) else ""
            self.up.append(
                Operation(ADD_COLUMN, where, table, column.name, column_def=column, detail=detail)
            )
            if _has_foreign_key(field):
                self.up.append(self.foreign_key(table, column, field, table, where))
            self.down.append(
                Operation(DROP_COLUMN, where, table, column.name, detail="reverse of AddField")
            )
        else:
            # Its column, when it is another than the field's before, is renamed.
            self.up.append(
                Operation(
                    RENAME_COLUMN,
                    where,
                    table,
                    name,
                    new_name=column.name,
                    column_def=column,
                    detail=ALTERED_FIELD,
                    by_field=True,
                )
            )
            if not column.unique:
                # AlterField restates the whole field: one without unique=True (or that is no
                # OneToOneField) drops the field's own unique key, whatever Django named it
                # (``<table>_<column>_key`` inline, ``…_<hash>_uniq`` added by AlterField). A
                # UniqueConstraint over the column is another key, and stays.
                self.up.append(
                    Operation(DROP_CONSTRAINT, where, table, detail=f"unique ({column.name})")
                )
            if column.unique:  # judged against the base: new only if it was not unique
                self.up.append(
                    Operation(
                        ADD_CONSTRAINT,
                        where,
                        table,
                        constraint=UNIQUE,
                        constrained=(column.name,),
                        detail=ALTERED_UNIQUE,
                    )
                )
            self.up.append(
                Operation(
                    ALTER_TYPE, where, table, column.name, column_def=column, detail=REDEFINED
                )
            )
            # Django drops the foreign key that holds the column, if any, and adds the new
            # field's: one that references another table is a new constraint (BK206).
            self.up.append(
                Operation(DROP_CONSTRAINT, where, table, detail=field_foreign_key(column.name))
            )
            if _has_foreign_key(field):
                self.up.append(self.foreign_key(table, column, field, table, where))

    def foreign_key(
        self, table: str, column: Column, field: ast.Call, model_table: str, where: Location
    ) -> Operation:
        """The foreign key Django gives the column of the relation ``field`` of the model
        whose table is ``table`` (named ``model_table`` after the app label)."""
        return Operation(
            ADD_CONSTRAINT,
            where,
            table,
            constraint=FOREIGN_KEY,
            constrained=(column.name,),
            detail=field_foreign_key(column.name),
            references=self.referenced_table(field, model_table),
        )

    def referenced_table(self, field: ast.Call, model_table: str) -> str:
        """The table the relation ``field`` references, by its ``to``: ``"app.Model"``,
        ``"Model"`` of this app, ``"self"`` (the model's own, ``model_table``);
        ``settings.AUTH_USER_MODEL``, the user model's (:data:`USER_MODEL`, which
        :func:`link_django_app_labels` names once the project's settings are read); ``""``
        when it is computed otherwise."""
        to_node = _argument(field, 0, "to")
        if isinstance(to_node, ast.Attribute) and to_node.attr == "AUTH_USER_MODEL":
            return USER_MODEL
        to = (_string(to_node) or "").lower()
        if not to:
            return ""
        if to == "self":
            return model_table
        app, _, model = to.rpartition(".")
        if not app or app == self.app:
            return self.table(model)
        return f"{app}_{model}"

    def unique_together(
        self, table: str, groups: tuple[tuple[str, ...], ...], where: Location
    ) -> None:
        """An ``AlterUniqueTogether``: the whole set of the model's groups, as Django's schema
        editor makes it, dropping each old group that is not in ``groups`` and adding each
        new one (a group kept is added again here, and judged against the base: no new
        constraint)."""
        self.up.append(
            Operation(
                DROP_CONSTRAINT,
                where,
                table,
                constraint=UNIQUE_TOGETHER,
                values=tuple(unique_together_key(group) for group in groups),
                by_field=True,
            )
        )
        self.up.extend(_together_key(table, group, where) for group in groups)

    def constraint(self, call: ast.Call) -> None:
        model = _argument(call, 0, "model_name")
        constraint = _argument(call, 1, "constraint")
        if not isinstance(constraint, ast.Call):
            return
        kind = _callee(constraint)
        if kind == "UniqueConstraint":
            fields = _keyword(constraint, "fields")
            names = _const(fields) if fields is not None else _expression_fields(constraint.args)
            label = UNIQUE
        elif kind == "CheckConstraint":
            condition = _keyword(constraint, "check") or _keyword(constraint, "condition")
            names = tuple(
                k.arg.split("__")[0]
                for c in (ast.walk(condition) if condition is not None else ())
                if isinstance(c, ast.Call) and _callee(c) == "Q"
                for k in c.keywords
                if k.arg
            )
            label = CHECK
        else:
            return
        self.up.append(
            Operation(
                ADD_CONSTRAINT,
                self.at(constraint, call),
                self.table(_string(model)),
                constraint=label,
                constrained=tuple(
                    str(n).lower() for n in (names if isinstance(names, tuple) else ())
                ),
                # Its own name: another key than the field's own ``unique (column)``.
                detail=_string(_keyword(constraint, "name")) or "",
                by_field=True,
            )
        )

    def run_sql(self, call: ast.Call) -> None:
        sql_node = _argument(call, 0, "sql")
        reverse = _argument(call, 1, "reverse_sql")
        if reverse is None or _is_none(reverse):
            self.up.append(
                Operation(
                    IRREVERSIBLE_STEP,
                    self.at(call, call),
                    detail="RunSQL without reverse_sql" + self.within,
                )
            )
        for node, target in ((sql_node, self.up), (reverse, self.down)):
            if node is None or _is_noop(node):
                continue
            surrogate = lone_surrogate(node)
            if surrogate is not None:
                self.problems.append(
                    Unreadable(self.at(surrogate[0], call), "Django", surrogate[1])
                )
                continue
            sql = _string(node)
            pieces = string_pieces(self.source, node) if sql is not None else ()
            if sql is None:
                sql, pieces = _statement_list(node, self.source)
            if sql is None:
                self.problems.append(
                    Computed(
                        self.at(node, call),
                        "Django",
                        "RunSQL with SQL built at run time cannot be checked",
                    )
                )
                continue
            line, column = pieces[0][1:] if pieces else (node.lineno, node.col_offset + 2)
            reads = read_bodies(SqlText(sql, self.path, line, column, pieces), None)
            target.extend(reads.up)
            self.from_sql.update(id(op) for op in reads.up)
            self.problems.extend(reads.problems)


def _expression_fields(expressions: list[ast.expr]) -> tuple[str, ...]:
    """The fields a ``UniqueConstraint``'s expressions read, in order: ``F("name")``, a
    string (Django takes it for ``F``), and those in the arguments of a database function
    (``Lower("name")``, ``Lower("name").desc()``), but not a ``Value`` nor the arguments that
    are no expression (``Collate``'s collation, ``Extract``'s lookup)."""
    fields: list[str] = []
    pending = list(reversed(expressions))
    while pending:
        node = pending.pop()
        name = _string(node)
        if name is not None:
            field = name.split("__")[0]
            if field not in fields:
                fields.append(field)
        elif isinstance(node, ast.Call):
            function = _callee(node)
            if isinstance(node.func, ast.Attribute) and function in _ORDERINGS:
                pending.append(node.func.value)  # Lower("name").desc()
                continue
            arguments = node.args[: _EXPRESSION_ARGUMENTS.get(function, len(node.args))]
            pending.extend(reversed(arguments))
    return tuple(fields)


_ORDERINGS = frozenset({"asc", "desc"})
# Functions whose arguments after the first few are no expression (a string there is no field).
_EXPRESSION_ARGUMENTS = {"Value": 0, "Collate": 1, "Extract": 1, "Trunc": 1}


# Sentry's own operations, read as Django's (``SafeRunSQL`` adds statement timeouts;
# ``deletion_action`` says whether ``SafeRemoveField``/``SafeDeleteModel`` drop).
_SENTRY_OPERATIONS = frozenset({"SafeRemoveField", "SafeDeleteModel", "SafeRunSQL"})


def _name_of(node: ast.AST | None) -> str:
    """``DeletionAction.DELETE`` → ``DELETE``; a bare name → itself; else ``""``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _statement_list(
    node: ast.AST, source: str
) -> tuple[str | None, tuple[tuple[int, int, int], ...]]:
    """The SQL of ``RunSQL``'s list form: strings, or ``(sql, params)`` pairs whose
    parameters fill placeholders (``%s``) and change no table or column; ``None`` when any
    statement is computed. With it, where its statements' literals start in the file
    (:func:`~backout.sources.python_ast.string_pieces`), or ``()`` when one is not known."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None, ()
    statements: list[str] = []
    pieces: list[tuple[int, int, int]] | None = []
    offset = 0
    for item in node.elts:
        with_params = isinstance(item, (ast.List, ast.Tuple)) and len(item.elts) == 2
        if isinstance(item, (ast.List, ast.Tuple)) and not with_params:
            return None, ()  # not a (sql, params) pair
        literal = item.elts[0] if isinstance(item, (ast.List, ast.Tuple)) else item
        text = _string(literal)
        if text is None:
            return None, ()
        # The database driver's placeholders (%s, %(name)s) as PostgreSQL's ($1), padded to
        # their length so that positions in the statement stay where they were.
        statements.append(_PLACEHOLDER.sub(_as_parameter, text) if with_params else text)
        found = string_pieces(source, literal)
        if pieces is not None and found:
            pieces.extend((offset + start, line, column) for start, line, column in found)
        else:
            pieces = None
        offset += len(text) + len(_STATEMENT_SEPARATOR)
    return _STATEMENT_SEPARATOR.join(statements), tuple(pieces or ())


_STATEMENT_SEPARATOR = ";\n"
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?s")


def _as_parameter(match: re.Match[str]) -> str:
    return "$1".ljust(len(match.group(0)))


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_noop(node: ast.AST) -> bool:
    """``migrations.RunPython.noop`` / ``RunSQL.noop``: a declared, deliberate no-op."""
    return isinstance(node, ast.Attribute) and node.attr == "noop"


class DjangoMigrationReader:
    """Reads Django migration modules (``<app>/migrations/*.py``)."""

    name: ClassVar[str] = "Django migration"

    def wants(self, path: str) -> bool:
        """Python files in a ``migrations/`` package, Django's layout."""
        return is_django_migration(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """Yield the migration, or why it could not be read."""
        tree = parse_python(file, self.name, "class Migration")
        if not isinstance(tree, ast.Module):
            if tree is not None:
                yield tree
            return
        migration_class = next(
            (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"), None
        )
        if migration_class is None:
            return
        attributes: dict[str, ast.expr] = {}
        for statement in migration_class.body:
            if isinstance(statement, ast.Assign):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        attributes[target.id] = statement.value
        parts = file.path.split("/")
        # The folder above migrations/; at the checked root, link_django_app_labels names it.
        app_label = parts[-3] if len(parts) >= 3 else _ROOT_APP
        migration_name = parts[-1].removesuffix(".py")
        operations = _Operations(file.path, file.text() or "", app_label)
        listed = _listed_operations(attributes.get("operations"))
        changed_later = _changes_operations(migration_class, tree)
        if listed is None or changed_later is not None:
            where = changed_later or attributes.get("operations") or migration_class
            yield Computed(
                Location(
                    file.path, getattr(where, "lineno", 1), getattr(where, "col_offset", 0) + 1
                ),
                self.name,
                "`operations` is built at run time (not one list of operations written out), "
                "so what this migration changes cannot be checked",
            )
        operations.read(listed or [])
        yield from operations.problems
        has_irreversible = any(op.kind == IRREVERSIBLE_STEP for op in operations.up)
        up, down = tuple(operations.up), tuple(reversed(operations.down))
        from_sql = operations.from_sql
        yield Migration(
            Location(file.path, 1, 1),
            layout="django",
            engine="django",
            stream="/".join(parts[:-1]),
            version=migration_name,
            sort_key=version_key(migration_name),
            name=migration_name,
            down_location=Location(file.path, 1, 1),
            down_state=DOWN_PRESENT,
            down_reason="a step cannot be reversed" if has_irreversible else "",
            app_label=app_label,
            app_tables=tuple(sorted(operations.app_tables)),
            literal_tables=tuple(sorted(operations.literal_tables)),
            sql_steps=(
                tuple([i for i, op in enumerate(up) if id(op) in from_sql]),
                tuple([i for i, op in enumerate(down) if id(op) in from_sql]),
            ),
            migration_name=migration_name,
            dependencies=_pairs(attributes.get("dependencies")),
            replaces=_pairs(attributes.get("replaces")),
            up=up,
            down=down,
            generated_at=_generated_at(file.text() or ""),
        )


# The first line `makemigrations` (and `squashmigrations`) writes.
_GENERATED = re.compile(
    r"\A(?:[^\n]*\n){0,2}#\s*Generated by Django [^\n]*? on (?P<at>\d{4}-\d\d-\d\d \d\d:\d\d)"
)


_ROOT_APP = "app"
"""The label of an app whose ``migrations/`` is at the checked root until it is linked: the
name of that directory, unless its migrations say another."""


def _generated_at(text: str) -> str | None:
    """When ``makemigrations`` wrote the migration, from its header line, if it has one."""
    found = _GENERATED.match(text)
    return found["at"] if found else None


def _listed_operations(node: ast.AST | None) -> list[ast.expr] | None:
    """The operations of a list or tuple written out (or a sum of such: ``[...] + [...]``);
    ``None`` for anything computed."""
    if node is None:
        return []
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _listed_operations(node.left), _listed_operations(node.right)
        return None if left is None or right is None else left + right
    return None


def _changes_operations(migration: ast.ClassDef, module: ast.Module) -> ast.AST | None:
    """Where the migration's ``operations`` list is changed after it is assigned
    (``operations.append(...)``, ``operations += ...``, ``Migration.operations.extend(...)``,
    in the class body or the module): the first such place, or ``None``."""
    places = [*migration.body, *(s for s in module.body if s is not migration)]
    for statement in places:
        for node in _walk_outside_functions(statement):
            if isinstance(node, ast.AugAssign) and _names_operations(node.target):
                return node
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert")
                and _names_operations(node.func.value)
            ):
                return node
    return None


def _walk_outside_functions(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` that does not enter function bodies: a ``RunPython`` function's own
    ``operations`` list is not the migration's."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        pending.extend(ast.iter_child_nodes(current))


def _names_operations(node: ast.AST) -> bool:
    """``operations`` or ``Migration.operations``."""
    if isinstance(node, ast.Name):
        return node.id == "operations"
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "operations"
        and isinstance(node.value, ast.Name)
        and node.value.id == "Migration"
    )


def _pairs(node: ast.AST | None) -> tuple[tuple[str, str], ...]:
    value = _const(node)
    pairs = []
    for item in value if isinstance(value, tuple) else ():
        if isinstance(item, tuple) and len(item) == 2 and all(isinstance(v, str) for v in item):
            pairs.append((str(item[0]), str(item[1])))
    return tuple(pairs)


def link_django_app_labels(facts: FactSet) -> None:
    """Name each Django app by its label, once every migration is read.

    A migration is read alone, so its app label is first its directory's name. An app whose
    ``AppConfig.label`` is another (wagtail's ``wagtail/documents`` is ``wagtaildocs``,
    pretix's ``pretix/base`` is ``pretixbase``) has tables named after the label, and its
    migrations name the label in their ``dependencies`` on each other (and a squash in its
    ``replaces``): the label most of those use, when the directory's name is none of them,
    is the app's. Its migrations, and the tables they name after it, take that label; a
    table the SQL of a ``RunSQL`` names, or a model is given as written (``db_table``), keeps
    its name. Each migration is told the database backend the project's settings name
    (:func:`_link_backend`).
    """
    streams: dict[str, list[Migration]] = {}
    for migration in facts.of(Migration):
        if migration.engine == "django":
            streams.setdefault(migration.stream, []).append(migration)
    labels: dict[str, tuple[str, frozenset[str]]] = {}
    for stream, members in streams.items():
        label = _app_label(members, facts.root_name)
        if label is not None:
            literal = frozenset(t for m in members for t in m.literal_tables)
            labels[stream] = (label, literal)
    if streams:
        _link_user_model(facts)
        _link_backend(facts)
    if not labels:
        return

    def relabel(fact: Fact) -> Fact:
        if not isinstance(fact, Migration) or fact.engine != "django":
            return fact
        found = labels.get(fact.stream)
        return fact if found is None else _with_label(fact, *found)

    facts.replace_each(relabel)


def _link_user_model(facts: FactSet) -> None:
    """Name the table of ``settings.AUTH_USER_MODEL`` (:data:`USER_MODEL`) in the Django
    migrations of ``facts``: the one model the project's settings name
    (:class:`DjangoUserModel`), Django's ``auth.User`` when none does, not known (``""``,
    any table) when they name several or compute it."""
    labels = {fact.label.lower() for fact in facts.of(DjangoUserModel)}
    label = DEFAULT_USER_MODEL.lower() if not labels else labels.pop() if len(labels) == 1 else ""
    table = "_".join(label.split(".")) if label else ""

    def named(op: Operation) -> Operation:
        return replace(op, references=table) if op.references == USER_MODEL else op

    def link(fact: Fact) -> Fact:
        if not isinstance(fact, Migration) or fact.engine != "django":
            return fact
        if not any(op.references == USER_MODEL for op in (*fact.up, *fact.down)):
            return fact
        return replace(fact, up=tuple(map(named, fact.up)), down=tuple(map(named, fact.down)))

    facts.replace_each(link)


def _link_backend(facts: FactSet) -> None:
    """Give the Django migrations of ``facts`` the backend of the project's ``default``
    database (:attr:`Migration.django_backend`): the one the settings modules name
    (:class:`DjangoDatabase`); none when they name none, several, or compute it."""
    backends = {fact.backend for fact in facts.of(DjangoDatabase)}
    backend = backends.pop() if len(backends) == 1 else ""
    if not backend:
        return

    def link(fact: Fact) -> Fact:
        if not isinstance(fact, Migration) or fact.engine != "django":
            return fact
        return replace(fact, django_backend=backend)

    facts.replace_each(link)


def forget_settings_backend(facts: FactSet) -> None:
    """Take back the backend :func:`_link_backend` gave the Django migrations of ``facts``:
    the ``sql-dialect`` the user set decides their names' length."""

    def unlink(fact: Fact) -> Fact:
        if isinstance(fact, Migration) and fact.django_backend:
            return replace(fact, django_backend="")
        return fact

    facts.replace_each(unlink)


def _app_label(members: list[Migration], root_name: str) -> str | None:
    """The label the migrations of one app directory give it, when it is not the
    directory's name; else, for migrations at ``migrations/`` (the app checked from its own
    directory), the name of the checked directory, ``root_name``; ``None`` when the label
    read is right."""
    directory = members[0].app_label
    names = {m.migration_name for m in members}
    said = Counter(
        label
        for m in members
        for label, name in (*m.dependencies, *m.replaces)
        if name in names and name != m.migration_name
    )
    if directory in said:
        return None
    at_root = members[0].stream == "migrations"
    ranked = said.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        # Not said, or two labels as often (no telling which is the app's).
        return root_name if at_root and root_name and root_name != directory else None
    return ranked[0][0]


def _with_label(migration: Migration, label: str, literal: frozenset[str]) -> Migration:
    """``migration`` of the app labelled ``label``, its app tables named after it but those
    its app's migrations name as written (``literal``)."""
    old = migration.app_label or ""
    renamed = {
        table: label + table[len(old) :] for table in migration.app_tables if table not in literal
    }

    def named(op: Operation) -> Operation:
        table = renamed.get(op.table, op.table)
        new_name = renamed.get(op.new_name, op.new_name) if op.new_name else op.new_name
        references = renamed.get(op.references, op.references)
        if table == op.table and new_name == op.new_name and references == op.references:
            return op
        return replace(op, table=table, new_name=new_name, references=references)

    sql_up, sql_down = (set(steps) for steps in migration.sql_steps)
    return replace(
        migration,
        app_label=label,
        app_tables=tuple(sorted(renamed.values())),
        up=tuple([op if i in sql_up else named(op) for i, op in enumerate(migration.up)]),
        down=tuple([op if i in sql_down else named(op) for i, op in enumerate(migration.down)]),
    )
