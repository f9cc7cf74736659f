"""Splitting a report out of its event and merging two events, in storage: kept as edits,
and no alert lost or doubled (the outbox's rows move with the reports)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from storage import models
from storage.articles import store_article
from storage.db import Database
from storage.event_edits import (
    EventEditError,
    join_reasons,
    merge_events,
    merged_into,
    split_article,
)
from storage.eventpages import EventFilter, count_events, event_detail, event_ids
from storage.models import Article, Delivery, Digest, Event, EventEdit, Match, Update, utcnow
from storage.outbox import MatchRecord, record_matches
from storage.triage import set_triage
from tests.test_grouping import OTHER, REWRITE, WIRE, report

ALERT = MatchRecord("dushanbe", ("dushanbe",), ("...",), ("soc",))


def _deliveries(db: Database) -> list[tuple[int, str]]:
    with db.session() as session:
        return [
            (d.event_id, d.status) for d in session.scalars(select(Delivery).order_by(Delivery.id))
        ]


def test_a_split_report_gets_its_own_event_and_is_matched_again(db: Database) -> None:
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    _, second = store_article(db, report("wire", "Dushanbe hosts lawmakers", REWRITE))
    record_matches(db, first, [ALERT])
    record_matches(db, second, [ALERT])  # one event: no second alert
    [(event, status)] = _deliveries(db)
    assert status == "pending"
    new_event = split_article(db, second)
    assert new_event != event
    assert record_matches(db, second, [ALERT]) == 1  # the alert the grouping silenced
    assert [e for e, _ in _deliveries(db)] == [event, new_event]
    [reason] = join_reasons(db, new_event)
    assert reason.by == "split" and reason.detail and reason.detail["from_event"] == event
    assert [r.by for r in join_reasons(db, event)] == ["first report"]


def test_a_merge_moves_reports_and_alerts_and_never_sends_one_twice(db: Database) -> None:
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    _, other = store_article(db, report("wire", "Water experts meet", OTHER))
    record_matches(db, first, [ALERT, MatchRecord("water", ("w",), ("...",), ("soc",))])
    record_matches(db, other, [ALERT])
    with db.session() as session:
        kept_id, other_id = (session.get_one(Article, a).event_id for a in (first, other))
    assert merge_events(db, kept_id, other_id) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).where(Article.event_id == other_id)) == 0
        assert set(session.scalars(select(Match.rule).where(Match.event_id == kept_id))) == {
            "dushanbe", "water"
        }  # fmt: skip
        assert session.scalar(select(func.count(EventEdit.id))) == 1
    statuses = _deliveries(db)
    assert statuses.count((kept_id, "pending")) == 2  # the kept event's two alerts
    assert statuses.count((other_id, "merged")) == 1  # the other's, for a rule alerted
    assert [r.by for r in join_reasons(db, kept_id)] == ["first report", "merge"]


def test_a_merge_moves_an_alert_for_a_rule_the_kept_event_has_not_matched(db: Database) -> None:
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    _, other = store_article(db, report("wire", "Water experts meet", OTHER))
    record_matches(db, other, [ALERT])
    with db.session() as session:
        kept_id, other_id = (session.get_one(Article, a).event_id for a in (first, other))
    merge_events(db, kept_id, other_id)
    assert _deliveries(db) == [(kept_id, "pending")]


def test_edits_that_cannot_be_made_are_refused_and_change_nothing(db: Database) -> None:
    _, only = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    with pytest.raises(EventEditError, match="only report"):
        split_article(db, only)
    with pytest.raises(EventEditError, match="no article 999"):
        split_article(db, 999)
    with pytest.raises(EventEditError, match="itself"):
        merge_events(db, 1, 1)
    with pytest.raises(EventEditError, match="no event 999"):
        merge_events(db, 1, 999)
    with db.session() as session:
        assert session.scalar(select(func.count(EventEdit.id))) == 0


def test_an_alert_knows_the_languages_of_its_event(db: Database) -> None:
    from datetime import timedelta

    from storage.outbox import claim_due

    _, first = store_article(db, report("desk", "Lawmakers in Dushanbe", WIRE, language="en"))
    store_article(db, report("wire", "Dushanbe hosts lawmakers", REWRITE, language="fr"))
    record_matches(db, first, [ALERT])
    [task] = list(claim_due(db, timedelta(minutes=1)))
    assert [article.language for article in task.articles] == ["en", "fr"]


CONFERENCE = ("where:Tajikistan", "city:Dushanbe", "country:Tajikistan", "org:OSCE",
              "date:2025-09-05", "number:420", "name:nzrf")  # fmt: skip
WATER = ("where:Tajikistan", "city:Dushanbe", "country:Tajikistan", "org:OSCE",
         "date:2025-09-06", "number:420")  # fmt: skip


def test_reports_in_two_languages_sharing_signals_join_one_event_and_say_why(
    db: Database,
) -> None:
    _, first = store_article(db, report("desk", "Conference in Dushanbe", WIRE, signals=CONFERENCE))
    _, second = store_article(db, report("vestnik", "Конференция в Душанбе", OTHER,
                                         signals=CONFERENCE, language="ru"))  # fmt: skip
    _, water = store_article(db, report("wire", "Water in Dushanbe", REWRITE[::-1], signals=WATER))
    with db.session() as session:
        events = [session.get_one(Article, a).event_id for a in (first, second, water)]
    assert events[0] == events[1] != events[2]
    [_, joined] = join_reasons(db, events[0])
    assert (joined.by, joined.article) == ("shared signals", first)
    shared = {(s["kind"], s["value"]): s["weight"] for s in joined.shared}
    assert shared[("city", "Dushanbe")] == 2.0 and shared[("date", "2025-09-05")] == 2.5
    assert joined.score == sum(shared.values())


def _two_alerted_events(db: Database, kept: str, other: str) -> tuple[int, int, int]:
    """Two events that both alerted rule dushanbe on one channel, their alerts in the states
    given ("digested": in one digest not sent yet); (kept event, other event, the digest)."""
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    _, second = store_article(db, report("wire", "Water experts meet", OTHER))
    record_matches(db, first, [ALERT])
    record_matches(db, second, [ALERT])
    with db.session() as session:
        digest = Digest(key="digest-1", channel="soc", scope="", slot_at=utcnow())
        session.add(digest)
        session.flush()
        for article_id, status in ((first, kept), (second, other)):
            event_id = session.get_one(Article, article_id).event_id
            row = session.scalars(select(Delivery).where(Delivery.event_id == event_id)).one()
            row.status, row.attempts = status, 3 if status == "failed" else 0
            row.digest_id = digest.id if status == "digested" else None
        ids = [session.get_one(Article, a).event_id for a in (first, second)]
        return ids[0], ids[1], digest.id


@pytest.mark.parametrize(
    ("kept", "other", "after"),
    [
        ("pending", "sent", [("sent", None), ("sent", None)]),  # told once: not again
        ("sent", "held", [("sent", None), ("merged", None)]),
        ("pending", "held", [("pending", None), ("merged", None)]),  # the kept event's goes
        ("failed", "pending", [("pending", None), ("merged", None)]),  # the one that can go
        ("pending", "digested", [("digested", "digest"), ("merged", None)]),  # in its place
        ("sent", "digested", [("sent", None), ("merged", None)]),
    ],
)
def test_a_merge_leaves_one_alert_per_channel_for_the_story(
    db: Database, kept: str, other: str, after: list[tuple[str, str | None]]
) -> None:
    kept_id, other_id, digest_id = _two_alerted_events(db, kept, other)
    merge_events(db, kept_id, other_id)
    with db.session() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        found = [(r.status, "digest" if r.digest_id == digest_id else r.digest_id) for r in rows]
        assert found == after
        assert rows[0].event_id == kept_id  # what still goes out names the kept event
        if after[0][0] == "pending":
            assert rows[0].attempts == 0


def test_a_merge_retires_the_other_events_updates_for_a_rule_both_matched(db: Database) -> None:
    kept_id, other_id, _ = _two_alerted_events(db, "sent", "sent")
    with db.session() as session:
        match = session.scalars(select(Match).where(Match.event_id == other_id)).one()
        session.add(Update(key="update-1", match_id=match.id, rule="dushanbe",
                           event_id=other_id, channel="soc", sources=["radio"]))  # fmt: skip
    merge_events(db, kept_id, other_id)
    with db.session() as session:
        update = session.scalars(select(Update)).one()
        assert (update.status, update.last_error) == ("merged", f"event merged into {kept_id}")


def test_an_edited_event_is_titled_by_its_first_report_as_its_alerts_are(db: Database) -> None:
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    store_article(db, report("wire", "Dushanbe hosts lawmakers", REWRITE))
    _, water = store_article(db, report("radio", "Water experts meet", OTHER))
    with db.session() as session:
        event_id, water_event = (session.get_one(Article, a).event_id for a in (first, water))
    split_article(db, first)
    with db.session() as session:
        assert session.get_one(Event, event_id).title == "Dushanbe hosts lawmakers"
    merge_events(db, water_event, event_id)
    with db.session() as session:  # the water report came after the lawmakers' second
        assert session.get_one(Event, water_event).title == "Dushanbe hosts lawmakers"


def test_an_event_merged_away_leaves_every_list_and_takes_no_more_edits(db: Database) -> None:
    kept_id, other_id, _ = _two_alerted_events(db, "sent", "sent")
    everything, by_rule = EventFilter(), EventFilter(rule="dushanbe")
    assert count_events(db, everything) == count_events(db, by_rule) == 2
    merge_events(db, kept_id, other_id)
    for chosen in (everything, by_rule):
        assert count_events(db, chosen) == 1
        assert event_ids(db, chosen, limit=10) == [kept_id]
    gone = event_detail(db, other_id)
    assert gone is not None and gone.merged_into == kept_id  # old alerts link to it
    with pytest.raises(EventEditError, match=f"event {other_id} was merged into event {kept_id}"):
        merge_events(db, other_id, kept_id)
    _, third = store_article(db, report("radio", "Dushanbe hosts lawmakers", REWRITE[::-1]))
    with db.session() as session:
        third_id = session.get_one(Article, third).event_id
    merge_events(db, third_id, kept_id)  # a chain of merges: the last holds the story
    with db.session() as session:
        assert merged_into(session, other_id) == third_id


def test_a_merge_keeps_a_star_and_triage_of_an_event_merged_away_reaches_the_kept_one(
    db: Database,
) -> None:
    """The kept event showed neither the other's star nor its reading, and a star set on the
    other's page, opened before the merge, was answered 200 and set where no list shows."""
    kept_id, other_id, _ = _two_alerted_events(db, "sent", "sent")
    assert set_triage(db, kept_id, "ana", read=True, dismissed=True) == kept_id
    assert set_triage(db, other_id, "vera", starred=True, read=True) == other_id
    merge_events(db, kept_id, other_id)
    with db.session() as session:
        state = session.get_one(models.EventState, kept_id)
        # starred by either; read by both; dismissed by one only: its reports are news
        assert (state.starred, state.read, state.dismissed) == (True, True, False)
    assert set_triage(db, other_id, "ana", starred=False) == kept_id
    with db.session() as session:
        assert session.get_one(models.EventState, kept_id).starred is False
    assert set_triage(db, 999_999, "ana", read=True) is None


