"""Where a site's template states the article's date, learned over its stored pages.

A page whose date two signals confirm (its published stamp and htmldate, or the feed item
and the page) shows where its template prints that day: an element after the heading whose
short text reads as that day, named by its tag and classes (``span.entry-date``) or its
``itemprop`` (``time[itemprop=datePublished]``). The crawl counts these places per source
(:mod:`crawlers.crawling.sitedates`); a place seen on several pages is the site's, and on a page
where htmldate's answer is unconfirmed, the day stated at that place is taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from lxml.html import HtmlElement

from crawlers.extraction.date_parsing import YEAR, parse_date

MAX_TEXT = 80  # a date line; longer is a paragraph that happens to hold a date
MAX_PLACES = 3  # recorded per page
MAX_CHILDREN = 4  # a date line has a few parts at most (a label, the day, the time)


def place_of(element: HtmlElement) -> str | None:
    """The element's place as a template names it; None for an unnamed one (a bare ``p``)."""
    prop = element.get("itemprop")
    if prop:
        return f"{element.tag}[itemprop={prop.strip()}]"
    classes = sorted(set((element.get("class") or "").split()))
    return ".".join([str(element.tag), *classes]) if classes else None


def _statement(element: HtmlElement) -> str | None:
    """The element's own date line (a ``datetime`` or ``content`` value, else its text);
    None for a container or a text too long to be one."""
    value = element.get("datetime") or element.get("content")
    if not value:
        if len(element) > MAX_CHILDREN:
            return None  # a container: its text is a part of the page, not a date line
        value = " ".join(element.text_content().split())
    return value if len(value) <= MAX_TEXT and YEAR.search(value) else None


def _stated(element: HtmlElement) -> date | None:
    value = _statement(element)
    stamp = parse_date(value) if value else None
    return stamp.date() if stamp else None


def _named(article: HtmlElement) -> Iterator[tuple[str, HtmlElement]]:
    for element in article.iter():
        if isinstance(element.tag, str) and (place := place_of(element)):
            yield place, element


def date_places(article: HtmlElement, day: date) -> tuple[str, ...]:
    """The places in ``article`` (the page from its heading on) that state ``day``."""
    found: dict[str, None] = {}
    digits = (str(day.year), str(day.day))  # in any way of writing the day: parse no other
    for element in _holding(article, str(day.year)):
        value = _statement(element)
        if value is None or not all(part in value for part in digits):
            continue
        place = place_of(element)
        if place is None or place in found:
            continue
        stamp = parse_date(value)
        if stamp is not None and stamp.date() == day:
            found[place] = None
            if len(found) >= MAX_PLACES:
                break
    return tuple(found)


def _holding(article: HtmlElement, year: str) -> Iterator[HtmlElement]:
    """The elements whose attributes or own text name ``year``, each followed by its parent
    and grandparent (a label and the day are often apart), each once."""
    named = f'contains(@datetime, "{year}") or contains(@content, "{year}")'
    seen: set[HtmlElement] = set()
    for hit in article.xpath(f'.//*[{named}] | .//text()[contains(., "{year}")]/..'):
        parent = hit.getparent()
        for element in (hit, parent, None if parent is None else parent.getparent()):
            if element is not None and element not in seen and isinstance(element.tag, str):
                seen.add(element)
                yield element


def day_at(article: HtmlElement, places: tuple[str, ...]) -> date | None:
    """The day stated at the first of the site's ``places`` that ``article`` has."""
    wanted = set(places)
    for place, element in _named(article):
        if place in wanted and (day := _stated(element)) is not None:
            return day
    return None
