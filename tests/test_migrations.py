"""The migrations and the models describe the same schema, by both ways of upgrading."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text

from alembic import command
from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.migrate import HEAD, alembic_config, current_revision, upgrade
from storage.models import Base, Delivery
from storage.outbox import MatchRecord, record_matches

ROOT = Path(__file__).resolve().parent.parent


def test_upgrade_from_empty_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_plain_alembic_command_upgrades_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "EVENTWATCH_DATABASE": url}
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"sources", "crawl_runs", "articles", "events", "matches", "deliveries"} <= tables


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    from storage.db import Database

    url = f"sqlite:///{tmp_path / 'wal.db'}"
    upgrade(url)
    db = Database(url)
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    db.dispose()


def test_head_constant_is_alembic_head_and_a_stale_database_is_upgraded(tmp_path: Path) -> None:
    """storage.migrate.HEAD lets a current database skip Alembic; it must name the real head,
    and a database one revision behind must still be upgraded."""
    from alembic.script import ScriptDirectory

    from storage.migrate import HEAD, alembic_config, current_revision

    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert ScriptDirectory.from_config(alembic_config(url)).get_current_head() == HEAD
    upgrade(url, "0001")
    assert current_revision(url) == "0001"
    upgrade(url)
    assert current_revision(url) == HEAD
    assert "article_bands" in inspect(create_engine(url)).get_table_names()


def test_sqlite_downgrades_and_upgrades_again_with_alerts_stored(tmp_path: Path) -> None:
    """Batch mode rebuilds tables that others reference; with foreign keys on, dropping
    one failed and left a half-made copy that a second try tripped over."""
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    db = Database(url)
    article = NewArticle(source="desk", url="https://desk.example/1",
                         canonical_url="https://desk.example/1", title="Border talks in Dushanbe",
                         text="Lawmakers met in Dushanbe to discuss trade.")  # fmt: skip
    _, article_id = store_article(db, article)
    record_matches(db, article_id, [MatchRecord("dushanbe", ("Dushanbe",), ("..",), ("hook",))])
    db.dispose()
    config = alembic_config(url)
    command.downgrade(config, "0009")
    assert current_revision(url) == "0009"
    command.upgrade(config, "head")
    assert current_revision(url) == HEAD
    db = Database(url)
    with db.session() as session:
        assert session.scalar(select(func.count(Delivery.id))) == 1
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    db.dispose()
