"""The command-line contract: JSON fields, filters, exit codes of the read-only commands."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.articles import NewArticle, store_article
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Article
from tests.conftest import FIXTURES
from tests.sitehost import serve
from tests.test_crawl import run_cli, source_yaml, write_config

EVENT_FIELDS = {"id", "event_id", "url", "source", "sources", "title", "published_at",
                "language", "languages", "text", "first_seen", "places", "organisations",
                "dates_mentioned"}  # fmt: skip


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """wpnews and feedsite crawled once into one database; yields the config path."""
    tmp = tmp_path_factory.mktemp("cli")
    for name in ("wpnews", "feedsite"):
        shutil.copytree(FIXTURES / "sites" / name, tmp / name)
    with serve(tmp / "wpnews") as news, serve(tmp / "feedsite") as feeds:
        sources = [source_yaml("wpnews", news.base_url), source_yaml("feedsite", feeds.base_url)]
        rules = [{"name": "dushanbe", "query": "Dushanbe AND terror*"}]
        config = write_config(tmp, sources, rules=rules)
        result = run_cli(config, "crawl", "--all", "--no-alerts")
        assert result.returncode == 0, result.stdout + result.stderr
        yield config


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_events_list_json_has_the_contract_fields_newest_first(crawled: Path) -> None:
    result = run_cli(crawled, "events", "list", "--json")
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert len(events) == 7  # 4 wpnews + 3 feedsite articles, each its own story
    for event in events:
        assert event.keys() >= EVENT_FIELDS
        assert event["id"] == event["event_id"]
        assert event["text"] and event["url"].startswith("http://127.0.0.1:")
    ids = [e["event_id"] for e in events]
    assert ids == sorted(ids, reverse=True)


def test_events_list_filters_by_source_and_date(crawled: Path) -> None:
    only = json_lines(run_cli(crawled, "events", "list", "--json", "--source", "feedsite").stdout)
    assert {e["source"] for e in only} == {"feedsite"} and len(only) == 3
    recent = run_cli(crawled, "events", "list", "--json", "--since", "2024-12-01").stdout
    dates = [e["published_at"][:10] for e in json_lines(recent)]
    assert dates and all(d >= "2024-12-01" for d in dates)
    assert "2024-10-02" not in dates


def test_rules_test_shows_matches_and_queues_nothing(crawled: Path) -> None:
    result = run_cli(crawled, "rules", "test", "dushanbe")
    assert result.returncode == 0, result.stderr
    assert "Dushanbe conference on countering terrorism" in result.stdout
    assert "1 matching events" in result.stdout
    assert json_lines(run_cli(crawled, "alerts", "list", "--json").stdout) == []
    empty = run_cli(crawled, "alerts", "list").stdout.splitlines()  # said so, not silence
    assert empty[0].split()[:3] == ["id", "status", "channel"] and empty[-1] == "no deliveries"
    failed = run_cli(crawled, "alerts", "list", "--status", "failed").stdout.splitlines()
    assert failed[-1] == "no failed deliveries"
    bad = run_cli(crawled, "rules", "test", "Dushanbe AND (")
    assert bad.returncode == 2 and "position" in bad.stderr


def test_extract_takes_files_and_folders_in_one_process(tmp_path: Path) -> None:
    site = FIXTURES / "sites" / "wpnews" / "2024"
    pages = sorted(site.rglob("index.html"))
    result = run_cli(tmp_path / "none.yaml", "extract", str(site), "--json")
    assert result.returncode == 0, result.stderr
    found = json_lines(result.stdout)
    assert [Path(f["file"]) for f in found] == pages
    assert all(
        {"file", "url", "title", "published_at", "language", "text"} <= f.keys() for f in found
    )
    dushanbe = next(f for f in found if "dushanbe" in f["file"])
    assert dushanbe["published_at"].startswith("2024-12-24")
    assert "[gallery" not in dushanbe["text"] and "Comments are Closed" not in dushanbe["text"]


def test_unknown_source_is_a_usage_error(crawled: Path) -> None:
    result = run_cli(crawled, "crawl", "nosuchsource")
    assert result.returncode == 2
    assert "nosuchsource" in result.stderr and "Traceback" not in result.stderr


def test_rules_test_finds_a_rule_in_any_report_of_an_event(tmp_path: Path) -> None:
    """As matching does: one event of two reports, only the second naming the place."""
    database = f"sqlite:///{tmp_path / 'eventwatch.db'}"
    upgrade(database)
    db = Database(database)
    title = "Regional parliamentary conference on border cooperation opens"
    for source, text in (
        ("desk", "Delegations from eleven countries gathered for a conference on borders."),
        ("wire", "The conference, held in Dushanbe, brought eleven delegations together."),
    ):
        url = f"https://{source}.example/conference"
        store_article(db, NewArticle(source=source, url=url, canonical_url=url, title=title,
                                     text=text))  # fmt: skip
    with db.session() as session:
        assert len(set(session.scalars(select(Article.event_id)))) == 1
    db.dispose()
    config = write_config(tmp_path, [], rules=[{"name": "dushanbe", "query": "Dushanbe"}])
    result = run_cli(config, "rules", "test", "dushanbe")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1 matching events"
