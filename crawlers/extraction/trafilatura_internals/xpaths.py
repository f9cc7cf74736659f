"""trafilatura's XPath expressions, rewritten once to select the same elements for less work.

trafilatura finds boilerplate and the main block with XPath expressions: as it ships them,
they are among the largest costs of an extraction worker. Two rewrites:

- **Tag tests become name steps.** ``.//*[self::div or self::p][...]`` evaluates a location
  step per tag test on every element of the tree; ``(.//div|.//p)[...]`` lets libxml2 collect
  the named elements in its own loop, and the union comes back in document order, as the
  original's result does. Made only where no predicate of the step counts positions
  (``position()``, ``last()``, a number): in a union's predicate they would count in the
  whole union. The one such step trafilatura has, the first of its siblings to pass
  (``[...][1]``), is written as a test that no earlier sibling passes (:func:`with_name_steps`).
- **Regular-expression tests on attributes are answered in Python.** EXSLT ``re:test`` calls
  back into Python for every element, in every pass over the page. ``re:test(@id|@class, P)``
  becomes ``(@id|@class)[1] = $v``, where ``$v`` holds the page's values that ``P`` matches,
  and ``false()`` where it matches none of them (most tests on most pages), so the attribute
  is not even read; the comparison runs inside libxml2. While :func:`answering` holds
  (extraction of one page), the page's values are read once and each pattern tests each
  value once, for all the expressions and passes that use it; a verdict is remembered across
  pages, since the class names of a site recur.

``re:test`` tests the first node of its node-set in document order, as ``(...)[1]`` does, and
the values are read from the document the expression runs on or from the page it was made
from (see :func:`answering`). A pattern that matches the empty string (an element without the
attribute would pass) is left to ``re:test``. ``tests/test_trafilatura_xpaths.py`` compares
the rewritten expressions with the originals on the fixture pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, NamedTuple

from lxml import etree
from trafilatura import xpaths

# re:test(@a|@b, 'pattern'[, 'flags']) whose subject is attributes of the element itself. Tests
# on literals (contains(@a, 'x'), @a='x') stay with libxml2, which answers them faster than
# a Python look-up would.
_TEST = re.compile(
    r"""re:test\(\s*(@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*(['"])(.*?)\2\s*(?:,\s*(['"])(.*?)\4\s*)?\)""",
    re.DOTALL,
)
# .//*[self::a or self::b ...]: a descendant step whose first predicate only tests tag names
_TAGS_STEP = re.compile(r"\.//\*\[\s*(self::[\w-]+(?:\s+or\s+self::[\w-]+)*)\s*\]")
# A predicate that counts positions, or may: a number, position(), last(), or a variable or a
# function whose value may be a number (a number as a predicate is a position).
_COUNTS_POSITIONS = re.compile(
    r"^\s*[\d.]+\s*$|position\(\)|last\(\)|\$|\b(?:count|sum|string-length|number|floor|ceiling|round)\("
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
    "DISCARD_IMAGE_ELEMENTS",
    "TEASER_DISCARD_XPATH",
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
    comparison: str  # what stands in the expression for it when the page has values it matches


class RewrittenXPath:
    """Stands in for an ``etree.XPath`` in trafilatura's lists: called on a tree, it selects
    what the original selects."""

    def __init__(self, original: etree.XPath) -> None:
        self.original = original
        self.path = original.path
        tests: list[_Test] = []
        pieces: list[str | int] = []  # the rewritten path: text, and indexes into tests
        hoisted = with_name_steps(original.path)
        done = 0
        for found in _TEST.finditer(hoisted):
            subject, _, pattern, _, flags = found.groups()
            ignore_case = re.IGNORECASE if "i" in (flags or "") else 0
            compiled = re.compile(pattern, re.UNICODE | ignore_case)  # as lxml compiles it
            if compiled.search("") is not None:
                continue  # an element without the attribute passes: left to re:test
            attributes = tuple(sorted({part.strip()[1:] for part in subject.split("|")}))
            variable = f"ew_re{len(tests)}"
            tests.append(_Test(variable, attributes, compiled, f"({subject})[1] = ${variable}"))
            pieces += [hoisted[done : found.start()], len(tests) - 1]
            done = found.end()
        pieces.append(hoisted[done:])
        self.tests = tuple(tests)
        self._pieces = tuple(pieces)
        self._variants: dict[tuple[bool, ...], etree.XPath] = {}
        self.rewritten = self._variant((True,) * len(tests))
        _TESTED.update(name for test in tests for name in test.attributes)

    def _variant(self, matches: tuple[bool, ...]) -> etree.XPath:
        """The expression where each test whose ``matches`` is False reads ``false()``."""
        variant = self._variants.get(matches)
        if variant is None:
            path = "".join(
                piece
                if isinstance(piece, str)
                else (self.tests[piece].comparison if matches[piece] else "false()")
                for piece in self._pieces
            )
            variant = self._variants[matches] = etree.XPath(path, namespaces=EXSLT)
        return variant

    def __call__(self, tree: Any, **variables: Any) -> Any:
        if variables:
            return self.original(tree, **variables)
        if not self.tests:
            return self.rewritten(tree)
        page = _page if _page is not None and _page.reads(self.tests) else _Page(tree)
        bound = {}
        for test in self.tests:
            nodes = page.matching(test)
            if nodes is None:  # a value no XML text node may hold (a control character)
                return self.original(tree)
            if nodes:
                bound[test.variable] = nodes
        variant = self._variant(tuple(test.variable in bound for test in self.tests))
        return variant(tree, **bound)


def with_name_steps(path: str) -> str:
    """``path`` with each ``.//*[self::a or self::b][P]`` step written ``(.//a|.//b)[P]``
    where ``P`` counts no positions. ``[P][1]``, the first of its siblings to pass, becomes
    ``[P][not(preceding-sibling::*[self::a or self::b][P])]``: the earlier siblings are
    looked at only for the few elements that pass."""
    parts: list[str] = []
    done = 0
    for found in _TAGS_STEP.finditer(path):
        predicates, end = _predicates_after(path, found.end())
        first_only = bool(predicates) and predicates[-1].strip() == "1"
        if first_only:
            predicates = predicates[:-1]
        if any(_COUNTS_POSITIONS.search(predicate) for predicate in predicates):
            continue
        tags = re.findall(r"self::([\w-]+)", found.group(1))
        steps = "|".join(f".//{tag}" for tag in tags)
        tested = "".join(f"[{predicate}]" for predicate in predicates)
        if first_only:
            earlier = f"preceding-sibling::*[{found.group(1)}]{tested}"
            tested += f"[not({earlier})]"
        parts += [path[done : found.start()], f"({steps})" if len(tags) > 1 else steps, tested]
        done = end
    return "".join(parts) + path[done:]


def _predicates_after(path: str, start: int) -> tuple[list[str], int]:
    """The predicates (their insides) that follow at ``start``, as far as the step goes, and
    where they end."""
    found = []
    index = end = start
    while index < len(path) and path[index].isspace():
        index += 1
    while index < len(path) and path[index] == "[":
        depth, quote, close = 0, "", index
        for close in range(index, len(path)):
            char = path[close]
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "[]":
                depth += 1 if char == "[" else -1
                if depth == 0:
                    break
        found.append(path[index + 1 : close])
        index = end = close + 1
        while index < len(path) and path[index].isspace():
            index += 1
    return found, end


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
    """Put the rewritten expressions into trafilatura's lists, in place (its modules import
    the lists themselves); a second call changes nothing."""
    for name in _LISTS:
        expressions = getattr(xpaths, name)
        for index, expression in enumerate(expressions):
            if not isinstance(expression, etree.XPath):
                continue
            rewritten = RewrittenXPath(expression)
            if rewritten.tests or rewritten.rewritten.path != expression.path:
                expressions[index] = rewritten
