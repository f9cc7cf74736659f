"""From a page's HTML to the article: clean text, title, date, authors, languages, canonical URL.

trafilatura finds the main text with its default (balanced) setting, first without its
comparison against readability and jusText (``fast``), which changes nothing on most pages and
costs a third of the time; only a short result is extracted again with the comparison, and then
with the recall setting. trafilatura's own recall retry, which first measures the whole page's
text, runs in the comparison pass only (:func:`_escalation`). What trafilatura leaves in
(shortcodes, image names, "Comments are Closed", "see also" lines, subscription prompts, link
lists) is removed by :mod:`crawlers.cleaning`. Measured on the trafilatura evaluation corpus,
this is both more precise and more complete than trafilatura's precision setting alone
(``bench/extraction.py``). The date is the article's own (:mod:`crawlers.dates`), never
trafilatura's guess from the whole page, which can be the site's "today" header.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from copy import copy

import trafilatura
from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura import core as trafilatura_core
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor
from trafilatura.utils import HTML_PARSER, load_html

from crawlers import regex_xpaths
from crawlers.cleaning import clean_lines, page_context
from crawlers.dates import publication_date
from crawlers.extracted import Extracted
from crawlers.languages import detect_languages
from crawlers.metadata import page_metadata
from crawlers.urls import host_of, is_http_url, normalize_url, registered_domain

MIN_CHARS = 200
FALLBACK_BELOW = 500
COMPARE_BELOW = 1000  # a fast result shorter than this is extracted again with the comparison

regex_xpaths.install()  # the same selections, at a fraction of the callbacks into Python
# Every element of a parsed page is a plain HtmlElement, made without calling into Python:
# lxml.html's default picks a class per tag (forms, inputs) that extraction never uses, and
# asks for it each time an element is touched; about 5% of extraction time.
PLAIN_ELEMENTS = etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
)
HTML_PARSER.set_element_class_lookup(PLAIN_ELEMENTS)


def extract(html: str, url: str, *, min_chars: int = MIN_CHARS) -> Extracted | None:
    """The article on the page, or None when the page holds none (too little main text)."""
    tree = load_html(html)  # parsed once, as trafilatura parses; each of its passes copies it
    if tree is None:
        return None
    link_texts, image_names = page_context(tree)
    published_at, date_source = publication_date(tree, url)
    about = page_metadata(tree, url)
    _unlayout_tables(tree)
    with regex_xpaths.answering(tree):
        text = _main_text(tree, url)
    title = " ".join(about.title.split())
    paragraphs = clean_lines(
        text.splitlines(),
        title=title,
        link_texts=link_texts - {title.casefold()},
        image_names=image_names,
    )
    text = "\n".join(paragraphs)
    if len(text) < min_chars:
        return None
    languages = tuple(detect_languages(paragraphs))
    return Extracted(
        url=_canonical(url, about.url),
        title=title,
        text=text,
        published_at=published_at,
        date_source=date_source,
        authors=_authors(about.author),
        language=languages[0] if languages else None,
        languages=languages,
    )


def _main_text(tree: HtmlElement, url: str) -> str:
    """trafilatura's balanced setting, fast first; the comparison with readability and
    jusText only when that finds less than COMPARE_BELOW characters, and the recall setting
    only when even that finds less than FALLBACK_BELOW, and then the longer text wins.

    A short result is where the balanced setting fails most (odd markup, one long ``div``); a
    long one is already the article, and the comparison or the recall setting would mostly
    add the chrome around it. Measured on the evaluation corpus: the same precision and
    recall as always comparing, at two thirds of the time (``bench/extraction.py``).
    """
    text = _text(tree, url, fast=True, favor_recall=False)
    if len(text) < COMPARE_BELOW:
        text = _text(tree, url, fast=False, favor_recall=False)
    if len(text) < FALLBACK_BELOW:
        text = max(text, _text(tree, url, fast=False, favor_recall=True), key=len)
    return text


def _unlayout_tables(tree: HtmlElement) -> None:
    """Layout tables become plain blocks. Old sites lay out the whole page as a table;
    trafilatura then keeps header and sidebar cells as rows of a data table. A table whose
    cells hold paragraphs or headings is layout."""
    layout = [t for t in tree.iter("table") if t.xpath(".//td//*[self::p or self::h1 or self::h2]")]
    for table in layout:
        for element in [table, *table.iter("tbody", "thead", "tfoot", "tr", "td", "th")]:
            element.tag = "div"


@contextmanager
def _escalation(enabled: bool) -> Iterator[None]:
    """trafilatura's own second chance for a short result, on or off for one call.

    trafilatura 2.3 measures the whole page's text (a cleaned copy of the tree) whenever it
    extracts less than 3,000 characters, and re-extracts in recall mode when that is under a
    fifth of the page. In our fast pass that measure alone took a tenth of the extraction time,
    and :func:`_main_text` gives short results its own second chances; kept in the comparison
    pass only, the evaluation corpus scores as before (``bench/extraction.py``: F1 0.935) at
    about 15% less CPU per page. Its only switch is this module constant; extraction runs on
    one thread per process, so setting it around a call is safe.
    """
    saved = trafilatura_core.ESCALATION_MAX_LENGTH
    trafilatura_core.ESCALATION_MAX_LENGTH = saved if enabled else 0
    try:
        yield
    finally:
        trafilatura_core.ESCALATION_MAX_LENGTH = saved


@contextmanager
def _without_backup(enabled: bool) -> Iterator[None]:
    """trafilatura's preparation of the tree without its backup copy, for one fast call.

    trafilatura 2.3 copies the cleaned tree before converting its tags, for the comparison with
    readability and jusText and for forum pages whose comments it extracts; a fast call without
    comments does neither, and never reads the copy. In an interleaved A/B over the 990
    evaluation pages, a page took 51.5 ms with the copy and 48.0 without, and every prepared
    page was the same. Set around the call, like :func:`_escalation`.
    """
    saved = trafilatura_core._prepare_tree
    trafilatura_core._prepare_tree = _prepare_without_backup if enabled else saved
    try:
        yield
    finally:
        trafilatura_core._prepare_tree = saved


def _prepare_without_backup(
    tree: HtmlElement, options: Extractor, url: str | None
) -> tuple[HtmlElement, HtmlElement]:
    """trafilatura's ``_prepare_tree`` (cleaned and converted tree, backup), less the copy:
    the "backup" returned is the converted tree itself."""
    converted = convert_tags(tree_cleaning(copy(tree), options), options, url)
    return converted, converted


def _text(tree: HtmlElement, url: str, *, fast: bool, favor_recall: bool) -> str:
    with _escalation(not fast), _without_backup(fast):
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            fast=fast,
            with_metadata=False,  # page_metadata: trafilatura's author search is half its time
            include_comments=False,  # also what _without_backup needs
            include_tables=True,
            favor_recall=favor_recall,
            deduplicate=False,
        )
    return str(getattr(document, "text", None) or "")


def _canonical(url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is on the same site, else the URL fetched:
    a page must not claim another site's address."""
    if declared and is_http_url(declared):
        same_site = registered_domain(host_of(declared)) == registered_domain(host_of(url))
        if same_site:
            return normalize_url(declared)
    return normalize_url(url)


def _authors(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(name.strip() for name in value.split(";") if name.strip())
