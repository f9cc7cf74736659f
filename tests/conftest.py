from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real daemon serving the web UI over crawled fixture sites (tests.webworld), shared
    by the web tests: crawling and starting it once keeps them quick."""
    from tests.webworld import running_world

    with running_world(tmp_path_factory.mktemp("world")) as started:
        yield started
