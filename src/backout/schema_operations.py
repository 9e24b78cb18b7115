"""The schema changes a migration makes: operation kinds, :class:`Column`, :class:`Operation`.

Plain data with no dependency inside backout but :mod:`backout.models`, so that the SQL and
migration readers (``backout.sources``) and the schema model (:mod:`backout.schema_model`) can
both import it whichever of them is imported first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from backout.check_conditions import Condition
from backout.models import Location, direct_init

# Operation kinds. Strings, not an enum, so facts stay trivially picklable and readable in repr.
CREATE_TABLE = "create_table"
DROP_TABLE = "drop_table"
RENAME_TABLE = "rename_table"
ADD_COLUMN = "add_column"
DROP_COLUMN = "drop_column"
RENAME_COLUMN = "rename_column"
ALTER_TYPE = "alter_type"
SET_NOT_NULL = "set_not_null"
DROP_NOT_NULL = "drop_not_null"
SET_DEFAULT = "set_default"
DROP_DEFAULT = "drop_default"
ADD_CONSTRAINT = "add_constraint"
DROP_CONSTRAINT = "drop_constraint"
CREATE_ENUM = "create_enum"
CREATE_VIEW = "create_view"
DROP_VIEW = "drop_view"
"""``DROP VIEW``/``DROP MATERIALIZED VIEW``, Liquibase ``dropView`` (and the rollback Liquibase
generates for ``createView``): ``table`` is the view."""
DROP_ENUM = "drop_enum"
IRREVERSIBLE_STEP = "irreversible_step"
MODEL_TABLE = "model_table"
"""Django: the model whose default table name is ``table`` keeps its rows in the table
``new_name`` from now on (``Meta.db_table``, ``AlterModelTable``); later operations that name
the model's default table mean that one. Not a change to the database by itself."""
JOIN_TABLE = "join_table"
"""Django: the ``ManyToManyField`` ``column`` of the model whose default table name is
``table`` has the join table Django makes for it (no ``through=`` model), named ``new_name``
(its ``db_table``, with :data:`OWN_JOIN_TABLE`, or ``<model table>_<field>``), joining the
model to the one whose default table name is ``references`` (``""`` when computed); ``values``
are the two models' names, after which Django names the join table's columns
(:func:`join_columns`). An ``AlterField`` (``detail`` :data:`ALTERED_FIELD`) states the field
anew: ``new_name`` is its ``db_table`` or ``None``, and the schema model turns the change into
the renames Django's ``_alter_many_to_many`` makes. Not a change to the database by itself
(the ``CREATE_TABLE`` of the join table follows it)."""
OWN_JOIN_TABLE = "db_table"
"""``Operation.detail`` of a :data:`JOIN_TABLE` whose field names its join table
(``db_table=``): Django keeps that name through a ``RenameField``, ``RenameModel`` or
``AlterModelTable``."""
THROUGH_MODEL = "through"
"""``Operation.detail`` of a :data:`JOIN_TABLE` whose field now has a ``through=`` model (an
``AlterField``, in practice of a ``SeparateDatabaseAndState``'s ``state_operations``): its join
table is that model's table from then on, which Django no longer renames or drops with the
field or the models it joins."""
DELETE_MODEL = "DeleteModel"
"""``Operation.detail`` of the ``DROP_TABLE`` that Django's ``DeleteModel`` is: Django drops
the model's join tables with it."""
ORM_REMOVED = "orm_removed"
"""Django: the field ``column`` (or, with no column, the model) whose table is ``table``
leaves the models' state while the database keeps it (``SeparateDatabaseAndState`` with the
``RemoveField``/``DeleteModel`` in ``state_operations`` only; Sentry's ``SafeRemoveField`` and
``SafeDeleteModel`` with ``DeletionAction.MOVE_TO_PENDING``). The code of every release from
then on no longer reads it, so dropping it in a later release breaks none of them, until
:data:`ORM_ADDED` or a creation or drop of the column or table in the database. Not a change to
the database by itself."""
ORM_ADDED = "orm_added"
"""Django: the field ``column`` (or, with no column, the model) whose table is ``table`` enters
the models' state while the database is left alone (``SeparateDatabaseAndState`` with the
``AddField``/``CreateModel`` in ``state_operations`` only): the code reads it again, so what
:data:`ORM_REMOVED` said of it no longer holds. Not a change to the database by itself."""
REMOVE_FIELD = "RemoveField"
"""``Operation.detail`` of the ``DROP_COLUMN`` that Django's ``RemoveField`` is: for a
many-to-many field it drops the join table ``<model table>_<field>`` instead (the migration
does not say the field's type; the schema model knows the table)."""
IF_EXISTS = "if exists"
"""``Operation.detail`` of a SQL ``DROP COLUMN IF EXISTS``: where the table is known whole
and has no such column, the statement does nothing, so it drops nothing the old release has."""
ALTERED_FIELD = "AlterField"
"""``Operation.detail`` of the ``RENAME_COLUMN`` each Django ``AlterField`` carries: the field
``column`` is stored in the column ``new_name`` from now on (``column_def``). Django renames
the column when it differs from the field's column before (a ``ForeignKey`` ``author`` made
an ``IntegerField``: ``author_id`` → ``author``; a ``db_column`` given or taken away); the
schema model, which knows that column, turns it into that rename or into nothing."""

