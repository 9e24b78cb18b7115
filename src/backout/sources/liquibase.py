"""Liquibase XML, YAML and JSON changelogs → one :class:`Migration` fact per ``changeSet``.

A file is a changelog when its root is ``databaseChangeLog``; the bytes are searched for that
word before anything is parsed, so the other XML, YAML and JSON files of a repository cost a
substring search (their YAML is parsed by the readers that want it, once, and cached).

XML is read with the standard library's expat parser (:mod:`backout.sources.xmlfile`), which
gives each element's line and column. A document that declares entities is refused (BK901)
rather than expanded: entity expansion is what "billion laughs" files use to make parsers
hang, and no changelog needs it.
YAML and JSON (a JSON changelog is valid YAML) go through :func:`yamlfile.yaml_documents`.
Both become the same small element tree, so one reader handles the three formats.

Each change becomes :class:`~backout.schema_operations.Operation` objects (``createTable``,
``addColumn``, ``dropColumn``, ``modifyDataType``, ``addNotNullConstraint``, ``sql``…). The
down operations follow Liquibase's own rules: an explicit ``rollback`` (changes, SQL text, a
``changeSetId`` reference, or an empty element that declares a no-op) is the down; otherwise
each change's automatic inverse is (``createTable`` → ``dropTable``, ``addColumn`` →
``dropColumn``, renames reversed…, in reverse order), and a change with no inverse
(``dropTable``, ``dropColumn``, ``modifyDataType``, ``sql``, ``sqlFile``, ``insert``…) leaves
the changeset without a down. The list of inverses is Liquibase's: the change classes of
``liquibase-standard`` that implement ``createInverses()``.

``include`` and ``includeAll`` become :class:`ChangelogInclude` facts, which
:func:`backout.changelog_order.order_changelogs` follows to order changesets as Liquibase runs
them. A reader sees one file: a ``sqlFile`` change becomes a
:class:`~backout.sources.liquibase_sql_files.SqlFileChange` fact saying where its operations go
among the changeset's, and :func:`~backout.sources.liquibase_sql_files.link_sql_files` reads
the file into the changeset once every file is read. ``dbms`` on a changeset or change keeps
it to the dialects it names (PostgreSQL, MySQL/MariaDB, SQLite; a change only for Oracle,
say, runs in none of them), and so do ``preConditions`` on the database type
(``<dbms type="mysql"/>`` under ``and``/``or``/``not``, unless ``onFail="WARN"``):
:attr:`Migration.dialects` says where a changeset runs. ``context``, ``labels`` and other
preconditions are not evaluated: every changeset counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from backout.models import Location
from backout.schema_operations import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_TYPE,
    CREATE_TABLE,
    CREATE_VIEW,
    DOWN_EMPTY,
    DOWN_MISSING,
    DOWN_PRESENT,
    DROP_COLUMN,
    DROP_CONSTRAINT,
    DROP_DEFAULT,
    DROP_NOT_NULL,
    DROP_TABLE,
    DROP_VIEW,
    DROPPED_INDEX,
    FOREIGN_KEY,
    PRIMARY_KEY,
    RENAME_COLUMN,
    RENAME_TABLE,
    SET_DEFAULT,
    SET_NOT_NULL,
    UNIQUE,
    UNNAMED_PRIMARY_KEY,
    Column,
    DialectRead,
    Operation,
    is_null_default,
    with_primary_key,
)
from backout.sources import yamlfile
from backout.sources.base import Fact, SourceFile, SqlUnreadable, Unreadable
from backout.sources.liquibase_sql_files import SqlFileChange
from backout.sources.migration_facts import (
    ChangelogInclude,
    ChangelogProperty,
    Migration,
    version_key,
)
from backout.sources.paths import LIQUIBASE_READER as READER
from backout.sources.paths import is_liquibase_changelog
from backout.sources.xmlfile import Element as _Element
from backout.sources.xmlfile import read_xml

if TYPE_CHECKING:
    from backout.sources.sql import BodyReads

_ROOT = "databaseChangeLog"
DIALECTS = ("postgres", "mysql", "sqlite")
"""The dialects whose SQL backout reads, PostgreSQL first (the read facts hold first)."""
_ALL_DIALECTS = frozenset(DIALECTS)
# Liquibase's ``dbms`` names of the databases whose SQL backout reads.
_DBMS_DIALECT = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
# Children of a changeSet that are not changes.
_NOT_CHANGES = frozenset(
    ("comment", "preConditions", "precondition", "rollback", "validCheckSum", "modifySql")
)
# Changes whose inverse Liquibase generates (their class implements ``createInverses()``);
# every other change has no automatic rollback.
_AUTO_ROLLBACK = frozenset(
    (
        "addColumn",
        "addDefaultValue",
        "addForeignKeyConstraint",
        "addLookupTable",
        "addNotNullConstraint",
        "addPrimaryKey",
        "addUniqueConstraint",
        "createIndex",
        "createSequence",
        "createTable",
        "createView",
        "dropNotNullConstraint",
        "empty",
        "output",
        "renameColumn",
        "renameSequence",
        "renameTable",
        "renameView",
        "tagDatabase",
    )
)
_NO_ROLLBACK_WORDS = frozenset(("", "empty", "not required", "not required;", "empty;"))
_DEFAULT_ATTRIBUTES = (
    "defaultValue",
    "defaultValueComputed",
    "defaultValueNumeric",
    "defaultValueBoolean",
    "defaultValueDate",
    "defaultValueSequenceNext",
    "defaultValueBit",
)
# The defaultValue* attributes whose value, when it is no literal Liquibase can parse, is
# written into the SQL as it stands (a ``DatabaseFunction``): ``NULL`` there is no default.
_DEFAULT_EXPRESSIONS = frozenset(
    ("defaultValueComputed", "defaultValueNumeric", "defaultValueDate")
)
_MAX_YAML_DEPTH = 64
# The key that holds what XML writes as an element's text, by element.
_TEXT_KEYS = {"sql": "sql", "createView": "selectQuery", "rollback": "sql", "comment": "comment"}


class LiquibaseChangelogReader:
    """Reads Liquibase XML, YAML and JSON changelogs (see the module docstring)."""

    name: ClassVar[str] = READER

    def wants(self, path: str) -> bool:
        """XML, YAML and JSON files: changelogs are told apart by their content."""
        return is_liquibase_changelog(path)

    def read(self, file: SourceFile) -> list[Fact]:
        """One migration per changeset, one include per include, or why the file is
        unreadable; nothing for a file that is not a changelog."""
        if _ROOT.encode() not in file.data:
            return []
        root = (
            read_xml(file, READER, _ROOT, "changelog")
            if file.path.lower().endswith(".xml")
            else _read_yaml(file)
        )
        if root is None:
            return []
        if isinstance(root, Unreadable):
            return [root]
        return list(_Changelog(file.path, root).facts())


# --- YAML and JSON ----------------------------------------------------------------------------


# ``databaseChangeLog`` as a top-level key: at the start of a line in YAML, the first key of
# the object in JSON (or YAML's flow style).
_ROOT_KEY = re.compile(
    rb"(?m)^(?:\xef\xbb\xbf)?"
    rb"""(?:["']?databaseChangeLog["']?[ \t]*:|\s*\{\s*["']?databaseChangeLog)"""
)


def _read_yaml(file: SourceFile) -> _Element | Unreadable | None:
    documents = yamlfile.yaml_documents(file, READER)
    if isinstance(documents, Unreadable):
        # A file that fails to parse is this reader's to report only when it is a changelog
        # by the look of it: a Helm template that carries one as ConfigMap data, or a broken
        # manifest whose comment names the word, is another reader's (or nobody's) input.
        if _ROOT_KEY.search(file.data) is None:
            return None
        reason = documents.reason
        if file.path.lower().endswith(".json"):  # read as YAML, of which JSON is a subset
            reason = reason.replace("invalid YAML", "invalid JSON", 1)
        # The node trees are cached with the first reader's name: report under this one's.
        return Unreadable(documents.location, READER, reason)
    for document in documents:
        key_node = yamlfile.key_node(document, _ROOT)
        value = yamlfile.get(document, _ROOT)
        if key_node is None or value is None:
            continue
        root = _Element(_ROOT, yamlfile.location(file.path, key_node))
        for item in yamlfile.elements(value):
            root.children.extend(_yaml_items(file.path, item, 0))
        return root
    return None


def _yaml_items(path: str, node: yamlfile.Node, depth: int) -> list[_Element]:
    """The elements a list item stands for: ``- createTable: {...}`` is one."""
    return [
        _yaml_element(path, key, key_node, value, depth)
        for key, key_node, value in yamlfile.entries(node)
    ]


def _yaml_element(
    path: str, name: str, key_node: yamlfile.Node, node: yamlfile.Node, depth: int
) -> _Element:
    element = _Element(name, yamlfile.location(path, key_node))
    if depth > _MAX_YAML_DEPTH:
        return element
    if isinstance(node, yamlfile.ScalarNode):
        _set_text(element, path, node)
    elif isinstance(node, yamlfile.SequenceNode):
        for item in yamlfile.elements(node):
            if isinstance(item, yamlfile.ScalarNode):
                _set_text(element, path, item)
            else:
                element.children.extend(_yaml_items(path, item, depth + 1))
    else:
        for key, child_key, value in yamlfile.entries(node):
            if isinstance(value, yamlfile.ScalarNode):
                if key == "rollback":  # ``rollback: DROP TABLE …``: the SQL to roll back with
                    element.children.append(_yaml_element(path, key, child_key, value, depth + 1))
                elif key == _TEXT_KEYS.get(name):
                    _set_text(element, path, value)
                else:
                    text = yamlfile.text_of(value)
                    if text is not None or key not in _DEFAULT_ATTRIBUTES:
                        # A null default (``defaultValue:``) is none; ``''`` is the empty string.
                        element.attrs[key] = text or ""
            elif isinstance(value, yamlfile.SequenceNode) and key in ("changes", "columns"):
                # ``changes:`` and ``columns:`` hold what XML writes as child elements.
                for item in yamlfile.elements(value):
                    element.children.extend(_yaml_items(path, item, depth + 1))
            else:
                element.children.append(_yaml_element(path, key, child_key, value, depth + 1))
    return element


def _set_text(element: _Element, path: str, node: yamlfile.Node) -> None:
    element.text = yamlfile.text_of(node) or ""
    mark = node.start_mark
    style = getattr(node, "style", None)
    if style in ("|", ">"):
        # A block scalar's text starts on the line after its indicator.
        element.text_line, element.text_column = mark.line + 2, 1
    else:
        quoted = 1 if style in ("'", '"') else 0
        element.text_line, element.text_column = mark.line + 1, mark.column + 1 + quoted


# --- Changesets ------------------------------------------------------------------------------


def _name(value: str) -> str:
    """A table or column name as operations hold it: unquoted, lower case."""
    return value.strip().strip('"`[]').lower()


def _names(value: str) -> tuple[str, ...]:
    return tuple(_name(part) for part in value.split(",") if part.strip())


def _dialects(dbms: str, inherited: frozenset[str]) -> frozenset[str]:
    """The backout dialects a ``dbms`` attribute keeps (``postgresql, !mysql``, ``all``…)."""
    names = [part.strip().lower() for part in dbms.split(",") if part.strip()]
    if not names:
        return inherited
    wanted = {name for name in names if not name.startswith("!")}
    unwanted = {name[1:].strip() for name in names if name.startswith("!")}
    if "none" in wanted:
        return frozenset()
    if wanted and "all" not in wanted:
        chosen = {_DBMS_DIALECT[name] for name in wanted if name in _DBMS_DIALECT}
    else:
        chosen = set(_ALL_DIALECTS)
    chosen -= {_DBMS_DIALECT[name] for name in unwanted if name in _DBMS_DIALECT}
    return frozenset(chosen) & inherited


# How a failed precondition ends the changeset: these skip it (MARK_RAN records it as run);
# HALT (the default) stops the update, so the changeset does not run either. WARN runs it.
_PRECONDITION_SKIPS = frozenset(("MARK_RAN", "CONTINUE", "HALT"))


def _precondition_dialects(conditions: _Element) -> frozenset[str]:
    """The dialects a changeset's ``preConditions`` may let it run on: its ``dbms`` checks
    (under ``and``/``or``/``not``), every other check counting as may-pass-or-fail."""
    on_fail = conditions.attr("onFail")
    for child in conditions.named("onFail"):  # YAML: ``- onFail: MARK_RAN`` in the list
        on_fail = child.text.strip()
    if (on_fail or "HALT").upper() not in _PRECONDITION_SKIPS:
        return _ALL_DIALECTS
    return _condition_bounds(conditions, "and")[1]


def _condition_bounds(element: _Element, kind: str) -> tuple[frozenset[str], frozenset[str]]:
    """The dialects on which the condition surely holds, and those on which it may."""
    if kind == "dbms":
        chosen = _dialects(element.attr("type"), _ALL_DIALECTS)
        return chosen, chosen
    if kind not in ("and", "or", "not"):
        return frozenset(), _ALL_DIALECTS
    parts = [
        _condition_bounds(child, child.name)
        for child in element.children
        if child.name not in ("onFail", "onError", "onFailMessage", "onErrorMessage")
    ]
    if kind == "not":  # ``not`` holds when each nested condition fails
        parts = [(_ALL_DIALECTS - upper, _ALL_DIALECTS - lower) for lower, upper in parts]
    if not parts:
        return _ALL_DIALECTS, _ALL_DIALECTS
    lowers, uppers = [lower for lower, _ in parts], [upper for _, upper in parts]
    if kind == "or":
        return frozenset().union(*lowers), frozenset().union(*uppers)
    return frozenset(_ALL_DIALECTS.intersection(*lowers)), frozenset(
        _ALL_DIALECTS.intersection(*uppers)
    )


def read_sql(text: str, path: str, line: int, column: int, end_delimiter: str) -> BodyReads:
    """SQL of a changelog (a ``sql`` change, a rollback's text, a ``sqlFile``'s file) read
    with every grammar, as Liquibase sends it: ``endDelimiter`` lines made ``;`` and ``${…}``
    properties read past, at ``line``:``column`` of ``path``."""
    from backout.sources.migrations import _with_semicolons, _without_placeholders
    from backout.sources.sql import SqlText, read_bodies

    if end_delimiter and end_delimiter != ";":
        text = _with_semicolons(text, end_delimiter)
    return read_bodies(SqlText(_without_placeholders(text), path, line, column), None)


class _Steps:
    """Operations gathered per dialect (a change may be for some databases only), the SQL
    that some grammar could not read, and the ``sqlFile`` changes whose operations go in
    once their files are read (:mod:`backout.sources.liquibase_sql_files`)."""

    def __init__(self) -> None:
        self.ops: dict[str, list[Operation]] = {dialect: [] for dialect in DIALECTS}
        self.problems: list[SqlUnreadable] = []
        self.readable = True
        self.files: list[tuple[_Element, frozenset[str], tuple[int, ...]]] = []

    def add(self, ops: Iterable[Operation], dialects: frozenset[str]) -> None:
        ops = list(ops)
        for dialect in DIALECTS:
            if dialect in dialects:
                self.ops[dialect].extend(ops)

    def add_sql(
        self,
        text: str,
        path: str,
        line: int,
        column: int,
        element: _Element,
        dialects: frozenset[str],
    ) -> None:
        reads = read_sql(text, path, line, column, element.attr("endDelimiter"))
        by_dialect = {read.dialect: read for read in reads.dialect_reads}
        for dialect in DIALECTS:
            if dialect not in dialects:
                continue
            read = by_dialect.get(dialect)
            self.ops[dialect].extend(read.up if read is not None else reads.up)
        for problem in reads.problems:
            if problem.dialect in dialects:
                self.problems.append(problem)
                if problem.dialect == "postgres":
                    self.readable = False

    def add_file(self, change: _Element, dialects: frozenset[str]) -> None:
        """A ``sqlFile`` change: its operations go here, in ``dialects``, once read."""
        self.files.append((change, dialects, tuple(len(self.ops[d]) for d in DIALECTS)))

    def add_steps(self, earlier: _Steps, dialects: frozenset[str]) -> None:
        """The operations of ``earlier`` (a changeset a rollback names), in ``dialects``."""
        for change, their_dialects, places in earlier.files:
            if their_dialects & dialects:
                shifted = tuple(
                    len(self.ops[d]) + at for d, at in zip(DIALECTS, places, strict=True)
                )
                self.files.append((change, their_dialects & dialects, shifted))
        for dialect in DIALECTS:
            if dialect in dialects:
                self.ops[dialect].extend(earlier.ops[dialect])

    def file_changes(self, changeset: Location, rollback: bool) -> Iterator[SqlFileChange]:
        """The facts of the ``sqlFile`` changes, for the changeset at ``changeset``."""
        for change, dialects, places in self.files:
            yield SqlFileChange(
                change.location,
                changeset=changeset,
                target=change.attr("path"),
                relative=bool(change.flag("relativeToChangelogFile")),
                rollback=rollback,
                places=places,
                dialects=tuple(d for d in DIALECTS if d in dialects),
                end_delimiter=change.attr("endDelimiter"),
                encoding=change.attr("encoding"),
            )


class _Changelog:
    """One changelog file's facts."""

    def __init__(self, path: str, root: _Element) -> None:
        self.path = path
        directory, slash, name = path.rpartition("/")
        self.stream = directory if slash else "."
        self.file_key = version_key(name)
        self.root = root
        self.format = "XML" if path.lower().endswith(".xml") else "YAML"
        # Up operations of the changesets read so far, by ``id`` and ``author:id``, for a
        # ``rollback changeSetId=…`` that reuses them.
        self.done: dict[str, _Steps] = {}
        # Facts of the changeset being read, yielded before it: SQL that could not be read,
        # its ``sqlFile`` changes.
        self.problems: list[Fact] = []
        # The ``rollback changeSetPath`` of the changeset being read, when it is another file.
        self.reference: tuple[str, str] | None = None

    def facts(self) -> Iterator[Fact]:
        position = 0
        for element in self.root.children:
            if element.name == "changeSet" and element.attr("id"):
                migration = self.changeset(element, position)
                yield from self.problems
                self.problems = []
                yield migration
                position += 1
            elif element.name == "property" and element.attr("name"):
                # A ``file=`` of properties is not read: its names stay unknown.
                if "value" in element.attrs:
                    yield ChangelogProperty(
                        element.location,
                        name=element.attr("name"),
                        value=element.attr("value"),
                        is_global=element.flag("global") is not False,
                    )
            elif element.name in ("include", "includeAll"):
                directory = element.name == "includeAll"
                target = element.attr("path" if directory else "file")
                if target:
                    missing = element.flag(
                        "errorIfMissingOrEmpty" if directory else "errorIfMissing"
                    )
                    yield ChangelogInclude(
                        element.location,
                        target=target,
                        position=position,
                        # Absent, false whatever the path starts with: ``./x`` and ``../x``
                        # are search-path paths (``PathResolver.path``).
                        relative=bool(element.flag("relativeToChangelogFile")),
                        directory=directory,
                        ends_with=element.attr("endsWithFilter") if directory else "",
                        min_depth=_whole(element.attr("minDepth"), 1),
                        max_depth=_whole(element.attr("maxDepth"), 0),
                        error_if_missing=missing is not False,
                        # Looked for all the same, its changesets ignored.
                        ignored=bool(element.flag("ignore")),
                    )
                position += 1

    def changeset(self, element: _Element, position: int) -> Migration:
        author, ident = element.attr("author"), element.attr("id")
        changeset = f"{author}:{ident}"
        dialects = _dialects(element.attr("dbms"), _ALL_DIALECTS)
        for conditions in element.named("preConditions") + element.named("precondition"):
            dialects &= _precondition_dialects(conditions)
        changes = [child for child in element.children if child.name not in _NOT_CHANGES]
        up = _Steps()
        for change in changes:
            self.change(change, up, dialects)
        self.done[ident] = self.done[changeset] = up
        rollbacks = element.named("rollback")
        self.reference = None
        down = _Steps()
        down_location: Location | None = None
        custom: tuple[str, ...] = ()
        if rollbacks:
            down_location = rollbacks[0].location
            state, reason = self.rollback(rollbacks, down, dialects, changeset)
        else:
            # A change for other databases only (``dbms="mssql"``) is skipped by the rollback
            # as by the update: it does not stop Liquibase from rolling back the rest.
            unsupported = list(
                dict.fromkeys(
                    c.name
                    for c in changes
                    if c.name not in _AUTO_ROLLBACK and _dialects(c.attr("dbms"), dialects)
                )
            )
            if unsupported:
                state = DOWN_MISSING
                if unsupported == ["customChange"]:
                    custom = tuple(
                        dict.fromkeys(
                            c.attr("class") or "(no class)"
                            for c in changes
                            if c.name == "customChange" and _dialects(c.attr("dbms"), dialects)
                        )
                    )
                written = "<rollback>" if self.format == "XML" else "`rollback:`"
                reason = (
                    f"changeset {changeset} has no {written}, and Liquibase cannot roll back "
                    f"{', '.join(unsupported)} by itself"
                )
            else:
                state, reason = DOWN_PRESENT, ""
                down_location = element.location
                for change in reversed(changes):
                    change_dialects = _dialects(change.attr("dbms"), dialects)
                    down.add(_inverse(change), change_dialects)
        in_transaction = element.flag("runInTransaction") is not False
        self.problems.extend(up.problems)
        self.problems.extend(down.problems)
        self.problems.extend(up.file_changes(element.location, rollback=False))
        self.problems.extend(down.file_changes(element.location, rollback=True))
        pg_up, pg_down = tuple(up.ops["postgres"]), tuple(down.ops["postgres"])
        reads = tuple(
            DialectRead(dialect, tuple(up.ops[dialect]), tuple(down.ops[dialect]))
            for dialect in DIALECTS[1:]
        )
        if all(read.up == pg_up and read.down == pg_down for read in reads):
            reads = ()
        return Migration(
            element.location,
            layout="liquibase",
            engine="liquibase",
            stream=self.stream,
            version=changeset,
            sort_key=(*self.file_key, (position, "")),
            name=changeset,
            down_location=down_location,
            down_state=state,
            down_reason=reason,
            down_custom_classes=custom,
            down_reference=self.reference,
            changeset=changeset,
            up=pg_up,
            down=pg_down,
            readable=up.readable and down.readable,
            dialect_reads=reads,
            up_transaction=in_transaction,
            down_transaction=in_transaction,
            dialects=None if dialects == _ALL_DIALECTS else tuple(sorted(dialects)),
        )

    def rollback(
        self, rollbacks: list[_Element], down: _Steps, dialects: frozenset[str], changeset: str
    ) -> tuple[str, str]:
        """Read explicit ``rollback`` elements into ``down``; the down state and reason."""
        anything = False
        for rollback in rollbacks:
            reference = rollback.attr("changeSetId")
            if reference:
                anything = True
                author = rollback.attr("changeSetAuthor")
                key = f"{author}:{reference}" if author else reference
                elsewhere = rollback.attr("changeSetPath")
                if elsewhere and not _names_file(elsewhere, self.path):
                    # Another file's changeset: found once every file is read.
                    self.reference = (elsewhere, key)
                    continue
                earlier = self.done.get(key)
                if earlier is not None:
                    down.add_steps(earlier, dialects)
            for change in rollback.children:
                anything = True
                self.change(change, down, dialects)
            sql = rollback.text
            if sql.strip().lower() not in _NO_ROLLBACK_WORDS:
                anything = True
                line = rollback.text_line or rollback.location.line
                down.add_sql(sql, self.path, line, rollback.text_column, rollback, dialects)
        if anything:
            return DOWN_PRESENT, ""
        return DOWN_EMPTY, f"changeset {changeset} declares an empty rollback"

    def change(self, change: _Element, steps: _Steps, inherited: frozenset[str]) -> None:
        """Add one change's operations to ``steps``."""
        dialects = _dialects(change.attr("dbms"), inherited)
        if not dialects:
            return
        kind = change.name
        if kind == "sql":
            line = change.text_line or change.location.line
            steps.add_sql(change.text, self.path, line, change.text_column, change, dialects)
        elif kind == "sqlFile":
            steps.add_file(change, dialects)
        else:
            steps.add(_operations(change), dialects)


