"""trafilatura's expressions rewritten (tag tests as name steps, regex tests answered in
Python) select what the originals select, and extraction with them and plain elements is the
same."""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path

import lxml.html
import pytest
from lxml import etree
from lxml.html import HtmlElement, HtmlElementClassLookup
from trafilatura import xpaths
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor
from trafilatura.utils import HTML_PARSER, decode_file, load_html

from crawlers.extraction.extract import extract
from crawlers.extraction.trafilatura_internals import PLAIN_ELEMENTS
from crawlers.extraction.trafilatura_internals import xpaths as rewrite
from crawlers.extraction.trafilatura_internals.xpaths import (
    EXSLT,
    RewrittenXPath,
    with_name_steps,
)

SITES = Path(__file__).parent / "fixtures" / "sites"


def _rewritten() -> list[RewrittenXPath]:
    rewrite.install()
    found = [
        expression
        for name in rewrite._LISTS
        for expression in getattr(xpaths, name)
        if isinstance(expression, RewrittenXPath)
    ]
    answered = [expression for expression in found if expression.tests]
    named = [expression for expression in found if ".//div|" in expression.rewritten.path]
    assert len(answered) >= 10 and len(named) >= 10
    return found


def _trees(page: Path) -> list[HtmlElement]:
    """The page as parsed, cleaned, and with trafilatura's own tags (``list``, ``item``...):
    the trees the expressions run on."""
    raw = load_html(page.read_bytes())
    assert raw is not None
    cleaned = tree_cleaning(deepcopy(raw), Extractor())
    return [raw, cleaned, convert_tags(deepcopy(cleaned), Extractor())]


def _same(original: list[object], rewritten: list[object]) -> bool:
    return len(original) == len(rewritten) and all(
        a is b for a, b in zip(original, rewritten, strict=True)
    )


def test_every_rewritten_expression_selects_what_its_original_does_on_the_fixture_pages() -> None:
    selected = 0
    rewritten = _rewritten()
    for page in sorted(SITES.rglob("*.html")):
        for tree in _trees(page):
            for expression in rewritten:
                original = expression.original(tree)
                assert _same(original, expression(tree)), (page.name, expression.path)
                selected += len(original)
    assert selected > 50  # the fixtures exercise the expressions, not only empty results


def test_answering_from_the_page_selects_what_originals_select_on_its_pruned_copies() -> None:
    """Inside ``answering`` the values come from the page as it was parsed, not from the
    pruned copy an expression runs on; the selections must not change."""
    rewritten = _rewritten()
    compared = 0
    for page in sorted(SITES.rglob("*.html")):
        raw, *copies = _trees(page)
        with rewrite.answering(raw):
            for tree in (*copies, raw):
                for expression in rewritten:
                    assert _same(expression.original(tree), expression(tree)), page.name
                    compared += 1
    assert compared > 100


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".//*[self::div or self::p][@id='x']", "(.//div|.//p)[@id='x']"),
        ("(.//*[self::div or\n self::p][@id])[1]", "((.//div|.//p)[@id])[1]"),
        (".//*[self::div][@id]", ".//div[@id]"),
        # the first of its siblings to pass: no earlier sibling passes
        (
            ".//*[self::div or self::p][@id][1]",
            "(.//div|.//p)[@id][not(preceding-sibling::*[self::div or self::p][@id])]",
        ),
        # any other predicate that counts positions counts them among the step's own elements
        (".//*[self::div or self::p][@id][2]", None),
        (".//*[self::div or self::p][position() < 3]", None),
        (".//*[self::div or self::p][@id] [count(p)]", None),  # a number: a position
        # a bracket inside a quoted pattern does not end the predicate
        (".//*[self::a or self::b][re:test(@class, '[1]')][2]", None),
        (".//*[self::a or self::b][re:test(@class, '[x]')]", "(.//a|.//b)[re:test(@class, '[x]')]"),
        (".//*[@id or self::p]", None),
    ],
)
def test_tag_tests_become_name_steps_only_where_no_predicate_counts_positions(
    path: str, expected: str | None
) -> None:
    assert with_name_steps(path) == (expected or path)


def test_the_first_of_its_siblings_is_the_first_of_them_to_pass() -> None:
    tree = etree.fromstring(
        "<html><body><p class='x'>1</p><div class='x'>2</div><div class='x'>3</div>"
        "<section><span class='x'>4</span><div class='y'>5</div><div class='x'>6</div></section>"
        "</body></html>"
    )
    original = etree.XPath(
        ".//*[self::div or self::section][re:test(@class, 'x|y')][1]", namespaces=EXSLT
    )
    rewritten = RewrittenXPath(original)
    assert "preceding-sibling" in rewritten.rewritten.path
    assert [e.text for e in rewritten(tree)] == [e.text for e in original(tree)] == ["2", "5"]


def test_a_test_that_matches_none_of_the_pages_values_reads_false() -> None:
    tree = etree.fromstring(
        '<html><body><div class="cookie">a</div><p id="menu">b</p><p class="x">c</p></body></html>'
    )
    original = etree.XPath(
        ".//*[self::div or self::p][re:test(@class, 'cookie') or re:test(@id, 'banner')]",
        namespaces=EXSLT,
    )
    rewritten = RewrittenXPath(original)
    assert [e.text for e in rewritten(tree)] == [e.text for e in original(tree)] == ["a"]
    assert "false()" in rewritten._variants[(True, False)].path  # the one it ran


def test_a_page_tests_each_value_once_for_every_expression_that_uses_its_pattern() -> None:
    tree = etree.fromstring('<html><body><p class="cookie">a</p><p class="b">b</p></body></html>')
    first = RewrittenXPath(etree.XPath(".//p[re:test(@class, 'cookie')]", namespaces=EXSLT))
    second = RewrittenXPath(etree.XPath(".//*[re:test(@class, 'cookie')]", namespaces=EXSLT))
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
    with rewrite.answering(tree):
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
    answered = RewrittenXPath(original)
    assert len(answered.tests) == 1
    assert _same(original(tree), answered(tree))
    assert bool(answered(tree)) is selected


def test_case_flags_are_honoured_and_a_pattern_matching_nothing_at_all_stays_with_lxml() -> None:
    tree = etree.fromstring('<html><body><p class="FullText">a</p><p class="b">b</p></body></html>')
    folded = etree.XPath(".//p[re:test(@class, 'fulltext', 'i')]", namespaces=EXSLT)
    assert [p.text for p in RewrittenXPath(folded)(tree)] == ["a"]
    empty = RewrittenXPath(etree.XPath(".//p[re:test(@class, 'z*')]", namespaces=EXSLT))
    assert not empty.tests  # 'z*' matches an element without the attribute: left to re:test
    assert [p.text for p in empty(tree)] == ["a", "b"]


def test_extraction_is_the_same_with_the_answered_expressions_and_plain_elements() -> None:
    """Both of extraction's speed-ups (:mod:`crawlers.extraction.trafilatura_internals`)
    against trafilatura as shipped."""
    pages = sorted(SITES.rglob("*.html"))
    lists = {name: getattr(xpaths, name) for name in rewrite._LISTS}
    answered = {name: list(expressions) for name, expressions in lists.items()}
    assert any(isinstance(e, RewrittenXPath) for e in answered["OVERALL_DISCARD_XPATH"])
    assert any(isinstance(e, RewrittenXPath) for e in answered["DISCARD_IMAGE_ELEMENTS"])

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
    assert [div.text for div in RewrittenXPath(original)(tree)] == ["x"]