RENAME_MODEL = "RenameModel"
"""``Operation.detail`` of the ``RENAME_TABLE`` that Django's ``RenameModel`` is: no change to
the database when the model has its own ``db_table``."""
"""A step that cannot be undone: RunPython/RunSQL without reverse, an ``op.execute`` of code."""

IN_DATABASE_OPERATIONS = " in SeparateDatabaseAndState's database_operations"
"""The end of the ``detail`` of an :data:`IRREVERSIBLE_STEP` read there: Django takes the
pair for reversible, and the step itself raises ``NotImplementedError`` when ``migrate``
goes back, where a step of its own makes Django raise ``IrreversibleError`` first."""

# Constraint kinds.
UNIQUE = "unique"
CHECK = "check"
FOREIGN_KEY = "foreign_key"
PRIMARY_KEY = "primary_key"

# Down states.
DOWN_PRESENT = "present"
DOWN_MISSING = "missing"
DOWN_EMPTY = "empty"
DOWN_RAISES = "raises"

RESTATED = "restated"
"""``Operation.detail`` of a ``SET_NOT_NULL`` or ``DROP_NOT_NULL`` whose migration says the
column had that nullability already (Alembic ``alter_column(nullable=X,
existing_nullable=X)``, which autogenerate writes beside a type change). The database is told
it all the same, and the migration's word is only a claim: the judge takes it for the base's
nullability only when the history backout read does not know the column (one older than the
migrations), as it takes ``existing_type`` for the base's type."""

ORM_DEFAULT_ONLY = "orm default only"
"""``Operation.detail`` of an ``ADD_COLUMN`` whose migration gives a default that the ORM
applies, not the database: Django's model ``default=`` (it fills the existing rows, then
Django drops the database default), SQLAlchemy's ``default=`` without ``server_default=``."""

ALTERED_UNIQUE = "altered to unique"
"""``Operation.detail`` of the ``ADD_CONSTRAINT`` a Django ``AlterField`` stands for when
the field it restates is unique: a new constraint only if the column was not unique before."""

UNNAMED_PRIMARY_KEY = "primary key"
"""The name the schema model keeps a primary key under when it was given none, and the
``Operation.detail`` of the ``DROP_CONSTRAINT`` that MySQL's ``DROP PRIMARY KEY`` (or
Liquibase's ``dropPrimaryKey`` without a ``constraintName``) is."""