def _whole(text: str, default: int) -> int:
    """A whole-number attribute (``maxDepth="2"``), or ``default`` when it is none."""
    return int(text) if text.isdecimal() else default


def _names_file(target: str, path: str) -> bool:
    """Whether the classpath path ``target`` (``classpath:db/a.xml``, ``/db/a.xml``) names the
    file at ``path`` of the tree: its end, as includes are matched."""
    from backout.changelog_order import names_path

    return names_path(target, path)


def _column(column: _Element, key_alone: bool = True) -> Column:
    """The column ``column`` declares. ``primaryKey: true`` makes it NOT NULL, and, unless
    the key is a constraint of its own (not ``key_alone``: other columns of its createTable
    are in the key too, or the key has a ``primaryKeyName``; :func:`_own_keys`), the table's
    key and unique, as ``PRIMARY KEY`` on an SQL column does. ``unique: true`` is the
    column's own unnamed key, but one that ``uniqueConstraintName`` names is a constraint of
    its own too."""
    constraints = column.named("constraints")
    nullable, unique, named_unique, primary_key = True, False, False, False
    for constraint in constraints:
        if constraint.flag("nullable") is False or constraint.flag("primaryKey"):
            nullable = False
        if constraint.flag("unique"):
            unique = True
            named_unique = named_unique or bool(constraint.attr("uniqueConstraintName"))
        if constraint.flag("primaryKey") and key_alone:
            primary_key = True
    has_default = _default(column) is True
    generated = bool(column.flag("autoIncrement")) or column.attr("type").lower() in (
        "serial",
        "bigserial",
        "smallserial",
    )
    return Column(
        _name(column.attr("name")),
        column.attr("type").lower() or None,
        nullable,
        has_default,
        generated,
        unique or primary_key,
        primary_key=primary_key,
        # Liquibase writes ``unique="true"`` as an inline ``UNIQUE`` (createTable, addColumn).
        unique_key=unique and not named_unique,
    )


