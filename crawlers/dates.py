"""The article's publication date, from the page's own statements about the article.

Sources in order of trust: metadata (``article:published_time`` and kin), JSON-LD
``datePublished``, a ``<time>`` element in the article, the URL (``/2024/12/24/``), a byline
("Posted on …", "Published: …"). Never the whole-page text, where the site's "today" header
date lives, and never a date in the future.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from dateutil import parser as dateparser
from lxml.html import HtmlElement

META_NAMES = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "pubdate",
    "publishdate",
    "publish_date",
    "sailthru.date",
    "parsely-pub-date",
)
YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d")
URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|[-_]|$)")
BYLINE = re.compile(
    r"(?:posted|published|publié|опубликовано|дата публикации|date)\s*(?:on|le)?\s*:?\s*"
    r"([^\n|]{6,40})",
    re.IGNORECASE,
)
# Zone abbreviations the watched sites print after a time, as UTC offsets in seconds. dateutil
# knows only UTC and GMT by name, and would read "23:40 MSK" as 23:40 UTC, three hours late,
# which can put the article on the next day. Ambiguous ones (IST, AST, CST, BST) are left out.
ZONES = {
    "WET": 0, "WEST": 3600, "CET": 3600, "CEST": 7200, "EET": 7200,
    "EEST": 10800, "MSK": 10800, "TRT": 10800, "GST": 14400,
    "EST": -18000, "EDT": -14400, "PST": -28800, "PDT": -25200,
}  # fmt: skip
BYLINE_CLASSES = frozenset(
    ("byline", "posted-on", "entry-meta", "post-meta", "meta", "date", "published")
)
RU_MONTHS = {
    "января": "January", "февраля": "February", "марта": "March", "апреля": "April",
    "мая": "May", "июня": "June", "июля": "July", "августа": "August",
    "сентября": "September", "октября": "October", "ноября": "November", "декабря": "December",
}  # fmt: skip


def publication_date(
    tree: HtmlElement | None, url: str, *, now: datetime | None = None
) -> tuple[datetime | None, str | None]:
    """The date and where it came from (``meta``, ``jsonld``, ``time``, ``url``, ``byline``)."""
    latest = (now or datetime.now(UTC)) + timedelta(days=1)
    for found, origin in _candidates(tree, url):
        if found is not None and found <= latest:
            return found, origin
    return None, None


def _candidates(tree: HtmlElement | None, url: str) -> Iterator[tuple[datetime | None, str]]:
    if tree is not None:
        yield from ((parse_date(v), "meta") for v in _meta_values(tree))
        yield from ((parse_date(v), "jsonld") for v in _jsonld_values(tree))
        yield from ((parse_date(v), "time") for v in _time_values(tree))
    if match := URL_DATE.search(url):
        year, month, day = (int(part) for part in match.groups())
        yield datetime(year, month, day, tzinfo=UTC), "url"
    if tree is not None:
        yield from ((parse_date(v), "byline") for v in _byline_values(tree))


def _meta_values(tree: HtmlElement) -> Iterator[str]:
    metas: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in META_NAMES and meta.get("content"):
            metas.setdefault(key, meta.get("content"))
    for name in META_NAMES:
        if name in metas:
            yield metas[name]


def _jsonld_values(tree: HtmlElement) -> Iterator[str]:
    for script in tree.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data = json.loads(script)
        except ValueError:
            continue
        yield from _walk_jsonld(data)


def _walk_jsonld(data: object) -> Iterator[str]:
    if isinstance(data, list):
        for item in data:
            yield from _walk_jsonld(item)
    elif isinstance(data, dict):
        value = data.get("datePublished")
        if isinstance(value, str):
            yield value
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in data:
                yield from _walk_jsonld(data[key])


def _after_heading(elements: list[HtmlElement]) -> list[HtmlElement]:
    """Of the page's ``elements`` (in document order, the first ``<h1>`` among them), those
    from that heading on: the header's "today" date comes before it."""
    start = next((i for i, element in enumerate(elements) if element.tag == "h1"), 0)
    return elements[start:]


def _time_values(tree: HtmlElement) -> Iterator[str]:
    """``<time>`` stamps from the first ``<h1>`` on."""
    marks = _after_heading(list(tree.iter("h1", "time")))
    stamps = [e.get("datetime") for e in marks if e.tag == "time"]
    yield from [stamp for stamp in stamps if stamp][:3]


def _byline_values(tree: HtmlElement) -> Iterator[str]:
    """Dates in byline-like elements after the first heading."""
    elements = [element for element in tree.iter() if isinstance(element.tag, str)]
    for element in _after_heading(elements):
        classes = element.get("class")
        if not classes or BYLINE_CLASSES.isdisjoint(str(classes).lower().split()):
            continue
        text = " ".join(element.text_content().split())
        if match := BYLINE.search(text):
            yield match.group(1)
        elif len(text) <= 40:
            yield text


def parse_date(value: str) -> datetime | None:
    """An aware UTC datetime from a date as pages write it; None when it is not one."""
    text = value.strip()
    for russian, english in RU_MONTHS.items():
        text = re.sub(rf"\b{russian}\b", english, text, flags=re.IGNORECASE)
    text = re.sub(r"\s*г\.?$", "", text)
    if not YEAR.search(text):
        return None  # without a year dateutil would supply the current one: a guess
    try:
        with warnings.catch_warnings():  # another zone name: read as UTC, like no zone
            warnings.simplefilter("ignore", dateparser.UnknownTimezoneWarning)
            parsed = dateparser.parse(
                text, dayfirst=not re.match(r"^\d{4}", text), fuzzy=True, tzinfos=ZONES
            )
    except (ValueError, OverflowError):
        return None
    if parsed.year < 1990:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
