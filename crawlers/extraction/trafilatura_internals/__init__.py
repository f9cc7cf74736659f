"""Every use of trafilatura's internals, in one place, for the version it was written for.

Three changes make extraction cheaper without changing what it finds (``bench/README.md``
gives their gains; a patch worth less than a twentieth of the crawl's CPU is not kept):

- trafilatura's XPath expressions, rewritten to select the same elements for less work
  (:mod:`.xpaths`);
- the fast pass without the recall escalation, the copies of the tree its preparation makes,
  and the baseline rescue, which the caller's later passes run (:func:`fast_pass`);
- pages parsed into plain ``HtmlElement`` objects (:data:`PLAIN_ELEMENTS`).

On another trafilatura version, or with ``EVENTWATCH_DEPENDENCY_PATCHES=off`` in the
environment, none is applied: one line is logged and extraction runs on trafilatura's public
API alone, slower and otherwise the same (``tests/test_dependency_patches.py``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import trafilatura
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura import core as trafilatura_core
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor
from trafilatura.utils import HTML_PARSER

from crawlers.extraction.trafilatura_internals import xpaths

WRITTEN_FOR = "2.3.1"
SWITCH = "EVENTWATCH_DEPENDENCY_PATCHES"  # "off": public API only
# Every element of a parsed page is a plain HtmlElement, made without calling into Python:
# lxml.html's default picks a class per tag (forms, inputs) that extraction never uses, and
# asks for it each time an element is touched.
PLAIN_ELEMENTS = etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
)
logger = logging.getLogger(__name__)


def _applies() -> bool:
    if os.environ.get(SWITCH, "on").lower() == "off":
        logger.info("trafilatura used through its public API only (%s=off)", SWITCH)
        return False
    if trafilatura.__version__ != WRITTEN_FOR:
        logger.warning(
            "trafilatura %s is not %s, which eventwatch's speed-ups were written for: "
            "extracting through its public API only (slower, the same text)",
            trafilatura.__version__,
            WRITTEN_FOR,
        )
        return False
    return True


ACTIVE = _applies()


def install() -> None:
    """Apply the rewritten expressions and the plain elements, once per process."""
    if ACTIVE:
        xpaths.install()
        HTML_PARSER.set_element_class_lookup(PLAIN_ELEMENTS)


def answering(tree: Any) -> Any:
    """While extracting ``tree``: the rewritten expressions read its attribute values once."""
    return xpaths.answering(tree) if ACTIVE else nullcontext()


def hit_depth_limit() -> bool:
    """Whether the last page trafilatura parsed was cut off at libxml2's depth limit."""
    return any(error.type_name == "ERR_RESOURCE_LIMIT" for error in HTML_PARSER.error_log)


def fast_pass() -> Any:
    """Around a fast ``bare_extraction``: three of its steps left out (see :func:`_lighter`)."""
    return _lighter() if ACTIVE else nullcontext()


@contextmanager
def _lighter() -> Iterator[None]:
    """Three names of trafilatura's ``core`` swapped around a call (one thread per process):

    - **the recall escalation**: trafilatura 2.3 measures the whole page's text (a cleaned
      copy of the tree) whenever it extracts less than 3,000 characters, and re-extracts in
      recall mode when that is under a fifth of the page. The caller gives short results its
      own second chances (:func:`crawlers.extraction.extract._main_text`).
    - **the copies of the tree** its preparation makes (:func:`_prepare_in_place`): the tree
      it is given is already ``bare_extraction``'s own copy, and the backup is read only by
      the comparison pass and the comment extraction.
    - **the baseline rescue** (:func:`_no_baseline`), which would read that tree cleaned. A
      result short enough to call for it is far under the caller's threshold for a
      comparison pass, which extracts the page again, rescue included.
    """
    saved = (trafilatura_core.ESCALATION_MAX_LENGTH, trafilatura_core._prepare_tree)
    saved_baseline = trafilatura_core.baseline
    trafilatura_core.ESCALATION_MAX_LENGTH = 0
    trafilatura_core._prepare_tree = _prepare_in_place
    trafilatura_core.baseline = _no_baseline
    try:
        yield
    finally:
        trafilatura_core.ESCALATION_MAX_LENGTH, trafilatura_core._prepare_tree = saved
        trafilatura_core.baseline = saved_baseline


# trafilatura's own preparation, which _prepare_in_place stands in for: the tests compare them.
TRAFILATURA_PREPARE = trafilatura_core._prepare_tree


def _prepare_in_place(
    tree: HtmlElement, options: Extractor, url: str | None
) -> tuple[HtmlElement, HtmlElement]:
    """trafilatura's ``_prepare_tree`` (cleaned and converted tree, backup) without its two
    copies: ``tree`` is cleaned itself, and the converted tree stands in for the backup."""
    converted = convert_tags(tree_cleaning(tree, options), options, url)
    return converted, converted


def _no_baseline(filecontent: object) -> tuple[HtmlElement, str, int]:
    """The baseline rescue in a fast pass: nothing (see :func:`_lighter`)."""
    return etree.Element("body"), "", 0