def _default(element: _Element) -> bool | None:
    """Whether the defaultValue* attributes of ``element`` (a column, or an addDefaultValue)
    give a default other than NULL; None when it has none of them. As ColumnConfig reads
    them and the SQL generators write them:

    - ``defaultValue`` is kept as written: ``""`` is the empty string (``DEFAULT ''``,
      liquibase/liquibase#1920), and ``null`` in any case is ``DEFAULT null``, SQL NULL
      (``objectToSql`` of the types Liquibase knows turns the word into NULL; one it does
      not, such as MySQL's ENUM, writes ``'null'``, liquibase/liquibase#3444, which this
      does not tell apart);
    - ``defaultValueComputed``, and a ``defaultValueNumeric`` or ``defaultValueDate`` that
      is no number or date, is SQL as written: ``NULL``, ``NULL::character varying``
      (:func:`~backout.schema_operations.is_null_default`) is no default;
    - ``defaultValueBoolean`` is ``Boolean.valueOf``: anything but ``true`` is FALSE, a
      default, ``"null"`` included (XML's schema refuses it; YAML and JSON take it);
    - ``defaultValueSequenceNext`` is ``nextval('…')`` and ``defaultValueBit`` a bit, both
      defaults.

    A YAML null (``defaultValue:``) is no attribute at all; an empty value of the others is
    none either."""
    found: bool | None = None
    for name in _DEFAULT_ATTRIBUTES:
        raw = element.attrs.get(name)
        if raw is None or not (raw.strip() or name in ("defaultValue", "defaultValueBoolean")):
            continue
        if name == "defaultValue":
            found = raw.lower() != "null"
        elif name in _DEFAULT_EXPRESSIONS:
            found = not is_null_default(raw)
        else:
            found = True
        if found:
            return True
    return found


