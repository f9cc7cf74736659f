"""`eventwatch crawl` shows how each source goes: bars on a terminal, a log line per page with
-v, plain output when piped (issue 26, 6)."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawlers.launcher.report import Progress, read_progress
from monitor.crawl_display import CrawlDisplay
from tests.conftest import FIXTURES
from tests.sitehost import SiteServer, serve
from tests.test_crawl import run_cli, source_yaml, write_config

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ARTICLES = 4  # wpnews: four article pages, over three listing pages


@pytest.fixture
def wpnews(tmp_path: Path) -> Iterator[tuple[SiteServer, Path]]:
    shutil.copytree(FIXTURES / "sites" / "wpnews", tmp_path / "wpnews")
    with serve(tmp_path / "wpnews") as site:
        yield site, write_config(tmp_path, [source_yaml("wpnews", site.base_url)])


def crawl_on_a_terminal(config: Path, *extra: str) -> tuple[int, str, str]:
    """(exit code, stdout, what the terminal showed on stderr, less its escape codes)"""
    master, slave = pty.openpty()
    shown: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(master, shown), daemon=True)
    reader.start()
    command = [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl", "wpnews"]
    result = subprocess.run(
        [*command, "--no-alerts", *extra],
        stdout=subprocess.PIPE, stderr=slave, text=True, timeout=240,
        env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    os.close(slave)
    reader.join(30)
    os.close(master)
    return result.returncode, result.stdout, ANSI.sub("", b"".join(shown).decode())


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end closed
            return
        if not chunk:
            return
        into.append(chunk)


def test_a_terminal_shows_each_source_with_its_counts_and_bar(
    wpnews: tuple[SiteServer, Path],
) -> None:
    _, config = wpnews
    code, out, shown = crawl_on_a_terminal(config)
    assert code == 0, out + shown
    assert out.strip() == (
        "wpnews: ok: pages fetched 8, new articles 4, duplicates 0, errors 0"
    )  # stdout is the summary alone
    assert f"{ARTICLES}/{ARTICLES} fetched 8  stored 4  duplicates 0  failed 0" in shown
    assert "━" in shown and "wpnews" in shown
    assert "eventwatch-progress" not in shown + out
    assert "[crawlers." not in shown  # no log lines without -v


def test_verbose_on_a_terminal_adds_a_line_per_page(wpnews: tuple[SiteServer, Path]) -> None:
    site, config = wpnews
    code, _, shown = crawl_on_a_terminal(config, "-v")
    assert code == 0, shown
    assert f"{ARTICLES}/{ARTICLES} fetched 8  stored 4" in shown
    assert len(re.findall(r"source=wpnews new article \d+ ", shown)) == ARTICLES
    assert f"listing {site.base_url}/page/2/: HTTP 200" in shown


def test_piped_output_stays_plain(wpnews: tuple[SiteServer, Path]) -> None:
    _, config = wpnews
    result = run_cli(config, "crawl", "wpnews", "--no-alerts")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("wpnews: ok: pages fetched 8, new articles 4")
    assert result.stderr == ""


def test_verbose_piped_gives_one_plain_line_per_page(wpnews: tuple[SiteServer, Path]) -> None:
    site, config = wpnews
    result = run_cli(config, "crawl", "wpnews", "--no-alerts", "-v")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    stored = [line for line in lines if re.search(r"source=wpnews new article \d+ http", line)]
    assert len(stored) == ARTICLES
    listings = [
        line for line in lines if "[crawlers.crawling.progress]" in line and " listing " in line
    ]
    assert len(listings) == 3 and all(site.base_url in line for line in listings)
    assert "\x1b[" not in result.stderr and "━" not in result.stderr
    assert "eventwatch-progress" not in result.stderr + result.stdout
    assert "Enabled extensions" not in result.stderr  # Scrapy's chatter stays in the crawl


def test_progress_lines_read_back_and_others_are_not_progress() -> None:
    line = (
        'eventwatch-progress {"run": 3, "source": "pam", "fetched": 5, "stored": 2,'
        ' "queued": 4, "done": 3}'
    )
    assert read_progress(line) == Progress(3, "pam", fetched=5, stored=2, queued=4, done=3)
    for other in ("eventwatch-progress {", 'eventwatch-report {"run": 3}', "plain words"):
        assert read_progress(other) is None


def test_a_plain_display_keeps_warnings_and_page_lines_only(tmp_path: Path) -> None:
    with (tmp_path / "err.txt").open("w+") as stream:
        display = CrawlDisplay(stream, verbose=True, live=False)
        for line in (
            "2026-12-06 14:00:00 [scrapy.middleware] INFO: Enabled extensions:",
            "['scrapy.extensions.corestats.CoreStats']",
            "2026-12-06 14:00:01 [crawlers.crawling.pipelines] INFO: source=pam new article 1 http://a/1",
            "2026-12-06 14:00:02 [scrapy.core.scraper] ERROR: Spider error processing",
            "Traceback (most recent call last):",
            'eventwatch-progress {"run": 1, "source": "pam"}',
        ):
            display(line)
        display.close()
        stream.seek(0)
        assert stream.read().splitlines() == [
            "2026-12-06 14:00:01 [crawlers.crawling.pipelines] INFO: source=pam new article 1 http://a/1",
            "2026-12-06 14:00:02 [scrapy.core.scraper] ERROR: Spider error processing",
            "Traceback (most recent call last):",
        ]
