"""The queue of due crawls: oldest due first, never a source twice at once, never skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.due import DueQueue

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_late_crawls_start_oldest_due_first() -> None:
    queue = DueQueue()
    queue.add("b", at(20))
    queue.add("a", at(10))
    queue.add("c", at(30))
    assert queue.take(2) == [("a", at(10)), ("b", at(20))]
    assert queue.take(5) == [("c", at(30))]
    assert queue.take(5) == []


def test_a_source_waiting_keeps_its_first_due_time() -> None:
    queue = DueQueue()
    queue.add("a", at(10))
    queue.add("a", at(20))
    assert queue.take(5) == [("a", at(10))]
    assert queue.counts() == (0, 1)


def test_a_source_due_while_it_runs_is_crawled_once_it_ends() -> None:
    queue = DueQueue()
    queue.add("a", at(10))
    assert queue.take(5) == [("a", at(10))]
    queue.add("a", at(20))  # still running: not started twice at once
    queue.add("a", at(30))
    assert queue.take(5) == []
    queue.done("a")
    assert queue.take(5) == [("a", at(20))]  # the first time it fell due meanwhile


def test_a_source_dropped_from_the_schedule_is_not_started() -> None:
    queue = DueQueue()
    queue.add("a", at(10))
    queue.add("b", at(20))
    queue.drop("a")
    assert queue.take(5) == [("b", at(20))]
    assert queue.oldest() is None
