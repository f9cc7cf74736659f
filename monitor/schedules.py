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


def first_run(
    schedule: Schedule, index: int, count: int, now: datetime, last_start: datetime | None = None
) -> datetime | None:
    """Spread the first crawls of interval sources over the start-up window, so that fifty
    sources do not fire at once. Cron sources keep their times, unless a firing since the
    source's ``last_start`` was missed (the daemon down or restarting then): that crawl is
    made now, where it had waited for the next firing, a whole day for a daily line."""
    if schedule.every is None:
        assert schedule.cron is not None
        if last_start is None:
            return None
        # the firing its crawl served is not missed: a crawl starts at its firing, or up to
        # the jitter early, and a firing falls on a whole second
        after = last_start + schedule.jitter + timedelta(seconds=1)
        missed = cron_trigger(schedule.cron).get_next_fire_time(None, after)
        return now if missed is not None and missed <= now else None
    window = min(schedule.every, MAX_STAGGER)
    return now + window * (index / max(count, 1))
