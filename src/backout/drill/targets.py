"""Pick where the drill runs: ``--database URL``, or the default for the SQL dialect."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from backout.config import did_you_mean
from backout.drill.database import FLAG, DrillError, DrillTarget, Origin

SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "sqlite")


def dialect_of_url(url: str, origin: Origin = FLAG) -> str:
    """``postgres``, ``mysql`` or ``sqlite`` for a ``--database`` URL; raise for others,
    naming where the URL was given (``origin``).

    A URL that cannot be taken apart (a port that is not a number, a broken ``[IPv6]`` host)
    is refused here, before anything connects. The message never repeats the URL: it may
    hold a password.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- urllib checks the port only when it is read
    except ValueError as exc:
        raise DrillError(f"invalid {origin.name} URL{origin.where}: {exc}") from None
    if "://" not in url:
        # A bare path or name: say what a URL looks like rather than name an empty scheme.
        # (The value is not repeated: ``user:password@host`` without a scheme is no URL
        # either, and would be shown.)
        raise DrillError(
            f"invalid {origin.name}{origin.where}: not a URL; give one such as "
            "postgresql://user@host:5432/db, mysql://user@host:3306/db or "
            "sqlite:////absolute/path/new.db"
        )
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return "postgres"
    if scheme in ("mysql", "mariadb"):
        return "mysql"
    if scheme == "sqlite":
        return "sqlite"
    raise DrillError(
        f"invalid {origin.name} scheme '{scheme}://'{origin.where}{did_you_mean(scheme, SCHEMES)}"
    )


def open_target(url: str | None, dialect: str, origin: Origin = FLAG) -> DrillTarget:
    """The target for ``url``; without one, SQLite or the embedded PostgreSQL by dialect.
    Errors about the URL name ``origin``, where it was given."""
    if url is None:
        if dialect == "sqlite":
            from backout.drill.sqlite import SqliteTarget

            return SqliteTarget()
        if dialect == "mysql":
            raise DrillError(
                "a MySQL drill needs a server: give --database mysql://user@host:3306/db "
                "(backout creates and drops its own database there)"
            )
        from backout.drill.postgres import EmbeddedPostgresTarget

        return EmbeddedPostgresTarget()
    kind = dialect_of_url(url, origin)
    if kind == "sqlite":
        from backout.drill.sqlite import SqliteTarget

        path = urlsplit(url).path
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif path.startswith("/"):
            path = path[1:]
        if not path or path == ":memory:":
            return SqliteTarget()
        return SqliteTarget(Path(path), origin)
    if kind == "mysql":
        from backout.drill.mysql import MysqlTarget

        return MysqlTarget(url, origin)
    from backout.drill.postgres import PostgresServerTarget

    # libpq reads postgresql:// and postgres:// only: a SQLAlchemy driver suffix
    # (postgresql+psycopg://) would make it read the whole URL as a key=value string.
    return PostgresServerTarget("postgresql:" + url.split(":", 1)[1], origin=origin)
