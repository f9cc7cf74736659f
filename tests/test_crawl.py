"""End to end: `eventwatch crawl` against fixture sites served on 127.0.0.1.

Each site's expected articles (tests/fixtures/expected/SITE.yaml) must be stored with every
paragraph, the right title and date, and none of the site's boilerplate; a second crawl
stores nothing and fetches no article page again.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from crawlers.urls import normalize_url
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Article, ArticleUrl, CrawlRun, PageFailure, ScheduleState
from storage.runs import open_run
from tests.conftest import FIXTURES
from tests.sitehost import SiteServer, holding_server, serve, silent_server

WPNEWS_ARTICLE = "2024/12/24/dushanbe-conference-on-countering-terrorism-opens"
SITES = sorted(p.stem for p in (FIXTURES / "expected").glob("*.yaml"))


def source_yaml(name: str, base: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "start_urls": [base + "/"],
        "schedule": {"every": "1h"},
        "download_delay": 0,
        "scrapy_settings": {"AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0},
        **extra,
    }


def write_config(tmp_path: Path, sources: list[dict[str, Any]], **extra: Any) -> Path:
    config = {"database": f"sqlite:///{tmp_path / 'eventwatch.db'}", "sources": sources, **extra}
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SiteServer]:
    root = tmp_path / request.param
    shutil.copytree(FIXTURES / "sites" / request.param, root)
    with serve(root) as server:
        yield server


def stored(db_url: str) -> dict[str, Article]:
    db = Database(db_url)
    with db.session() as session:
        rows = session.execute(select(ArticleUrl.url, Article).join(Article)).all()
    db.dispose()
    return {url: article for url, article in rows}


def expected_for(name: str) -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / "expected" / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("site", SITES, indirect=True)
def test_crawl_stores_clean_articles_once(site: SiteServer, tmp_path: Path) -> None:
    name = site.name
    expected = expected_for(name)
    config = write_config(tmp_path, [source_yaml(name, site.base_url, max_listing_pages=5)])
    first = run_cli(config, "crawl", name, "--no-alerts")
    assert first.returncode == 0, first.stderr
    assert f"{name}: ok" in first.stdout

    articles = stored(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    for item in expected["articles"]:
        url = normalize_url(site.base_url + item["path"])
        assert url in articles, f"{item['path']} not stored"
        article = articles[url]
        text = " ".join(article.text.split())
        for paragraph in item["paragraphs"]:
            assert " ".join(paragraph.split()) in text, f"{item['path']}: lost {paragraph[:60]!r}"
        for line in expected.get("boilerplate", []):
            assert line not in article.text, f"{item['path']}: boilerplate {line!r}"
        assert article.title == item["title"]
        assert article.published_at is not None
        assert article.published_at.date().isoformat() == str(item["published"])
        assert list(article.languages) == list(item["languages"])
    for path in expected.get("not_articles", []):
        assert normalize_url(site.base_url + path) not in articles
    assert not [p for p in site.paths() if p.startswith("/private")], "robots.txt ignored"
    assert len({a.id for a in articles.values()}) == len(expected["articles"])

    article_paths = {item["path"] for item in expected["articles"]}
    site.clear()
    second = run_cli(config, "crawl", name, "--no-alerts")
    assert second.returncode == 0, second.stderr
    assert "new articles 0" in second.stdout
    refetched = [p for p in site.paths() if p in article_paths]
    assert refetched == []
    assert len({a.id for a in stored(f"sqlite:///{tmp_path / 'eventwatch.db'}").values()}) == len(
        article_paths
    )


@pytest.mark.parametrize("site", ["feedsite"], indirect=True)
def test_max_pages_counts_each_article_once(site: SiteServer, tmp_path: Path) -> None:
    """The feed and the sitemap name the same articles (one with tracking parameters): each
    is fetched once and spends the budget once, so four distinct URLs fit in max_pages 4."""
    config = write_config(tmp_path, [source_yaml("feedsite", site.base_url, max_pages=4)])
    assert run_cli(config, "crawl", "feedsite", "--no-alerts").returncode == 0
    articles = stored(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    paths = [item["path"] for item in expected_for("feedsite")["articles"]]
    for path in paths:
        assert normalize_url(site.base_url + path) in articles, path
    for path in [*paths, "/news/item?id=42"]:  # the fourth: another address of the second
        assert len([p for p in site.paths() if p.startswith(path)]) == 1, path


@pytest.mark.parametrize("site", ["feedsite"], indirect=True)
def test_robots_txt_is_fetched_once_and_the_sitemap_it_names_is_crawled(
    site: SiteServer, tmp_path: Path
) -> None:
    """Scrapy reads robots.txt to obey it; the spider takes the sitemaps from that reading
    instead of asking the site a second time."""
    config = write_config(tmp_path, [source_yaml("feedsite", site.base_url)])
    assert run_cli(config, "crawl", "feedsite", "--no-alerts").returncode == 0
    assert site.paths().count("/robots.txt") == 1
    assert "/sitemap.xml" in site.paths()
    site.clear()
    refresh = {"ROBOTSTXT_OBEY": False, "AUTOTHROTTLE_ENABLED": False, "RETRY_TIMES": 0}
    config = write_config(
        tmp_path, [source_yaml("feedsite", site.base_url, scrapy_settings=refresh)]
    )
    assert run_cli(config, "crawl", "feedsite", "--refresh", "--no-alerts").returncode == 0
    assert site.paths().count("/robots.txt") == 1  # not obeyed, still read for its sitemaps
    assert "/sitemap.xml" in site.paths()


@pytest.mark.parametrize("site", ["wpnews"], indirect=True)
def test_conditional_get_on_recrawl(site: SiteServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, [source_yaml("wpnews", site.base_url)])
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    site.clear()
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    home = [headers for path, headers in site.requests if path == "/"]
    assert home and "If-None-Match" in home[0]


@pytest.mark.parametrize("site", ["feedsite"], indirect=True)
def test_a_crawl_without_alerts_loads_only_the_crawl_command(
    site: SiteServer, tmp_path: Path
) -> None:
    """A re-crawl of unchanged sites takes about as long as the command's imports: matching,
    the channels' sending, the schedules and the other commands wait for a crawl that sends
    alerts, or never load."""
    config = write_config(tmp_path, [source_yaml("feedsite", site.base_url)])
    script = (
        "import sys\n"
        "from monitor import cli\n"
        f"code = cli.main(['--config', {str(config)!r}, 'crawl', '--all', '--no-alerts'])\n"
        "names = ('monitor.flow', 'monitor.commands', 'monitor.eventcommands', 'apscheduler')\n"
        "print(code, *(name in sys.modules for name in names))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
    )
    assert result.stdout.splitlines()[-1] == "0 False False False False", result.stderr
    assert "feedsite: ok" in result.stdout
    assert stored(f"sqlite:///{tmp_path / 'eventwatch.db'}")  # it crawled and stored


@pytest.mark.parametrize("site", ["wpnews"], indirect=True)
def test_a_crawl_lets_its_source_go_due_a_period_on_for_workers(
    site: SiteServer, tmp_path: Path
) -> None:
    """The command leases its source in the shared schedule: a row it made said the source
    was due at once, and workers started later crawled every such source again in a burst."""
    config = write_config(tmp_path, [source_yaml("wpnews", site.base_url)])  # every 1h
    before = datetime.now(UTC)
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        state = session.get_one(ScheduleState, "wpnews")
        assert (state.crawling_by, state.crawling_until) == (None, None)  # let go
        assert state.next_due_at >= before + timedelta(minutes=59)
    db.dispose()


def test_unreachable_source_is_reported_and_others_still_crawl(tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(FIXTURES / "sites" / "wpnews", root)
    with serve(root) as live:
        dead = source_yaml("dead", "http://127.0.0.1:9")  # nothing listens on the discard port
        config = write_config(tmp_path, [dead, source_yaml("wpnews", live.base_url)])
        result = run_cli(config, "crawl", "--all", "--no-alerts")
    assert result.returncode == 1
    assert "dead: failed" in result.stdout and "Connection" in result.stdout
    assert "wpnews: ok" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        statuses = sorted(r.status for r in session.scalars(select(CrawlRun)))
    db.dispose()
    assert statuses == ["failed", "ok"]
    table = run_cli(config, "status").stdout.splitlines()
    assert next(line for line in table if line.startswith("dead ")).endswith("ok (1 failed)")
    assert next(line for line in table if line.startswith("wpnews ")).endswith("  ok")
    assert table[-1] == "deliveries: 0 pending, 0 held, 0 digested, 0 sent, 0 failed, 0 merged"


def test_crawl_past_its_time_limit_is_stopped_and_recorded(tmp_path: Path) -> None:
    """At its limit the crawl gives up its download under way and closes itself: it had
    waited for it (up to DOWNLOAD_TIMEOUT) until its master killed it, losing its verdict."""
    with holding_server() as site:
        source = source_yaml("hung", site.base_url, time_limit="3s")
        source["scrapy_settings"]["DOWNLOAD_TIMEOUT"] = 600  # only the time limit can end it
        result = run_cli(write_config(tmp_path, [source]), "crawl", "hung", "--no-alerts")
        assert site.all_given_up()
    assert result.returncode == 1
    assert "hung: timeout" in result.stdout
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        (run,) = session.scalars(select(CrawlRun))
        assert run.status == "timeout"
        assert run.finished_at is not None
        assert (run.error or "").startswith("stopped at its time limit; 0 entry pages answered")
        assert not session.scalars(select(PageFailure)).all()  # not fetched, nor failed
    db.dispose()


def test_sigterm_gives_up_a_download_under_way(tmp_path: Path) -> None:
    """A stop waited for each download under way, up to DOWNLOAD_TIMEOUT on a site that
    never answers, until the master killed the crawl process a minute later."""
    with holding_server() as site:
        source = source_yaml("hung", site.base_url, time_limit="10m")
        source["scrapy_settings"]["DOWNLOAD_TIMEOUT"] = 600
        command = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config",
             str(write_config(tmp_path, [source])), "crawl", "hung"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            for _ in range(1200):
                if site.asked or command.poll() is not None:
                    break
                time.sleep(0.1)
            command.send_signal(signal.SIGTERM)
            _, errors = command.communicate(timeout=120)
        finally:
            if command.poll() is None:
                command.kill()
        assert site.all_given_up()
    assert command.returncode == 143, errors
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        (run,) = session.scalars(select(CrawlRun))
        assert run.status == "stopped"
        # the crawl's own verdict, with its counts: not the master's word on a killed process
        assert (run.error or "").startswith("its process was asked to stop; 0 entry pages")
        assert not session.scalars(select(PageFailure)).all()
    db.dispose()


def test_a_crawl_scrapy_would_not_stop_is_stopped_at_its_limit_and_keeps_its_counts(
    tmp_path: Path,
) -> None:
    """CLOSESPIDER_TIMEOUT set to 0 by the user: the pool's stop at the limit cancelled the
    crawl's task, which Scrapy's engine outlived; the run was closed with no counts while
    the crawl went on, unrecorded, beside the next crawl of its source."""
    from crawlers.launcher.jobs import PoolSettings  # the pool itself: when its run closes
    from crawlers.launcher.runner import CrawlPool
    from crawlers.launcher.sources import CrawlSource
    from tests import newsroom

    root = tmp_path / "newsroom"
    newsroom.build(root)
    url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(url)
    db = Database(url)
    pool = CrawlPool(db, PoolSettings(extract_workers=0))
    with serve(root, delay=0.3) as site:
        try:
            source = CrawlSource(
                name="newsroom", start_urls=(site.base_url + "/",), time_limit=1.0,
                download_delay=0.5, extra_settings={"CLOSESPIDER_TIMEOUT": 0},
            )  # fmt: skip
            run = pool.submit(source).done.result(timeout=120)
            asked = len(site.paths())
            time.sleep(3)  # a crawl left going on asks a page every half second
            assert len(site.paths()) == asked
        finally:
            pool.close(10)
            db.dispose()
    assert run.status == "timeout" and "stopped at its time limit" in (run.error or "")
    assert run.pages > 1  # its own counts: a stop that cancelled it recorded none
    assert run.pages <= asked


def test_a_crawl_process_goes_on_when_a_ctrl_c_reaches_it_alone(tmp_path: Path) -> None:
    """Its master alone decides how its crawls stop: the crawl process ignored SIGINT only
    until Scrapy started, which put its own handler back and stopped the crawls itself."""
    import os

    from crawlers.launcher.sources import CrawlSource
    from tests import newsroom
    from tests.newsroom_pool import newsroom_pool

    with newsroom_pool(tmp_path, delay=0.2) as (pool, site, started):
        source = CrawlSource(name="newsroom", start_urls=(site.base_url + "/",), download_delay=0.1)
        job = pool.submit(source)
        while len(site.paths()) < 3:  # under way, Scrapy started
            time.sleep(0.05)
        os.kill(started[0].pid, signal.SIGINT)
        run = job.done.result(timeout=120)
    assert run.status == "ok", run.error
    assert run.new_articles == len(newsroom.ARTICLES)


def test_articles_are_stored_while_the_crawl_goes_on(tmp_path: Path) -> None:
    """Articles are stored in batches, but none waits for the crawl to end: here the crawl
    is held open by a page that never answers, and the site's articles are stored before."""
    root = tmp_path / "site"
    shutil.copytree(FIXTURES / "sites" / "wpnews", root)
    expected = len(expected_for("wpnews")["articles"])
    db_url = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(db_url)
    with serve(root) as live, silent_server() as hung:
        source = source_yaml("wpnews", live.base_url, time_limit="2m")
        source["start_urls"].append(hung + "/")
        source["scrapy_settings"]["DOWNLOAD_TIMEOUT"] = 600  # the hung page holds the crawl
        config = write_config(tmp_path, [source])
        crawl = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl", "wpnews"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 90
            count = 0
            while count < expected and time.monotonic() < deadline and crawl.poll() is None:
                time.sleep(0.5)
                count = len({a.id for a in stored(db_url).values()})
            assert count == expected
            assert crawl.poll() is None  # still crawling: nothing waited for its end
        finally:
            crawl.kill()
            crawl.wait()


