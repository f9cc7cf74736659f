"""Engine and sessions. SQLite gets WAL and a busy timeout, so a crawl subprocess and the
daemon can write to one file without "database is locked" failures."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    InterfaceError,
    InternalError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 30_000
DEFAULT_DATABASE = "sqlite:///eventwatch.db"

# The database itself failing (locked past the busy timeout, disk full, connection lost, pool
# exhausted), as opposed to the data one statement carried: a job meeting one of these stops and
# runs again later, where one article's or one alert's bad data only skips that one.
DATABASE_FAILURES = (
    OperationalError,
    InterfaceError,
    InternalError,
    DisconnectionError,
    PoolTimeout,
)


def url_problem(url: str) -> str | None:
    """Why ``url`` is no database URL SQLAlchemy can use (None when it is): a bare path gets
    the sqlite URL it probably meant."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        looks_like_path = url.startswith(("/", "./", "../", "~")) or url.endswith(
            (".db", ".sqlite", ".sqlite3")
        )
        if looks_like_path:
            absolute = Path(url).expanduser().resolve()
            return f"{url!r} is a path, not a database URL: did you mean 'sqlite:///{absolute}'?"
        return f"{url!r} is not a database URL (sqlite:///eventwatch.db, postgresql+psycopg://…)"
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        return f"unknown database kind or driver {parsed.drivername!r} in {_shown(parsed)}"
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        return f"the driver for {parsed.drivername!r} is not installed ({exc})"
    return None


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def shown_url(url: str) -> str:
    """``url`` fit for a message: its password hidden."""
    try:
        return _shown(make_url(url))
    except ArgumentError:
        return url


def sqlite_in_memory(url: str) -> bool:
    """Whether ``url`` names a SQLite database in memory (``sqlite://``, ``:memory:``, a
    ``file:`` URI in memory mode), which keeps nothing past the connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    name = parsed.database or ""
    if name in ("", ":memory:"):
        return True
    in_memory = ":memory:" in name or "mode=memory" in name or parsed.query.get("mode") == "memory"
    return name.startswith("file:") and in_memory


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _writes(statement: str | None) -> bool:
    return statement is not None and statement.lstrip()[:7].upper().startswith(_WRITE_VERBS)


def sqlite_file(url: str) -> Path | None:
    """The absolute path of a SQLite database file; None for other databases and memory.
    A ``file:`` URI names its file too: read as none, it had taken no one-daemon lock."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:"):
        if sqlite_in_memory(url):
            return None
        path = unquote(name.removeprefix("file:"))
        if path.startswith("//"):  # file://host/path: the host is this machine
            path = "/" + path[2:].partition("/")[2]
        return Path(path).expanduser().resolve()
    return Path(name).expanduser().resolve()


def same_database(first: str, second: str) -> bool:
    """Whether two URLs name one database: a SQLite file by its path, however written."""
    files = sqlite_file(first), sqlite_file(second)
    return files[0] == files[1] if files != (None, None) else first == second


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class DatabaseFolderError(Exception):
    """The SQLite file's folder cannot be made: a file stands in its way, or no permission."""


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if (
        parsed.database
        and parsed.database != ":memory:"
        and not parsed.database.startswith("file:")
    ):
        # "~" as the messages and `check` read it (sqlite_file): SQLite itself takes it for a
        # folder named "~"
        path = Path(parsed.database).expanduser()
        parsed = parsed.set(database=str(path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseFolderError(
                f"cannot make the folder {path.parent} for the SQLite database: {exc.strerror}"
            ) from None
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """One engine and its session factory; the only handle other layers hold."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.file = sqlite_file(url)
        self._opened: tuple[int, int] | None = None  # the file first opened: device, inode
        if self.file is not None:
            event.listen(self.engine, "connect", self._note_file)
        # since when (time.monotonic()) and why writes fail, until one goes through
        self.write_failure: tuple[float, str] | None = None
        event.listen(self.engine, "handle_error", self._note_failed_write)
        event.listen(self.engine, "after_cursor_execute", self._note_write)

    def _note_failed_write(self, context: ExceptionContext) -> None:
        if self.write_failure is not None or not _writes(context.statement):
            return
        if isinstance(context.sqlalchemy_exception, DATABASE_FAILURES):
            why = str(context.original_exception).strip().splitlines() or ["no reason given"]
            self.write_failure = (time.monotonic(), why[0][:200])

    def _note_write(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.write_failure is not None and _writes(statement):
            self.write_failure = None

    def write_trouble(self, for_at_least: float) -> str | None:
        """Why writes have failed for ``for_at_least`` seconds or more, none going through
        since (another process holding a SQLite file's lock, a read-only file or disk, a full
        disk); None otherwise. Reads may work all the while, so a health check that only
        reads saw nothing wrong while nothing was stored."""
        if self.write_failure is None:
            return None
        since, why = self.write_failure
        age = time.monotonic() - since
        if age < for_at_least:
            return None
        return f"the database has refused every write for {age:.0f} s: {why}"

    def _note_file(self, _dbapi_connection: Any, _record: Any) -> None:
        """As a connection opens: the file the first one opened, to know it again."""
        if self._opened is None and self.file is not None:
            with suppress(OSError):
                found = os.stat(self.file)
                self._opened = (found.st_dev, found.st_ino)

    def file_problem(self) -> str | None:
        """Why the SQLite file this handle writes to is no longer the one at its path (it was
        deleted, moved or replaced while in use): what is stored then goes where no later
        start finds it. None when it is, and for other databases."""
        if self.file is None or self._opened is None:
            return None
        try:
            found = os.stat(self.file)
        except FileNotFoundError:
            return (f"the database file {self.file} is gone (deleted or moved while in use): "
                    "what is stored now is lost at the next start")  # fmt: skip
        except OSError:
            return None
        if (found.st_dev, found.st_ino) != self._opened:
            return (f"the database file {self.file} was replaced while in use: what is stored "
                    "now goes to the file it replaced")  # fmt: skip
        return None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A short transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
