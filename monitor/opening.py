"""Opening the database for a command. Commands that write bring the schema up to date first;
read-only ones (``events``, ``status``, ``rules test``, ``alerts list``) create and migrate
nothing: a mistyped ``database:`` must not leave an empty database where the command ran."""

from __future__ import annotations

from pathlib import Path

from monitor import flow
from monitor.config import Config
from storage.db import shown_url, sqlite_file
from storage.migrate import HEAD, NewerSchema, newer_than_ours, stored_revision, upgrade

CREATE_HINT = "'eventwatch db upgrade' or a first crawl creates it"


class DatabaseUnavailable(Exception):
    """No usable database for a read-only command, or none reachable at all; exit code 1."""


def for_writing(config: Config) -> flow.Context:
    """Config checked first, then the schema brought up to date: bad input changes nothing."""
    upgrade(config.database)
    return flow.Context(config)


def for_reading(config: Config) -> flow.Context:
    """The database as it is, which must exist at this eventwatch's schema."""
    url = config.database
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseUnavailable(f"no database at {path}{_relative_hint(url)}; {CREATE_HINT}")
    revision = stored_revision(url)
    if revision is None:
        raise DatabaseUnavailable(f"no eventwatch data in {shown_url(url)}; {CREATE_HINT}")
    if newer_than_ours(revision):
        raise DatabaseUnavailable(str(NewerSchema(url, revision)))
    if revision != HEAD:
        raise DatabaseUnavailable(
            f"the database {shown_url(url)} has schema revision {revision}, this eventwatch "
            f"reads {HEAD}: run 'eventwatch db upgrade'"
        )
    return flow.Context(config)


def _relative_hint(url: str) -> str:
    """sqlite:/// with three slashes is relative to the current folder: a common slip."""
    written = url.split("///", 1)[-1]
    if written.startswith("/") or not url.startswith("sqlite:///"):
        return ""
    return (
        f" ({url!r} is relative to the current folder {Path.cwd()}; "
        f"an absolute path takes four slashes: 'sqlite:////{written}')"
    )


def database_failure(exc: BaseException) -> str:
    """The first line of what the database driver said, without SQLAlchemy's SQL and links."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
