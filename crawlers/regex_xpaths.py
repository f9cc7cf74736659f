"""trafilatura's XPath expressions, with their regular-expression tests on attributes answered
in Python once per distinct value.

trafilatura finds boilerplate and the main block with XPath expressions, about a quarter of
extraction time; many test ``id``, ``class`` and ``style`` against regular expressions (EXSLT
``re:test``), and lxml calls back into Python for every such test on every element, in every
pass over the page. A page holds a few hundred distinct values, and the same class names
recur across the pages of a site. Here each expression is rewritten once:
``re:test(@id|@class, P)`` becomes ``(@id|@class)[1] = $v``, where ``$v`` holds the page's
values that ``P`` matches. The comparison runs inside libxml2. While :func:`answering` holds
(extraction of one page), the page's values are read once and each pattern tests each value
once, for all the expressions and passes that use it; a verdict is remembered across pages.

It selects the same elements: ``re:test`` tests the first node of its node-set in document
order, as ``(...)[1]`` does, and the values are read from the document the expression runs
on or from the page it was made from (see :func:`answering`). A pattern that matches the
empty string (an element without the attribute would pass) is left to ``re:test``.
``tests/test_regex_xpaths.py`` compares both on the fixture pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, NamedTuple

from lxml import etree
from trafilatura import xpaths

# re:test(@a|@b, 'pattern'[, 'flags']) whose subject is attributes of the element itself
_TEST = re.compile(
    r"""re:test\(\s*(@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*(['"])(.*?)\2\s*(?:,\s*(['"])(.*?)\4\s*)?\)""",
    re.DOTALL,
)
EXSLT = {"re": "http://exslt.org/regular-expressions"}  # the prefix trafilatura gives re:test
_MEMO_LIMIT = 100_000  # verdicts kept in all: a long crawl meets new values forever
# The lists the main-text extraction runs: each holds element-selecting expressions only.
_LISTS = (
    "RAW_TREE_PRUNE_XPATH",
    "REMOVE_COMMENTS_AND_LISTS_XPATH",
    "REMOVE_COMMENTS_XPATH",
    "OVERALL_DISCARD_XPATH",
    "BODY_XPATH",
    "PRECISION_DISCARD_XPATH",
    "COMMENTS_XPATH",
    "COMMENTS_DISCARD_XPATH",
)


class _Test(NamedTuple):
    """One ``re:test`` of an expression: the variable standing in for it, the attributes it
    reads and its pattern."""

    variable: str
    attributes: tuple[str, ...]
    pattern: re.Pattern[str]


class AnsweredXPath:
    """Stands in for an ``etree.XPath`` in trafilatura's lists: called on a tree, it selects
    what the original selects."""

    def __init__(self, original: etree.XPath) -> None:
        self.original = original
        self.path = original.path
        tests: list[_Test] = []

        def rewrite(found: re.Match[str]) -> str:
            subject, _, pattern, _, flags = found.groups()
            ignore_case = re.IGNORECASE if "i" in (flags or "") else 0
            compiled = re.compile(pattern, re.UNICODE | ignore_case)  # as lxml compiles it
            if compiled.search("") is not None:
                return found.group(0)
            attributes = tuple(sorted({part.strip()[1:] for part in subject.split("|")}))
            tests.append(_Test(f"ew_re{len(tests)}", attributes, compiled))
            return f"({subject})[1] = ${tests[-1].variable}"

        self.rewritten = etree.XPath(_TEST.sub(rewrite, original.path), namespaces=EXSLT)
        self.tests = tuple(tests)
        _TESTED.update(name for test in tests for name in test.attributes)

    def __call__(self, tree: Any, **variables: Any) -> Any:
        if variables or not self.tests:
            return self.original(tree, **variables)
        page = _page if _page is not None and _page.reads(self.tests) else _Page(tree)
        bound = {}
        for test in self.tests:
            nodes = page.matching(test)
            if nodes is None:  # a value no XML text node may hold (a control character)
                return self.original(tree)
            bound[test.variable] = nodes
        return self.rewritten(tree, **bound)


_TESTED: set[str] = set()  # every attribute some answered expression tests
_verdicts: dict[re.Pattern[str], dict[str, bool]] = {}  # pattern -> value -> matched
_page: _Page | None = None  # the page being extracted, while `answering` holds


class _Page:
    """One page's values of the tested attributes, and which of them each pattern matches:
    read once, and each pattern tested once per value, however many expressions and passes
    over the page's trees use them."""

    def __init__(self, tree: Any) -> None:
        self.attributes = frozenset(_TESTED)
        self.values = {name: set(_values_of(name)(tree)) for name in self.attributes}
        self._matching: dict[tuple[re.Pattern[str], tuple[str, ...]], list[Any] | None] = {}

    def reads(self, tests: tuple[_Test, ...]) -> bool:
        return all(self.attributes.issuperset(test.attributes) for test in tests)

    def matching(self, test: _Test) -> list[Any] | None:
        """The values ``test`` matches, as a node-set; None when one cannot be a text node."""
        key = (test.pattern, test.attributes)
        if key not in self._matching:
            values = set().union(*(self.values[name] for name in test.attributes))
            try:
                self._matching[key] = _nodes(_matched(test.pattern, values))
            except ValueError:
                self._matching[key] = None
        return self._matching[key]


@cache
def _values_of(attribute: str) -> etree.XPath:
    return etree.XPath(f"//@{attribute}", smart_strings=False)


def _matched(pattern: re.Pattern[str], values: set[str]) -> list[str]:
    if sum(map(len, _verdicts.values())) > _MEMO_LIMIT:
        _verdicts.clear()
    verdicts = _verdicts.setdefault(pattern, {})
    matched = []
    for value in values:
        verdict = verdicts.get(value)
        if verdict is None:
            verdict = verdicts[value] = pattern.search(value) is not None
        if verdict:
            matched.append(value)
    return matched


@contextmanager
def answering(tree: Any) -> Iterator[None]:
    """Answer the tests of every expression run inside from ``tree``'s values, read now.

    For the page's own tree and the trees trafilatura makes from it: it copies and prunes
    them, renames tags and sets attributes of its own (``rend``, ``role``, ``target``...),
    never ``id``, ``class`` or ``style``. Their values are then among the page's, and a value
    that no longer occurs in a tree changes no comparison. One page at a time: a process
    extracts on one thread.
    """
    global _page
    saved, _page = _page, _Page(tree)
    try:
        yield
    finally:
        _page = saved


def _nodes(values: list[str]) -> list[etree._Element]:
    """Values as a node-set: XPath compares an attribute with each node's string value."""
    holder = etree.Element("values")
    for value in values:
        etree.SubElement(holder, "v").text = value
    return list(holder)


def install() -> None:
    """Put the answered expressions into trafilatura's lists, in place (its modules import
    the lists themselves); a second call changes nothing."""
    for name in _LISTS:
        expressions = getattr(xpaths, name)
        for index, expression in enumerate(expressions):
            if isinstance(expression, etree.XPath) and "re:test" in expression.path:
                expressions[index] = AnsweredXPath(expression)
