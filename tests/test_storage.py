"""Articles are stored once; reports of one story share an event; the outbox never doubles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import articles
from storage.articles import NewArticle, store_article, stored_urls
from storage.db import Database
from storage.events import count_articles, list_events
from storage.leases import record_sent
from storage.models import CrawlRun, utcnow
from storage.outbox import MatchRecord, claim_due, record_matches, unmatched_articles
from storage.runs import (
    close_abandoned_runs,
    close_run,
    failures_in_row,
    get_run,
    list_runs,
    open_run,
)

TEXT = "The assembly met in Dushanbe to discuss border security and counter-terrorism cooperation."


def article(**changes: object) -> NewArticle:
    fields: dict[str, object] = {
        "source": "pam",
        "url": "https://pam.example/news/1-meeting",
        "canonical_url": "https://pam.example/news/1-meeting",
        "title": "Assembly meets in Dushanbe on border security",
        "text": TEXT,
    }
    fields.update(changes)
    return NewArticle(**fields)  # type: ignore[arg-type]


def test_same_url_is_stored_once(db: Database) -> None:
    assert store_article(db, article())[0] == "new"
    assert store_article(db, article())[0] == "duplicate"
    assert count_articles(db) == 1


def test_same_text_at_another_url_of_the_source_is_a_duplicate(db: Database) -> None:
    store_article(db, article())
    moved = article(
        url="https://pam.example/x?id=9",
        canonical_url="https://pam.example/x?id=9",
        text=TEXT.upper() + "  ",
    )
    assert store_article(db, moved)[0] == "duplicate"
    assert count_articles(db) == 1


def test_redirect_alias_is_known(db: Database) -> None:
    store_article(db, article(aliases=("http://pam.example/news/1-meeting",)))
    again = article(url="http://pam.example/news/1-meeting", canonical_url="http://pam.example/n")
    assert store_article(db, again)[0] == "duplicate"


def test_which_urls_are_stored_is_asked_in_chunks_and_knows_aliases(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(articles, "LOOKUP_CHUNK", 2)  # a sitemap of thousands, in small
    store_article(db, article(aliases=("http://pam.example/old/1",)))
    asked = [f"https://pam.example/news/{n}" for n in range(5)]
    asked += ["https://pam.example/news/1-meeting", "http://pam.example/old/1"]
    with db.session() as session:
        found = stored_urls(session, asked)
    assert found == {"https://pam.example/news/1-meeting", "http://pam.example/old/1"}


def test_same_story_from_two_sources_is_one_event(db: Database) -> None:
    store_article(db, article())
    store_article(
        db,
        article(
            source="asiaplus", url="https://ap.example/a", canonical_url="https://ap.example/a"
        ),
    )
    store_article(
        db,
        article(
            source="uza",
            url="https://uza.example/b",
            canonical_url="https://uza.example/b",
            text="Completely different words about the same meeting, reported later.",
        ),
    )
    events = list(list_events(db))
    assert len(events) == 1
    assert events[0].sources == ("pam", "asiaplus", "uza")
    assert count_articles(db) == 3


def test_a_match_queues_each_channel_once_per_event(db: Database) -> None:
    store_article(db, article())
    store_article(
        db,
        article(
            source="asiaplus", url="https://ap.example/a", canonical_url="https://ap.example/a"
        ),
    )
    record = MatchRecord("ct", ("Dushanbe",), ("…Dushanbe…",), ("mail", "hook"))
    queued = [record_matches(db, a.id, [record]) for a in unmatched_articles(db)]
    assert queued == [2, 0]
    assert unmatched_articles(db) == []
    tasks = list(claim_due(db, timedelta(minutes=5)))
    assert sorted(t.channel for t in tasks) == ["hook", "mail"]
    assert list(claim_due(db, timedelta(minutes=5))) == []  # leased: no second sender gets them
    assert {a.source for a in tasks[0].articles} == {"pam", "asiaplus"}
    for task in tasks:
        assert record_sent(db, task.lease)
    assert list(claim_due(db, timedelta(seconds=-1))) == []


def test_runs_left_open_by_a_process_that_ended_are_closed_as_abandoned(db: Database) -> None:
    stale, fresh, finished = (open_run(db, "pam") for _ in range(3))
    close_run(db, finished, "ok")
    with db.session() as session:
        for run_id in (stale, finished):
            session.get_one(CrawlRun, run_id).started_at = utcnow() - timedelta(days=2)
    assert close_abandoned_runs(db, utcnow() - timedelta(hours=2)) == 1
    closed = get_run(db, stale)
    assert (closed.status, closed.finished_at is not None) == ("abandoned", True)
    assert closed.error and "never closed" in closed.error
    assert [get_run(db, run).status for run in (fresh, finished)] == ["running", "ok"]
    close_run(db, stale, "ok")  # its process cannot come back, but a first verdict stays
    assert get_run(db, stale).status == "abandoned"
    assert close_abandoned_runs(db, utcnow() - timedelta(hours=2)) == 0


def test_a_run_stopped_with_its_process_is_no_failure_of_its_source(db: Database) -> None:
    """The daemon or a worker asked to stop stops its crawls: their runs say so, and neither
    the source's health nor `runs --failed` holds it against the source."""
    close_run(db, open_run(db, "pam"), "failed", "connection refused")
    close_run(db, open_run(db, "pam"), "stopped", "its process was asked to stop")
    assert failures_in_row(db) == {"pam": 1}
    assert [run.status for run in list_runs(db, failed=True)] == ["failed"]
    for _ in range(2):  # tries cut short by their process's end: the last try counts alone
        close_run(db, open_run(db, "pam"), "retried", "crawl process exited -9; crawled again")
    close_run(db, open_run(db, "pam"), "failed", "crawl process exited -9")
    assert failures_in_row(db) == {"pam": 2}
    shown = [run.status for run in list_runs(db, failed=True)]  # the process's deaths shown
    assert shown == ["failed", "retried", "retried", "failed"]
