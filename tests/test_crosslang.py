"""End to end: the labelled reports (tests/fixtures/xlang: 64 reports in English, French,
Russian and Arabic of 22 events, with hard negatives) served as five fixture sites and
crawled. No two events are ever merged; reports in other languages join their event and
alert once; each says why it joined; a split and a merge lose and double no alert."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from bench.crosslang import hard_negatives, score
from storage.signals import SAME_EVENT_SCORE
from tests.crosslang_sites import load_reports, write_sites
from tests.receivers import WebhookReceiver
from tests.sitehost import serve
from tests.test_events import SECRET, alert_sources, cli, write_config

RULE = "place:Dushanbe"  # two events there, on two days: seven reports in four languages


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, WebhookReceiver]]:
    """Every site crawled once, alerts sent to a webhook."""
    folder = tmp_path_factory.mktemp("xlang")
    roots = write_sites(folder / "sites", load_reports())
    with ExitStack() as stack, WebhookReceiver() as hook:
        sites = {name: stack.enter_context(serve(root)) for name, root in roots.items()}
        config = write_config(folder, sites, hook.url, RULE)
        cli(config, "crawl", *sites)
        yield config, hook


def events(config: Path) -> list[dict[str, Any]]:
    listed = cli(config, "events", "list", "--json", "--limit", "500").stdout
    return [json.loads(line) for line in listed.splitlines() if line]


def report_events(config: Path) -> dict[str, int]:
    """Each report's id (the name of its page) -> its event id."""
    found = {}
    for event in events(config):
        for report in event["reports"]:
            found[re.sub(r"\.html$", "", report["url"].rsplit("/", 1)[1])] = event["id"]
    return found


def test_no_two_labelled_events_are_merged_and_reports_join_across_languages(
    crawled: tuple[Path, WebhookReceiver],
) -> None:
    config, _ = crawled
    reports = load_reports()
    found = report_events(config)
    assert set(found) == {r.id for r in reports}
    scores = score(reports, found, hard_negatives())
    assert scores.false_merges == ()
    assert scores.hard_negative_precision == 1.0
    assert scores.bcubed_f1 >= 0.9


def test_the_first_report_alerts_once_and_other_languages_never_again(
    crawled: tuple[Path, WebhookReceiver],
) -> None:
    config, hook = crawled
    assert len(alert_sources(hook)) == 2  # the conference and the water conference
    cli(config, "alerts", "send")
    assert len(alert_sources(hook)) == 2


def test_each_report_says_why_it_joined_its_event(crawled: tuple[Path, WebhookReceiver]) -> None:
    config, _ = crawled
    [conference] = [
        e for e in events(config) if any(r["url"].endswith("/ct-ru.html") for r in e["reports"])
    ]
    reasons = {r["url"].rsplit("/", 1)[1]: r for r in conference["reports"]}
    assert set(reasons) == {"ct-en.html", "ct-fr.html", "ct-ru.html", "ct-ar.html"}
    first, *others = conference["reports"]
    assert first["by"] == "first report"
    assert {r["by"] for r in others} == {"shared signals"}
    shared = {(s["kind"], s["value"]) for r in others for s in r["shared"]}
    assert {("city", "Dushanbe"), ("org", "OSCE"), ("date", "2026-05-16")} <= shared
    assert all(r["score"] >= SAME_EVENT_SCORE and r["article"] for r in others)


def test_a_split_report_alerts_as_its_own_event_once_and_a_merge_alerts_nothing_more(
    crawled: tuple[Path, WebhookReceiver],
) -> None:
    config, hook = crawled
    found = report_events(config)
    article = _article_id(config, "ct-ar")
    said = cli(config, "events", "split", str(article)).stdout
    new_event = int(said.split("is now event ")[1].split(";")[0])
    cli(config, "alerts", "send")
    assert len(alert_sources(hook)) == 3  # the split report is matched again, as its event
    cli(config, "alerts", "send")
    assert len(alert_sources(hook)) == 3
    cli(config, "events", "merge", str(found["ct-en"]), str(new_event))
    cli(config, "alerts", "send")
    assert len(alert_sources(hook)) == 3
    assert report_events(config)["ct-ar"] == found["ct-en"]
    reasons = {r["url"].rsplit("/", 1)[1]: r["by"] for e in events(config) for r in e["reports"]}
    assert reasons["ct-ar.html"] == "merge"


def test_a_bad_split_or_merge_is_one_line_and_changes_nothing(
    crawled: tuple[Path, WebhookReceiver],
) -> None:
    config, _ = crawled
    before = report_events(config)
    for args in (("split", "999999"), ("merge", "1", "999999"), ("merge", "1", "1")):
        result = cli_failing(config, "events", *args)
        assert result.count("\n") == 1 and result.startswith("eventwatch: events ")
    assert report_events(config) == before


def cli_failing(config: Path, *args: str) -> str:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "SOC_SECRET": SECRET},
    )  # fmt: skip
    assert result.returncode == 2
    return result.stderr


def _article_id(config: Path, report: str) -> int:
    for event in events(config):
        for found in event["reports"]:
            if found["url"].endswith(f"/{report}.html"):
                return int(found["article_id"])
    raise AssertionError(f"report {report} not stored")
