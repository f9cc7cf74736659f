"""trafilatura's XPath expressions, with their regular-expression tests on attributes answered
in Python once per distinct value.

trafilatura finds boilerplate and the main block with XPath expressions, about a quarter of
extraction time; many test ``id``, ``class`` and ``style`` against regular expressions (EXSLT
``re:test``), and lxml calls back into Python for every such test on every element, in every
pass over the page. A page holds a few hundred distinct values, and the same class names
recur across the pages of a site. Here each expression is rewritten once:
``re:test(@id|@class, P)`` becomes ``(@id|@class)[1] = $v``, where ``$v`` holds the page's
values that ``P`` matches. The comparison runs inside libxml2, and each expression tests a
value in Python once, however many pages and elements carry it.

It selects the same elements: ``re:test`` tests the first node of its node-set in document
order, as ``(...)[1]`` does, and the values are read from the very document the expression
runs on, just before it runs. A pattern that matches the empty string (an element without
the attribute would pass) is left to ``re:test``. ``tests/test_regex_xpaths.py`` compares both
on the fixture pages.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from lxml import etree
from trafilatura import xpaths

# re:test(@a|@b, 'pattern'[, 'flags']) whose subject is attributes of the element itself
_TEST = re.compile(
    r"""re:test\(\s*(@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*(['"])(.*?)\2\s*(?:,\s*(['"])(.*?)\4\s*)?\)""",
    re.DOTALL,
)
EXSLT = {"re": "http://exslt.org/regular-expressions"}  # the prefix trafilatura gives re:test
_MEMO_LIMIT = 50_000  # verdicts kept per expression: a long crawl meets new values forever
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
    """One ``re:test`` of an expression: the variable standing in for it, and its pattern."""

    variable: str
    pattern: re.Pattern[str]


class AnsweredXPath:
    """Stands in for an ``etree.XPath`` in trafilatura's lists: called on a tree, it selects
    what the original selects."""

    def __init__(self, original: etree.XPath) -> None:
        self.original = original
        self.path = original.path
        tests: list[_Test] = []
        attributes: set[str] = set()

        def rewrite(found: re.Match[str]) -> str:
            subject, _, pattern, _, flags = found.groups()
            ignore_case = re.IGNORECASE if "i" in (flags or "") else 0
            compiled = re.compile(pattern, re.UNICODE | ignore_case)  # as lxml compiles it
            if compiled.search("") is not None:
                return found.group(0)
            attributes.update(part.strip() for part in subject.split("|"))
            tests.append(_Test(f"ew_re{len(tests)}", compiled))
            return f"({subject})[1] = ${tests[-1].variable}"

        self.rewritten = etree.XPath(_TEST.sub(rewrite, original.path), namespaces=EXSLT)
        self.tests = tuple(tests)
        # Every value of every tested attribute: a value that one pattern matches is a match
        # wherever it stands, so one pool serves all the tests.
        pool = "|".join(f"//{name}" for name in sorted(attributes)) or "/.."
        self._values = etree.XPath(pool, smart_strings=False)
        self._verdicts: dict[str, tuple[int, ...]] = {}  # value -> the tests it passes

    def __call__(self, tree: Any, **variables: Any) -> Any:
        if variables or not self.tests:
            return self.original(tree, **variables)
        verdicts = self._verdicts
        if len(verdicts) > _MEMO_LIMIT:
            verdicts.clear()
        matching: list[list[str]] = [[] for _ in self.tests]
        for value in set(self._values(tree)):
            passed = verdicts.get(value)
            if passed is None:
                passed = verdicts[value] = self._passed(value)
            for index in passed:
                matching[index].append(value)
        try:
            bound = {
                test.variable: _nodes(values)
                for test, values in zip(self.tests, matching, strict=True)
            }
        except ValueError:  # a value no XML text node may hold (a control character)
            return self.original(tree)
        return self.rewritten(tree, **bound)

    def _passed(self, value: str) -> tuple[int, ...]:
        return tuple(i for i, test in enumerate(self.tests) if test.pattern.search(value))


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
