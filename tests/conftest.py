from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from storage.db import Database
from storage.migrate import upgrade

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'eventwatch.db'}"


@pytest.fixture
def db(db_url: str) -> Database:
    upgrade(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


def extraction_processes() -> list[psutil.Process]:
    """Our descendants, but multiprocessing's resource tracker, which lives as long as we do."""
    children = psutil.Process().children(recursive=True)
    return [p for p in children if "resource_tracker" not in " ".join(p.cmdline())]