UNIQUE_TOGETHER = "unique together"
"""Django's ``unique_together``, which each ``AlterUniqueTogether`` states whole: the
``Operation.constraint`` of the ``DROP_CONSTRAINT`` it starts with, which drops every group
of the table but those its ``values`` name (:func:`unique_together_key`), the groups it keeps
or adds again after it."""


def join_columns(model: str, target: str) -> tuple[str, str]:
    """The columns of the join table Django makes for a many-to-many field of the model
    ``model`` to the model ``target`` (lower-case model names; ``target`` ``""`` when not
    known, whose column is then ``""``): ``<model>_id`` and ``<target>_id``, or
    ``from_<model>_id`` and ``to_<model>_id`` when the two have the same name (a field to
    ``"self"``), as ``create_many_to_many_intermediary_model`` names them."""
    if model == target:
        return f"from_{model}_id", f"to_{model}_id"
    return f"{model}_id", f"{target}_id" if target else ""


DJANGO_NAME_LENGTHS = {"postgres": 63, "mysql": 64, "oracle": 30}
"""The longest table name Django gives on each ``sql-dialect`` (and Oracle, which a
project's settings may name), its backend's ``connection.ops.max_name_length()``
(SQLite's is ``None``: no limit)."""


def join_table_name(table: str, field_name: str) -> str:
    """The default name of the join table of the many-to-many field ``field_name`` of the
    model whose table is ``table``, before :func:`django_name` shortens it: Django's
    ``_get_m2m_db_table``, ``<table>_<field>`` of the table with its quotes taken off
    (``strip_quotes``), which ``quote_name`` puts back: ``"library"."shelves"`` gives
    ``"library"."shelves_books"``."""
    if len(table) > 1 and table[0] == table[-1] == '"':
        return f'"{table[1:-1]}_{field_name}"'
    return f"{table}_{field_name}"


def django_name(name: str, limit: int | None) -> str:
    """The table name ``name`` as Django gives it a default one (``<app_label>_<model>``, a
    join table's ``<model table>_<field>``) on a database that takes names of ``limit``
    characters: ``django.db.backends.utils.truncate_name``, which cuts a longer one to
    ``limit - 4`` characters and ends it in the first 4 hex digits of its md5; of a name
    in a schema (``"library"."shelves_books"``, ``split_identifier``), the part after the
    schema alone (the quotes around ``name`` kept)."""
    if limit is None:
        return name
    quoted = len(name) > 1 and name[0] == name[-1] == '"'
    inner = name[1:-1] if quoted else name
    parts = inner.split('"."')
    namespace, table = (parts[0] + '"."', parts[1]) if len(parts) == 2 else ("", inner)
    if len(table) <= limit:
        return name
    digest = hashlib.md5(table.encode(), usedforsecurity=False).hexdigest()[:4]
    cut = namespace + table[: limit - 4] + digest
    return f'"{cut}"' if quoted else cut


def django_names(
    operations: tuple[Operation, ...], limit: int, kept: frozenset[str], sql: frozenset[int]
) -> tuple[Operation, ...]:
    """A Django migration's ``operations`` with the default table names they name shortened
    as Django shortens them for a database that takes names of ``limit`` characters
    (:func:`django_name`), but the tables given as written (``kept``: a ``db_table``, which
    Django never shortens) and those the SQL of a ``RunSQL`` names (the positions ``sql``)."""
    changed: list[Operation] | None = None
    for i, op in enumerate(operations):
        names = (op.table, op.new_name or "", op.references)
        if i in sql or all(len(name) <= limit or name in kept for name in names):
            continue
        table, new_name, references = (
            name if name in kept else django_name(name, limit) for name in names
        )
        if changed is None:
            changed = list(operations)
        changed[i] = replace(
            op, table=table, new_name=new_name or op.new_name, references=references
        )
    return operations if changed is None else tuple(changed)


def unique_together_key(columns: Sequence[str]) -> str:
    """The name the schema model keeps a Django ``unique_together`` group over ``columns``
    under: a key of its own, apart from a field's ``unique (column)``."""
    return f"{UNIQUE_TOGETHER} ({', '.join(columns)})"


