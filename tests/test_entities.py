"""Places, organisations and dates an article names, from the shipped gazetteer."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from crawlers.enrichment.entities import (
    Gazetteer,
    find_entities,
    gazetteer,
    names_for_matching,
)
from crawlers.extraction.mentioned_dates import MONTHS, longest_first, mentioned_dates

PUBLISHED = datetime(2025, 8, 20, tzinfo=UTC)


def places_and_orgs(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found = find_entities("", text, PUBLISHED)
    return found.places, found.organisations


@pytest.mark.parametrize(
    ("text", "places", "organisations"),
    [
        ("The OSCE PA met in Dushanbe.", ("Dushanbe", "Tajikistan"), ("OSCE PA",)),
        ("Заседание ПА ОБСЕ прошло в Душанбе.", ("Dushanbe", "Tajikistan"), ("OSCE PA",)),
        ("Réunion de l'AP de l'OSCE à Genève.", ("Geneva", "Switzerland"), ("OSCE PA",)),
        ("اجتماع الأمم المتحدة في دوشنبه", ("Dushanbe", "Tajikistan"), ("UN",)),
        ("Делегация Таджикистана прибыла в Ташкент.", ("Tajikistan", "Tashkent", "Uzbekistan"), ()),
        ("UNOCT and the IPA CIS signed it; the OSCE too.", (), ("UNOCT", "IPA CIS", "OSCE")),
        ("Межпарламентской Ассамблеи СНГ и ОДКБ", (), ("IPA CIS", "CSTO")),
        # capitals of the region's conflicts: a story there opens on its city (the veto)
        ("Взрыв в Дамаске; переговоры в Багдаде.", ("Damascus", "Baghdad", "Syria", "Iraq"), ()),
        ("انفجار في بيروت. اجتماع في طهران", ("Beirut", "Tehran", "Lebanon", "Iran"), ()),
        ("Attentat à Téhéran, réunion à Beyrouth.", ("Tehran", "Beirut", "Iran", "Lebanon"), ()),
        (
            "PAM and PABSEC; SCO and NATO; EU and CIS.",
            (),
            ("PAM", "PABSEC", "SCO", "NATO", "EU", "CIS"),
        ),
    ],
)
def test_names_in_several_languages(
    text: str, places: tuple[str, ...], organisations: tuple[str, ...]
) -> None:
    assert places_and_orgs(text) == (places, organisations)


def test_lower_case_words_are_not_acronyms() -> None:
    text = "Il a eu un accord avec une sco de pam; we saw nato."
    assert places_and_orgs(text) == ((), ())
    assert places_and_orgs("un accord de l'UE et de l'ONU") == ((), ("EU", "UN"))


def test_longest_alias_wins_and_whole_words_only() -> None:
    assert places_and_orgs("OSCE PA President") == ((), ("OSCE PA",))
    assert places_and_orgs("OSCEPA and Dushanbeh and Romeo") == ((), ())


def test_title_counts_and_order_is_first_mention() -> None:
    found = find_entities("NATO in Vienna", "Later the EU spoke in Minsk.", PUBLISHED)
    assert found.places == ("Vienna", "Minsk", "Austria", "Belarus")
    assert found.organisations == ("NATO", "EU")


def test_every_alias_of_a_name_is_given_for_matching() -> None:
    names = names_for_matching("places", ["Dushanbe", "Unknown town"])
    assert {"Dushanbe", "Душанбе", "دوشنبه", "Unknown town"} <= set(names)


def test_shipped_gazetteer_loads_and_an_alias_may_name_one_entry_only() -> None:
    assert ("organisations", "UNOCT") in gazetteer().names
    clash = {
        "places": [{"name": "A", "aliases": ["Same"]}, {"name": "B", "aliases": ["same"]}],
    }
    with pytest.raises(ValueError, match="names both"):
        Gazetteer.from_data(clash)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("On September 4-5 delegates met.", [("September 4-5", "2025-09-04", "2025-09-05")]),
        ("adopted on 15 April 2021 in Vienna", [("15 April 2021", "2021-04-15", "2021-04-15")]),
        ("пройдёт 4–5 сентября в Душанбе", [("4–5 сентября", "2025-09-04", "2025-09-05")]),
        ("le 15 avril 2021 à Paris", [("15 avril 2021", "2021-04-15", "2021-04-15")]),
        ("du 4 au 5 septembre 2025", [("4 au 5 septembre 2025", "2025-09-04", "2025-09-05")]),
        ("les 4 et 5 septembre", [("4 et 5 septembre", "2025-09-04", "2025-09-05")]),
        ("le 1er mars", [("1er mars", "2025-03-01", "2025-03-01")]),
        ("15 апреля 2021 года", [("15 апреля 2021", "2021-04-15", "2021-04-15")]),
        ("في 4 و5 سبتمبر 2025", [("4 و5 سبتمبر 2025", "2025-09-04", "2025-09-05")]),
        ("September 4 and 5, 2024", [("September 4 and 5, 2024", "2024-09-04", "2024-09-05")]),
        ("15.04.2021 and 2021-04-16", [("15.04.2021", "2021-04-15", "2021-04-15"),
                                       ("2021-04-16", "2021-04-16", "2021-04-16")]),
        ("January 10 next", [("January 10", "2026-01-10", "2026-01-10")]),  # nearest year
        # a numeric date that ends a sentence; eastern digits, Arabic and Persian
        ("It took place on 12.03.2024.", [("12.03.2024", "2024-03-12", "2024-03-12")]),
        ("version 12.03.2024.5", []),
        ("عقد في ١٢ مارس ٢٠٢٤ في القاهرة", [("12 مارس 2024", "2024-03-12", "2024-03-12")]),
        ("در ۱۲ مارس ۲۰۲۴", [("12 مارس 2024", "2024-03-12", "2024-03-12")]),
        ("we may 5 times; 31 June; 5-3 September; resolution 2231", []),
    ],
)  # fmt: skip
def test_dates_mentioned(text: str, expected: list[tuple[str, str, str]]) -> None:
    found = [
        (d.text, d.start.isoformat(), d.end.isoformat()) for d in mentioned_dates(text, PUBLISHED)
    ]
    assert found == expected


def test_a_date_mentioned_twice_is_listed_once() -> None:
    found = mentioned_dates("On 5 May 2025 ... as said, on May 5, 2025.", PUBLISHED)
    assert [(d.start, d.end) for d in found] == [(date(2025, 5, 5), date(2025, 5, 5))]


def test_month_names_as_a_trie_match_what_the_longest_first_list_matches() -> None:
    """Every month name, in capitals and not, in the contexts dates are written in ("mar",
    "mars" and "march" all start a word): the trie finds the same matches, with the same
    groups, as the plain alternation sorted longest first."""
    plain = "(" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + ")"
    trie = "(" + longest_first(MONTHS) + ")"
    contexts = (
        "On {} 4-5, 2024 the", "{}. 12 and 14", "3 {} 2021", "4–5 {}", "le 1er {}",
        "{}s 5", "x{} 5", "{} 31st through 2nd", "{}\u00a05 2020", "{}ch 3",
    )  # fmt: skip
    text = "\n".join(
        context.format(variant)
        for name in MONTHS
        for variant in (name, name.upper(), name.capitalize())
        for context in contexts
    )
    for shape in (
        r"(?<![\w.])(\d+)\s+{}\.?(?!\w)(?:,?\s+(\d{{4}}))?",
        r"(?<!\w){}\.?\s+(\d+)(?![\w:])",
    ):
        matches = [
            [(m.span(), m.groups()) for m in re.finditer(shape.format(names), text, re.IGNORECASE)]
            for names in (plain, trie)
        ]
        assert matches[0] == matches[1]
        assert len(matches[0]) > len(MONTHS)
