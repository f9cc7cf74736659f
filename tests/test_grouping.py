"""Reports of one story join one event: same words, near-duplicate text or same title, within
a time window; what they name is merged into the event. A real SQLite file in tmp_path."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from storage import events as events_module
from storage import grouping
from storage.articles import NewArticle, store_article, store_articles
from storage.db import Database
from storage.events import list_events
from storage.models import ArticleBand
from storage.similarity import NEAR_DUPLICATE, band_keys, jaccard, shingles

WIRE = (
    "Members of parliament from eleven countries met in Dushanbe on September 4-5 for a "
    "conference on countering terrorism and violent extremism in Central Asia. Opening the "
    "conference, the head of the Tajik delegation said that terrorist groups were recruiting "
    "young people online and that parliaments had to modernise their laws on the financing of "
    "terrorism. Experts presented a model law on the protection of victims of terrorism and "
    "invited the delegations to adapt it to their own legal systems by the end of next year."
)
REWRITE = (
    "DUSHANBE - Lawmakers from eleven states spent two days in the Tajik capital discussing "
    "extremist recruitment. Opening the conference, the head of the Tajik delegation said that "
    "terrorist groups were recruiting young people online and that parliaments had to update "
    "their laws on the financing of terrorism. Experts presented a model law on the protection "
    "of victims of terrorism and invited the delegations to adapt it to their own legal systems "
    "by the end of next year, the organisers said."
)
OTHER = (
    "The committee on economic affairs reviewed the agreements that govern how the countries of "
    "the Aral Sea basin share the waters of the Amu Darya and the Syr Darya during the dry "
    "summer months, and heard hydrologists warn that the glaciers feeding both rivers shrink."
)
PUBLISHED = datetime(2025, 9, 5, 9, tzinfo=UTC)


def report(source: str, title: str, text: str, **extra: object) -> NewArticle:
    url = f"https://{source}.example/{hashlib.sha1((title + text).encode()).hexdigest()[:12]}"
    fields: dict[str, object] = {"published_at": PUBLISHED, **extra}
    return NewArticle(source=source, url=url, canonical_url=url, title=title, text=text, **fields)  # type: ignore[arg-type]


def test_the_fixture_texts_are_near_duplicates_and_the_other_is_not() -> None:
    assert jaccard(shingles(WIRE), shingles(REWRITE)) >= NEAR_DUPLICATE
    assert jaccard(shingles(WIRE), shingles(OTHER)) < 0.05
    shared = set(band_keys(shingles(WIRE))) & set(band_keys(shingles(REWRITE)))
    assert shared


def test_rewritten_report_at_another_site_joins_the_event(db: Database) -> None:
    store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    later = PUBLISHED + timedelta(days=1)
    store_article(db, report("wire", "Dushanbe hosts lawmakers", REWRITE, published_at=later))
    store_article(db, report("desk", "Committee reviews water sharing", OTHER))
    events = list(list_events(db))
    assert [e.sources for e in events] == [("desk",), ("desk", "wire")]
    assert events[1].title == "Parliamentarians gather in Dushanbe"


def test_a_long_listing_reads_each_events_reports_in_chunks_alike(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events' reports are read a chunk of events at a time: a listing longer than a chunk
    gives each event its own sources, URLs and names, as a short one does."""
    for day in range(5):
        when = PUBLISHED + timedelta(days=40 * day)  # each pair its own event
        more = f" Session {day} closed."  # another text each time: not a duplicate
        store_article(
            db, report("desk", f"Session {day} in Dushanbe", WIRE + more, published_at=when)
        )
        store_article(
            db, report("wire", f"Lawmakers meet, day {day}", REWRITE + more, published_at=when)
        )
    whole = list(list_events(db))
    monkeypatch.setattr(events_module, "_DETAILS_CHUNK", 2)
    assert list(list_events(db)) == whole
    assert [e.sources for e in whole] == [("desk", "wire")] * 5
    assert [e.title for e in whole] == [f"Session {day} in Dushanbe" for day in reversed(range(5))]
    assert all(len(set(e.urls)) == 2 for e in whole)


def test_near_duplicate_outside_the_window_is_a_new_event(db: Database) -> None:
    store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    much_later = PUBLISHED + timedelta(days=30)
    store_article(db, report("wire", "Dushanbe hosts lawmakers", REWRITE, published_at=much_later))
    assert [e.sources for e in list_events(db)] == [("wire",), ("desk",)]


