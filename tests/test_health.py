"""Source health: one notice when a source goes down or quiet, one when it recovers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.health import HealthTracker, health_alert

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
