"""The web UI's pure parts and its storage: highlights, charts, safe redirects, access
rules, triage and source requests on a real SQLite file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from monitor.config import WebConfig, WebUser
from monitor.web.access import Access, AccessError, hash_password, is_loopback, safe_next
from monitor.web.charts import Box, RunMark, run_timeline, stacked_days
from monitor.web.highlight import highlight
from monitor.web.views import BadFilter, event_query, page_mark
from storage.articles import store_article
from storage.db import Database
from storage.eventpages import EventFilter, count_events
from storage.models import Event
from storage.triage import (
    held_sources,
    request_crawl,
    set_source_held,
    set_triage,
    take_crawl_requests,
)
from tests.test_grouping import OTHER, REWRITE, WIRE, report


def test_highlight_marks_words_phrases_and_prefixes_and_escapes_the_rest() -> None:
    text = "<b>Terrorism</b> talks: the border security of Душанбе; terrorists left."
    marked = str(highlight(text, ["terror*", '"border security"', "душанбе", "place:Dushanbe"]))
    assert marked.startswith("&lt;b&gt;<mark>Terrorism</mark>&lt;/b&gt;")
    assert "<mark>border security</mark>" in marked and "<mark>Душанбе</mark>" in marked
    assert "<mark>terrorists</mark>" in marked and "<b>" not in marked


def test_charts_are_svg_with_every_name_escaped() -> None:
    days = [date(2026, 12, 1), date(2026, 12, 2)]
    svg = str(stacked_days("t", days, {"<x>": Counter({days[1]: 3})}, Box(200, 50, 20)))
    assert svg.startswith("<svg") and "&lt;x&gt;" in svg and "<x>" not in svg
    assert "2026-12-02: &lt;x&gt; 3" in svg
    timeline = str(run_timeline("runs", [RunMark("then", "failed", 0, 2)]))
    assert "then: failed, 0 new, 2 errors" in timeline


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/sources?x=1", "/sources?x=1"), ("https://evil.example", "/events"),
     ("//evil.example", "/events"), ("/\\evil.example", "/events"), (None, "/events")],
)  # fmt: skip
def test_after_login_only_a_path_of_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_access_needs_users_off_loopback_and_reads_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    with pytest.raises(AccessError, match="needs users"):
        Access(WebConfig(), "0.0.0.0")
    web = WebConfig(users=[WebUser(name="ana", role="analyst", password_hash_env="H_ANA")])
    with pytest.raises(AccessError, match="H_ANA is not set"):
        Access(web, "0.0.0.0")
    monkeypatch.setenv("H_ANA", "right")  # the password where its hash should be
    with pytest.raises(AccessError, match=r"H_ANA holds no argon2 hash.*eventwatch hash-password"):
        Access(web, "0.0.0.0")
    monkeypatch.setenv("H_ANA", hash_password("right"))
    access = Access(web, "0.0.0.0")
    assert access.secure_cookies and access.login_required
    assert access.check_password("ana", "wrong") is None
    assert access.check_password("nobody", "right") is None
    identity = access.check_password("ana", "right")
    assert identity is not None and identity.may_act


def test_triage_and_source_requests_are_rows_the_daemon_takes_once(db: Database) -> None:
    with db.session() as session:
        session.add(Event(id=7, title="t"))
    assert set_triage(db, 7, "ana", read=True, starred=True)
    assert not set_triage(db, 8, "ana", read=True)
    with pytest.raises(ValueError, match="no triage flag"):
        set_triage(db, 7, "ana", pinned=True)
    request_crawl(db, "desk", "ana")
    request_crawl(db, "wire", "ana")
    assert sorted(take_crawl_requests(db)) == ["desk", "wire"]
    assert take_crawl_requests(db) == []
    set_source_held(db, "desk", True, "ana")
    assert held_sources(db) == {"desk"}
    set_source_held(db, "desk", False, "ana")
    assert held_sources(db) == set()


def test_a_worker_skips_held_sources_and_adds_those_asked_for() -> None:
    from monitor.config import Config, SourceConfig
    from monitor.worker import with_web_requests

    config = Config(sources=[SourceConfig(name=n, start_urls=["http://127.0.0.1:9/"])
                             for n in ("a", "b", "c")])  # fmt: skip
    then, now = datetime(2026, 12, 6, 9, tzinfo=UTC), datetime(2026, 12, 6, 10, tzinfo=UTC)
    due = [("a", then), ("b", then)]
    found = with_web_requests(config, due, held={"b"}, asked=["c", "a", "gone", "c"], now=now)
    assert found == [("a", then), ("c", now)]


def test_the_ui_listens_on_a_socket_asyncio_gives_tcp_nodelay() -> None:
    """asyncio sets TCP_NODELAY only on connections of a socket named TCP: otherwise each
    response on a kept-alive connection waited for the browser's delayed ACK."""
    import socket

    from monitor.web.serve import bind

    with bind("127.0.0.1", 0) as listening:
        assert listening.proto == socket.IPPROTO_TCP


