"""Alembic environment: the app's models and the app's database URL."""

from __future__ import annotations

from alembic import context
from storage.db import make_engine
from storage.models import Base
from storage.settings import database_url_from_environment

config = context.config
url = config.attributes.get("database_url") or database_url_from_environment()
target_metadata = Base.metadata


def _ours(name: str | None, type_: str, _parent: object) -> bool:
    """The job engine's tables (procrastinate's, on PostgreSQL) are its own, not our models."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode copies a table, drops it and renames the copy: with foreign keys on,
            # dropping a table that another references fails (a downgrade past 0010 did).
            # A pragma is a no-op inside a transaction, so it goes first, committed.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_name=_ours,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
