from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webworld import World, running_world


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The real daemon serving the web UI over crawled fixture sites, shared by this
    package's tests and stopped after the last of them: the other tests count the
    processes they leave behind, and would count its."""
    with running_world(tmp_path_factory.mktemp("world")) as started:
        yield started