FIELD_FOREIGN_KEY = "field foreign key"
"""Django's foreign key of a ``ForeignKey``/``OneToOneField``: Django names it after the table
it references (``<table>_<column>_<hash>_fk_<to table>_<to column>``), and an ``AlterField``
drops whichever foreign key holds the column and adds the new field's
(:func:`field_foreign_key`)."""


def field_foreign_key(column: str) -> str:
    """The name the schema model keeps the Django foreign key on ``column`` under."""
    return f"{FIELD_FOREIGN_KEY} ({column})"


def join_foreign_key(join: str, column: str, references: str, where: Location) -> Operation:
    """The foreign key Django gives the ``column`` of the many-to-many join table ``join``,
    referencing the table ``references`` (``""`` when not known)."""
    return Operation(
        ADD_CONSTRAINT,
        where,
        join,
        constraint=FOREIGN_KEY,
        constrained=(column,),
        detail=field_foreign_key(column),
        references=references,
    )


def unique_together_group(key: str) -> tuple[str, ...]:
    """The columns of the :func:`unique_together_key` ``key``."""
    return tuple(key[len(UNIQUE_TOGETHER) + 2 : -1].split(", "))


DROPPED_INDEX = "index"
"""``Operation.constraint`` of a ``DROP_CONSTRAINT`` that drops an index (``DROP INDEX``,
MySQL ``DROP KEY``): it was a constraint only if the index was unique. (:data:`PRIMARY_KEY`
there: it drops the table's primary key, whatever that is called.)"""

PLAIN_INDEX = "plain index"
"""``Operation.constraint`` of an ``ADD_CONSTRAINT`` that creates an index that is not unique
(``CREATE INDEX``, MySQL ``ADD INDEX``/``KEY``, ``KEY``/``INDEX``/``FULLTEXT`` in ``CREATE
TABLE``): no constraint, but on MySQL and MariaDB it holds its name among the table's keys
(an unnamed one is its first column's), which the next unnamed key avoids: after ``KEY (a)``,
``ADD UNIQUE (a)`` is ``a_2``, and ``DROP INDEX a`` drops the plain index."""

REDEFINED = "redefined"
COLUMNS_UNKNOWN = "columns unknown"
"""``detail`` of a CREATE_TABLE whose columns come from a query (``CREATE TABLE … AS SELECT``,
``SELECT … INTO``, MySQL's ``CREATE TABLE … LIKE``): the table is new, its columns unknown."""
"""``Operation.detail`` of an ``ALTER_TYPE`` that restates the whole column (nullability and
default included): MySQL ``MODIFY``/``CHANGE``, Django ``AlterField``."""


@direct_init
@dataclass(frozen=True)
class Column:
    """A column as declared: ``type`` lower-cased as written (``varchar(50)``, ``bigint``)."""

    name: str
    type: str | None = None
    nullable: bool = True
    has_default: bool = False
    generated: bool = False
    """Generated (``GENERATED … STORED``), identity or serial: the database fills it."""
    unique: bool = False
    """Declared unique on its own (``UNIQUE``, a primary key, Django ``unique=True`` or a
    ``OneToOneField``): a new UNIQUE constraint that includes it restricts nothing more."""
    sqlite_nullable: bool = False
    """NOT NULL only because it is in the primary key, which SQLite does not make NOT NULL
    (a legacy of its early versions): nullable there unless the key is the rowid alias
    (a one-column key whose type is written ``INTEGER``, but not a column declared
    ``INTEGER PRIMARY KEY DESC``) or the table is ``WITHOUT ROWID``.
    PostgreSQL and MySQL make every key column NOT NULL."""
    primary_key: bool = False
    """Declared ``PRIMARY KEY`` on the column itself: the table's key, which PostgreSQL names
    ``<table>_pkey`` and MySQL drops with ``DROP PRIMARY KEY``."""
    unique_key: bool = False
    """Declared ``UNIQUE`` on the column itself (SQL; Alembic, Django ``unique=True``; Liquibase
    ``unique``): a key of its own, unnamed,
    which a redundant unique index on the column does not take away when it is dropped."""
    field: str = ""
    """Django: the model field the column stores, when the column has another name (a
    ``ForeignKey`` ``author`` is the column ``author_id``) or ``db_column`` names it."""
    own_column: bool = False
    """Django: the field's ``db_column`` names the column, so a ``RenameField`` keeps it
    (even ``db_column="author_id"`` on a ``ForeignKey`` ``author``)."""


