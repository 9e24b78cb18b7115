"""Django settings modules, read for the one setting the migrations need: ``AUTH_USER_MODEL``.

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


@dataclass(frozen=True)
class DjangoUserModel(Fact):
    """An ``AUTH_USER_MODEL = "app.Model"`` of a Django settings module: the model label
    (``accounts.User``), or ``""`` when the value is computed or the file cannot be read."""

    label: str


class DjangoSettingsReader:
    """Reads the ``AUTH_USER_MODEL`` of Django settings modules (``settings.py``,
    ``settings/*.py``): the user model a ``ForeignKey`` to ``settings.AUTH_USER_MODEL``
    references."""

    name: ClassVar[str] = "Django settings"

    def wants(self, path: str) -> bool:
        """``settings.py``, ``settings_*.py`` and the modules of a ``settings/`` package."""
        return is_django_settings(path)

    def read(self, file: SourceFile) -> Iterator[Fact]:
        """Yield each assignment of ``AUTH_USER_MODEL`` at the module's level (in an ``if``
        or ``try`` too); a file that is not Python (a template) is no finding, but makes
        the setting unknown if it names it."""
        tree = parse_python(file, self.name, "AUTH_USER_MODEL")
        if not isinstance(tree, ast.Module):
            if tree is not None:
                yield DjangoUserModel(tree.location, "")
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


def _nested_statements(statement: ast.If | ast.Try) -> list[ast.stmt]:
    """The statements of an ``if``'s or ``try``'s branches."""
    if isinstance(statement, ast.If):
        return [*statement.body, *statement.orelse]
    handlers = [s for handler in statement.handlers for s in handler.body]
    return [*statement.body, *handlers, *statement.orelse, *statement.finalbody]
