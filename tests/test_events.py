"""End to end: two fixture sites report one story in different words (different titles, a
rewritten text). They make one event listing both sources, with the places, organisations and
dates the reports name, and exactly one webhook alert, however the crawls are ordered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FIXTURES
from tests.receivers import WebhookReceiver
from tests.sitehost import SiteServer, serve
from tests.test_crawl import source_yaml

SECRET = "events-webhook-key"
RULE = "place:Dushanbe AND (terrorism OR terrorist)"
SITES = ("storydesk", "storywire")


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[dict[str, SiteServer]]:
    with ExitStack() as stack:
        servers = {}
        for name in SITES:
            shutil.copytree(FIXTURES / "sites" / name, tmp_path / name)
            servers[name] = stack.enter_context(serve(tmp_path / name))
        yield servers


def write_config(
    tmp_path: Path, sites: dict[str, SiteServer], hook_url: str, rule: str = RULE
) -> Path:
    config: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path / 'eventwatch.db'}",
        "sources": [source_yaml(name, site.base_url) for name, site in sites.items()],
        "rules": [{"name": "dushanbe-ct", "query": rule, "notify": ["soc"]}],
        "channels": {"soc": {"type": "webhook", "url": hook_url, "secret_env": "SOC_SECRET"}},
    }
    path = tmp_path / "eventwatch.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
        capture_output=True, text=True, timeout=240, env={**os.environ, "SOC_SECRET": SECRET},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def alert_sources(hook: WebhookReceiver) -> list[list[str]]:
    posts = [json.loads(body) for _, body in hook.received]
    return [[a["source"] for a in post["event"]["articles"]] for post in posts]


def the_story(config: Path) -> dict[str, Any]:
    events = [
        json.loads(line)
        for line in cli(config, "events", "list", "--json").stdout.split("\n")
        if line
    ]
    assert len(events) == 3  # the story, and one unrelated article at each site
    [story] = [e for e in events if len(e["sources"]) > 1]
    return story


def test_later_report_joins_the_event_and_sends_no_new_alert(
    sites: dict[str, SiteServer], tmp_path: Path
) -> None:
    with WebhookReceiver() as hook:
        config = write_config(tmp_path, sites, hook.url)
        cli(config, "crawl", "storydesk")
        assert alert_sources(hook) == [["storydesk"]]
        cli(config, "crawl", "storywire")
        assert alert_sources(hook) == [["storydesk"]]

    story = the_story(config)
    assert story["sources"] == ["storydesk", "storywire"]
    assert story["event_id"] == story["id"]
    assert len(story["urls"]) == 2
    assert {"Dushanbe", "Tajikistan", "Vienna"} <= set(story["places"])
    assert {"OSCE PA", "CIS ATC", "UNOCT"} <= set(story["organisations"])
    assert {"text": "September 4-5", "start": "2025-09-04", "end": "2025-09-05"} in story[
        "dates_mentioned"
    ]
    found = cli(config, "rules", "test", 'org:"OSCE PA" AND place:Душанбе').stdout
    assert "1 matching events" in found


def test_reports_crawled_together_make_one_alert_listing_both_sources(
    sites: dict[str, SiteServer], tmp_path: Path
) -> None:
    with WebhookReceiver() as hook:
        config = write_config(tmp_path, sites, hook.url)
        cli(config, "crawl", *SITES)
        assert [sorted(sources) for sources in alert_sources(hook)] == [list(SITES)]
    assert sorted(the_story(config)["sources"]) == list(SITES)