def _primary_key_name(key_columns: list[_Element]) -> str:
    """The name of a createTable's primary key over ``key_columns``: the first one's
    ``primaryKeyName``, as ``CreateTableStatement`` takes the first key column's constraint
    for the table's and adds the others' columns to it."""
    first = key_columns[0].named("constraints") if key_columns else []
    return next((k.attr("primaryKeyName") for k in first if k.attr("primaryKeyName")), "")


def _own_keys(
    table: str, columns: list[_Element], key_columns: list[_Element], key_name: str
) -> list[Operation]:
    """The keys the ``columns`` of a createTable or addColumn declare as constraints of their
    own, after them, as the SQL readers record a table's ``CONSTRAINT … PRIMARY KEY (a, b)``
    and ``UNIQUE``: the primary key over ``key_columns`` called ``key_name``
    (:func:`_primary_key_name`) and each ``unique`` that ``uniqueConstraintName`` names, so
    that a drop by that name drops it."""
    keys = []
    if key_columns:
        keys.append(
            Operation(
                ADD_CONSTRAINT,
                key_columns[0].location,
                table,
                constraint=PRIMARY_KEY,
                constrained=tuple(_name(c.attr("name")) for c in key_columns),
                detail=key_name,
            )
        )
    for column in columns:
        for constraint in column.named("constraints"):
            name = constraint.attr("uniqueConstraintName")
            if name and constraint.flag("unique"):
                keys.append(
                    Operation(
                        ADD_CONSTRAINT,
                        column.location,
                        table,
                        constraint=UNIQUE,
                        constrained=(_name(column.attr("name")),),
                        detail=name,
                    )
                )
    return keys


