"""A crontab line as an APScheduler trigger, read as crontab reads it.

Crontab counts weekdays from Sunday (0 and 7 are both Sunday); APScheduler 3 from Monday, and
its names take no steps and no range across the week's end. The weekday field is therefore
spelled out as a list of day names (``1-5/2`` is ``mon,wed,fri``; ``5-1`` is
``fri,sat,sun,mon``). When both the day of the month and the weekday are restricted (neither
starts with ``*``), crontab runs on a day either names, where APScheduler wants both:
``0 9 1 * 1`` is the 1st of each month and every Monday, two triggers joined."""

from __future__ import annotations

import re

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's order: Sunday is 0
_ITEM = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>\d+))?$")


def cron_trigger(line: str, jitter: int | None = None) -> BaseTrigger:
    """The trigger of a five-field crontab line (UTC); ValueError names what is wrong."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"a cron schedule has 5 fields, not {len(fields)}: {line!r}")
    minute, hour, day, month, weekday = fields
    days = weekdays(weekday)
    if day.startswith("*") or weekday.startswith("*"):
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=days, jitter=jitter)  # fmt: skip
    either = [
        CronTrigger(minute=minute, hour=hour, day=day, month=month),
        CronTrigger(minute=minute, hour=hour, month=month, day_of_week=days),
    ]
    return OrTrigger(either, jitter=jitter)


def weekdays(field: str) -> str:
    """A crontab weekday field as APScheduler reads it: ``*`` or a list of day names."""
    chosen: set[int] = set()
    for item in field.lower().split(","):
        found = _ITEM.match(item)
        if found is None:
            raise ValueError(f"weekday {item!r} is not a day, a range or a step")
        step = int(found["step"] or 1)
        if step < 1:
            raise ValueError(f"weekday {item!r}: a step is 1 or more")
        if found["range"] == "*":
            first, last = 0, 6
        else:
            ends = [_day(end) for end in found["range"].split("-")]
            first, last = ends[0], ends[-1]
            if last < first or (found["step"] and len(ends) == 1):
                last = last + 7 if len(ends) > 1 else 6  # 5-1: Friday to Monday
        chosen.update(day % 7 for day in range(first, last + 1, step))
    if len(chosen) == 7:
        return "*"
    return ",".join(DAYS[day] for day in sorted(chosen))


def _day(value: str) -> int:
    if value.isdigit():
        number = int(value)
        if number > 7:
            raise ValueError(f"weekday {value} is past 7 (0 and 7 are Sunday)")
        return number  # 7 is Sunday, at the end of a range
    if value in DAYS:
        return DAYS.index(value)
    raise ValueError(f"weekday {value!r} is not a day (0-7 or sun-sat)")
