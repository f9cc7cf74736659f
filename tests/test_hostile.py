"""The web-side fault matrix: `eventwatch crawl` of a site where most pages misbehave.

One crawl of tests/hostile.py's site, with small limits so that it takes seconds: it must
finish, exit 0 (the source answered; page errors are reported, not fatal), record each
failure on the crawl run, store every good article, and fetch nothing it must not (the
canary server, also the http proxy for other hosts, must see no request at all).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.conf import build_component_list
from scrapy.utils.python import without_none_values
from sqlalchemy import select

from crawlers.crawling.crawl import crawl_settings
from crawlers.launcher.oneshot import crawl_source
from crawlers.launcher.sources import CrawlSource
from crawlers.urls import normalize_url
from monitor.config import SourceConfig
from storage.db import Database
from storage.migrate import upgrade
from storage.models import CrawlRun
from tests.hostile import BAD, FEEDS, GOOD_ARTICLES, SITEMAPS, HostileSite, serve_hostile
from tests.sitehost import silent_server
from tests.test_crawl import source_yaml, stored, write_config

# What each bad page's failure line must say (the rest only need a line of their own).
EXPECTED_REASON = {
    "drip": "DownloadTimeoutError",
    "hang": "DownloadTimeoutError",
    "huge": "larger than download max size",
    "huge_unsized": "page-size limit",
    "gzip_bomb": "during decompression",
    "loop": "redirect loop",
    "chain": "max redirections",
    "redirect_metadata": "off-site: http://169.254.169.254/",
    "redirect_other_host": "off-site: http://localhost:",
    "redirect_other_port": "off-site",
    "redirect_file": "HTTP 302",
    "status_503_later": "HTTP 503 (Retry-After: 3600)",
    "status_429": "HTTP 429 (Retry-After:",
    "status_403": "HTTP 403",
    "empty": "not a text page",
}
NOT_RECORDED = {"no_html"}  # answers 200; it is simply not an article


@dataclass
class HostileCrawl:
    site: HostileSite
    result: subprocess.CompletedProcess[str]
    log: str
    db_url: str


def hostile_source(site: HostileSite, log_file: Path, **extra: Any) -> dict[str, Any]:
    base = site.base_url
    source = source_yaml("hostile", base, time_limit="45s", max_page_size_mb=4, **extra)
    source["feeds"] = [base + path for path in FEEDS]
    source["sitemaps"] = [base + path for path in SITEMAPS]
    source["per_host_concurrency"] = 8
    source["scrapy_settings"].update(
        {"RETRY_TIMES": 1, "DOWNLOAD_TIMEOUT": 3, "LOG_FILE": str(log_file)}
    )
    return source


def crawl(config: Path, site: HostileSite) -> subprocess.CompletedProcess[str]:
    """`eventwatch crawl`, with the canary as the http proxy: a request to any host but
    127.0.0.1 reaches the canary instead of the network, and is seen."""
    env = {**os.environ, "http_proxy": site.canary.base_url, "no_proxy": "127.0.0.1"}
    env.pop("HTTP_PROXY", None)
    command = [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl", "hostile"]
    return subprocess.run(
        [*command, "--no-alerts"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(scope="module")
def hostile_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileCrawl]:
    tmp = tmp_path_factory.mktemp("hostile")
    with serve_hostile(tmp) as site:
        log_file = tmp / "crawl.log"
        config = write_config(tmp, [hostile_source(site, log_file)])
        result = crawl(config, site)
        log = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
        yield HostileCrawl(site, result, log, f"sqlite:///{tmp / 'eventwatch.db'}")


def test_crawl_finishes_ok_without_a_traceback(hostile_crawl: HostileCrawl) -> None:
    result = hostile_crawl.result
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("hostile: ok:")
    assert "Traceback" not in result.stdout + result.stderr + hostile_crawl.log


def test_every_good_article_is_stored_intact(hostile_crawl: HostileCrawl) -> None:
    articles = stored(hostile_crawl.db_url)
    base = hostile_crawl.site.base_url
    for good in GOOD_ARTICLES:
        article = articles.get(normalize_url(base + good.path))
        assert article is not None, f"{good.path} not stored"
        assert good.title in article.title  # the wrong charset was not believed
        text = article.text
        for paragraph in good.paragraphs:
            kept = [part for part in paragraph.split("rose by") if part]  # bytes broken there
            assert all(part.strip() in text for part in kept), f"{good.path}: lost text"


def test_each_failure_is_recorded_on_the_run(hostile_crawl: HostileCrawl) -> None:
    db = Database(hostile_crawl.db_url)
    with db.session() as session:
        (run,) = session.scalars(select(CrawlRun))
        status, errors, error = run.status, run.errors, run.error or ""
    db.dispose()
    failing = [path for path, case in BAD.items() if case not in NOT_RECORDED]
    assert status == "ok"
    assert errors >= len(failing)
    assert error.count("http://127.0.0.1") >= 5
    lines = [line for line in hostile_crawl.log.splitlines() if "source=hostile" in line]
    base = hostile_crawl.site.base_url
    for path in failing:
        found = [line for line in lines if f" {base}{path}: " in line]
        assert found, f"no failure recorded for {path}"
        assert EXPECTED_REASON.get(BAD[path], "") in found[0], found[0]


def test_nothing_forbidden_is_fetched(hostile_crawl: HostileCrawl) -> None:
    site = hostile_crawl.site
    assert site.canary.requests == []  # other hosts, other ports, external entities
    own_host = urlsplit_host(site.base_url)
    assert {host for host, _ in site.requests} == {own_host}
    paths = site.paths()
    assert not [p for p in paths if p.startswith("/private")], "robots.txt ignored"
    assert not [p for p in paths if "read-from-a-local-file" in p], "feed parser read a file"
    assert not [p for p in paths if "lol" in p or "&" in p], "an entity was expanded"


def urlsplit_host(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def test_block_private_addresses_refuses_a_loopback_site(tmp_path: Path) -> None:
    with serve_hostile(tmp_path) as site:
        source = hostile_source(site, tmp_path / "crawl.log", block_private_addresses=True)
        result = crawl(write_config(tmp_path, [source]), site)
        asked = list(site.requests)
    assert result.returncode == 1
    assert result.stdout.startswith("hostile: failed:")
    assert "non-public address (127.0.0.1)" in result.stdout
    assert asked == []
    log = (tmp_path / "crawl.log").read_text(encoding="utf-8")
    assert "Traceback" not in result.stdout + result.stderr + log


def test_resource_bounds_are_per_source() -> None:
    config = SourceConfig.model_validate(
        {"name": "s", "start_urls": ["https://example.org/"], "memory_limit_mb": 768,
         "max_page_size_mb": 2, "max_pages": 40, "time_limit": "5m"}
    )  # fmt: skip
    settings = crawl_settings(config.crawl_source(), "sqlite://", 1, refresh=False)
    assert config.crawl_source().memory_limit_mb == 768  # the cap of the process that runs it
    assert settings.getint("DOWNLOAD_MAXSIZE") == 2 * 1024 * 1024
    assert settings.getfloat("CLOSESPIDER_TIMEOUT") == 300
    assert settings.getint("CLOSESPIDER_PAGECOUNT") >= 40
    short = SourceConfig.model_validate(
        {"name": "q", "start_urls": ["https://example.org/"], "time_limit": "5s"}
    )
    # a download never outlasts the crawl's own limit, so the crawl closes near it
    assert (
        crawl_settings(short.crawl_source(), "sqlite://", 1, False).getfloat("DOWNLOAD_TIMEOUT")
        == 5
    )


def test_a_crawl_runs_no_remote_console_and_fetches_web_urls_only() -> None:
    """Scrapy's remote console (code execution over HTTP) and telnet console stay out, and no
    file://, data:, ftp:// or s3:// handler exists for a hostile link or redirect to reach."""
    source = CrawlSource("s", start_urls=("https://example.org/",))
    settings = crawl_settings(source, "sqlite://", 1, refresh=False)
    extensions = build_component_list(settings.getwithbase("EXTENSIONS"))
    assert not [e for e in extensions if "remote_control" in e or "telnet" in e]
    assert "crawlers.crawling.extensions.CrawlRunRecorder" in extensions
    assert "scrapy.extensions.closespider.CloseSpider" in extensions  # time and page limits
    assert "scrapy.extensions.memusage.MemoryUsage" in extensions
    middlewares = build_component_list(settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware" in middlewares
    assert "crawlers.crawling.middlewares.SiteBoundsMiddleware" in middlewares
    handlers = without_none_values(settings.getwithbase("DOWNLOAD_HANDLERS"))
    assert set(handlers) == {"http", "https"}


def test_components_a_source_adds_leave_eventwatchs_own_in_place() -> None:
    """A source's DOWNLOADER_MIDDLEWARES or DOWNLOAD_HANDLERS replaced eventwatch's whole:
    the site bounds, the lease's checks and the conditional requests went with them, and the
    file:// and ftp:// handlers came back."""
    added = "scrapy.downloadermiddlewares.stats.DownloaderStats"
    source = CrawlSource(
        "s", start_urls=("http://127.0.0.1:9/",),
        extra_settings={"DOWNLOADER_MIDDLEWARES": {added: 850}, "DOWNLOAD_HANDLERS": {}},
    )  # fmt: skip
    settings = crawl_settings(source, "sqlite://", 1, refresh=False)
    middlewares = build_component_list(settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert added in middlewares
    assert "crawlers.crawling.middlewares.SiteBoundsMiddleware" in middlewares
    assert "crawlers.crawling.leases.LeaseMiddleware" in middlewares
    assert "crawlers.crawling.middlewares.ConditionalGetMiddleware" in middlewares
    handlers = without_none_values(settings.getwithbase("DOWNLOAD_HANDLERS"))
    assert handlers == {
        "http": "crawlers.crawling.leases.LeasedDownloadHandler",
        "https": "crawlers.crawling.leases.LeasedDownloadHandler",
    }
    as_text = CrawlSource(  # Scrapy reads a mapping given as JSON text as well
        "s", start_urls=("http://127.0.0.1:9/",),
        extra_settings={"DOWNLOADER_MIDDLEWARES": json.dumps({added: 850})},
    )  # fmt: skip
    settings = crawl_settings(as_text, "sqlite://", 1, refresh=False)
    middlewares = build_component_list(settings.getwithbase("DOWNLOADER_MIDDLEWARES"))
    assert added in middlewares and "crawlers.crawling.leases.LeaseMiddleware" in middlewares


def test_crawl_subprocess_killed_is_recorded_as_failed(db_url: str) -> None:
    """kill -9 from outside (the OOM killer, an operator): the run is closed, not left open."""
    upgrade(db_url)
    with silent_server() as hung:
        source = CrawlSource("hung", start_urls=(hung + "/",), time_limit=60)

        def kill_soon(child: subprocess.Popen[str]) -> None:
            threading.Timer(2.0, child.send_signal, (signal.SIGKILL,)).start()

        db = Database(db_url)
        try:
            run = crawl_source(source, db, on_start=kill_soon)
        finally:
            db.dispose()
    assert run.status == "failed"
    assert run.finished_at is not None
    assert "exited -9" in (run.error or "")
