"""The Django worker: ``python -m backout.drill.django_worker``, driven by ``DjangoRunner``.

Settings are made here, not taken from the project: the apps whose migrations the drill runs
(plus the ``django.contrib`` apps their migrations depend on) and one database, the drill's
``DATABASE_URL``. Each line on stdin is ``{"app": ..., "target": ...}``; each answer on stdout
is ``{"ok": true}`` or ``{"ok": false, "error": ..., "statement": ...}``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def database_settings(url: str) -> dict[str, Any]:
    """Django's ``DATABASES['default']`` for a drill URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    query = parse_qs(parts.query)
    settings = {
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.get("host", [parts.hostname or ""])[0],
        "PORT": str(parts.port or ""),
    }
    if scheme in ("mysql", "mariadb"):
        import pymysql

        from backout.drill.mysql import connect_options

        pymysql.install_as_MySQLdb()
        return {
            "ENGINE": "django.db.backends.mysql",
            **settings,
            "OPTIONS": connect_options(parts.query),
        }
    return {"ENGINE": "django.db.backends.postgresql", **settings}


def failure(exc: Exception, last_statement: str | None) -> dict[str, Any]:
    """The answer for a failed ``migrate``: the error on one line; the last SQL Django ran only
    when the database raised the error (a Python error has nothing to do with it); the line
    of a migration file the error came from (a ``RunPython`` function), when it did; and
    whether Django refused an irreversible operation."""
    from django.db import DatabaseError  # type: ignore[import-untyped]
    from django.db.migrations.exceptions import IrreversibleError  # type: ignore[import-untyped]

    cause = exc.__cause__ or exc
    text = str(cause).strip()
    # ``<function dedupe at 0x7f…>``: the address differs on every run and says nothing.
    error = re.sub(r" at 0x[0-9a-f]+>", ">", text.splitlines()[0]) if text else type(cause).__name__
    from_database = isinstance(exc, DatabaseError) or isinstance(cause, DatabaseError)
    irreversible = isinstance(exc, IrreversibleError)
    if not from_database and not irreversible:
        error = f"{type(cause).__name__}: {error}"  # a bare message does not say it is Python's
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if f"{os.sep}migrations{os.sep}" in frame.filename
        and f"{os.sep}site-packages{os.sep}" not in frame.filename
    ]
    return {
        "ok": False,
        "error": error,
        "statement": last_statement if from_database else None,
        "irreversible": irreversible,
        "file": frames[-1].filename if frames else None,
        "line": frames[-1].lineno if frames else None,
    }


def main() -> None:
    """Configure Django, then answer migrate requests until stdin closes."""
    spec = json.loads(os.environ["BACKOUT_DJANGO_APPS"])
    sys.path[:0] = spec["paths"]
    import django  # type: ignore[import-untyped]
    from django.conf import settings  # type: ignore[import-untyped]

    settings.configure(
        INSTALLED_APPS=[f"django.contrib.{app}" for app in spec["contrib"]] + spec["apps"],
        DATABASES={"default": database_settings(os.environ["DATABASE_URL"])},
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.core.management import call_command  # type: ignore[import-untyped]
    from django.db import connection

    last: list[str] = []

    def remember(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        last[:] = [sql]
        return execute(sql, params, many, context)

    for line in sys.stdin:
        request = json.loads(line)
        last.clear()
        try:
            with connection.execute_wrapper(remember):
                call_command(
                    "migrate", request["app"], request["target"], verbosity=0, interactive=False
                )
            answer: dict[str, Any] = {"ok": True}
        except Exception as exc:
            answer = failure(exc, last[0] if last else None)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
