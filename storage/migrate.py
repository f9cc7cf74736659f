"""Schema upgrades through Alembic, from the app as from the ``alembic`` command line.

Every command upgrades the database before it uses it. A database already at the newest
revision (nearly always) is recognised by one query, without loading Alembic and its
scripts, which would otherwise cost an on-demand crawl more than the crawl of an unchanged
site.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from storage.db import make_engine, shown_url

if TYPE_CHECKING:
    from alembic.config import Config

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
HEAD = "0012"  # the newest revision in alembic/versions (tests/test_migrations checks it)
UPGRADE_LOCK = "hashtext('eventwatch:upgrade')"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["database_url"] = url
    return config


def current_revision(url: str) -> str | None:
    """The database's revision; None when it has none yet (or cannot be read: Alembic then
    reports the real problem)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None
    finally:
        engine.dispose()


def stored_revision(url: str) -> str | None:
    """The schema revision of an existing database, None when it holds no schema. Unlike
    :func:`current_revision`, a database that cannot be reached raises (``DATABASE_FAILURES``):
    read-only commands say so rather than create or migrate anything. A SQLite file must
    exist already (see ``storage.db.sqlite_file``): connecting would create it."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()


class NewerSchema(Exception):
    """The database was migrated by a newer eventwatch: this one cannot read or upgrade it."""

    def __init__(self, url: str, revision: str) -> None:
        super().__init__(
            f"the database {shown_url(url)} has schema revision {revision}, written by a newer "
            f"eventwatch (this one knows up to {HEAD}): upgrade eventwatch to use it"
        )


def newer_than_ours(revision: str | None) -> bool:
    """A revision past this eventwatch's (revisions are numbered, zero-padded: 0001, 0002…)."""
    return revision is not None and len(revision) == len(HEAD) and revision > HEAD


def upgrade(url: str, revision: str = "head") -> None:
    """Raises NewerSchema for a database a newer eventwatch migrated (Alembic would say only
    that it cannot find the revision)."""
    found = current_revision(url)
    if revision == "head" and found == HEAD:
        return
    if newer_than_ours(found):
        raise NewerSchema(url, str(found))
    from alembic import command

    with _upgrade_lock(url):
        command.upgrade(alembic_config(url), revision)


@contextmanager
def _upgrade_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, one upgrade at a time: workers on several machines may start together,
    and the second then finds the schema done. SQLite's own write lock serves there."""
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            yield
            return
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(hashtext('eventwatch:upgrade'))"))
            try:
                yield
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(hashtext('eventwatch:upgrade'))")
                )
    finally:
        engine.dispose()
