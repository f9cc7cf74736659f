"""Every use of trafilatura's internals, in one place, for the version it was written for.

Three changes make extraction cheaper without changing what it finds (``bench/README.md``
gives their gains; a patch worth less than a twentieth of the crawl's CPU is not kept):

- trafilatura's XPath expressions, rewritten to select the same elements for less work
  (:mod:`.xpaths`);
- the fast pass without the recall escalation and without the backup copy of the cleaned
  tree (:func:`fast_pass`);
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
from copy import deepcopy
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
    """Around a fast ``bare_extraction``: two of its steps left out (see :func:`_lighter`)."""
    return _lighter() if ACTIVE else nullcontext()


@contextmanager
def _lighter() -> Iterator[None]:
    """Two names of trafilatura's ``core`` swapped around a call (one thread per process):

    - **the recall escalation**: trafilatura 2.3 measures the whole page's text (a cleaned
      copy of the tree) whenever it extracts less than 3,000 characters, and re-extracts in
      recall mode when that is under a fifth of the page. The caller gives short results its
      own second chances (:func:`crawlers.extraction.extract._main_text`).
    - **the backup copy of the cleaned tree**, which only the comparison pass and the comment
      extraction read (:func:`_prepare_without_backup`).
    """
    saved = (trafilatura_core.ESCALATION_MAX_LENGTH, trafilatura_core._prepare_tree)
    trafilatura_core.ESCALATION_MAX_LENGTH = 0
    trafilatura_core._prepare_tree = _prepare_without_backup
    try:
        yield
    finally:
        trafilatura_core.ESCALATION_MAX_LENGTH, trafilatura_core._prepare_tree = saved


def _prepare_without_backup(
    tree: HtmlElement, options: Extractor, url: str | None
) -> tuple[HtmlElement, HtmlElement]:
    """trafilatura's ``_prepare_tree`` (cleaned and converted tree, backup) without the
    backup's copy: the converted tree stands in for it, and the fast pass never reads it."""
    converted = convert_tags(tree_cleaning(deepcopy(tree), options), options, url)
    return converted, converted