def test_a_match_recorded_as_its_event_is_merged_away_lands_on_the_kept_event(
    db: Database,
) -> None:
    """The matcher read the article's event before taking any lock: a merge landing between
    that read and its write left the match, and its alert, on the event merged away, which
    no list shows: a second alert for the story. The merge here is let in right after the
    read, and waits (two seconds at most) if the matcher holds the lock, as it now does."""
    _, kept_article = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    _, moved = store_article(db, report("radio", "Water talks", OTHER))
    with db.session() as session:
        kept_id = session.get_one(Article, kept_article).event_id
        other_id = session.get_one(Article, moved).event_id
    assert kept_id != other_id
    read, merged = threading.Event(), threading.Event()
    matcher = Database(db.url)

    def merge_when_read() -> None:
        read.wait(60)
        merge_events(db, kept_id, other_id)
        merged.set()

    def pause_after_reading(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        reads = statement.lstrip().upper().startswith("SELECT") and "FROM articles" in statement
        if reads and not read.is_set():
            read.set()
            merged.wait(2)

    event.listen(matcher.engine, "after_cursor_execute", pause_after_reading)
    merging = threading.Thread(target=merge_when_read)
    merging.start()
    try:
        record_matches(matcher, moved, [ALERT])
    finally:
        merging.join(90)
        matcher.dispose()
    assert read.is_set() and merged.is_set()
    with db.session() as session:
        assert session.execute(select(Match.rule, Match.event_id)).all() == [(ALERT.rule, kept_id)]
    assert _deliveries(db) == [(kept_id, "pending")]


def test_a_story_told_stays_told_through_later_merges(db: Database) -> None:
    kept_id, other_id, _ = _two_alerted_events(db, "pending", "sent")
    merge_events(db, kept_id, other_id)
    _, third = store_article(db, report("radio", "Dushanbe hosts lawmakers", REWRITE[::-1]))
    record_matches(db, third, [ALERT])
    with db.session() as session:
        third_id = session.get_one(Article, third).event_id
    merge_events(db, kept_id, third_id)  # its pending alert must not bring the story back
    with db.session() as session:
        statuses = session.execute(select(Delivery.event_id, Delivery.status)).all()
    assert sorted(statuses) == [(kept_id, "sent"), (other_id, "sent"), (third_id, "merged")]


def test_a_digest_whose_alerts_a_merge_took_away_is_not_sent(db: Database) -> None:
    kept_id, other_id, digest_id = _two_alerted_events(db, "sent", "digested")
    merge_events(db, kept_id, other_id)
    with db.session() as session:
        assert session.get_one(Digest, digest_id).status == "empty"  # it listed nothing left


def test_an_alert_in_a_digest_that_failed_for_good_does_not_win_a_merge(db: Database) -> None:
    kept_id, other_id, digest_id = _two_alerted_events(db, "pending", "digested")
    with db.session() as session:
        session.get_one(Digest, digest_id).status = "failed"
    merge_events(db, kept_id, other_id)
    with db.session() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        assert [(r.status, r.digest_id) for r in rows] == [("pending", None), ("merged", None)]


def test_no_merge_while_an_alert_of_either_event_is_being_sent(db: Database) -> None:
    kept_id, other_id, _ = _two_alerted_events(db, "failed", "pending")
    with db.session() as session:
        row = session.scalars(select(Delivery).where(Delivery.event_id == other_id)).one()
        row.lease_until = utcnow() + timedelta(minutes=1)
    with pytest.raises(EventEditError, match=f"event {other_id}'s alert is being sent"):
        merge_events(db, kept_id, other_id)
    assert [status for _, status in _deliveries(db)] == ["failed", "pending"]


def test_alerts_moved_by_one_merge_are_folded_by_the_next(db: Database) -> None:
    """The kept event had no alert on "mail" (its rule changed channels since), so the other
    event's moved to it, its match left behind; a later merge must still see it."""
    both = MatchRecord("dushanbe", ("dushanbe",), ("...",), ("soc", "mail"))
    _, first = store_article(db, report("desk", "Parliamentarians gather in Dushanbe", WIRE))
    _, second = store_article(db, report("wire", "Water experts meet", OTHER))
    _, third = store_article(db, report("radio", "Dushanbe hosts lawmakers", REWRITE[::-1]))
    record_matches(db, first, [ALERT])
    record_matches(db, second, [both])
    record_matches(db, third, [both])
    with db.session() as session:
        a, b, c = (session.get_one(Article, x).event_id for x in (first, second, third))
        for row in session.scalars(select(Delivery).where(Delivery.event_id == b)):
            row.status = "sent"
    merge_events(db, a, b)  # b's "mail" alert, sent, now names a
    merge_events(db, c, a)
    with db.session() as session:
        live = session.execute(
            select(Delivery.channel).where(Delivery.status.in_(("pending", "held")))
        ).all()
    assert live == []  # both channels were told through b: nothing of c's goes out
