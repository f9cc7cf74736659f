"""Cron schedules read as crontab reads them, and checked as the daemon will build them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from monitor.config import Schedule
from monitor.crontab import weekdays
from monitor.schedules import first_run, trigger_for

MONDAY = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("*", "*"), ("0", "sun"), ("7", "sun"), ("1-5", "mon,tue,wed,thu,fri"),
        ("0-6", "*"), ("1-7", "*"), ("*/2", "sun,tue,thu,sat"), ("1-5/2", "mon,wed,fri"),
        ("5-1", "sun,mon,fri,sat"), ("sat-sun", "sun,sat"), ("mon-fri", "mon,tue,wed,thu,fri"),
        ("0,3,6", "sun,wed,sat"), ("SUN", "sun"),
    ],
)  # fmt: skip
def test_weekdays_count_from_sunday_as_crontab_does(field: str, days: str) -> None:
    assert weekdays(field) == days


@pytest.mark.parametrize("line", ["0 8 * * 0-6", "0 8 * * */2", "0 8 * * 7", "0 8 * * 5-1"])
def test_a_schedule_that_passes_the_config_check_runs(line: str) -> None:
    """`check` read cron lines with APScheduler's numbering, the daemon with crontab's, by
    swapping every digit for a day name: "0-6" and "*/2" passed the check and then stopped
    the daemon ("*/tue"), "7" (Sunday) was refused."""
    schedule = Schedule(cron=line)
    assert trigger_for(schedule).get_next_fire_time(None, MONDAY) is not None


@pytest.mark.parametrize(
    "line", ["0 8 * * 8", "0 8 * * */0", "0 8 * * mon-", "0 8 * *", "0 8 * * monday",
             "0 8 * * mon7", "0 8 * * sunburn"],
)  # fmt: skip
def test_a_weekday_field_that_is_wrong_is_refused_by_the_check(line: str) -> None:
    with pytest.raises(ValidationError, match=r"weekday|5 fields"):
        Schedule(cron=line)


@pytest.mark.parametrize("line", ["0 0 31 2 *", "0 9 30 2 *", "0 9 31 4,6,9,11 *"])
def test_a_cron_line_that_never_fires_is_refused_by_the_check(line: str) -> None:
    """A day no month it names has passed the check: its source was never crawled, and its
    health said ok for ever."""
    with pytest.raises(ValidationError, match="never fires: no month it names has that day"):
        Schedule(cron=line)


@pytest.mark.parametrize("line", ["0 0 29 2 *", "0 0 31 2 1"])
def test_a_rare_day_or_one_a_weekday_also_names_is_kept(line: str) -> None:
    """The 29th of February comes every four years; with a weekday, crontab fires on that."""
    assert trigger_for(Schedule(cron=line)).get_next_fire_time(None, MONDAY) is not None


def _fired(line: str, times: int, shown: str) -> list[str]:
    """The next ``times`` firings of the cron ``line`` after MONDAY, as ``shown``."""
    trigger, fired, when = trigger_for(Schedule(cron=line)), [], MONDAY
    for _ in range(times):
        when = trigger.get_next_fire_time(None, when + timedelta(seconds=1))
        assert when is not None
        fired.append(when.strftime(shown))
    return fired


def test_every_other_day_of_the_week_fires_on_those_days() -> None:
    fired = _fired("0 8 * * 1-5/2", 6, "%a")
    assert fired == ["Wed", "Fri", "Mon", "Wed", "Fri", "Mon"]


def test_a_day_of_the_month_and_a_weekday_both_given_fire_on_either_as_crontab_does() -> None:
    """APScheduler wants both: "0 9 1 * 1" fired only on a Monday that is the 1st (three
    times in 2027), where crontab fires on the 1st and on every Monday."""
    fired = _fired("0 9 1 * 1", 5, "%Y-%m-%d %H:%M %a")
    assert fired == [
        "2026-12-14 09:00 Mon", "2026-12-21 09:00 Mon", "2026-12-28 09:00 Mon",
        "2027-01-01 09:00 Fri", "2027-01-04 09:00 Mon",
    ]  # fmt: skip
    assert trigger_for(Schedule(cron="0 9 */2 * 1")).get_next_fire_time(None, MONDAY) == (
        datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # "*/2": crontab wants both, an odd Monday
    )


def test_a_cron_firing_missed_while_the_daemon_was_down_is_made_at_its_start() -> None:
    """A restart across a firing skipped it until the next one: a whole day for a daily
    line. A source never crawled, or crawled at its last firing, keeps its times."""
    daily = Schedule(cron="0 9 * * *")
    yesterday = MONDAY - timedelta(days=1, hours=3)  # Sunday 09:00, crawled
    assert first_run(daily, 0, 1, MONDAY, yesterday) == MONDAY  # Monday 09:00 missed
    assert first_run(daily, 0, 1, MONDAY, MONDAY - timedelta(hours=3)) is None
    assert first_run(daily, 0, 1, MONDAY, None) is None
    early = Schedule(cron="0 9 * * *", jitter="10m")  # it may start ten minutes early
    assert first_run(early, 0, 1, MONDAY, MONDAY - timedelta(hours=3, minutes=5)) is None