def declared_column(
    name: str,
    type_text: str | None,
    nullable: bool,
    has_default: bool,
    generated: bool,
    *,
    primary: bool,
    unique_key: bool,
) -> Column:
    """A column an ORM declares (Alembic ``sa.Column``, a Django field): its name lower-cased,
    unique when it is the primary key or declared unique on its own."""
    return Column(
        name.lower(),
        type_text,
        nullable,
        has_default,
        generated,
        primary or unique_key,
        primary_key=primary,
        unique_key=unique_key,
    )


def with_primary_key(
    columns: tuple[Column, ...], keys: Sequence[str], *, sqlite_enforced: bool = False
) -> tuple[Column, ...]:
    """``columns`` of a new table whose table-level ``PRIMARY KEY (keys)`` makes its columns
    NOT NULL (on SQLite only when ``sqlite_enforced``: see :attr:`Column.sqlite_nullable`),
    and unique when the key is one column."""
    wanted = {key.lower() for key in keys}
    if not wanted:
        return columns
    alone = len(wanted) == 1
    return tuple(
        replace(
            c,
            nullable=False,
            unique=c.unique or alone,
            sqlite_nullable=(c.nullable or c.sqlite_nullable) and not sqlite_enforced,
        )
        if c.name.lower() in wanted
        else c
        for c in columns
    )


# SQLite takes a type name in quotes as the name (``"INTEGER"``, ``'INTEGER'``, ```INTEGER```,
# ``[INTEGER]``: each is the rowid alias, as sqlite3 shows).
_ROWID_ALIAS_TYPE = re.compile(
    r"""(?:integer|"integer"|'integer'|`integer`|\[integer\])(?![\w$])""", re.I
)


def written_integer(text: str, offset: int) -> bool:
    """Whether the column type written at ``offset`` of ``text`` is ``INTEGER`` in those
    letters (not ``INT``, ``BIGINT``), quoted or not: SQLite's rowid alias needs exactly
    that word."""
    return _ROWID_ALIAS_TYPE.match(text, offset) is not None


# A default written as SQL text that is NULL: ``NULL`` (in parentheses or not), with
# PostgreSQL's casts (``NULL::character varying``, how ``pg_dump`` and Liquibase's
# generateChangeLog write a typed NULL) or as ``CAST(NULL AS text)``.
_NULL_DEFAULT = re.compile(
    r"""\s*(?:\(\s*)*(?:null|cast\s*\(\s*null\s+as\s+[^()]+(?:\([\d\s,]*\))?\s*\))(?:\s*\))*"""
    r"""(?:\s*::\s*["a-z_][\w ."]*(?:\([\d\s,]*\))?(?:\s*\[\s*\])*)*\s*""",
    re.I,
)


def is_null_default(text: str) -> bool:
    """Whether the default expression ``text`` is NULL: a NOT NULL column with only that
    default has none the old release's INSERTs can rely on."""
    return _NULL_DEFAULT.fullmatch(text) is not None


def as_sqlite(operations: tuple[Operation, ...]) -> tuple[Operation, ...]:
    """``operations`` as SQLite runs them: a column NOT NULL only by its primary key is
    nullable (:attr:`Column.sqlite_nullable`)."""
    if not any(_sqlite_nullable(op) for op in operations):
        return operations
    return tuple(
        replace(
            op,
            columns=tuple(_as_sqlite_column(c) for c in op.columns),
            column_def=_as_sqlite_column(op.column_def) if op.column_def else None,
        )
        if _sqlite_nullable(op)
        else op
        for op in operations
    )