def _operations(change: _Element) -> list[Operation]:
    """The operations of one change (not ``sql``/``sqlFile``, which are read apart)."""
    kind = change.name
    where = change.location
    table = _name(change.attr("tableName"))
    column = _name(change.attr("columnName")) or None
    if kind == "createTable":
        columns = change.named("column")
        key_columns = [
            c for c in columns if any(k.flag("primaryKey") for k in c.named("constraints"))
        ]
        key_name = _primary_key_name(key_columns)
        # One unnamed key column is the column's own key, as ``id int PRIMARY KEY`` is in SQL;
        # a key over several columns, or a named one, a constraint of its own after the table.
        own = len(key_columns) > 1 or bool(key_name)
        # The key makes its columns NOT NULL, and unique when it is one column.
        declared = with_primary_key(
            tuple(_column(c, not own) for c in columns),
            [_name(c.attr("name")) for c in key_columns],
        )
        return [
            Operation(CREATE_TABLE, where, table, columns=declared),
            *_own_keys(table, columns, key_columns if own else [], key_name),
        ]
    if kind == "dropTable":
        return [Operation(DROP_TABLE, where, table)]
    if kind == "renameTable":
        return [
            Operation(
                RENAME_TABLE,
                where,
                _name(change.attr("oldTableName")),
                new_name=_name(change.attr("newTableName")),
            )
        ]
    if kind == "addColumn":
        columns = [c for c in change.named("column") if c.attr("name")]
        return [
            *(
                Operation(ADD_COLUMN, c.location, table, added.name, column_def=added)
                for c in columns
                if (added := _column(c)).name
            ),
            *_own_keys(table, columns, [], ""),
        ]
    if kind == "dropColumn":
        if column:
            return [Operation(DROP_COLUMN, where, table, column)]
        return [
            Operation(DROP_COLUMN, c.location, table, _name(c.attr("name")))
            for c in change.named("column")
            if c.attr("name")
        ]
    if kind == "mergeColumns":
        # Liquibase adds ``finalColumnName``, fills it from the two, and drops both.
        final = _name(change.attr("finalColumnName"))
        merged = Column(final, change.attr("finalColumnType").lower() or None)
        return [
            *([Operation(ADD_COLUMN, where, table, final, column_def=merged)] if final else []),
            *(
                Operation(DROP_COLUMN, where, table, _name(change.attr(attribute)))
                for attribute in ("column1Name", "column2Name")
                if change.attr(attribute)
            ),
        ]
    if kind == "renameColumn":
        old = _name(change.attr("oldColumnName"))
        return [
            Operation(
                RENAME_COLUMN, where, table, old, new_name=_name(change.attr("newColumnName"))
            )
        ]
    if kind == "modifyDataType":
        new_type = change.attr("newDataType").lower()
        return [
            Operation(ALTER_TYPE, where, table, column, column_def=Column(column or "", new_type))
        ]
    if kind == "addDefaultValue" and _default(change) is False:
        # ``SET DEFAULT null``: an INSERT that leaves the column out gets NULL, as it does
        # once the default is dropped.
        return [Operation(DROP_DEFAULT, where, table, column)]
    simple = _COLUMN_CHANGES.get(kind)
    if simple is not None:
        return [Operation(simple, where, table, column)]
    if kind == "addUniqueConstraint":
        return [_constraint(where, table, UNIQUE, change.attr("columnNames"), change)]
    if kind == "addForeignKeyConstraint":
        base_table = _name(change.attr("baseTableName"))
        referenced = _name(change.attr("referencedTableName"))
        return [
            _constraint(
                where, base_table, FOREIGN_KEY, change.attr("baseColumnNames"), change, referenced
            )
        ]
    if kind == "addPrimaryKey":
        key = _constraint(where, table, PRIMARY_KEY, change.attr("columnNames"), change)
        # A primary key makes its columns NOT NULL, as SET NOT NULL would.
        return [key, *(Operation(SET_NOT_NULL, where, table, c) for c in key.constrained)]
    if kind == "createIndex":
        if not change.flag("unique"):
            return []
        indexed = tuple(_name(c.attr("name")) for c in change.named("column") if c.attr("name"))
        return [
            Operation(
                ADD_CONSTRAINT,
                where,
                table,
                constraint=UNIQUE,
                constrained=indexed,
                detail=change.attr("indexName"),
            )
        ]
    if kind == "dropIndex":
        return [_index_dropped(change, where)]
    if kind in ("dropUniqueConstraint", "dropPrimaryKey"):
        return [_key_dropped(change, where, table, kind == "dropPrimaryKey")]
    if kind == "dropForeignKeyConstraint":
        base_table = _name(change.attr("baseTableName"))
        return [Operation(DROP_CONSTRAINT, where, base_table, detail=change.attr("constraintName"))]
    if kind == "createView":
        return [Operation(CREATE_VIEW, where, _name(change.attr("viewName")))]
    if kind == "dropView":
        return [Operation(DROP_VIEW, where, _name(change.attr("viewName")))]
    return []


