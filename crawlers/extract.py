"""From a page's HTML to the article: clean text, title, date, authors, languages, canonical URL.

trafilatura finds the main text with its default (balanced) setting, first without its
comparison against readability and jusText (``fast``), which changes nothing on most pages and
is its costliest step; only a short result is extracted again with the comparison, and then
with the recall setting. trafilatura's own recall retry, which first measures the whole page's
text, and its baseline rescue run in the comparison pass only (:func:`_fast_pass`). What
trafilatura leaves in (shortcodes, image names, "Comments are Closed", "see also" lines,
subscription prompts, link lists) is removed by :mod:`crawlers.cleaning`. Measured on the
trafilatura evaluation corpus, this is both more precise and more complete than trafilatura's
precision setting alone (``bench/extraction.py``). The date is the article's own
(:mod:`crawlers.dates`: htmldate with the site's header left out, and what the crawl knows),
never the site's "today" header.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from html import unescape
from typing import TypeVar

import trafilatura
from lxml import etree
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
    fromstring,
)
from trafilatura import core as trafilatura_core
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor
from trafilatura.utils import HTML_PARSER, load_html

from crawlers import trafilatura_xpaths
from crawlers.cleaning import clean_lines, page_context
from crawlers.dates import DateHint, DateVerdict, page_date
from crawlers.extracted import Extracted
from crawlers.failsoft import soft
from crawlers.languages import detect_languages
from crawlers.metadata import PageMetadata, page_metadata
from crawlers.urls import host_of, is_http_url, normalize_url, registered_domain

MIN_CHARS = 200
FALLBACK_BELOW = 500
COMPARE_BELOW = 1000  # a fast result shorter than this is extracted again with the comparison
_T = TypeVar("_T")

trafilatura_xpaths.install()  # the same selections, for a fraction of the work
# Every element of a parsed page is a plain HtmlElement, made without calling into Python:
# lxml.html's default picks a class per tag (forms, inputs) that extraction never uses, and
# asks for it each time an element is touched, work for nothing.
PLAIN_ELEMENTS = etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
)
HTML_PARSER.set_element_class_lookup(PLAIN_ELEMENTS)
# For a page nested deeper than libxml2's default limit (256 levels), which it would cut off
# with the article inside: the same parser without that limit, up to libxml2's hard one.
DEEP_PARSER = HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    huge_tree=True,
)
DEEP_PARSER.set_element_class_lookup(PLAIN_ELEMENTS)


def extract(
    html: str,
    url: str,
    *,
    min_chars: int = MIN_CHARS,
    hint: DateHint | None = None,
    site_places: tuple[str, ...] = (),
) -> Extracted | None:
    """The article on the page, or None when the page holds none (too little main text).

    Every field but the text fails soft (:mod:`crawlers.failsoft`): one that cannot be read
    is left empty, and the article carries a warning that says why.
    """
    html = html.replace("\x00", "")  # no NUL, ever: no database stores one in text
    tree = _parsed(html)
    if tree is None:
        return None
    warnings: list[str] = []
    link_texts, image_names = page_context(tree)
    dated = lambda: page_date(tree, url, hint, site_places=site_places)  # noqa: E731
    verdict = soft("date", warnings, dated, DateVerdict(None))
    if verdict.warning:
        warnings.append(verdict.warning)
    about = soft("metadata", warnings, lambda: page_metadata(tree, url), PageMetadata())
    _unlayout_tables(tree)
    with trafilatura_xpaths.answering(tree):
        text = _main_text(tree, html, url)
    # JSON-LD text and double-escaped meta tags leave entities in titles: decoded once, here
    title = " ".join(unescape(about.title).split())
    paragraphs = clean_lines(
        text.splitlines(),
        title=title,
        link_texts=link_texts - {title.casefold()},
        image_names=image_names,
    )
    text = "\n".join(paragraphs)
    if len(text) < min_chars:
        return None
    none: tuple[str, ...] = ()
    languages = soft("languages", warnings, lambda: tuple(detect_languages(paragraphs)), none)
    found = verdict.found
    own_url = soft("canonical URL", warnings, lambda: _own_url(url, about.url), url)
    return Extracted(
        url=normalize_url(own_url),
        display_url=own_url,
        title=title,
        text=text,
        published_at=found.utc if found else None,
        date_source=found.source if found else None,
        authors=_authors(about.author),
        language=languages[0] if languages else None,
        languages=languages,
        published_offset_minutes=found.offset_minutes if found else None,
        published_day=found.day if found else None,
        warnings=tuple(warnings),
        date_places=verdict.places,
    )


def _main_text(tree: HtmlElement, html: str, url: str) -> str:
    """trafilatura's balanced setting, fast first; the comparison with readability and
    jusText only when that finds less than COMPARE_BELOW characters, and the recall setting
    only when even that finds less than FALLBACK_BELOW, and then the longer text wins.

    A short result is where the balanced setting fails most (odd markup, one long ``div``); a
    long one is already the article, and the comparison or the recall setting would mostly
    add the chrome around it. On the evaluation corpus this scores as always comparing does,
    for less work (``bench/extraction.py``).

    The fast pass works on ``tree`` itself, which it prunes; the pages that need a second
    pass, about one in eight, are parsed again for it (see :func:`_fast_pass`).
    """
    text = _text(tree, url, fast=True, favor_recall=False)
    if len(text) >= COMPARE_BELOW:
        return text
    again = _page_tree(html)
    if again is None:  # not expected: the same HTML parsed for the fast pass
        return text
    text = _text(again, url, fast=False, favor_recall=False)
    if len(text) < FALLBACK_BELOW:
        text = max(text, _text(again, url, fast=False, favor_recall=True), key=len)
    return text


def _parsed(html: str) -> HtmlElement | None:
    """The page's tree as trafilatura parses it; a page too deep for that, without the limit."""
    tree = load_html(html)
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in HTML_PARSER.error_log):
        deep = fromstring(html.encode("utf-8", "replace"), parser=DEEP_PARSER)
        tree = deep if deep is not None else tree
    return tree