def test_per_host_concurrency_holds_without_a_download_delay(tmp_path: Path) -> None:
    """With no delay between requests, ``per_host_concurrency`` is the only limit left: a
    listing's dozen article links, each answered slowly, are asked for two at a time."""
    article = (FIXTURES / "sites" / "wpnews" / WPNEWS_ARTICLE / "index.html").read_bytes()
    root = tmp_path / "site"
    paths = [f"/2024/12/{day:02}/story-{day}/" for day in range(1, 13)]
    for path in paths:
        (root / path.strip("/")).mkdir(parents=True)
        (root / path.strip("/") / "index.html").write_bytes(article)
    links = "".join(f'<li><a href="{path}">Story {path}</a></li>' for path in paths)
    (root / "index.html").write_text(f"<html><body><ul>{links}</ul></body></html>")
    with serve(root, delay=0.2) as live:
        source = source_yaml("slow", live.base_url, per_host_concurrency=2)
        result = run_cli(write_config(tmp_path, [source]), "crawl", "slow", "--no-alerts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(paths) <= set(live.paths())
    assert live.most_open_requests == 2


@pytest.mark.parametrize("site", ["wpnews"], indirect=True)
def test_a_crawl_cut_short_is_followed_by_a_walk_to_the_last_listing_page(
    site: SiteServer, tmp_path: Path
) -> None:
    """The first crawl spends its page budget on the home page's two articles; the next one
    finds the home page's articles all stored, and must still walk on to the older pages,
    whose articles that crawl never fetched."""
    config = write_config(tmp_path, [source_yaml("wpnews", site.base_url, max_pages=2)])
    older = f"{site.base_url}/2024/11/15/new-water-reservoir-to-serve-three-districts"
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    assert older not in _stored_urls(tmp_path)
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    assert older in _stored_urls(tmp_path)
    site.clear()  # a whole walk since: the home page, unchanged, ends the next one again
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    assert "/page/2/" not in site.paths()


def _stored_urls(tmp_path: Path) -> set[str]:
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:
        urls = set(session.scalars(select(Article.url)))
    db.dispose()
    return urls


@contextmanager
def crawling_a_hung_site(
    tmp_path: Path, **extra: Any
) -> Iterator[tuple[Path, subprocess.Popen[str], Database]]:
    """`eventwatch crawl hung` under way (its run open) on a site that never answers: its
    config (with ``extra`` keys), the command, and the database."""
    with silent_server() as hung:
        source = source_yaml("hung", hung, time_limit="10m")
        source["scrapy_settings"]["DOWNLOAD_TIMEOUT"] = 600
        config = write_config(tmp_path, [source], **extra)
        command = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(config), "crawl", "hung"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
        try:
            for _ in range(600):  # the run is open once the crawl has started
                if command.poll() is not None or _run_statuses(db) == ["running"]:
                    break
                time.sleep(0.1)
            yield config, command, db
        finally:
            if command.poll() is None:
                command.send_signal(signal.SIGTERM)
                try:
                    command.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    command.kill()
            db.dispose()


@pytest.mark.parametrize("disabled_meanwhile", [False, True])
def test_the_daemon_leaves_a_source_alone_while_eventwatch_crawl_holds_it(
    tmp_path: Path, disabled_meanwhile: bool
) -> None:
    """The command leases its sources as a worker does: the daemon's crawl, due meanwhile,
    does not start beside it, and waits for the lease to end, not for its next due time (six
    hours here), since the command's crawl may end short of it; unless a reload disabled the
    source meanwhile."""
    beat = {"daemon": {"heartbeat_every": "1s", "stalled_after": "3s"}}
    with crawling_a_hung_site(tmp_path, **beat) as (config, command, db):
        assert _run_statuses(db) == ["running"]
        six_hours = yaml.safe_load(config.read_text(encoding="utf-8"))
        six_hours["sources"][0]["schedule"] = {"every": "6h"}  # its first crawl: at once
        daemon_config = tmp_path / "daemon.yaml"
        daemon_config.write_text(yaml.safe_dump(six_hours), encoding="utf-8")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(daemon_config), "run"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            time.sleep(6)  # the daemon's first due time, and the lease renewed meanwhile
            assert daemon.poll() is None
            assert _run_statuses(db) == ["running"]  # the command's run alone
            if disabled_meanwhile:
                six_hours["sources"][0]["enabled"] = False
                daemon_config.write_text(yaml.safe_dump(six_hours), encoding="utf-8")
                daemon.send_signal(signal.SIGHUP)
                time.sleep(3)
            command.send_signal(signal.SIGTERM)  # its run closes `stopped`
            command.communicate(timeout=120)
            expected = ["stopped"] if disabled_meanwhile else ["stopped", "running"]
            for _ in range(100 if disabled_meanwhile else 600):  # the lease ends in 3 s
                if len(_run_statuses(db)) == 2:
                    break
                time.sleep(0.1)
            assert _run_statuses(db) == expected
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, log = daemon.communicate(timeout=120)
    assert "crawl source=hung waits: another eventwatch crawls it" in log


def test_a_crawl_stopped_by_sigterm_closes_its_runs(tmp_path: Path) -> None:
    """SIGTERM (from timeout, cron or systemd) stops the command as Ctrl-C does: its default
    action had left the run `running` for ever, with no daemon to close it."""
    with crawling_a_hung_site(tmp_path) as (_, command, db):
        command.send_signal(signal.SIGTERM)
        _, errors = command.communicate(timeout=120)
        assert command.returncode == 143, errors
        assert "crawl stopped by SIGTERM" in errors and "Traceback" not in errors
        assert _run_statuses(db) == ["stopped"]


def _run_statuses(db: Database) -> list[str]:
    try:
        with db.session() as session:
            return [run.status for run in session.scalars(select(CrawlRun))]
    except OperationalError:  # not made yet: the command is still upgrading the database
        return []


@pytest.mark.parametrize("site", ["wpnews"], indirect=True)
def test_a_run_left_open_by_a_process_that_died_counts_as_cut_short(
    site: SiteServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path, [source_yaml("wpnews", site.base_url, max_pages=2)])
    older = f"{site.base_url}/2024/11/15/new-water-reservoir-to-serve-three-districts"
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    db = Database(f"sqlite:///{tmp_path / 'eventwatch.db'}")
    with db.session() as session:  # as if that walk had been whole, two hours ago...
        (run,) = session.scalars(select(CrawlRun))
        run.links = {**(run.links or {}), "budget_exhausted": False}
        run.started_at -= timedelta(hours=2)
    orphan = open_run(db, "wpnews")  # ...and a later crawl's process had died with its run open
    with db.session() as session:
        session.get_one(CrawlRun, orphan).started_at -= timedelta(hours=1)
    db.dispose()
    assert run_cli(config, "crawl", "wpnews", "--no-alerts").returncode == 0
    assert older in _stored_urls(tmp_path)


def test_a_source_being_crawled_is_not_crawled_again_at_once(tmp_path: Path) -> None:
    """`eventwatch crawl` beside another crawl of the same source (the daemon's, a worker's,
    another command's): a second crawl at once would double the site's load."""
    with crawling_a_hung_site(tmp_path) as (config, _, db):
        second = run_cli(config, "crawl", "hung", "--no-alerts")
        assert second.returncode == 1
        assert "hung is being crawled now (run 1): not crawled twice at once" in second.stderr
        assert _run_statuses(db) == ["running"]  # no second run was opened