_COLUMN_CHANGES = {
    "addNotNullConstraint": SET_NOT_NULL,
    "dropNotNullConstraint": DROP_NOT_NULL,
    "addDefaultValue": SET_DEFAULT,
    "dropDefaultValue": DROP_DEFAULT,
}


def _index_dropped(change: _Element, where: Location) -> Operation:
    """The drop of the index ``change`` names (``dropIndex``, the inverse of a unique
    ``createIndex``): no table, found by its name."""
    return Operation(
        DROP_CONSTRAINT, where, "", detail=change.attr("indexName"), constraint=DROPPED_INDEX
    )


def _key_dropped(change: _Element, where: Location, table: str, primary: bool) -> Operation:
    """The drop of the unique or primary key ``change`` names (a drop, or the inverse of an
    add). A primary key's drop drops the table's whatever its name: without a
    ``constraintName`` Liquibase looks the name up on PostgreSQL, and writes ``DROP PRIMARY
    KEY`` on MySQL with one or without (DropPrimaryKeyGenerator)."""
    if primary:
        return Operation(
            DROP_CONSTRAINT,
            where,
            table,
            detail=change.attr("constraintName") or UNNAMED_PRIMARY_KEY,
            constraint=PRIMARY_KEY,
        )
    return Operation(DROP_CONSTRAINT, where, table, detail=change.attr("constraintName"))


