"""APScheduler triggers from a source's ``schedule``, with jitter and a staggered start."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Schedule

CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MAX_STAGGER = timedelta(minutes=5)


def _crontab_weekdays(field: str) -> str:
    """Crontab counts weekdays from Sunday = 0, APScheduler 3 from Monday = 0: use names."""
    return re.sub(r"\d+", lambda m: CRON_WEEKDAYS[int(m.group()) % 7], field)


def trigger_for(schedule: Schedule) -> BaseTrigger:
    jitter = int(schedule.jitter.total_seconds()) or None
    if schedule.every is not None:
        return IntervalTrigger(seconds=schedule.every.total_seconds(), jitter=jitter)
    assert schedule.cron is not None
    minute, hour, day, month, weekday = schedule.cron.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_crontab_weekdays(weekday),
        jitter=jitter,
    )


def first_run(schedule: Schedule, index: int, count: int, now: datetime) -> datetime | None:
    """Spread the first crawls of interval sources over the start-up window, so that fifty
    sources do not fire at once; cron sources keep their times."""
    if schedule.every is None:
        return None
    window = min(schedule.every, MAX_STAGGER)
    return now + window * (index / max(count, 1))
