"""``place:`` and ``org:`` in the query language: rules on the names an article carries."""

from __future__ import annotations

import pytest

from crawlers.enrichment.entities import names_for_matching
from monitor.rules import RuleSet, RuleSpec, RuleSyntaxError, parse_query

TEXT = "Lawmakers discussed terrorism and border security."


def hits(
    query: str, places: tuple[str, ...] = (), orgs: tuple[str, ...] = (), text: str = TEXT
) -> list[tuple[str, ...]]:
    rules = RuleSet.compile([RuleSpec("r", query)])
    found = rules.match(title="", text=text, places=places, organisations=orgs)
    return [hit.terms for hit in found]


@pytest.mark.parametrize(
    ("query", "places", "orgs", "expected"),
    [
        ("place:Dushanbe", ("Dushanbe",), (), True),
        ("place:dushanbe", ("Dushanbe",), (), True),
        ("place:Dushanbe", ("Almaty",), (), False),
        ("org:OSCE", (), ("OSCE",), True),
        ("org:OSCE", (), ("OSCE PA",), False),  # a name is whole, not a prefix of another
        ('org:"OSCE PA"', (), ("OSCE PA",), True),
        ("org:OSCE AND terrorism", (), ("OSCE",), True),
        ("org:OSCE AND football", (), ("OSCE",), False),
        ("terrorism NOT place:Dushanbe", ("Dushanbe",), (), False),
        ("terrorism NOT place:Dushanbe", ("Almaty",), (), True),
        ("place:Dushanbe OR org:CSTO", (), ("CSTO",), True),
        ("PLACE:Dushanbe", ("Dushanbe",), (), True),
        # Only the names given count: a word in the text is not a place the article carries.
        ("place:border", (), (), False),
    ],
)
def test_names_in_queries(
    query: str, places: tuple[str, ...], orgs: tuple[str, ...], expected: bool
) -> None:
    assert bool(hits(query, places, orgs)) is expected


def test_a_rule_may_name_a_place_in_any_language_of_the_gazetteer() -> None:
    carried = names_for_matching("places", ["Dushanbe"])
    assert hits("place:Душанбе", carried) == [("place:Душанбе",)]
    assert hits("place:Douchanbe", carried) == [("place:Douchanbe",)]


def test_matched_names_are_reported_as_terms_without_snippets() -> None:
    rules = RuleSet.compile([RuleSpec("r", 'org:"OSCE PA" terrorism')])
    [hit] = rules.match(title="", text=TEXT, organisations=("OSCE PA",))
    assert hit.terms == ('org:"OSCE PA"', "terrorism")
    assert len(hit.snippets) == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("place:", "place: needs a name right after it"),
        ("place: Dushanbe", "place: needs a name right after it"),
        ("org:(OSCE OR CSTO)", "org: needs a name right after it"),
        ("org:OSCE*", "org: takes a whole name, not a prefix"),
        ("NOT org:OSCE", "a rule needs at least one positive term"),
    ],
)
def test_name_syntax_errors(query: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query(query, "r")
    assert caught.value.message == message
