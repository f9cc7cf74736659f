"""`events list` and `events show` on the real crawled fixture sites: newest activity first,
a header and "N of M", a language column, CSV, first-seen filter, unknown source refused."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from tests.test_crawl import run_cli
from tests.webworld import World


def test_list_has_a_header_a_language_column_and_n_of_m(world: World) -> None:
    result = run_cli(world.config, "events", "list", "--limit", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "day", "lang", "sources", "title"]
    assert len(lines) == 5 and lines[-1].startswith("3 of ")
    total = int(lines[-1].split()[2])
    assert total > 3
    assert " ru " in run_cli(world.config, "events", "list", "--source", "cyrillic").stdout


def test_list_is_newest_activity_first(world: World) -> None:
    listed = run_cli(world.config, "events", "list", "--json").stdout.splitlines()
    stamps = [json.loads(line)["updated_at"] for line in listed]
    assert stamps == sorted(stamps, reverse=True)


def test_first_seen_since_filters_on_arrival_not_publication(world: World) -> None:
    today = datetime.now(UTC).date().isoformat()
    arrived = run_cli(world.config, "events", "list", "--first-seen-since", today)
    assert "2024-10-02" in arrived.stdout  # published long ago, first seen today
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = run_cli(world.config, "events", "list", "--first-seen-since", tomorrow)
    assert later.stdout.splitlines()[-1].startswith("0 of 0")


def test_an_unknown_source_is_one_line_and_exit_2(world: World) -> None:
    result = run_cli(world.config, "events", "list", "--source", "nosuch")
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.strip() == "eventwatch: events list: no source named 'nosuch' in the config"
    )


def test_csv_has_a_header_and_the_same_events(world: World) -> None:
    text = run_cli(world.config, "events", "list", "--csv", "--source", "feedsite").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["id", "title"] and len(rows) == 4
    assert all(row[6] == "feedsite" for row in rows[1:])


def test_show_prints_every_report_in_full(world: World) -> None:
    found = run_cli(world.config, "events", "list", "--json", "--query",
                    "Dushanbe AND parliamentarians AND conference").stdout  # fmt: skip
    (event,) = [json.loads(line) for line in found.splitlines()]
    assert sorted(event["sources"]) == ["storydesk", "storywire"]
    shown = run_cli(world.config, "events", "show", str(event["id"]))
    assert shown.returncode == 0, shown.stderr
    # numbered in the order stored: the two sources are crawled side by side, either first
    headers = re.findall(r"^\[(\d+)\] (\S+) · ", shown.stdout, re.MULTILINE)
    assert [number for number, _ in headers] == ["1", "2"]
    assert sorted(source for _, source in headers) == ["storydesk", "storywire"]
    assert "rule dushanbe-ct" in shown.stdout and "delivery " in shown.stdout
    assert "working group of legislators" in shown.stdout  # the full text
    missing = run_cli(world.config, "events", "show", "999999")
    assert missing.returncode == 2 and "no event with id 999999" in missing.stderr
