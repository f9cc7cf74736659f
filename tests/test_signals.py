"""The signals an article carries in any language, and how two reports are weighed: names
across scripts, numbers however grouped, and the vetoes that keep different events apart."""

from __future__ import annotations

import itertools
from functools import cache

import pytest

from crawlers.enrichment.entities import find_entities
from crawlers.enrichment.story_signals import (
    arabic_words,
    name_key,
    names,
    numbers,
    story_signals,
)
from storage.signals import SAME_EVENT_SCORE, anchor_keys, compare
from tests.crosslang_sites import Report, load_reports


@pytest.mark.parametrize(
    "spellings",
    [
        ("Rahmon", "Рахмон", "Rakhmon", "رحمون"),
        ("Lavrov", "Лавров", "لافروف"),
        ("Tokayev", "Токаев", "Tokaïev", "توكاييف"),
        ("Shahbazov", "Шахбазов", "Chahbazov"),
        ("Petrescu", "Петреску"),
    ],
)
def test_a_surname_gives_one_key_in_every_script(spellings: tuple[str, ...]) -> None:
    assert len({name_key(spelling) for spelling in spellings}) == 1


def test_different_surnames_give_different_keys() -> None:
    assert len({name_key(n) for n in ("Rahmon", "Lavrov", "Nazarov", "Novikov", "Saidov")}) == 5


def test_names_are_people_named_in_full_or_by_title_not_bodies_or_places() -> None:
    text = (
        "President Emomali Rahmon met the OSCE Permanent Council and the Organisation of "
        "Islamic Cooperation in Dushanbe. Foreign Minister Sergei Lavrov said so."
    )
    assert names(text) == [name_key("Rahmon"), name_key("Lavrov")]


@pytest.mark.parametrize(
    "text", ["1,400 kilometres", "1400 километров", "1 400 km", "١٤٠٠ كيلومتر", "1.400 km"]
)
def test_a_quantity_is_one_number_however_its_thousands_are_grouped(text: str) -> None:
    assert numbers(text) == ["1400"]


def test_years_times_and_small_numbers_are_not_quantities() -> None:
    assert numbers("In 2026, at 10:30, 3 ministers and 45 delegates met; 2.5 percent") == ["45"]


def test_signals_name_where_the_story_happens_and_its_days() -> None:
    text = "ДУШАНБЕ, 16 мая. Конференция ОБСЕ собрала 420 делегатов; Фаррух Назаров выступил."
    from datetime import UTC, datetime

    found = find_entities("", text, datetime(2026, 5, 16, tzinfo=UTC))
    said = story_signals("", text, found.places, found.organisations, found.dates)
    assert said[:4] == ("where:Tajikistan", "city:Dushanbe", "country:Tajikistan", "org:OSCE")
    assert {"date:2026-05-16", "number:420", f"name:{name_key('Nazarov')}"} <= set(said)


def test_same_city_organisation_and_week_alone_are_not_one_event() -> None:
    first = ("where:Tajikistan", "city:Dushanbe", "country:Tajikistan", "org:OSCE")
    verdict = compare(first, first)
    assert verdict.score < SAME_EVENT_SCORE
    assert not verdict.same_event


def test_same_city_organisation_and_day_alone_are_not_one_event() -> None:
    meeting = ("where:Austria", "city:Vienna", "country:Austria", "org:OSCE", "date:2026-05-16")
    assert not compare(meeting, (*meeting, "number:57")).same_event  # nothing more shared
    assert compare((*meeting, "number:57"), (*meeting, "number:57")).same_event


def test_reports_with_nothing_specific_have_no_anchor_keys() -> None:
    assert anchor_keys(("where:Tajikistan", "city:Dushanbe", "org:OSCE")) == []
    assert anchor_keys(("city:Dushanbe", "org:OSCE", "date:2026-05-16"))


@cache
def _labelled() -> dict[str, tuple[Report, tuple[str, ...]]]:
    found = {}
    for report in load_reports():
        named = find_entities(report.title, report.text, report.published)
        said = story_signals(report.title, report.text, named.places, named.organisations,
                             named.dates)  # fmt: skip
        found[report.id] = (report, said)
    return found


def test_no_two_reports_of_different_labelled_events_are_weighed_as_one() -> None:
    merged = [
        (a, b)
        for (a, (ra, sa)), (b, (rb, sb)) in itertools.combinations(_labelled().items(), 2)
        if ra.event != rb.event and compare(sa, sb).same_event
    ]
    assert merged == []


@pytest.mark.parametrize(
    ("one", "other", "veto"),
    [
        ("ct-en", "water-en", "no mentioned day in common"),  # same city, the next day
        ("ct-fr", "pc-fr", "opens on Dushanbe, not Vienna"),  # same organisation, same day
        ("pa-ru", "ex-ru", "happens in Belarus, not Kazakhstan"),  # same body, same month
    ],
)
def test_the_hard_negatives_are_vetoed(one: str, other: str, veto: str) -> None:
    reports = _labelled()
    assert compare(reports[one][1], reports[other][1]).veto == veto


def test_reports_of_one_labelled_event_are_weighed_as_one_across_languages() -> None:
    reports = _labelled()
    pairs = [
        (sa, sb)
        for (ra, sa), (rb, sb) in itertools.combinations(reports.values(), 2)
        if ra.event == rb.event
    ]
    assert sum(compare(sa, sb).same_event for sa, sb in pairs) >= 0.9 * len(pairs)


def test_in_a_language_that_capitalises_every_noun_no_run_is_taken_for_a_name() -> None:
    text = "Die Abgeordneten stimmten ab. Premierminister Boris Johnson verlor."
    assert not [s for s in story_signals("", text, (), (), (), "de") if s.startswith("name:")]
    assert f"name:{name_key('Johnson')}" in story_signals("", text, (), (), (), "en")


def test_the_days_of_one_range_count_as_one_shared_date() -> None:
    """Two OSCE meetings in Vienna "on 12-13 March" shared two dates, which with the city and
    the organisation reached the score: the same city, organisation and days are not enough."""
    meeting = ("where:Austria", "city:Vienna", "country:Austria", "org:OSCE",
               "date:2026-03-12", "date:2026-03-13")  # fmt: skip
    assert not compare(meeting, meeting).same_event
    two_days = ("date:2026-03-12", "date:2026-03-20")  # two days apart: two dates
    assert compare((*meeting[:4], *two_days), (*meeting[:4], *two_days)).score >= 9.0


def test_an_arabic_month_is_no_name() -> None:
    """مارس keyed as Morris: an Arabic report of 12 March shared a "name" with any English
    report quoting a Morris."""
    assert arabic_words("في ١٢ مارس و أبريل") == []
    assert arabic_words("قال موريس") == [name_key("Morris")]


def test_a_date_signal_that_is_no_day_is_weighed_as_itself() -> None:
    """Stored signals outlive versions: one that does not parse must not break grouping."""
    meeting = ("where:Austria", "city:Vienna", "org:OSCE", "date:someday", "number:57")
    assert compare(meeting, meeting).score == 2.0 + 1.5 + 2.5 + 1.5