def test_same_normalised_title_joins_within_the_window_only(db: Database) -> None:
    title = "Assembly meets in Dushanbe on border security"
    store_article(db, report("desk", title, WIRE))
    store_article(db, report("wire", title.upper() + "!", OTHER, published_at=PUBLISHED))
    store_article(
        db, report("agency", title, OTHER + " More.", published_at=PUBLISHED + timedelta(days=9))
    )
    assert [e.sources for e in list_events(db)] == [("agency",), ("desk", "wire")]


def test_a_recurring_title_or_a_shared_footer_of_another_story_is_its_own_event(
    db: Database,
) -> None:
    """A press office's "Statement by the Chairperson" on two stories, or two releases that
    share a long footer, joined by title or as near duplicates, whatever their signals said:
    the second story was never alerted."""
    title = "Statement by the OSCE Chairperson-in-Office"
    kyrgyz = ("where:Kyrgyzstan", "org:OSCE", "date:2025-09-04")
    georgian = ("where:Georgia", "org:OSCE", "date:2025-09-06")
    store_article(db, report("osce", title, OTHER, signals=kyrgyz))
    later = PUBLISHED + timedelta(days=2)
    store_article(db, report("osce", title, OTHER + " Georgia.", signals=georgian,
                             published_at=later))  # fmt: skip
    store_article(db, report("pa", "Attack in Bishkek", WIRE, signals=kyrgyz))
    store_article(db, report("pa", "Observers for Tbilisi", REWRITE, signals=georgian))
    assert len(list(list_events(db))) == 4
    store_article(db, report("desk", title, OTHER + " Again.", signals=kyrgyz))  # its story
    assert len(list(list_events(db))) == 4


def test_band_keys_are_stored_for_indexed_lookup(db: Database) -> None:
    store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    store_article(db, report("desk", "Short", "Too short to compare."))
    with db.session() as session:
        counts = session.execute(
            select(ArticleBand.article_id, func.count()).group_by(ArticleBand.article_id)
        ).all()
    assert [count for _, count in counts] == [len(set(band_keys(shingles(WIRE))))]


def test_names_and_dates_are_merged_per_event(db: Database) -> None:
    first = report(
        "desk", "Parliamentarians gather in Dushanbe", WIRE,
        places=("Dushanbe", "Tajikistan"), organisations=("OSCE PA",),
        dates_mentioned=(("September 4-5", date(2025, 9, 4), date(2025, 9, 5)),),
    )  # fmt: skip
    second = report(
        "wire", "Dushanbe hosts lawmakers", REWRITE,
        places=("Tajikistan", "Vienna"), organisations=("CIS ATC", "OSCE PA"),
        dates_mentioned=(("4 September", date(2025, 9, 4), date(2025, 9, 4)),
                         ("September 4-5", date(2025, 9, 4), date(2025, 9, 5))),
    )  # fmt: skip
    store_article(db, first)
    store_article(db, second)
    [event] = list_events(db)
    assert event.places == ("Dushanbe", "Tajikistan", "Vienna")
    assert event.organisations == ("OSCE PA", "CIS ATC")
    assert list(event.dates_mentioned) == [
        {"text": "4 September", "start": "2025-09-04", "end": "2025-09-04"},
        {"text": "September 4-5", "start": "2025-09-04", "end": "2025-09-05"},
    ]


def test_band_keys_are_stored_alike_through_the_driver_and_through_sqlalchemy(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's driver gets its own statement; other drivers (PostgreSQL's) SQLAlchemy's."""
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    monkeypatch.setattr(grouping, "_INSERT_BANDS", {})  # as for any driver but SQLite's
    _, second = store_article(db, report("wire", "Committee reviews water sharing", OTHER))
    with db.session() as session:
        rows = session.execute(select(ArticleBand.article_id, ArticleBand.band)).all()
    stored = {(article, band) for article, band in rows}
    assert len(rows) == len(stored)
    for article_id, text in ((first, WIRE), (second, OTHER)):
        expected = set(band_keys(shingles(text)))
        assert expected and {b for a, b in stored if a == article_id} == expected


def test_the_grouping_lock_is_taken_once_in_each_transaction(db: Database) -> None:
    """A batch's articles share its transaction's lock; the next transaction takes it again."""
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    store_articles(db, [report(s, f"Report {s}", f"{s} {WIRE}") for s in ("a", "b", "c")])
    store_articles(db, [report("d", "Committee reviews water sharing", OTHER)])
    store_article(db, report("e", "Committee reviews water sharing again", f"e {OTHER}"))
    locks = [s for s in statements if s.startswith("UPDATE sources SET name = name")]
    assert len(locks) == 3