def _page_tree(html: str) -> HtmlElement | None:
    """The page's tree as :func:`extract` prepares it for trafilatura."""
    tree = _parsed(html)
    if tree is not None:
        _unlayout_tables(tree)
    return tree


def _unlayout_tables(tree: HtmlElement) -> None:
    """Layout tables become plain blocks. Old sites lay out the whole page as a table;
    trafilatura then keeps header and sidebar cells as rows of a data table. A table whose
    cells hold paragraphs or headings is layout."""
    layout = [t for t in tree.iter("table") if t.xpath(".//td//*[self::p or self::h1 or self::h2]")]
    for table in layout:
        for element in [table, *table.iter("tbody", "thead", "tfoot", "tr", "td", "th")]:
            element.tag = "div"


@contextmanager
def _fast_pass() -> Iterator[None]:
    """Four of trafilatura's steps left out of a fast call. Each is a name in its ``core``
    module, swapped around the call: extraction runs on one thread per process.

    - **The recall escalation.** trafilatura 2.3 measures the whole page's text (a cleaned
      copy of the tree) whenever it extracts less than 3,000 characters, and re-extracts in
      recall mode when that is under a fifth of the page. That measure is work the fast pass
      does not need, since :func:`_main_text` gives short results its own second chances;
      kept in the comparison pass only, the evaluation corpus scores as before
      (``bench/extraction.py``).
    - **The backup copy of the cleaned tree**, which only the comparison pass and the comment
      extraction read (:func:`_prepare_in_place`).
    - **The two copies of the page's tree**, made so that the caller's stays as it was and so
      that the baseline rescue reads it uncleaned: the fast pass cleans the tree it is given,
      and the pages that need a later pass parse again.
    - **The baseline rescue** (:func:`_no_baseline`), which would read that cleaned tree. A
      result short enough to call for it (under 250 characters) is far under COMPARE_BELOW,
      so the comparison pass, rescue included, extracts the page again. Without the rescue
      and the second copy, a few evaluation pages come out otherwise and the corpus scores as
      before (``bench/README.md``, history).

    Without the copies, every page the fast pass alone extracts is the same as with them
    (``tests/test_extract.py`` checks it on the fixture pages, and that the escalation and
    the rescue stay off).
    """
    saved = (
        trafilatura_core.ESCALATION_MAX_LENGTH,
        trafilatura_core._prepare_tree,
        trafilatura_core.copy,
        trafilatura_core.baseline,
    )
    trafilatura_core.ESCALATION_MAX_LENGTH = 0
    trafilatura_core._prepare_tree = _prepare_in_place
    trafilatura_core.copy = _itself  # bare_extraction's only copy, once escalation is off
    trafilatura_core.baseline = _no_baseline
    try:
        yield
    finally:
        (
            trafilatura_core.ESCALATION_MAX_LENGTH,
            trafilatura_core._prepare_tree,
            trafilatura_core.copy,
            trafilatura_core.baseline,
        ) = saved


def _itself(x: _T) -> _T:
    """``copy`` in trafilatura's ``core`` during a fast pass: the tree given is its own."""
    return x


def _prepare_in_place(
    tree: HtmlElement, options: Extractor, url: str | None
) -> tuple[HtmlElement, HtmlElement]:
    """trafilatura's ``_prepare_tree`` (cleaned and converted tree, backup), less both its
    copies: the tree given is cleaned itself, and the "backup" is the converted tree."""
    converted = convert_tags(tree_cleaning(tree, options), options, url)
    return converted, converted


def _no_baseline(filecontent: object) -> tuple[HtmlElement, str, int]:
    """trafilatura's baseline rescue in a fast pass: nothing. It would read the raw tree,
    which the fast pass has cleaned; a result short enough to call for it is extracted again
    by the comparison pass, with the rescue, from the page parsed anew."""
    return etree.Element("body"), "", 0


def _text(tree: HtmlElement, url: str, *, fast: bool, favor_recall: bool) -> str:
    with _fast_pass() if fast else nullcontext():
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            fast=fast,
            with_metadata=False,  # page_metadata: trafilatura's author search is costly
            include_comments=False,  # also what _fast_pass needs
            include_tables=True,
            favor_recall=favor_recall,
            deduplicate=False,
        )
    return str(getattr(document, "text", None) or "")


def _own_url(url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is valid and on the same site, else the URL
    fetched: a page must not claim another site's address."""
    try:
        if declared and is_http_url(declared) and host_of(declared):
            same_site = registered_domain(host_of(declared)) == registered_domain(host_of(url))
            if same_site and normalize_url(declared):
                return declared
    except ValueError:  # a malformed host or port (an unclosed IPv6 bracket, port 99999)
        pass
    return url


def _authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(name.strip() for name in value.split(";") if name.strip())
