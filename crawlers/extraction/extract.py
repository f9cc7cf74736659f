"""From a page's HTML to the article: clean text, title, date, authors, languages, canonical URL.

trafilatura finds the main text with its default (balanced) setting, first without its
comparison against readability and jusText (``fast``), which changes nothing on most pages and
is its costliest step; only a short result is extracted again with the comparison, and then
with the recall setting. trafilatura's own recall retry, which first measures the whole page's
text, runs in the comparison pass only (:mod:`crawlers.extraction.trafilatura_internals`). What
trafilatura leaves in (shortcodes, image names, "Comments are Closed", "see also" lines,
subscription prompts, link lists) is removed by :mod:`crawlers.extraction.cleaning`. Measured on the
trafilatura evaluation corpus, this is both more precise and more complete than trafilatura's
precision setting alone (``bench/extraction.py``). The date is the article's own
(:mod:`crawlers.extraction.dates`: htmldate with the site's header left out, and what the
crawl knows), never the site's "today" header.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from html import unescape

import trafilatura
from lxml.html import HtmlElement, HTMLParser, fromstring
from trafilatura.utils import load_html

from crawlers.extraction import trafilatura_internals
from crawlers.extraction.cleaning import clean_lines, page_context
from crawlers.extraction.dates import DateHint, DateVerdict, page_date
from crawlers.extraction.extracted import Extracted
from crawlers.extraction.failsoft import soft
from crawlers.extraction.languages import detect_languages
from crawlers.extraction.metadata import PageMetadata, page_metadata
from crawlers.urls import fits, host_of, is_http_url, normalize_url, registered_domain

MIN_CHARS = 200
FALLBACK_BELOW = 500
COMPARE_BELOW = 1000  # a fast result shorter than this is extracted again with the comparison

trafilatura_internals.install()  # the same extraction, for less work (on the version pinned)
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
DEEP_PARSER.set_element_class_lookup(trafilatura_internals.PLAIN_ELEMENTS)


def extract(
    html: str,
    url: str,
    *,
    min_chars: int = MIN_CHARS,
    hint: DateHint | None = None,
    site_places: tuple[str, ...] = (),
) -> Extracted | None:
    """The article on the page, or None when the page holds none (too little main text).

    Every field but the text fails soft (:mod:`crawlers.extraction.failsoft`): one that cannot
    be read is left empty, and the article carries a warning that says why.
    """
    html = html.replace("\x00", "")  # no NUL, ever: no database stores one in text
    html = _CHARACTER_REFERENCE.sub(_xml_safe_reference, html)
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
    with trafilatura_internals.answering(tree):
        text = _main_text(tree, url)
    # JSON-LD text and double-escaped meta tags leave entities in titles: decoded once, here
    title = " ".join(_UNSHOWABLE.sub(" ", unescape(about.title)).split())
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


# Control characters (a JSON-LD headline's escapes, NUL included) and the bidirectional
# overrides and isolates, which can show "gpj.exe" as "exe.jpg": never part of a shown title
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# A reference to a character XML cannot hold (a control character, a surrogate, U+FFFE): parsed,
# it made trafilatura discard the whole page ("discarding data") or lxml the title
_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _xml_safe_reference(match: re.Match[str]) -> str:
    hexadecimal, decimal = match.groups()
    digits = (hexadecimal or decimal).lstrip("0") or "0"  # "&#00065;" is "A"
    if len(digits) > 8:  # past any code point (and past what int() takes, for a long run)
        return " "
    point = int(digits, 16) if hexadecimal is not None else int(digits)
    if point in (0x9, 0xA, 0xD) or 0x20 <= point <= 0xD7FF or 0xE000 <= point <= 0xFFFD:
        return match.group()
    if 0x10000 <= point <= 0x10FFFF:
        return match.group()
    return " "


def _main_text(tree: HtmlElement, url: str) -> str:
    """trafilatura's balanced setting, fast first; the comparison with readability and
    jusText only when that finds less than COMPARE_BELOW characters, and the recall setting
    only when even that finds less than FALLBACK_BELOW, and then the longer text wins.

    A short result is where the balanced setting fails most (odd markup, one long ``div``); a
    long one is already the article, and the comparison or the recall setting would mostly
    add the chrome around it: the same precision and recall as always comparing, for less
    work (``bench/extraction.py``). trafilatura works on its own copy of ``tree``.
    """
    text = _text(tree, url, fast=True, favor_recall=False)
    if len(text) >= COMPARE_BELOW:
        return text
    text = _text(tree, url, fast=False, favor_recall=False)
    if len(text) < FALLBACK_BELOW:
        text = max(text, _text(tree, url, fast=False, favor_recall=True), key=len)
    return text


def _parsed(html: str) -> HtmlElement | None:
    """The page's tree as trafilatura parses it; a page too deep for that, without the limit."""
    tree = load_html(html)
    if trafilatura_internals.hit_depth_limit():
        deep = fromstring(html.encode("utf-8", "replace"), parser=DEEP_PARSER)
        tree = deep if deep is not None else tree
    return tree


def _unlayout_tables(tree: HtmlElement) -> None:
    """Layout tables become plain blocks. Old sites lay out the whole page as a table;
    trafilatura then keeps header and sidebar cells as rows of a data table. A table whose
    cells hold paragraphs or headings is layout."""
    layout = [t for t in tree.iter("table") if t.xpath(".//td//*[self::p or self::h1 or self::h2]")]
    for table in layout:
        for element in [table, *table.iter("tbody", "thead", "tfoot", "tr", "td", "th")]:
            element.tag = "div"


def _text(tree: HtmlElement, url: str, *, fast: bool, favor_recall: bool) -> str:
    with trafilatura_internals.fast_pass() if fast else nullcontext():
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            fast=fast,
            with_metadata=False,  # page_metadata: trafilatura's author search is costly
            include_comments=False,  # the fast pass keeps no backup for the comments
            include_tables=True,
            favor_recall=favor_recall,
            deduplicate=False,
        )
    return str(getattr(document, "text", None) or "")


def _own_url(url: str, declared: str | None) -> str:
    """The page's declared canonical URL when it is valid, on the same site and short enough
    to be stored, else the URL fetched: a page must not claim another site's address."""
    try:
        if declared and fits(declared) and is_http_url(declared) and host_of(declared):
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
