"""trafilatura's XPath expressions, with their regular-expression tests on attributes answered
in Python once per distinct value.

trafilatura finds boilerplate and the main block with XPath expressions that test ``id``,
``class`` and ``style`` against regular expressions (EXSLT ``re:test``). lxml calls back into
Python for every such test on every element, in every pass over the page: about a quarter of
extraction time. A page holds a few hundred distinct values, and the same class names recur
across the pages of a site. Here each expression is rewritten once: ``re:test(@id|@class, P)``
becomes ``(@id|@class)[1] = $v``, where ``$v`` holds the page's values that ``P`` matches. The
comparison runs inside libxml2, and each (pattern, value) pair is tested in Python only once.

It selects the same elements: ``re:test`` tests the first node of its node-set in document
order, as ``(...)[1]`` does, and the values are read from the very document the expression
runs on, just before it runs. A pattern that matches the empty string (an element without
the attribute would pass) is left to ``re:test``. ``tests/test_regex_xpaths.py`` compares both
on the fixture pages.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from trafilatura import xpaths

# re:test(@a|@b, 'pattern'[, 'flags']) whose subject is attributes of the element itself
_TEST = re.compile(
    r"""re:test\(\s*(@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*(['"])(.*?)\2\s*(?:,\s*(['"])(.*?)\4\s*)?\)""",
    re.DOTALL,
)
_EXSLT = {"re": "http://exslt.org/regular-expressions"}
_MEMO_LIMIT = 50_000  # verdicts kept per pattern; a long-running crawl meets new values forever
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


class _Test:
    """One ``re:test`` of the expression: its variable, subject attributes and verdicts."""

    __slots__ = ("attributes", "pattern", "variable", "verdicts")

    def __init__(self, variable: str, attributes: tuple[str, ...], pattern: re.Pattern[str]):
        self.variable = variable
        self.attributes = attributes
        self.pattern = pattern
        self.verdicts: dict[str, bool] = {}

    def matching(self, values: dict[str, set[str]]) -> list[str]:
        verdicts = self.verdicts
        if len(verdicts) > _MEMO_LIMIT:
            verdicts.clear()
        found = []
        for attribute in self.attributes:
            for value in values[attribute]:
                verdict = verdicts.get(value)
                if verdict is None:
                    verdict = verdicts[value] = self.pattern.search(value) is not None
                if verdict:
                    found.append(value)
        return found


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
            attributes = tuple(part.strip()[1:] for part in subject.split("|"))
            tests.append(_Test(f"ew_re{len(tests)}", attributes, compiled))
            return f"({subject})[1] = ${tests[-1].variable}"

        self.rewritten = etree.XPath(_TEST.sub(rewrite, original.path), namespaces=_EXSLT)
        self.tests = tuple(tests)
        names = sorted({name for test in tests for name in test.attributes})
        self._values = {name: etree.XPath(f"//@{name}", smart_strings=False) for name in names}

    def __call__(self, tree: Any, **variables: Any) -> Any:
        if variables or not self.tests:
            return self.original(tree, **variables)
        values = {name: set(read(tree)) for name, read in self._values.items()}
        return self.rewritten(
            tree, **{test.variable: _nodes(test.matching(values)) for test in self.tests}
        )


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