def _constraint(
    where: Location, table: str, kind: str, columns: str, change: _Element, references: str = ""
) -> Operation:
    return Operation(
        ADD_CONSTRAINT,
        where,
        table,
        constraint=kind,
        constrained=_names(columns),
        detail=change.attr("constraintName"),
        references=references,
    )


def _inverse(change: _Element) -> list[Operation]:
    """The operations of the rollback Liquibase generates for a change that has one."""
    kind = change.name
    where = change.location
    table = _name(change.attr("tableName"))
    column = _name(change.attr("columnName")) or None
    if kind == "createTable":
        return [Operation(DROP_TABLE, where, table)]
    if kind == "addColumn":
        return [
            Operation(DROP_COLUMN, c.location, table, _name(c.attr("name")))
            for c in reversed(change.named("column"))
            if c.attr("name")
        ]
    if kind == "renameColumn":
        new = _name(change.attr("newColumnName"))
        old = _name(change.attr("oldColumnName"))
        return [Operation(RENAME_COLUMN, where, table, new, new_name=old)]
    if kind == "renameTable":
        old, new = _name(change.attr("oldTableName")), _name(change.attr("newTableName"))
        return [Operation(RENAME_TABLE, where, new, new_name=old)]
    if kind == "addNotNullConstraint":
        return [Operation(DROP_NOT_NULL, where, table, column)]
    if kind == "dropNotNullConstraint":
        return [Operation(SET_NOT_NULL, where, table, column)]
    if kind == "addDefaultValue":
        return [Operation(DROP_DEFAULT, where, table, column)]
    if kind == "createIndex":
        if not change.flag("unique"):
            return []
        return [_index_dropped(change, where)]
    if kind in ("addUniqueConstraint", "addPrimaryKey"):
        return [_key_dropped(change, where, table, kind == "addPrimaryKey")]
    if kind == "addForeignKeyConstraint":
        base_table = _name(change.attr("baseTableName"))
        return [Operation(DROP_CONSTRAINT, where, base_table, detail=change.attr("constraintName"))]
    if kind == "createView":
        # CreateViewChange.createInverses: a DropViewChange, also for ``replaceIfExists``
        # (the view it replaced is not put back).
        return [Operation(DROP_VIEW, where, _name(change.attr("viewName")))]
    return []
