from __future__ import annotations

from pathlib import Path

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