def _sqlite_nullable(op: Operation) -> bool:
    return any(c.sqlite_nullable for c in op.columns) or bool(
        op.column_def and op.column_def.sqlite_nullable
    )


def _as_sqlite_column(column: Column) -> Column:
    if not column.sqlite_nullable:
        return column
    return replace(column, nullable=True, sqlite_nullable=False)


@direct_init
@dataclass(frozen=True)
class Operation:
    """One schema change a migration makes, at the position of the value it names.

    ``table``/``column`` are lower-case unquoted names without schema. ``new_name`` is the
    target of a rename. ``column_def`` describes an added column (``ADD_COLUMN``) or the new
    shape of an altered one (MySQL ``MODIFY``, Django ``AlterField``); ``columns`` the new
    table's columns (``CREATE_TABLE``). ``old_type`` is the type the migration itself states
    was there before (Alembic ``existing_type``); the base schema is consulted otherwise.
    """

    kind: str
    location: Location
    table: str = ""
    column: str | None = None
    new_name: str | None = None
    column_def: Column | None = None
    columns: tuple[Column, ...] = ()
    old_type: str | None = None
    constraint: str | None = None
    constrained: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    """Enum labels (``CREATE_ENUM``); the Django ``unique_together`` groups an
    ``AlterUniqueTogether`` states (the ``DROP_CONSTRAINT`` of :data:`UNIQUE_TOGETHER`)."""
    detail: str = ""
    """What the step is, in words, when the kind alone does not say (``RunPython forwards``)."""
    references: str = ""
    """For a FOREIGN KEY ``ADD_CONSTRAINT``: the table it references, lower-cased, without
    its schema (``""`` when the migration does not say)."""
    by_field: bool = False
    """Django: ``column``, ``new_name``, ``constrained`` (and the groups of an
    ``AlterUniqueTogether``) name model fields, which the schema model turns into their
    columns (:attr:`Column.field`): a ``RemoveField``, ``RenameField``, state-only removal or
    addition, ``AddConstraint`` or ``unique_together`` of a ``ForeignKey`` ``author`` changes
    the column ``author_id``."""
    condition: Condition = ()
    """For a CHECK ``ADD_CONSTRAINT``: its condition, where the reader knows it
    (:mod:`backout.check_conditions`)."""
    dropped_alongside: tuple[str, ...] = ()
    """For an unnamed FOREIGN KEY ``ADD_CONSTRAINT`` of a MySQL ``ALTER TABLE``: the foreign
    keys the same statement drops (``DROP FOREIGN KEY``). InnoDB still counts them when it
    numbers the new key (``t_ibfk_<N>``, checked on MariaDB 10.11), and the key may be one
    of them added again."""
    nulls_not_distinct: bool = False
    """For a UNIQUE ``ADD_CONSTRAINT``: ``NULLS NOT DISTINCT`` (PostgreSQL 15), under which
    rows whose key columns are NULL are equal to one another."""


def constraint_name(op: Operation) -> str:
    """The name the migration gives the constraint ``op`` (an ``ADD_CONSTRAINT``) adds;
    ``""`` when the database or Django names it (an ``AlterField``'s ``unique=True``, a
    ``unique_together`` group, a ``ForeignKey``'s foreign key)."""
    if op.detail == ALTERED_UNIQUE or op.detail.startswith(
        (f"{UNIQUE_TOGETHER} (", f"{FIELD_FOREIGN_KEY} (")
    ):
        return ""
    return op.detail


@dataclass(frozen=True)
class DialectRead:
    """The operations of a SQL migration as read with one dialect's grammar, or why not."""

    dialect: str
    up: tuple[Operation, ...] = ()
    down: tuple[Operation, ...] = ()
    readable: bool = True
