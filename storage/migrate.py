"""Schema upgrades through Alembic, from the app as from the ``alembic`` command line.

Every command upgrades the database before it uses it. A database already at the newest
revision (nearly always) is recognised by one query, without loading Alembic and its
scripts, which would otherwise cost an on-demand crawl more than the crawl of an unchanged
site.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
HEAD = "fail_0003"  # the newest revision in alembic/versions (tests/test_migrations checks it)


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


def upgrade(url: str, revision: str = "head") -> None:
    if revision == "head" and current_revision(url) == HEAD:
        return
    from alembic import command

    command.upgrade(alembic_config(url), revision)