def test_a_filter_holding_a_nul_is_read_without_it() -> None:
    """PostgreSQL refuses a NUL in any text: ``?source=%00`` was a server error there."""
    query = event_query({"source": "pam\x00", "place": "\x00", "q": "\x00 border"})
    assert (query.filter.source, query.filter.place, query.text) == ("pam", None, "border")


def test_first_seen_to_takes_the_whole_of_its_day(db: Database) -> None:
    """The day ended at 23:59:59: an event first seen in that day's last second was out."""
    store_article(db, report("desk", "Border talks", WIRE))
    with db.session() as session:
        session.query(Event).update({Event.first_seen: datetime(2026, 3, 4, 23, 59, 59, 500000,
                                                                tzinfo=UTC)})  # fmt: skip
    chosen = event_query({"first_seen_from": "2026-03-04", "first_seen_to": "2026-03-04"})
    assert count_events(db, chosen.filter) == 1
    later = event_query({"first_seen_to": "2026-03-03"})
    assert count_events(db, later.filter) == 0


def test_a_place_or_organisation_filter_ignores_case_on_every_database(db: Database) -> None:
    store_article(db, report("desk", "Border talks", WIRE, places=["Dushanbe"],
                             organisations=["OSCE"]))  # fmt: skip
    for chosen in (EventFilter(place="dushanbe"), EventFilter(organisation="osce"),
                   EventFilter(place="DUSHANBE")):  # fmt: skip
        assert count_events(db, chosen) == 1, chosen
    assert count_events(db, EventFilter(place="Vienna")) == 0


def test_a_query_says_whether_it_read_every_event(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query reads the newest SCAN_LIMIT events; exactly that many is all of them."""
    from monitor import eventsearch

    monkeypatch.setattr(eventsearch, "SCAN_LIMIT", 2)
    monkeypatch.setattr(eventsearch, "_CHUNK", 2)
    for number, text in enumerate((WIRE, OTHER), start=1):
        store_article(db, report(f"s{number}", f"Talks {number} in Dushanbe", text))
    assert eventsearch.find_events(db, EventFilter(), "Dushanbe").looked_at_all
    store_article(db, report("s3", "Talks 3 in Dushanbe", REWRITE[::-1]))
    page = eventsearch.find_events(db, EventFilter(), "Dushanbe")
    assert not page.looked_at_all and page.total == 2


def _events_at(db: Database, count: int, titles: Sequence[str] = ()) -> list[int]:
    """``count`` events of one report each, the first the most recently active; their ids.
    ``titles``: of the first ones."""
    for number in range(count):
        words = " ".join(f"w{number}x{word}" for word in range(40))
        title = titles[number] if number < len(titles) else f"Story {number}"
        store_article(db, report(f"s{number}", title, words))
    with db.session() as session:
        ids = sorted(session.scalars(select(Event.id)))
        for place, event_id in enumerate(ids):  # the last stored is the oldest activity
            when = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=len(ids) - place)
            session.execute(update(Event).where(Event.id == event_id).values(updated_at=when))
    return ids


def test_the_next_page_starts_where_the_last_ended_as_events_move_up(db: Database) -> None:
    """Pages counted by offset from the top: an event gaining a report moved to the top and
    the next page showed again the last one seen."""
    from monitor import eventsearch

    newest, second, third, fourth = _events_at(db, 4)
    first_page = eventsearch.find_events(db, EventFilter(), limit=2)
    assert [row.event_id for row in first_page.rows] == [newest, second]
    with db.session() as session:  # the oldest gains a report: it is the most active now
        session.execute(update(Event).where(Event.id == fourth)
                        .values(updated_at=datetime(2026, 3, 2, tzinfo=UTC)))  # fmt: skip
    mark = event_query({"after": page_mark(first_page.next_mark)}).after
    second_page = eventsearch.find_events(db, EventFilter(), limit=2, after=mark)
    assert [row.event_id for row in second_page.rows] == [third]
    assert second_page.next_mark is None


def test_a_query_past_its_scan_limit_goes_on_from_where_it_stopped(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next page started after the last event shown: with none among those scanned,
    there was no next page, and the older matches could not be reached."""
    from monitor import eventsearch

    monkeypatch.setattr(eventsearch, "SCAN_LIMIT", 2)
    monkeypatch.setattr(eventsearch, "_CHUNK", 2)
    *_, oldest = _events_at(db, 3, ["Almaty talks", "Almaty again", "Dushanbe talks"])
    first = eventsearch.find_events(db, EventFilter(), "Dushanbe", limit=2)
    assert first.rows == []
    assert first.next_mark is not None
    second = eventsearch.find_events(db, EventFilter(), "Dushanbe", after=first.next_mark)
    assert [row.event_id for row in second.rows] == [oldest]


@pytest.mark.parametrize("mark", ["yesterday", "1-3000000000", "1-" + "9" * 30, "9" * 30 + "-1"])
def test_a_page_mark_that_is_none_is_a_clear_error(mark: str) -> None:
    """An id past any row had been a server error on PostgreSQL (and on SQLite past 2**63)."""
    with pytest.raises(BadFilter, match="is not where a page ended"):
        event_query({"after": mark})
