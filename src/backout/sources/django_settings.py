"""Django settings modules, read for the settings the migrations need: ``AUTH_USER_MODEL``, and
the ``ENGINE`` of ``DATABASES["default"]``, whose backend decides how long a name Django gives.

A module apart from the migration reader, so that a repository with a ``settings.py`` and no
Django migrations does not load the SQL reader. Read from the AST, never imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from backout.models import Location
from backout.sources.base import Fact, SourceFile
from backout.sources.paths import is_django_settings
from backout.sources.python_ast import literal_string as _string
from backout.sources.python_ast import parse_python

USER_MODEL = "<settings.AUTH_USER_MODEL>"
"""The table a relation to ``settings.AUTH_USER_MODEL`` references, until
:func:`~backout.sources.django_migrations.link_django_app_labels` names it
(:class:`DjangoUserModel`)."""

DEFAULT_USER_MODEL = "auth.User"
"""Django's own ``AUTH_USER_MODEL`` (``django/conf/global_settings.py``)."""


DJANGO_BACKENDS = {
    "django.db.backends.postgresql": "postgres",
    "django.db.backends.postgresql_psycopg2": "postgres",
    "django.contrib.gis.db.backends.postgis": "postgres",
    "django.db.backends.mysql": "mysql",
    "django.contrib.gis.db.backends.mysql": "mysql",
    "django.db.backends.sqlite3": "sqlite",
    "django.contrib.gis.db.backends.spatialite": "sqlite",
    "django.db.backends.oracle": "oracle",
    "django.contrib.gis.db.backends.oracle": "oracle",
}
"""Django's own database backends (``ENGINE``), by the ``sql-dialect`` whose names they give
(``oracle``: none, Oracle's): the GIS ones subclass the plain ones' ``DatabaseOperations``."""


@dataclass(frozen=True)
class DjangoUserModel(Fact):
    """An ``AUTH_USER_MODEL = "app.Model"`` of a Django settings module: the model label
    (``accounts.User``), or ``""`` when the value is computed or the file cannot be read."""

    label: str


@dataclass(frozen=True)
class DjangoDatabase(Fact):
    """A ``DATABASES`` of a Django settings module (or its ``["default"]``, or that one's
    ``["ENGINE"]``): the backend of the ``default`` database, as :data:`DJANGO_BACKENDS`
    names it, or ``""`` when its ``ENGINE`` is computed, another backend's, or the file cannot
    be read."""

    backend: str


class DjangoSettingsReader:
    """Reads the ``AUTH_USER_MODEL`` of Django settings modules (``settings.py``,
    ``settings/*.py``), the user model a ``ForeignKey`` to ``settings.AUTH_USER_MODEL``
    references, and the ``ENGINE`` of their ``DATABASES["default"]``."""

    name: ClassVar[str] = "Django settings"

    def wants(self, path: str) -> bool:
        """``settings.py``, ``settings_*.py`` and the modules of a ``settings/`` package."""
        return is_django_settings(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """Yield each assignment of ``AUTH_USER_MODEL`` and ``DATABASES`` at the module's
        level (in an ``if`` or ``try`` too); a file that is not Python (a template) is no
        finding, but makes the settings it names unknown."""
        text = file.text()
        named = [name for name in ("AUTH_USER_MODEL", "DATABASES") if name in (text or "")]
        if text is not None and not named:
            return
        tree = parse_python(file, self.name)
        if not isinstance(tree, ast.Module):
            if tree is not None:
                if text is None or "AUTH_USER_MODEL" in named:
                    yield DjangoUserModel(tree.location, "")
                if text is None or "DATABASES" in named:
                    yield DjangoDatabase(tree.location, "")
            return
        pending: list[ast.stmt] = list(tree.body)
        while pending:
            statement = pending.pop(0)
            if isinstance(statement, (ast.If, ast.Try)):
                pending.extend(_nested_statements(statement))
                continue
            targets = (
                statement.targets
                if isinstance(statement, ast.Assign)
                else [statement.target]
                if isinstance(statement, ast.AnnAssign) and statement.value is not None
                else []
            )
            if any(isinstance(t, ast.Name) and t.id == "AUTH_USER_MODEL" for t in targets):
                value = _string(getattr(statement, "value", None)) or ""
                label = value if value.count(".") == 1 else ""
                where = Location(file.path, statement.lineno, statement.col_offset + 1)
                yield DjangoUserModel(where, label)
            assigned = getattr(statement, "value", None)
            for target in targets:
                backend = _database_backend(target, assigned)
                if backend is not None:
                    where = Location(file.path, statement.lineno, statement.col_offset + 1)
                    yield DjangoDatabase(where, backend)


def _database_backend(target: ast.expr, value: ast.expr | None) -> str | None:
    """The backend of the ``default`` database an assignment of ``value`` to ``target`` sets:
    to ``DATABASES``, ``DATABASES["default"]`` or ``DATABASES["default"]["ENGINE"]``
    (``""``: not known); ``None`` for any other target."""
    keys: list[str | None] = []
    while isinstance(target, ast.Subscript):
        keys.insert(0, _string(target.slice))
        target = target.value
    if not (isinstance(target, ast.Name) and target.id == "DATABASES") or len(keys) > 2:
        return None
    for key, wanted in zip(keys, ("default", "ENGINE"), strict=False):
        if key != wanted:
            return None if key is not None else ""
    for wanted in ("default", "ENGINE")[len(keys) :]:
        value = _item(value, wanted)
    return DJANGO_BACKENDS.get(_string(value) or "", "")


def _item(node: ast.expr | None, key: str) -> ast.expr | None:
    """The value of ``key`` in the dict literal ``node`` (``None``: not one, or no such key;
    a ``**`` unpacking, which may hold it, too)."""
    if not isinstance(node, ast.Dict):
        return None
    found = None
    for name, value in zip(node.keys, node.values, strict=True):
        if name is None:
            found = None
        elif _string(name) == key:
            found = value
    return found


def _nested_statements(statement: ast.If | ast.Try) -> list[ast.stmt]:
    """The statements of an ``if``'s or ``try``'s branches."""
    if isinstance(statement, ast.If):
        return [*statement.body, *statement.orelse]
    handlers = [s for handler in statement.handlers for s in handler.body]
    return [*statement.body, *handlers, *statement.orelse, *statement.finalbody]
