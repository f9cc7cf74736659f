"""APScheduler triggers from a source's ``schedule``, with jitter and a staggered start."""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Schedule
from monitor.crontab import cron_trigger

MAX_STAGGER = timedelta(minutes=5)


def trigger_for(schedule: Schedule) -> BaseTrigger:
    jitter = int(schedule.jitter.total_seconds()) or None
    if schedule.every is not None:
        return IntervalTrigger(seconds=schedule.every.total_seconds(), jitter=jitter)
    assert schedule.cron is not None
    return cron_trigger(schedule.cron, jitter)


def first_run(schedule: Schedule, index: int, count: int, now: datetime) -> datetime | None:
    """Spread the first crawls of interval sources over the start-up window, so that fifty
    sources do not fire at once; cron sources keep their times."""
    if schedule.every is None:
        return None
    window = min(schedule.every, MAX_STAGGER)
    return now + window * (index / max(count, 1))
