"""Where the run store is and how it is reached: the database URL (SERVESCOPE_DB, a path or a URL, or the default
file), the SQLite engine's settings, a SQLite file watched for deletion or replacement, and failures as StoreError
reasons that never quote a path or URL (those go to the log, with the password hidden).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from client.store.records import StoreError

__all__ = ["LOG", "DEFAULT_BUSY_TIMEOUT_S", "FILE_GONE", "STORE_FAILURES", "DatabaseFile", "database_url",
           "default_database_path", "make_engine", "reason", "shown_url"]

LOG = logging.getLogger("servescope.store")
DEFAULT_BUSY_TIMEOUT_S = 15.0
FILE_GONE = ("the run store's file was deleted or replaced since the dashboard opened it; restart the dashboard "
             "(the runs since then were not stored)")
# Failures of a store call that are the database's, not the caller's: sqlite3 raises OverflowError itself for an
# integer past 64 bits, and a file-system error can come from below the driver.
STORE_FAILURES = (SQLAlchemyError, OverflowError, OSError)


def default_database_path() -> Path:
    folder = os.environ.get("SERVESCOPE_DATA_DIR") or Path.home() / ".local" / "share" / "servescope"
    return Path(folder).expanduser() / "servescope.db"


def database_url(url_or_path: str | os.PathLike | None = None) -> str:
    """A SQLAlchemy URL for a path, a URL, `SERVESCOPE_DB`, or the default file; postgresql:// uses psycopg 3.
    A path's folder is created; StoreError when it cannot be."""
    value = str(url_or_path or os.environ.get("SERVESCOPE_DB") or default_database_path())
    if "://" not in value:
        try:
            path = Path(value).expanduser().resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
        except (OSError, RuntimeError) as exc:
            LOG.error("cannot create the folder of the run store %s: %s", value, exc)
            raise StoreError(f"cannot open the run store: its folder cannot be created ({_os_reason(exc)})") from None
        return f"sqlite:///{path}"
    scheme, rest = value.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return value


def shown_url(url: str) -> str:
    """The URL for the log: the password hidden (the scheme only when it cannot be parsed)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ValueError:
        return url.split("://", 1)[0] + "://…"


def reason(exc: BaseException) -> str:
    """The first line of a failure's reason, for a StoreError (a file-system error without its path)."""
    if isinstance(exc, OSError):
        return _os_reason(exc)
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file is where a folder should be"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return getattr(exc, "strerror", None) or type(exc).__name__


def make_engine(url: str, busy_timeout_s: float) -> Engine:
    """A SQLite engine in WAL mode with a busy timeout and foreign keys on, whose writers take the write lock at
    BEGIN; any other URL's engine pings its pooled connections before use."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own is deferred and late)
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={int(busy_timeout_s * 1000)}", "foreign_keys=ON",
                       "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        # A writer takes the write lock up front: upgrading a read lock later can fail at once with
        # "database is locked" instead of waiting out the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("servescope_write") else "BEGIN")
    return engine


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class DatabaseFile:
    """A SQLite store's file as it was opened (device and inode): check() raises StoreError(FILE_GONE) once that
    file is deleted, or another file has its name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: tuple[int, int] | None = None

    @classmethod
    def of(cls, url: str) -> "DatabaseFile | None":
        """The file of a SQLite URL; None for another database or an in-memory one."""
        if not url.startswith("sqlite"):
            return None
        database = make_url(url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return cls(Path(database))

    def remember(self) -> None:
        """Note the file now there as the one opened (after the first connection created it)."""
        self._opened = _identity(self.path)

    def check(self) -> None:
        if self._opened is not None and _identity(self.path) != self._opened:
            LOG.error("the run store %s was deleted or replaced since it was opened", self.path)
            raise StoreError(FILE_GONE)
