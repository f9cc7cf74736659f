"""trafilatura's expressions with their regex tests answered in Python select what the
originals select, and extraction with them and plain elements is the same."""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path

import lxml.html
import pytest
from lxml import etree
from lxml.html import HtmlElementClassLookup
from trafilatura import xpaths
from trafilatura.htmlprocessing import tree_cleaning
from trafilatura.settings import Extractor
from trafilatura.utils import HTML_PARSER, decode_file, load_html

from crawlers import regex_xpaths
from crawlers.extract import PLAIN_ELEMENTS, extract
from crawlers.regex_xpaths import EXSLT, AnsweredXPath

SITES = Path(__file__).parent / "fixtures" / "sites"


def _answered() -> list[AnsweredXPath]:
    regex_xpaths.install()
    found = [
        expression
        for name in regex_xpaths._LISTS
        for expression in getattr(xpaths, name)
        if isinstance(expression, AnsweredXPath)
    ]
    assert len(found) >= 10 and all(found_one.tests for found_one in found)
    return found


def _same(original: list[object], answered: list[object]) -> bool:
    return len(original) == len(answered) and all(
        a is b for a, b in zip(original, answered, strict=True)
    )


def test_every_answered_expression_selects_what_its_original_selects_on_the_fixture_pages() -> None:
    selected = 0
    answered = _answered()
    for page in sorted(SITES.rglob("*.html")):
        raw = load_html(page.read_bytes())
        assert raw is not None
        for tree in (raw, tree_cleaning(deepcopy(raw), Extractor())):
            for expression in answered:
                original = expression.original(tree)
                assert _same(original, expression(tree)), (page.name, expression.path)
                selected += len(original)
    assert selected > 50  # the fixtures exercise the expressions, not only empty results


def test_answering_from_the_page_selects_what_originals_select_on_its_pruned_copies() -> None:
    """Inside ``answering`` the values come from the page as it was parsed, not from the
    pruned copy an expression runs on; the selections must not change."""
    answered = _answered()
    compared = 0
    for page in sorted(SITES.rglob("*.html")):
        raw = load_html(page.read_bytes())
        assert raw is not None
        with regex_xpaths.answering(raw):
            cleaned = tree_cleaning(deepcopy(raw), Extractor())
            for tree in (cleaned, raw):
                for expression in answered:
                    assert _same(expression.original(tree), expression(tree)), page.name
                    compared += 1
    assert compared > 100


def test_a_page_tests_each_value_once_for_every_expression_that_uses_its_pattern() -> None:
    tree = etree.fromstring('<html><body><p class="cookie">a</p><p class="b">b</p></body></html>')
    first = AnsweredXPath(etree.XPath(".//p[re:test(@class, 'cookie')]", namespaces=EXSLT))
    second = AnsweredXPath(etree.XPath(".//*[re:test(@class, 'cookie')]", namespaces=EXSLT))
    searched: list[str] = []

    class Counting:
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern = pattern

        def search(self, value: str) -> re.Match[str] | None:
            searched.append(value)
            return self.pattern.search(value)

        def __hash__(self) -> int:
            return hash(("counting", self.pattern))

    counting = Counting(first.tests[0].pattern)
    for expression in (first, second):
        expression.tests = (expression.tests[0]._replace(pattern=counting),)  # type: ignore[arg-type]
    with regex_xpaths.answering(tree):
        assert [p.text for p in first(tree)] == ["a"]
        assert [p.text for p in second(tree)] == ["a"]
    assert sorted(searched) == ["b", "cookie"]


@pytest.mark.parametrize(
    ("attributes", "selected"),
    [
        ('class="x" id="cookie-bar"', False),  # re:test reads the first of @id|@class only
        ('id="cookie-bar" class="x"', True),
        ('class="cookie-bar"', True),
        ('id=""', False),
        ("", False),
    ],
)
def test_a_test_of_two_attributes_reads_the_first_in_document_order(
    attributes: str, selected: bool
) -> None:
    tree = etree.fromstring(f"<html><body><div {attributes}>x</div></body></html>")
    original = etree.XPath(
        ".//div[re:test(@id|@class, 'cookie')]",
        namespaces=EXSLT,
    )
    answered = AnsweredXPath(original)
    assert len(answered.tests) == 1
    assert _same(original(tree), answered(tree))
    assert bool(answered(tree)) is selected


def test_case_flags_are_honoured_and_a_pattern_matching_nothing_at_all_stays_with_lxml() -> None:
    tree = etree.fromstring('<html><body><p class="FullText">a</p><p class="b">b</p></body></html>')
    folded = etree.XPath(".//p[re:test(@class, 'fulltext', 'i')]", namespaces=EXSLT)
    assert [p.text for p in AnsweredXPath(folded)(tree)] == ["a"]
    empty = AnsweredXPath(etree.XPath(".//p[re:test(@class, 'z*')]", namespaces=EXSLT))
    assert not empty.tests  # 'z*' matches an element without the attribute: left to re:test
    assert [p.text for p in empty(tree)] == ["a", "b"]


def test_extraction_is_the_same_with_the_answered_expressions_and_plain_elements() -> None:
    """Both of extraction's speed-ups (``crawlers.extract``) against trafilatura as shipped."""
    pages = sorted(SITES.rglob("*.html"))
    lists = {name: getattr(xpaths, name) for name in regex_xpaths._LISTS}
    answered = {name: list(expressions) for name, expressions in lists.items()}
    assert any(isinstance(e, AnsweredXPath) for e in answered["OVERALL_DISCARD_XPATH"])

    def extracted() -> list[object]:
        return [
            extract(decode_file(page.read_bytes()), f"http://x.test/{page.name}") for page in pages
        ]

    with_answers = extracted()
    try:  # in place: trafilatura's modules hold the lists themselves
        for expressions in lists.values():
            expressions[:] = [getattr(e, "original", e) for e in expressions]
        HTML_PARSER.set_element_class_lookup(HtmlElementClassLookup())
        with_originals = extracted()
    finally:
        HTML_PARSER.set_element_class_lookup(PLAIN_ELEMENTS)
        for name, expressions in lists.items():
            expressions[:] = answered[name]
    assert sum(found is not None for found in with_answers) > 20
    assert with_answers == with_originals


def test_a_value_that_no_xml_text_may_hold_falls_back_to_the_original() -> None:
    tree = lxml.html.fromstring('<html><body><div class="cookie&#11;bar">x</div></body></html>')
    original = etree.XPath(
        ".//div[re:test(@class, 'cookie')]",
        namespaces=EXSLT,
    )
    assert [div.text for div in AnsweredXPath(original)(tree)] == ["x"]
