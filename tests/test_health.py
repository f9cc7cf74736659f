"""Source health: one notice when a source goes down or quiet, one when it recovers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.health import HealthTracker, health_alert
from storage.articles import ensure_source
from storage.db import Database
from storage.models import CrawlRun
from storage.runs import close_run, failures_in_row, open_run, source_rhythms

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def states(changes: list) -> list[str]:
    return [c.state for c in changes]


def test_down_is_reported_once_after_the_threshold_then_recovered_once() -> None:
    tracker = HealthTracker(failure_threshold=3)
    seen: list[str] = []
    for i in range(10):
        seen += states(tracker.record("pam", False, 0, T0 + timedelta(minutes=i), "refused"))
    assert seen == ["down"]
    assert states(tracker.record("pam", True, 1, T0 + timedelta(minutes=11))) == ["recovered"]
    assert states(tracker.record("pam", True, 1, T0 + timedelta(minutes=12))) == []


def test_fewer_failures_than_the_threshold_say_nothing() -> None:
    tracker = HealthTracker(failure_threshold=3)
    changes = tracker.record("pam", False, 0, T0) + tracker.record("pam", False, 0, T0)
    changes += tracker.record("pam", True, 1, T0) + tracker.record("pam", False, 0, T0)
    assert changes == []


def test_a_source_quiet_for_longer_than_its_rhythm_is_stale_once() -> None:
    tracker = HealthTracker(failure_threshold=3, min_quiet=timedelta(hours=1))
    for day in range(5):  # one new article a day: the usual rhythm
        assert tracker.record("uza", True, 1, T0 + timedelta(days=day)) == []
    quiet = [tracker.record("uza", True, 0, T0 + timedelta(days=4, hours=h)) for h in range(1, 100)]
    flat = [c for changes in quiet for c in changes]
    assert states(flat) == ["stale"]
    assert "no new article" in flat[0].detail
    back = tracker.record("uza", True, 2, T0 + timedelta(days=9))
    assert states(back) == ["recovered"]


def test_health_notice_names_the_source_and_state() -> None:
    tracker = HealthTracker(failure_threshold=1)
    (change,) = tracker.record("oscepa", False, 0, T0, "Connection refused")
    alert = health_alert(change, T0)
    assert alert.title == "source oscepa is down"
    assert "Connection refused" in alert.snippets[0]
    assert alert.rule == "source-health"


def test_failures_in_a_row_are_read_back_and_a_restart_does_not_repeat_a_notice(
    db: Database,
) -> None:
    for source, outcomes in {"pam": ["failed", "ok", "failed", "timeout"], "uza": ["ok"],
                             "dead": ["failed"] * 4}.items():  # fmt: skip
        for status in outcomes:
            close_run(db, open_run(db, source), status)
    open_run(db, "dead")  # still running: not counted
    failures = failures_in_row(db)
    assert failures == {"pam": 2, "dead": 4}
    tracker = HealthTracker(failure_threshold=3)
    tracker.resume(failures, T0)
    assert tracker.record("dead", False, 0, T0) == []  # already reported before the restart
    assert states(tracker.record("pam", False, 0, T0)) == ["down"]
    assert states(tracker.record("dead", True, 1, T0)) == ["recovered"]


def _runs(db: Database, source: str, finished: list[datetime], new: int) -> None:
    with db.session() as session:
        source_id = ensure_source(session, source).id
        session.add_all(
            CrawlRun(source_id=source_id, started_at=when - timedelta(minutes=1),
                     finished_at=when, status="ok", new_articles=new)
            for when in finished
        )  # fmt: skip


def test_a_sources_rhythm_is_read_back_so_a_restart_neither_forgets_nor_repeats_it(
    db: Database,
) -> None:
    daily = [T0 + timedelta(days=d) for d in range(5)]  # one new article a day until day 4
    _runs(db, "uza", daily, new=1)
    _runs(db, "uza", [T0 + timedelta(days=4, hours=h) for h in (6, 12)], new=0)
    _runs(db, "gone", [when - timedelta(days=20) for when in daily], new=1)
    _runs(db, "gone", [T0 + timedelta(days=4)], new=0)  # its last crawl saw a long silence
    rhythms = source_rhythms(db)
    assert rhythms["uza"].new_articles_at == daily
    assert rhythms["uza"].last_crawl == T0 + timedelta(days=4, hours=12)
    tracker = HealthTracker(failure_threshold=3, min_quiet=timedelta(hours=1))
    restart = T0 + timedelta(days=5)
    tracker.resume({}, restart, rhythms)
    assert tracker.record("gone", True, 0, restart) == []  # reported before the restart
    # judged by its daily rhythm, not by a week from the restart: stale three days after day 4
    assert tracker.record("uza", True, 0, T0 + timedelta(days=6, hours=23)) == []
    assert states(tracker.record("uza", True, 0, T0 + timedelta(days=7, hours=1))) == ["stale"]
    assert states(tracker.record("gone", True, 3, restart + timedelta(hours=1))) == ["recovered"]


def test_days_the_daemon_was_down_are_judged_by_the_next_crawl(db: Database) -> None:
    """A week of downtime: nothing was reported before it, so nothing recovers after it;
    a source that stayed silent through it is reported stale by the first crawl that sees so."""
    daily = [T0 + timedelta(days=d) for d in range(5)]
    _runs(db, "uza", daily, new=1)
    _runs(db, "quiet", daily, new=1)
    tracker = HealthTracker(failure_threshold=3, min_quiet=timedelta(hours=1))
    restart = T0 + timedelta(days=11)
    tracker.resume({}, restart, source_rhythms(db))
    assert tracker.record("uza", True, 4, restart) == []  # it published while we were down
    assert states(tracker.record("quiet", True, 0, restart)) == ["stale"]
