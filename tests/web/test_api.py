"""The JSON API, the Atom feeds and the CSV export of the real daemon over crawled fixture
sites: every endpoint answers with its data to a token, and refuses without one."""

from __future__ import annotations

import csv
import io
from typing import Any

import feedparser
import httpx
import pytest

from tests.webworld import TOKENS, World

VIEWER = {"Authorization": f"Bearer {TOKENS['viewer']}"}
ANALYST = {"Authorization": f"Bearer {TOKENS['analyst']}"}

READ_ENDPOINTS = [
    "/api/v1/events", "/api/v1/events/1", "/api/v1/sources", "/api/v1/rules",
    "/api/v1/deliveries", "/feeds/events.atom", "/feeds/rules/dushanbe-ct.atom", "/events.csv",
]  # fmt: skip


def get(world: World, path: str, **params: Any) -> Any:
    answer = httpx.get(world.base + path, headers=VIEWER, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def events(world: World, **params: Any) -> list[dict[str, Any]]:
    return list(get(world, "/api/v1/events", **params)["events"])


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_read_endpoint_refuses_without_a_token_and_answers_with_one(
    world: World, path: str
) -> None:
    assert httpx.get(world.base + path).status_code in (401, 303)
    wrong = {"Authorization": "Bearer not-a-token"}
    assert httpx.get(world.base + path, headers=wrong).status_code == 401
    assert httpx.get(world.base + path, headers=VIEWER).status_code == 200


def test_events_come_newest_activity_first_with_their_total(world: World) -> None:
    page = get(world, "/api/v1/events", limit=3)
    assert len(page["events"]) == 3 and page["total"] > 3
    stamps = [e["updated_at"] for e in events(world)]
    assert stamps == sorted(stamps, reverse=True)


def test_pages_joined_by_their_next_mark_list_every_event_once(world: World) -> None:
    every = [e["id"] for e in events(world, limit=500)]
    first = page = get(world, "/api/v1/events", limit=2)
    seen: list[int] = []
    while True:
        seen += [e["id"] for e in page["events"]]
        if page["next"] is None:
            break
        page = get(world, "/api/v1/events", limit=2, after=page["next"])
    assert seen == every
    html = httpx.get(world.base + "/events", headers=VIEWER, params={"limit": 2}).text
    assert f"after={first['next']}" in html  # the page's "Older" link


def test_one_story_from_two_outlets_is_one_event_with_both_sources(world: World) -> None:
    found = events(world, q='Dushanbe AND "counter-terrorism" AND parliamentarians')
    assert [sorted(e["sources"]) for e in found] == [["storydesk", "storywire"]]
    assert "Dushanbe" in found[0]["terms"]


def test_filters_by_source_language_rule_and_place(world: World) -> None:
    assert {s for e in events(world, source="feedsite") for s in e["sources"]} == {"feedsite"}
    russian = events(world, language="ru")
    assert russian and all("ru" in e["languages"] for e in russian)
    matched = events(world, rule="dushanbe-ct")
    assert matched and all("dushanbe-ct" in e["rules"] for e in matched)
    in_dushanbe = events(world, place="Dushanbe")
    assert in_dushanbe and all("Dushanbe" in e["places"] for e in in_dushanbe)
    assert events(world, published_from="2099-01-01") == []


def test_a_bad_query_or_date_is_a_400_naming_the_problem(world: World) -> None:
    bad = httpx.get(world.base + "/api/v1/events", headers=VIEWER, params={"q": "Dushanbe AND ("})
    assert bad.status_code == 400 and "position" in bad.json()["detail"]
    day = httpx.get(world.base + "/api/v1/events", headers=VIEWER,
                    params={"published_from": "yesterday"})  # fmt: skip
    assert day.status_code == 400 and "published_from" in day.json()["detail"]


def test_event_has_its_reports_matches_and_deliveries(world: World) -> None:
    (story,) = events(world, q="Dushanbe AND parliamentarians AND conference")
    event = get(world, f"/api/v1/events/{story['id']}")
    assert {r["source"] for r in event["reports"]} == {"storydesk", "storywire"}
    assert all(r["text"] for r in event["reports"])
    # why each report is there: the first started the event, the other joined it
    assert sorted(r["joined"]["by"] == "first report" for r in event["reports"]) == [False, True]
    page = httpx.get(f"{world.base}/events/{story['id']}", headers=VIEWER)
    assert "Joined: first report" in page.text
    assert [m["rule"] for m in event["matches"]] == ["dushanbe-ct"]
    assert event["deliveries"] and event["deliveries"][0]["channel"] == "soc"
    missing = httpx.get(world.base + "/api/v1/events/999999", headers=VIEWER)
    assert missing.status_code == 404


def test_triage_needs_an_analyst_and_shows_in_the_filters(world: World) -> None:
    target = events(world, source="wpnews", unread="1")[0]["id"]
    url = f"{world.base}/api/v1/events/{target}/triage"
    assert httpx.post(url, json={"read": True}, headers=VIEWER).status_code == 403
    assert httpx.post(url, json={"read": True}).status_code == 401
    done = httpx.post(url, json={"read": True, "starred": True}, headers=ANALYST)
    assert done.status_code == 200
    assert target not in [e["id"] for e in events(world, unread="1", limit=500)]
    assert target in [e["id"] for e in events(world, starred="1")]
    starred = [e["id"] for e in events(world, starred="1")]
    for word in ("true", "t", "yes", "y", "on"):  # what the API's parameter takes as true
        assert [e["id"] for e in events(world, starred=word)] == starred, word
    httpx.post(url, json={"dismissed": True}, headers=ANALYST)
    assert target not in [e["id"] for e in events(world, limit=500)]
    assert target in [e["id"] for e in events(world, dismissed="1", limit=500)]
    httpx.post(url, json={"dismissed": False}, headers=ANALYST)


def test_sources_show_health_and_take_crawl_and_hold_requests(world: World) -> None:
    sources = {s["name"]: s for s in get(world, "/api/v1/sources")}
    assert set(sources) == {"storywire", "storydesk", "wpnews", "feedsite", "cyrillic"}
    assert sources["wpnews"]["health"] == "ok" and sources["wpnews"]["articles"] >= 4
    hold = f"{world.base}/api/v1/sources/cyrillic/hold"
    assert httpx.post(hold, json={"held": True}, headers=VIEWER).status_code == 403
    assert httpx.post(hold, json={"held": True}, headers=ANALYST).json()["held"] is True
    assert {s["name"]: s for s in get(world, "/api/v1/sources")}["cyrillic"]["held"] is True
    httpx.post(hold, json={"held": False}, headers=ANALYST)
    crawl = httpx.post(f"{world.base}/api/v1/sources/cyrillic/crawl", headers=ANALYST)
    assert crawl.status_code == 200 and crawl.json()["crawl_requested"] is True
    unknown = httpx.post(f"{world.base}/api/v1/sources/nosuch/crawl", headers=ANALYST)
    assert unknown.status_code == 404


def test_rules_count_hits_and_backtest_finds_events_without_sending(world: World) -> None:
    rules = {r["name"]: r for r in get(world, "/api/v1/rules")}
    assert rules["dushanbe-ct"]["hits_30_days"] >= 2
    assert rules["dushanbe-ct"]["hits_7_days"] == rules["dushanbe-ct"]["hits_30_days"]
    before = len(get(world, "/api/v1/deliveries"))
    found = httpx.post(world.base + "/api/v1/rules/backtest", headers=VIEWER,
                       json={"query": "reservoir* OR chess"}).json()  # fmt: skip
    titles = [e["title"] for e in found["events"]]
    assert any("reservoir" in t.lower() for t in titles) and any("Chess" in t for t in titles)
    assert len(get(world, "/api/v1/deliveries")) == before


def test_deliveries_filter_by_status_and_a_failed_one_is_retried(world: World) -> None:
    failed = get(world, "/api/v1/deliveries", status="failed")
    assert failed and all(d["status"] == "failed" and d["last_error"] for d in failed)
    retry = f"{world.base}/api/v1/deliveries/{failed[-1]['id']}/retry"
    assert httpx.post(retry, headers=VIEWER).status_code == 403
    assert httpx.post(retry, headers=ANALYST).json()["status"] == "pending"
    # pending now (or sent already): only a failed one is queued again
    assert httpx.post(retry, headers=ANALYST).status_code == 409
    assert httpx.post(f"{world.base}/api/v1/deliveries/999999/retry",
                      headers=ANALYST).status_code == 404  # fmt: skip
    bad = httpx.get(world.base + "/api/v1/deliveries", headers=VIEWER, params={"status": "x"})
    assert bad.status_code == 422
    for status in ("held", "digested", "merged"):  # were refused: 422 here, 400 on the page
        assert {d["status"] for d in get(world, "/api/v1/deliveries", status=status)} <= {status}
        page = httpx.get(world.base + "/deliveries", headers=VIEWER, params={"status": status})
        assert page.status_code == 200


def test_atom_feeds_validate_and_follow_a_rule(world: World) -> None:
    answer = httpx.get(world.base + "/feeds/events.atom", params={"token": TOKENS["viewer"]})
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert feed.version == "atom10" and not feed.bozo
    assert len(feed.entries) == len(events(world))
    assert all(e.title and e.id and e.updated and e.link for e in feed.entries)
    rule = feedparser.parse(httpx.get(world.base + "/feeds/rules/dushanbe-ct.atom",
                                      headers=VIEWER).content)  # fmt: skip
    assert rule.version == "atom10" and rule.entries
    assert all("dushanbe" in e.title.lower() for e in rule.entries)
    gone = httpx.get(world.base + "/feeds/rules/nosuch.atom", headers=VIEWER)
    assert gone.status_code == 404


def test_csv_export_has_a_header_and_one_row_per_event(world: World) -> None:
    answer = httpx.get(world.base + "/events.csv", headers=VIEWER, params={"source": "feedsite"})
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["id", "title", "url"]
    assert len(rows) - 1 == len(events(world, source="feedsite"))
    assert all("feedsite" in row[6] for row in rows[1:])


def test_openapi_describes_every_api_path(world: World) -> None:
    spec = httpx.get(world.base + "/api/v1/openapi.json").json()
    assert {
        "/api/v1/events", "/api/v1/events/{event_id}", "/api/v1/events/{event_id}/triage",
        "/api/v1/sources", "/api/v1/sources/{name}/crawl", "/api/v1/sources/{name}/hold",
        "/api/v1/rules", "/api/v1/rules/backtest", "/api/v1/deliveries",
        "/api/v1/deliveries/{delivery_id}/retry",
    } <= set(spec["paths"])  # fmt: skip


def test_healthz_and_metrics_stay_beside_the_ui(world: World) -> None:
    assert httpx.get(world.base + "/healthz").json()["status"] == "ok"
    assert "eventwatch_deliveries" in httpx.get(world.base + "/metrics").text
